//! Who is calling: a user with an access token, or a machine with an API key.
//!
//! Every authenticated request re-reads the membership, so a removed member, a demoted
//! admin or a logged-out session loses access at once, not when the token expires.

use axum::{extract::FromRequestParts, http::request::Parts};
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Role, secrets},
    error::ApiError,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User { id: Uuid, family: Uuid },
    ApiKey { id: Uuid },
}

#[derive(Debug, Clone, Copy)]
pub struct Principal {
    pub org_id: Uuid,
    pub role: Role,
    pub actor: Actor,
}

impl Principal {
    pub fn user_id(&self) -> Option<Uuid> {
        match self.actor {
            Actor::User { id, .. } => Some(id),
            Actor::ApiKey { .. } => None,
        }
    }

    /// The user, for routes that only make sense for a person (switching orgs, say).
    pub fn require_user(&self) -> Result<(Uuid, Uuid), ApiError> {
        match self.actor {
            Actor::User { id, family } => Ok((id, family)),
            Actor::ApiKey { .. } => Err(ApiError::Forbidden(
                "this route needs a user, not an API key".into(),
            )),
        }
    }

    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role",
                role.as_str()
            )))
        }
    }

    /// A transaction scoped to the caller's org.
    pub async fn begin(
        &self,
        state: &AppState,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, ApiError> {
        Ok(mediadocs_store::tenancy::begin(&state.pool, Some(self.org_id), self.user_id()).await?)
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        if token.starts_with(secrets::API_KEY_PREFIX) {
            return api_key(state, token).await;
        }
        let claims = state.jwt.verify(token).ok_or(ApiError::Unauthorized)?;
        let mut tx =
            mediadocs_store::tenancy::begin(&state.pool, Some(claims.org), Some(claims.sub))
                .await?;
        let role: Option<String> = sqlx::query_scalar(
            "SELECT m.role FROM memberships m
             JOIN session_families f ON f.id = $3 AND f.user_id = m.user_id AND f.org_id = m.org_id
             WHERE m.org_id = $1 AND m.user_id = $2 AND f.revoked_at IS NULL",
        )
        .bind(claims.org)
        .bind(claims.sub)
        .bind(claims.fam)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let role = role.ok_or(ApiError::Unauthorized)?;
        Ok(Self {
            org_id: claims.org,
            role: Role::parse(&role)?,
            actor: Actor::User {
                id: claims.sub,
                family: claims.fam,
            },
        })
    }
}

async fn api_key(state: &AppState, key: &str) -> Result<Principal, ApiError> {
    let row: Option<(Uuid, Uuid, String)> =
        sqlx::query_as("SELECT id, org_id, role FROM auth_api_key($1)")
            .bind(secrets::digest(key))
            .fetch_optional(&state.pool)
            .await?;
    let (id, org_id, role) = row.ok_or(ApiError::Unauthorized)?;
    Ok(Principal {
        org_id,
        role: Role::parse(&role)?,
        actor: Actor::ApiKey { id },
    })
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
