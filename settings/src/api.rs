//! The API's settings: its own, and the shared ones it needs.

use std::{net::SocketAddr, num::NonZeroU32, str::FromStr, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};

use crate::{
    ConfigError, DatabaseSettings, S3Settings, TemporalSettings, chat::ChatSettings, env,
    events::EventSettings, telemetry::LogFormat, transcription::WebhookTokenKey,
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
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins allowed to call the API from a browser,
    /// such as `https://app.example.com`. Default: none (no CORS headers).
    pub cors_origins: Vec<String>,
    pub auth: AuthSettings,
    pub uploads: UploadSettings,
    pub webhooks: WebhookSettings,
    pub chat: ChatSettings,
    pub events: EventSettings,
    pub database: DatabaseSettings,
    pub temporal: TemporalSettings,
    pub s3: S3Settings,
    pub reading: ReadingSettings,
}

/// How documents, transcripts and media are handed to readers.
#[derive(Debug, Clone)]
pub struct ReadingSettings {
    /// `MEDIA_URL_TTL_SECS`: lifetime of a presigned media URL, default 600, at most 3600.
    pub media_url_ttl: Duration,
    /// `APP_URL`: where people open recordings; exported documents link timestamps to
    /// `{APP_URL}/recordings/{id}?t={seconds}`. Default `http://127.0.0.1:8080`.
    pub app_url: url::Url,
}

impl ReadingSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let ttl: u64 = env::var_or("MEDIA_URL_TTL_SECS", "600", "seconds, from 1 to 3600")?;
        if !(1..=3600).contains(&ttl) {
            return Err(ConfigError::Invalid {
                var: "MEDIA_URL_TTL_SECS",
                expected: "seconds, from 1 to 3600",
                got: ttl.to_string(),
            });
        }
        Ok(Self {
            media_url_ttl: Duration::from_secs(ttl),
            app_url: env::var_or("APP_URL", "http://127.0.0.1:8080", "an http(s) URL")?,
        })
    }
}

