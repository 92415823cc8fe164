//! Registration, login, refresh-token rotation, logout and switching orgs.
//!
//! **Refresh rotation (RFC 9700).** Each refresh token works once and is replaced by a new
//! one in the same family. Presenting a spent token means it was copied: the whole family is
//! revoked, so the thief's and the victim's tokens all stop working, access tokens included.
//! **Two refreshes racing** with the same token are decided by the database: one marks the
//! token used and gets the new pair; the other finds it spent and revokes the family. Both
//! clients must then log in again. A legitimate client never races itself (it serialises
//! refreshes), so a race looks exactly like theft and is treated as such.

use std::net::{IpAddr, SocketAddr};

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Principal, Role, password, secrets, validate},
    error::{ApiError, ResultExt},
    extract::{AppJson, PeerAddr},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque and single-use: `POST /api/auth/refresh` exchanges it for a new pair.
    pub refresh_token: String,
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    #[serde(default)]
    pub name: String,
    /// Defaults to "<name or email>'s org".
    pub org_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchOrgRequest {
    pub org_id: Uuid,
}

/// Starts a login: a new family, its first refresh token and an access token. `tx` must be
/// scoped to `org`.
pub(crate) async fn start_session(
    tx: &mut Transaction<'static, Postgres>,
    state: &AppState,
    user: Uuid,
    org: Uuid,
    role: Role,
) -> Result<Session, ApiError> {
    let family = Uuid::now_v7();
    sqlx::query("INSERT INTO session_families (id, user_id, org_id) VALUES ($1, $2, $3)")
        .bind(family)
        .bind(user)
        .bind(org)
        .execute(&mut **tx)
        .await?;
    issue(tx, state, user, org, role, family).await
}

/// A new refresh token in `family` and an access token to go with it.
async fn issue(
    tx: &mut Transaction<'static, Postgres>,
    state: &AppState,
    user: Uuid,
    org: Uuid,
    role: Role,
    family: Uuid,
) -> Result<Session, ApiError> {
    let refresh = secrets::generate(secrets::REFRESH_PREFIX);
    let ttl =
        chrono::Duration::from_std(state.settings.auth.refresh_ttl).map_err(anyhow::Error::from)?;
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, now() + $4)",
    )
    .bind(Uuid::now_v7())
    .bind(family)
    .bind(secrets::digest(&refresh))
    .bind(ttl)
    .execute(&mut **tx)
    .await?;
    Ok(Session {
        access_token: state.jwt.issue(user, org, role, family)?,
        token_type: "Bearer",
        expires_in: state.jwt.ttl().as_secs(),
        refresh_token: refresh,
        user_id: user,
        org_id: org,
        role,
    })
}

/// Creates an account and a new org owned by it, and logs in.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account and org created; logged in", body = Session),
        (status = 409, description = "The email is taken", body = crate::error::Problem),
        (status = 413, description = "Body over 1 MiB", body = crate::error::Problem),
        (status = 415, description = "Not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields", body = crate::error::Problem),
    ))]
