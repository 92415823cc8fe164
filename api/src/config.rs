//! The API's own settings, on top of the shared ones in `mediadocs-config`.

use std::net::SocketAddr;

use mediadocs_config::{
    ConfigError, DatabaseSettings, S3Settings, TemporalSettings, env, telemetry::LogFormat,
};

#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// `API_ADDR`, default `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
    /// `API_DIAGNOSTICS`: serve `POST /api/diagnostics/ping`, which starts a workflow
    /// without authentication. Default `false`; the dev stack turns it on.
    pub diagnostics: bool,
    pub database: DatabaseSettings,
    pub temporal: TemporalSettings,
    pub s3: S3Settings,
}

impl ApiSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            addr: env::var_or(
                "API_ADDR",
                "127.0.0.1:8080",
                "a socket address such as 127.0.0.1:8080",
            )?,
            log_format: env::var_or("LOG_FORMAT", "text", "`text` or `json`")?,
            diagnostics: env::flag_or("API_DIAGNOSTICS", false)?,
            database: DatabaseSettings::from_env()?,
            temporal: TemporalSettings::from_env()?,
            s3: S3Settings::from_env()?,
        })
    }
}