impl ApiSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let cors_origins = cors_origins()?;
        Ok(Self {
            events: EventSettings::from_env(&cors_origins)?,
            addr: env::var_or(
                "API_ADDR",
                "127.0.0.1:8080",
                "a socket address such as 127.0.0.1:8080",
            )?,
            log_format: env::var_or("LOG_FORMAT", "text", "`text` or `json`")?,
            diagnostics: env::flag_or("API_DIAGNOSTICS", false)?,
            cors_origins,
            auth: AuthSettings::from_env()?,
            uploads: UploadSettings::from_env()?,
            webhooks: WebhookSettings::from_env()?,
            chat: ChatSettings::from_env()?,
            database: DatabaseSettings::from_env()?,
            temporal: TemporalSettings::from_env()?,
            s3: S3Settings::from_env()?,
            reading: ReadingSettings::from_env()?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `JWT_KEYS` (required): `kid:base64secret[,kid:base64secret…]`; the first signs.
    pub jwt_keys: JwtKeySet,
    /// `JWT_ISSUER`, default `mediadocs`.
    pub issuer: String,
    /// `JWT_AUDIENCE`, default `mediadocs-api`.
    pub audience: String,
    /// `ACCESS_TOKEN_TTL_SECS`, default 900 (15 minutes).
    pub access_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_SECS`, default 2592000 (30 days).
    pub refresh_ttl: Duration,
    /// `INVITE_TTL_SECS`, default 604800 (7 days).
    pub invite_ttl: Duration,
    /// `LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT`, default 5.
    pub login_per_account: NonZeroU32,
    /// `LOGIN_ATTEMPTS_PER_MINUTE_PER_IP`, default 20.
    pub login_per_ip: NonZeroU32,
    /// `TRUST_X_FORWARDED_FOR`: take the client IP from the first `X-Forwarded-For` entry.
    /// Only behind a proxy that sets it; default `false`.
    pub trust_forwarded_for: bool,
}

impl AuthSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            jwt_keys: env::required(
                "JWT_KEYS",
                "comma-separated kid:base64secret pairs, each secret at least 32 bytes",
            )?,
            issuer: env::var_or("JWT_ISSUER", "mediadocs", "an issuer name")?,
            audience: env::var_or("JWT_AUDIENCE", "mediadocs-api", "an audience name")?,
            access_ttl: env::secs_or("ACCESS_TOKEN_TTL_SECS", "900")?,
            refresh_ttl: env::secs_or("REFRESH_TOKEN_TTL_SECS", "2592000")?,
            invite_ttl: env::secs_or("INVITE_TTL_SECS", "604800")?,
            login_per_account: env::var_or(
                "LOGIN_ATTEMPTS_PER_MINUTE_PER_ACCOUNT",
                "5",
                "a positive integer",
            )?,
            login_per_ip: env::var_or(
                "LOGIN_ATTEMPTS_PER_MINUTE_PER_IP",
                "20",
                "a positive integer",
            )?,
            trust_forwarded_for: env::flag_or("TRUST_X_FORWARDED_FOR", false)?,
        })
    }
}

/// JWT signing keys by id. `Debug` never prints a secret.
#[derive(Clone)]
pub struct JwtKeySet(pub Vec<(String, Vec<u8>)>);

impl std::fmt::Debug for JwtKeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(kid, _)| format!("{kid}:<redacted>")))
            .finish()
    }
}

impl FromStr for JwtKeySet {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let keys = s
            .split(',')
            .map(|pair| {
                let (kid, secret) = pair.trim().split_once(':').ok_or(())?;
                let secret = STANDARD.decode(secret).map_err(|_| ())?;
                (!kid.is_empty() && secret.len() >= 32)
                    .then(|| (kid.to_owned(), secret))
                    .ok_or(())
            })
            .collect::<Result<Vec<_>, ()>>()?;
        if keys.is_empty() {
            Err(())
        } else {
            Ok(Self(keys))
        }
    }
}

#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// `UPLOAD_PART_SIZE_BYTES`, default 8 MiB, at least 5 MiB (S3's minimum part). Larger
    /// files get larger parts, so no upload needs more than 10,000.
    pub part_size: u64,
    /// `UPLOAD_MAX_SIZE_BYTES`, default 10 GiB.
    pub max_size: u64,
    /// `UPLOAD_URL_TTL_SECS`: presigned URL lifetime, default 900, at most 3600.
    pub url_ttl: Duration,
    /// `UPLOAD_TTL_SECS`: an upload not completed this long after creation expires; default 86400.
    pub upload_ttl: Duration,
    /// `UPLOAD_MAX_CONCURRENT_PER_ORG`: recordings in `uploading` per org, default 20.
    pub max_concurrent_per_org: i64,
    /// `UPLOAD_FIRST_BATCH_PARTS`: part URLs returned by `POST /api/recordings`, default 16.
    pub first_batch: u32,
}

impl UploadSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let part_size: u64 = env::var_or(
            "UPLOAD_PART_SIZE_BYTES",
            "8388608",
            "a byte count of at least 5242880",
        )?;
        if part_size < 5 * 1024 * 1024 {
            return Err(ConfigError::Invalid {
                var: "UPLOAD_PART_SIZE_BYTES",
                expected: "a byte count of at least 5242880",
                got: part_size.to_string(),
            });
        }
        let url_ttl: u64 = env::var_or("UPLOAD_URL_TTL_SECS", "900", "seconds, from 1 to 3600")?;
        if !(1..=3600).contains(&url_ttl) {
            return Err(ConfigError::Invalid {
                var: "UPLOAD_URL_TTL_SECS",
                expected: "seconds, from 1 to 3600",
                got: url_ttl.to_string(),
            });
        }
        Ok(Self {
            part_size,
            max_size: env::var_or("UPLOAD_MAX_SIZE_BYTES", "10737418240", "a byte count")?,
            url_ttl: Duration::from_secs(url_ttl),
            upload_ttl: env::secs_or("UPLOAD_TTL_SECS", "86400")?,
            max_concurrent_per_org: env::var_or(
                "UPLOAD_MAX_CONCURRENT_PER_ORG",
                "20",
                "a positive integer",
            )?,
            first_batch: env::var_or("UPLOAD_FIRST_BATCH_PARTS", "16", "a number of parts")?,
        })
    }
}

fn cors_origins() -> Result<Vec<String>, ConfigError> {
    let raw: Option<String> = env::optional("CORS_ALLOWED_ORIGINS", "comma-separated origins")?;
    let origins: Vec<String> = raw
        .unwrap_or_default()
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    for origin in &origins {
        let valid = url::Url::parse(origin).is_ok_and(|u| u.path() == "/" && u.query().is_none())
            && http::HeaderValue::from_str(origin).is_ok();
        if !valid {
            return Err(ConfigError::Invalid {
                var: "CORS_ALLOWED_ORIGINS",
                expected: "comma-separated origins such as https://app.example.com",
                got: origin.clone(),
            });
        }
    }
    Ok(origins)
}

/// How providers' callbacks are authenticated.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `WEBHOOK_TOKEN_KEY` (required): the key behind each job's callback token and header
    /// value; the worker must have the same one.
    pub token_key: WebhookTokenKey,
    /// `SELFHOSTED_WEBHOOK_SECRETS`: space-separated `whsec_…` secrets that self-hosted
    /// transcribers sign callbacks with (Standard Webhooks). Several are accepted at once so a
    /// secret can be rotated. Default: none (`selfhosted` callbacks are refused).
    pub selfhosted_secrets: Vec<WebhookSecret>,
}

impl WebhookSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let raw: String = env::var_or("SELFHOSTED_WEBHOOK_SECRETS", "", "whsec_ secrets")?;
        let selfhosted_secrets = raw
            .split_whitespace()
            .map(|s| {
                WebhookSecret::parse(s).ok_or_else(|| ConfigError::Invalid {
                    var: "SELFHOSTED_WEBHOOK_SECRETS",
                    expected: "space-separated whsec_<base64> secrets",
                    got: "(hidden)".into(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            token_key: WebhookTokenKey::from_env()?,
            selfhosted_secrets,
        })
    }
}

/// A Standard Webhooks signing key: the bytes behind `whsec_<base64>`. `Debug` never
/// prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

impl WebhookSecret {
    pub const PREFIX: &str = "whsec_";

    /// `whsec_<base64>`, or the bare base64, of at least one byte.
    pub fn parse(text: &str) -> Option<Self> {
        let encoded = text.strip_prefix(Self::PREFIX).unwrap_or(text);
        STANDARD
            .decode(encoded)
            .ok()
            .filter(|b| !b.is_empty())
            .map(Self)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}