pub async fn register(
    State(state): State<AppState>,
    AppJson(req): AppJson<RegisterRequest>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let mut errors = Vec::new();
    let email = validate::email("email", &req.email, &mut errors);
    validate::new_password("password", &req.password, &mut errors);
    let name = validate::name("name", &req.name, 200, &mut errors);
    let org_name = validate::name(
        "org_name",
        req.org_name.as_deref().unwrap_or(""),
        200,
        &mut errors,
    );
    validate::finish(errors)?;
    let org_name = if org_name.is_empty() {
        format!("{}'s org", if name.is_empty() { &email } else { &name })
    } else {
        org_name
    };

    let hash = password::hash(req.password).await?;
    let (user, org) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = mediadocs_store::tenancy::begin(&state.pool, Some(org), Some(user)).await?;
    create_user(&mut tx, user, &email, &name, &hash).await?;
    sqlx::query("INSERT INTO orgs (id, name) VALUES ($1, $2)")
        .bind(org)
        .bind(&org_name)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner')")
        .bind(org)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    let session = start_session(&mut tx, &state, user, org, Role::Owner).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Creates an account. A taken email is a 409, however the request got here (registration,
/// or an invite accepted concurrently with one).
pub(crate) async fn create_user(
    tx: &mut Transaction<'static, Postgres>,
    id: Uuid,
    email: &str,
    name: &str,
    password_hash: &str,
) -> Result<(), ApiError> {
    sqlx::query("INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .execute(&mut **tx)
        .await
        .on_constraint("users_email_key", || {
            ApiError::Conflict("an account with this email exists".into())
        })?;
    Ok(())
}

/// The client's IP: the socket peer, or the first `X-Forwarded-For` hop when configured to
/// trust a proxy.
pub(crate) fn client_ip(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Option<IpAddr> {
    if state.settings.auth.trust_forwarded_for {
        let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        if let Some(ip) = forwarded
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
    }
    peer.map(|p| p.ip())
}

/// Checks an email and password; the same 401, after the same argon2 work, whether the
/// email is unknown or the password wrong.
pub(crate) async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<Uuid, ApiError> {
    let row: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&state.pool)
            .await?;
    let (id, hash) = row.map_or((None, None), |(id, h)| (Some(id), Some(h)));
    if password::verify(password, hash).await? {
        id.ok_or(ApiError::Unauthorized)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Logs in to the user's oldest org.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = Session),
        (status = 401, description = "Wrong email or password", body = crate::error::Problem),
        (status = 429, description = "Too many attempts for this account or IP; see Retry-After",
            body = crate::error::Problem),
    ))]
pub async fn login(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<Json<Session>, ApiError> {
    let email = req.email.trim().to_lowercase();
    state
        .login_limiter
        .check(&email, client_ip(&state, &headers, peer))?;
    let user = authenticate(&state, &email, req.password).await?;
    let (org, role): (Uuid, String) = sqlx::query_as("SELECT org_id, role FROM default_org($1)")
        .bind(user)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::Forbidden("this account belongs to no org".into()))?;
    let mut tx = mediadocs_store::tenancy::begin(&state.pool, Some(org), Some(user)).await?;
    let session = start_session(&mut tx, &state, user, org, Role::parse(&role)?).await?;
    tx.commit().await?;
    Ok(Json(session))
}

/// Exchanges a refresh token for a new pair. A spent token revokes its whole family.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new access and refresh token", body = Session),
        (status = 401, description = "Unknown, expired, spent or revoked", body = crate::error::Problem),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    AppJson(req): AppJson<RefreshRequest>,
) -> Result<Json<Session>, ApiError> {
    type Row = (
        Uuid,
        Uuid,
        Uuid,
        Uuid,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, family_id, user_id, org_id, expires_at, revoked_at FROM auth_refresh_token($1)",
    )
    .bind(secrets::digest(&req.refresh_token))
    .fetch_optional(&state.pool)
    .await?;
    let (token, family, user, org, expires_at, revoked_at) = row.ok_or(ApiError::Unauthorized)?;
    if revoked_at.is_some() || expires_at <= chrono::Utc::now() {
        return Err(ApiError::Unauthorized);
    }
    let mut tx = mediadocs_store::tenancy::begin(&state.pool, Some(org), Some(user)).await?;
    let spent =
        sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE id = $1 AND used_at IS NULL")
            .bind(token)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 0;
    if spent {
        revoke_family(&mut tx, family, "refresh token reused").await?;
        tx.commit().await?;
        tracing::warn!(%family, %user, "refresh token reuse: family revoked");
        return Err(ApiError::Unauthorized);
    }
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org)
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(role) = role else {
        revoke_family(&mut tx, family, "no longer a member").await?;
        tx.commit().await?;
        return Err(ApiError::Unauthorized);
    };
    let session = issue(&mut tx, &state, user, org, Role::parse(&role)?, family).await?;
    tx.commit().await?;
    Ok(Json(session))
}

async fn revoke_family(
    tx: &mut Transaction<'static, Postgres>,
    family: Uuid,
    reason: &str,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE session_families SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Revokes the current login: its refresh tokens and its access tokens.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = crate::error::Problem),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode, ApiError> {
    let (_, family) = principal.require_user()?;
    let mut tx = principal.begin(&state).await?;
    revoke_family(&mut tx, family, "logout").await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issues tokens for another org the user belongs to.
#[utoipa::path(post, path = "/api/auth/switch-org", tag = "auth", security(("bearer" = [])),
    request_body = SwitchOrgRequest,
    responses(
        (status = 200, description = "Logged in to the other org", body = Session),
        (status = 404, description = "No such org among the user's", body = crate::error::Problem),
    ))]
pub async fn switch_org(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(req): AppJson<SwitchOrgRequest>,
) -> Result<Json<Session>, ApiError> {
    let (user, _) = principal.require_user()?;
    let mut tx = mediadocs_store::tenancy::begin(&state.pool, Some(req.org_id), Some(user)).await?;
    let role: String =
        sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(req.org_id)
            .bind(user)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(ApiError::NotFound)?;
    let session = start_session(&mut tx, &state, user, req.org_id, Role::parse(&role)?).await?;
    tx.commit().await?;
    Ok(Json(session))
}
