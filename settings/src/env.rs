//! Reading typed values from environment variables.
//!
//! A bad value must stop the process with one line that names the variable and the form it
//! expects, so operators can fix it without reading a backtrace.

use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {var} must be {expected} (got {got:?})")]
    Invalid {
        var: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("missing configuration: {var} must be set to {expected}")]
    Missing {
        var: &'static str,
        expected: &'static str,
    },
}

/// Reads `var`, or `default` when it is unset or empty.
pub fn var_or<T: FromStr>(
    var: &'static str,
    default: &str,
    expected: &'static str,
) -> Result<T, ConfigError> {
    let raw = raw(var).unwrap_or_else(|| default.to_owned());
    parse(var, raw, expected)
}

/// Reads `var`, which has no sensible default.
pub fn required<T: FromStr>(var: &'static str, expected: &'static str) -> Result<T, ConfigError> {
    let raw = raw(var).ok_or(ConfigError::Missing { var, expected })?;
    parse(var, raw, expected)
}

/// Reads `var` when it is set and non-empty.
pub fn optional<T: FromStr>(
    var: &'static str,
    expected: &'static str,
) -> Result<Option<T>, ConfigError> {
    raw(var).map(|raw| parse(var, raw, expected)).transpose()
}

/// Reads a number of seconds, `default` when unset.
pub fn secs_or(var: &'static str, default: &str) -> Result<std::time::Duration, ConfigError> {
    var_or(var, default, "a number of seconds").map(std::time::Duration::from_secs)
}

/// Reads a boolean flag: `true`/`false`, `1`/`0`, `yes`/`no`.
pub fn flag_or(var: &'static str, default: bool) -> Result<bool, ConfigError> {
    match raw(var).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
        Some(got) => Err(ConfigError::Invalid {
            var,
            expected: "true or false",
            got,
        }),
    }
}

fn raw(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: FromStr>(
    var: &'static str,
    raw: String,
    expected: &'static str,
) -> Result<T, ConfigError> {
    raw.trim().parse().map_err(|_| ConfigError::Invalid {
        var,
        expected,
        got: raw,
    })
}

/// Runs `load`, and on a configuration error prints its one line and exits with status 2.
pub fn or_exit<T>(load: impl FnOnce() -> Result<T, ConfigError>) -> T {
    load().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    })
}
