//! `POST /api/ws-ticket`: trades an access token for a short-lived, single-use ticket to
//! open `/ws` with, because a browser cannot set headers on a WebSocket and a long-lived
//! token must never travel in a URL (where proxies and logs keep it).
//!
//! Tickets are stored hashed in PostgreSQL, so whichever instance the WebSocket lands on can
//! redeem it; redeeming deletes it in the same statement, so it works once.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::access::{Access, Credential};
use crate::{
    AppState,
    auth::{Principal, secrets},
    error::ApiError,
};

pub const TICKET_PREFIX: &str = "mdt_";

#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    /// Open `GET /ws?ticket=<ticket>` (optionally `&since=<event id>`) with it, once.
    pub ticket: String,
    /// Seconds until it expires unused.
    pub expires_in: u64,
}

/// A ticket for one WebSocket connection, valid for 30 seconds (by default).
///
/// The connection lives until the access token presented here expires, or until the login
/// or membership is revoked; then it closes with code 1008.
#[utoipa::path(post, path = "/api/ws-ticket", tag = "events", security(("bearer" = [])),
    responses((status = 201, body = Ticket), (status = 401, body = crate::error::Problem),
        (status = 403, description = "API keys use `GET /api/events` instead", body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(org_id = %principal.org_id))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: http::HeaderMap,
) -> Result<(StatusCode, Json<Ticket>), ApiError> {
    principal.require_user()?;
    let access = Access::of(&state, &principal, &headers);
    let (Credential::Login { user, family }, Some(token_expires_at)) =
        (access.credential, access.expires_at)
    else {
        return Err(ApiError::Unauthorized);
    };
    let ttl = state.settings.events.ticket_ttl;
    let ticket = secrets::generate(TICKET_PREFIX);
    let mut tx = principal.begin(&state).await?;
    sqlx::query(
        "INSERT INTO ws_tickets (ticket_hash, org_id, user_id, family_id, token_expires_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
    )
    .bind(secrets::digest(&ticket))
    .bind(principal.org_id)
    .bind(user)
    .bind(family)
    .bind(token_expires_at)
    .bind(ttl.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Ticket {
            ticket,
            expires_in: ttl.as_secs(),
        }),
    ))
}

/// Spends `ticket`: the access it stands for, or `None` when it is unknown, spent or
/// expired (the caller cannot tell which, by design).
pub async fn redeem(pool: &PgPool, ticket: &str) -> sqlx::Result<Option<Access>> {
    if !ticket.starts_with(TICKET_PREFIX) {
        return Ok(None);
    }
    let row: Option<(Uuid, Uuid, Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT org_id, user_id, family_id, token_expires_at FROM redeem_ws_ticket($1)",
    )
    .bind(secrets::digest(ticket))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(org, user, family, expires_at)| Access {
        org,
        credential: Credential::Login { user, family },
        expires_at: Some(expires_at),
    }))
}
