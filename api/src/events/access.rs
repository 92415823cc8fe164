//! Who a live connection belongs to, and for how long: it ends when the access token
//! behind it expires, or when its login, membership or API key is revoked.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Actor, Principal},
};

#[derive(Debug, Clone)]
pub struct Access {
    pub org: Uuid,
    pub credential: Credential,
    /// When the access token expires; API keys do not.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy)]
pub enum Credential {
    Login { user: Uuid, family: Uuid },
    ApiKey { id: Uuid },
}

/// Why the server ends a connection that is keeping up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    TokenExpired,
    /// Removed from the org, logged out, or the API key revoked.
    AccessRevoked,
    /// The instance is shutting down; the client reconnects (to another) with `since`.
    ShuttingDown,
}

impl Ending {
    pub fn reason(self) -> &'static str {
        match self {
            Self::TokenExpired => "access token expired",
            Self::AccessRevoked => "access revoked",
            Self::ShuttingDown => "the server is going away",
        }
    }

    /// The WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            Self::TokenExpired | Self::AccessRevoked => 1008,
            Self::ShuttingDown => 1001,
        }
    }
}

impl Access {
    /// The caller of an authenticated request; `headers` give the token's expiry.
    pub fn of(state: &AppState, principal: &Principal, headers: &http::HeaderMap) -> Self {
        let credential = match principal.actor {
            Actor::User { id, family } => Credential::Login { user: id, family },
            Actor::ApiKey { id } => Credential::ApiKey { id },
        };
        let expires_at = matches!(credential, Credential::Login { .. })
            .then(|| token_expiry(state, headers))
            .flatten();
        Self {
            org: principal.org_id,
            credential,
            expires_at,
        }
    }

    pub fn user(&self) -> Option<Uuid> {
        match self.credential {
            Credential::Login { user, .. } => Some(user),
            Credential::ApiKey { .. } => None,
        }
    }

    pub fn expired(&self) -> bool {
        self.expires_at.is_some_and(|t| t <= Utc::now())
    }

    /// Resolves when the connection must end: at the token's expiry, or at the first check
    /// (every `every`) that finds the access revoked. A failed check is not a revocation.
    pub async fn ends(self, pool: PgPool, every: Duration) -> Ending {
        let expiry = async {
            match self.expires_at {
                Some(at) => {
                    let left = (at - Utc::now()).to_std().unwrap_or_default();
                    tokio::time::sleep(left).await;
                }
                None => std::future::pending().await,
            }
        };
        let revocation = async {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match self.still_allowed(&pool).await {
                    Ok(false) => return,
                    Ok(true) => {}
                    Err(e) => tracing::warn!(error = %e, "re-checking a live connection failed"),
                }
            }
        };
        tokio::select! {
            () = expiry => Ending::TokenExpired,
            () = revocation => Ending::AccessRevoked,
        }
    }

    async fn still_allowed(&self, pool: &PgPool) -> sqlx::Result<bool> {
        let mut tx = mediadocs_store::tenancy::begin(pool, Some(self.org), self.user()).await?;
        let found: Option<i32> = match self.credential {
            Credential::Login { user, family } => {
                sqlx::query_scalar(
                    "SELECT 1 FROM memberships m
                     JOIN session_families f ON f.id = $3 AND f.user_id = m.user_id AND f.org_id = m.org_id
                     WHERE m.org_id = $1 AND m.user_id = $2 AND f.revoked_at IS NULL",
                )
                .bind(self.org)
                .bind(user)
                .bind(family)
                .fetch_optional(&mut *tx)
                .await?
            }
            Credential::ApiKey { id } => {
                sqlx::query_scalar("SELECT 1 FROM api_keys WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
            }
        };
        tx.commit().await?;
        Ok(found.is_some())
    }
}

/// The `exp` of the bearer access token, already verified by the `Principal` extractor.
fn token_expiry(state: &AppState, headers: &http::HeaderMap) -> Option<DateTime<Utc>> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (_, token) = value.split_once(' ')?;
    let claims = state.jwt.verify(token.trim())?;
    DateTime::from_timestamp(claims.exp, 0)
}
