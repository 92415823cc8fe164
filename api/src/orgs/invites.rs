//! Invitations: an admin invites an email with a role; the invitee accepts with the
//! single-use token, whether or not they already have an account.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    auth::{
        Principal, Role, password, secrets,
        sessions::{self, Session},
        validate,
    },
    error::{ApiError, FieldError},
    extract::{ApiPath, ApiQuery, AppJson, PeerAddr},
    pagination::{Page, PageQuery, PageRequest, fetch_page},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    pub email: String,
    /// `admin` or `member`.
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invite {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInvite {
    #[serde(flatten)]
    pub invite: Invite,
    /// Shown only now. The invitee sends it to `POST /api/invites/accept`.
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    pub token: String,
    /// The existing account's password, or the new account's (at least 10 characters).
    pub password: String,
    /// For a new account.
    #[serde(default)]
    pub name: String,
}

/// Invites an email to the caller's org.
#[utoipa::path(post, path = "/api/org/invites", tag = "orgs", security(("bearer" = [])),
    request_body = CreateInvite,
    responses(
        (status = 201, body = CreatedInvite),
        (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
    ))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(req): AppJson<CreateInvite>,
) -> Result<(StatusCode, Json<CreatedInvite>), ApiError> {
    principal.require(Role::Admin)?;
    let mut errors = Vec::new();
    let email = validate::email("email", &req.email, &mut errors);
    if req.role == Role::Owner {
        errors.push(FieldError::new(
            "role",
            "must be admin or member; promote to owner after joining",
        ));
    }
    validate::finish(errors)?;
    let token = secrets::generate(secrets::INVITE_PREFIX);
    let ttl =
        chrono::Duration::from_std(state.settings.auth.invite_ttl).map_err(anyhow::Error::from)?;
    let mut tx = principal.begin(&state).await?;
    let (id, created_at, expires_at): (Uuid, DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO invites (id, org_id, email, role, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + $7) RETURNING id, created_at, expires_at",
    )
    .bind(Uuid::now_v7())
    .bind(principal.org_id)
    .bind(&email)
    .bind(req.role.as_str())
    .bind(secrets::digest(&token))
    .bind(principal.user_id())
    .bind(ttl)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let invite = Invite {
        id,
        email,
        role: req.role,
        created_at,
        expires_at,
        accepted_at: None,
    };
    Ok((StatusCode::CREATED, Json(CreatedInvite { invite, token })))
}

/// The org's invites, oldest first.
#[utoipa::path(get, path = "/api/org/invites", tag = "orgs", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<Invite>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Invite>>, ApiError> {
    principal.require(Role::Admin)?;
    let request = PageRequest::try_from(query)?;
    type Row = (
        Uuid,
        String,
        String,
        DateTime<Utc>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
    );
    let mut tx = principal.begin(&state).await?;
    let invites = fetch_page(
        &mut tx,
        "SELECT id, email, role, created_at, expires_at, accepted_at FROM invites
         WHERE org_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
         ORDER BY created_at, id LIMIT $4",
        principal.org_id,
        &request,
        |(id, email, role, created_at, expires_at, accepted_at): Row| {
            Ok(Invite {
                id,
                email,
                role: Role::parse(&role)?,
                created_at,
                expires_at,
                accepted_at,
            })
        },
        |i| (i.created_at, i.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(invites))
}

/// Withdraws an invite that has not been accepted.
#[utoipa::path(delete, path = "/api/org/invites/{id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Admin)?;
    let mut tx = principal.begin(&state).await?;
    let deleted =
        sqlx::query("DELETE FROM invites WHERE id = $1 AND org_id = $2 AND accepted_at IS NULL")
            .bind(id)
            .bind(principal.org_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    tx.commit().await?;
    if deleted == 0 {
        Err(ApiError::NotFound)
    } else {
        Ok(StatusCode::NO_CONTENT)
    }
}

/// Accepts an invite, creating the account if the email has none, and logs in to the org.
#[utoipa::path(post, path = "/api/invites/accept", tag = "orgs", request_body = AcceptInvite,
    responses(
        (status = 200, description = "Joined; logged in to the org", body = Session),
        (status = 401, description = "The account exists and the password is wrong", body = crate::error::Problem),
        (status = 404, description = "Unknown token", body = crate::error::Problem),
        (status = 409, description = "Already used", body = crate::error::Problem),
        (status = 410, description = "Expired", body = crate::error::Problem),
    ))]
pub async fn accept(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    AppJson(req): AppJson<AcceptInvite>,
) -> Result<Json<Session>, ApiError> {
    type Row = (
        Uuid,
        Uuid,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
    );
    let invite: Option<Row> = sqlx::query_as(
        "SELECT id, org_id, email, role, expires_at, accepted_at FROM find_invite($1)",
    )
    .bind(secrets::digest(&req.token))
    .fetch_optional(&state.pool)
    .await?;
    let (invite_id, org, email, role, expires_at, accepted_at) =
        invite.ok_or(ApiError::NotFound)?;
    if accepted_at.is_some() {
        return Err(ApiError::Conflict("this invite has been used".into()));
    }
    if expires_at <= Utc::now() {
        return Err(ApiError::Gone(
            "this invite has expired; ask for a new one".into(),
        ));
    }
    state
        .login_limiter
        .check(&email, sessions::client_ip(&state, &headers, peer))?;

    let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&state.pool)
        .await?;
    let (user, new_account) = match existing {
        Some(_) => (
            sessions::authenticate(&state, &email, req.password).await?,
            None,
        ),
        None => {
            let mut errors = Vec::new();
            validate::new_password("password", &req.password, &mut errors);
            let name = validate::name("name", &req.name, 200, &mut errors);
            validate::finish(errors)?;
            (
                Uuid::now_v7(),
                Some((name, password::hash(req.password).await?)),
            )
        }
    };

    let mut tx = mediadocs_store::tenancy::begin(&state.pool, Some(org), Some(user)).await?;
    if let Some((name, hash)) = new_account {
        sessions::create_user(&mut tx, user, &email, &name, &hash).await?;
    }
    let claimed =
        sqlx::query("UPDATE invites SET accepted_at = now() WHERE id = $1 AND accepted_at IS NULL")
            .bind(invite_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if claimed == 0 {
        return Err(ApiError::Conflict("this invite has been used".into()));
    }
    // Someone already in the org keeps their role; an invite never demotes.
    let role: String = sqlx::query_scalar(
        "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = memberships.role RETURNING role",
    )
    .bind(org)
    .bind(user)
    .bind(&role)
    .fetch_one(&mut *tx)
    .await?;
    let session = sessions::start_session(&mut tx, &state, user, org, Role::parse(&role)?).await?;
    tx.commit().await?;
    Ok(Json(session))
}
