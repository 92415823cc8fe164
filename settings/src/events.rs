//! How the live feed behaves: tickets, WebSocket limits, buffers, checks and retention.

use std::{
    num::{NonZeroU64, NonZeroUsize},
    time::Duration,
};

use crate::{ConfigError, env};

#[derive(Debug, Clone)]
pub struct EventSettings {
    /// `WS_ALLOWED_ORIGINS`: comma-separated origins a browser may open `/ws` from. Default:
    /// the `CORS_ALLOWED_ORIGINS` list. A request without `Origin` (not a browser) passes.
    pub allowed_origins: Vec<String>,
    /// `WS_TICKET_TTL_SECS`, default 30.
    pub ticket_ttl: Duration,
    /// `WS_MAX_MESSAGE_BYTES`: the largest message (and frame) a client may send, default
    /// 65536.
    pub max_message_bytes: usize,
    /// `WS_PING_INTERVAL_SECS`, default 20.
    pub ping_interval: Duration,
    /// `WS_PONG_TIMEOUT_SECS`: a peer that answers no ping, or accepts no write, for this long
    /// is dead; default 10.
    pub pong_timeout: Duration,
    /// `EVENTS_CONNECTION_BUFFER`: events a connection may fall behind before it is closed as
    /// too slow; default 1024. It must exceed the largest burst one transaction emits.
    pub connection_buffer: usize,
    /// `EVENTS_AUTH_CHECK_SECS`: how often a live connection re-checks that its login and
    /// membership still stand; default 15.
    pub auth_check_interval: Duration,
    /// `EVENTS_RETENTION_SECS`: how long events are kept for resuming; default 604800 (7 days).
    pub retention: Duration,
    /// `EVENTS_PRUNE_INTERVAL_SECS`: how often each API instance prunes older events;
    /// default 3600.
    pub prune_interval: Duration,
}

impl Default for EventSettings {
    /// The production defaults, with no allowed origin.
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            ticket_ttl: Duration::from_secs(30),
            max_message_bytes: 64 * 1024,
            ping_interval: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(10),
            connection_buffer: 1024,
            auth_check_interval: Duration::from_secs(15),
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_interval: Duration::from_secs(3600),
        }
    }
}

impl EventSettings {
    pub fn from_env(cors_origins: &[String]) -> Result<Self, ConfigError> {
        // Zero would mean "never" or "nothing" here, so it does not parse.
        let secs = |var, default| {
            env::var_or::<NonZeroU64>(var, default, "a positive number of seconds")
                .map(|n| Duration::from_secs(n.get()))
        };
        let positive = |var, default| {
            env::var_or::<NonZeroUsize>(var, default, "a positive integer").map(NonZeroUsize::get)
        };
        let origins: Option<String> =
            env::optional("WS_ALLOWED_ORIGINS", "comma-separated origins")?;
        let allowed_origins: Vec<String> = match origins {
            Some(list) => list
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            None => cors_origins.to_vec(),
        };
        // Browsers send an origin as scheme://host[:port], which is what must match.
        if let Some(bad) = allowed_origins
            .iter()
            .find(|o| !url::Url::parse(o).is_ok_and(|u| u.path() == "/" && u.query().is_none()))
        {
            return Err(ConfigError::Invalid {
                var: "WS_ALLOWED_ORIGINS",
                expected: "comma-separated origins such as https://app.example.com",
                got: bad.clone(),
            });
        }
        Ok(Self {
            allowed_origins,
            ticket_ttl: secs("WS_TICKET_TTL_SECS", "30")?,
            max_message_bytes: positive("WS_MAX_MESSAGE_BYTES", "65536")?,
            ping_interval: secs("WS_PING_INTERVAL_SECS", "20")?,
            pong_timeout: secs("WS_PONG_TIMEOUT_SECS", "10")?,
            connection_buffer: positive("EVENTS_CONNECTION_BUFFER", "1024")?,
            auth_check_interval: secs("EVENTS_AUTH_CHECK_SECS", "15")?,
            retention: secs("EVENTS_RETENTION_SECS", "604800")?,
            prune_interval: secs("EVENTS_PRUNE_INTERVAL_SECS", "3600")?,
        })
    }
}
