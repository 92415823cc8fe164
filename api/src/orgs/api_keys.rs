//! API keys for machine clients (the recording app uploading with no person present).
//! Shown once; only the SHA-256 is stored; the visible prefix tells keys apart.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Principal, Role, secrets, validate},
    error::{ApiError, FieldError},
    extract::{ApiPath, ApiQuery, AppJson},
    pagination::{Page, PageQuery, PageRequest, fetch_page},
};

/// Characters of the key kept in the clear: `mdk_` and eight more.
const VISIBLE: usize = 12;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// `admin` or `member`.
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// The key's first characters, for telling keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// Shown only now. Send it as `Authorization: Bearer <key>`.
    pub key: String,
}

/// Creates an API key for the caller's org.
#[utoipa::path(post, path = "/api/org/api-keys", tag = "orgs", security(("bearer" = [])),
    request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(req): AppJson<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    principal.require(Role::Admin)?;
    let mut errors = Vec::new();
    let name = validate::name("name", &req.name, 100, &mut errors);
    if name.is_empty() {
        errors.push(FieldError::new("name", "must not be empty"));
    }
    if req.role == Role::Owner {
        errors.push(FieldError::new("role", "must be admin or member"));
    }
    validate::finish(errors)?;
    let key = secrets::generate(secrets::API_KEY_PREFIX);
    let prefix = key[..VISIBLE].to_owned();
    let mut tx = principal.begin(&state).await?;
    let (id, created_at): (Uuid, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO api_keys (id, org_id, name, role, prefix, key_hash, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(principal.org_id)
    .bind(&name)
    .bind(req.role.as_str())
    .bind(&prefix)
    .bind(secrets::digest(&key))
    .bind(principal.user_id())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let api_key = ApiKey {
        id,
        name,
        role: req.role,
        prefix,
        created_at,
        last_used_at: None,
        revoked_at: None,
    };
    Ok((StatusCode::CREATED, Json(CreatedApiKey { api_key, key })))
}

/// The org's API keys, oldest first. Never includes the keys themselves.
#[utoipa::path(get, path = "/api/org/api-keys", tag = "orgs", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<ApiKey>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<ApiKey>>, ApiError> {
    principal.require(Role::Admin)?;
    let request = PageRequest::try_from(query)?;
    type Row = (
        Uuid,
        String,
        String,
        String,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let mut tx = principal.begin(&state).await?;
    let keys = fetch_page(
        &mut tx,
        "SELECT id, name, role, prefix, created_at, last_used_at, revoked_at FROM api_keys
         WHERE org_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
         ORDER BY created_at, id LIMIT $4",
        principal.org_id,
        &request,
        |(id, name, role, prefix, created_at, last_used_at, revoked_at): Row| {
            Ok(ApiKey {
                id,
                name,
                role: Role::parse(&role)?,
                prefix,
                created_at,
                last_used_at,
                revoked_at,
            })
        },
        |k| (k.created_at, k.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(keys))
}

/// Revokes an API key; it stops working at once.
#[utoipa::path(delete, path = "/api/org/api-keys/{id}", tag = "orgs", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Admin)?;
    let mut tx = principal.begin(&state).await?;
    let revoked = sqlx::query(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND org_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(principal.org_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    if revoked == 0 {
        Err(ApiError::NotFound)
    } else {
        Ok(StatusCode::NO_CONTENT)
    }
}
