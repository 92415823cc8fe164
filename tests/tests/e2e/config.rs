//! Bad configuration stops a process with one line naming the variable, not a backtrace.

use std::process::Command;

use mediadocs_tests::tools;

#[track_caller]
fn assert_one_line_error(binary: &str, var: &str, value: &str, expected: &str) {
    let out = Command::new(tools::workspace_binary(binary))
        .env(
            "JWT_KEYS",
            "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        )
        .env(
            "WEBHOOK_TOKEN_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        )
        .env(var, value)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("running the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{binary} with {var}={value}: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line, got:\n{stderr}");
    assert!(
        stderr.contains(var) && stderr.contains(expected),
        "unhelpful error: {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a panic is not a configuration error: {stderr}"
    );
}

#[test]
fn invalid_settings_exit_with_one_line_naming_the_variable() {
    assert_one_line_error(
        "mediadocs-api",
        "API_ADDR",
        "not-an-address",
        "socket address",
    );
    assert_one_line_error("mediadocs-api", "DATABASE_URL", "mysql://x", "postgres://");
    assert_one_line_error("mediadocs-worker", "TEMPORAL_ADDRESS", "::nope", "URL");
    assert_one_line_error(
        "mediadocs-worker",
        "DATABASE_MAX_CONNECTIONS",
        "many",
        "positive integer",
    );
    assert_one_line_error("mediadocs-api", "API_DIAGNOSTICS", "maybe", "true or false");
    assert_one_line_error("mediadocs-api", "LOG_FORMAT", "xml", "`text` or `json`");
    assert_one_line_error(
        "mediadocs-api",
        "JWT_KEYS",
        "k1:c2hvcnQ=",
        "at least 32 bytes",
    );
    assert_one_line_error("mediadocs-api", "JWT_KEYS", "", "kid:base64secret");
    assert_one_line_error(
        "mediadocs-api",
        "WEBHOOK_TOKEN_KEY",
        "c2hvcnQ=",
        "at least 32 random bytes",
    );
    assert_one_line_error(
        "mediadocs-worker",
        "WEBHOOK_TOKEN_KEY",
        "",
        "at least 32 random bytes",
    );
    assert_one_line_error(
        "mediadocs-api",
        "SELFHOSTED_WEBHOOK_SECRETS",
        "whsec_***",
        "whsec_",
    );
    assert_one_line_error(
        "mediadocs-worker",
        "TRANSCRIPTION_PROVIDER",
        "rev",
        "assemblyai",
    );
    assert_one_line_error(
        "mediadocs-worker",
        "EMBEDDINGS_PROVIDER",
        "magic",
        "local or openai",
    );
    assert_one_line_error("mediadocs-worker", "LLM_TIMEOUT_SECS", "soon", "seconds");
    assert_one_line_error(
        "mediadocs-worker",
        "WEBHOOK_PUBLIC_URL",
        "mailto:ops@example.com",
        "http(s) URL",
    );
}
