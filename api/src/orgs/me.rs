//! `GET /api/me` and `GET /api/orgs`.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Actor, Principal, Role},
    error::ApiError,
    extract::ApiQuery,
    pagination::{Page, PageQuery, PageRequest, fetch_page},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgInfo {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Absent when the caller is an API key.
    pub user: Option<UserInfo>,
    /// Present when the caller is an API key.
    pub api_key_id: Option<Uuid>,
    pub org: OrgInfo,
    pub role: Role,
}

/// The caller, the org they act in, and their role there.
#[utoipa::path(get, path = "/api/me", tag = "orgs", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)))]
pub async fn me(State(state): State<AppState>, principal: Principal) -> Result<Json<Me>, ApiError> {
    let mut tx = principal.begin(&state).await?;
    let (org_id, org_name): (Uuid, String) =
        sqlx::query_as("SELECT id, name FROM orgs WHERE id = $1")
            .bind(principal.org_id)
            .fetch_one(&mut *tx)
            .await?;
    let (user, api_key_id) = match principal.actor {
        Actor::User { id, .. } => {
            let (id, email, name): (Uuid, String, String) =
                sqlx::query_as("SELECT id, email, name FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            (Some(UserInfo { id, email, name }), None)
        }
        Actor::ApiKey { id } => (None, Some(id)),
    };
    tx.commit().await?;
    Ok(Json(Me {
        user,
        api_key_id,
        org: OrgInfo {
            id: org_id,
            name: org_name,
        },
        role: principal.role,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgMembership {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// The orgs the user belongs to, oldest membership first.
#[utoipa::path(get, path = "/api/orgs", tag = "orgs", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<OrgMembership>), (status = 401, body = crate::error::Problem)))]
pub async fn list_orgs(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<OrgMembership>>, ApiError> {
    let (user, _) = principal.require_user()?;
    let request = PageRequest::try_from(query)?;
    type Row = (Uuid, String, String, DateTime<Utc>);
    let mut tx = principal.begin(&state).await?;
    let orgs = fetch_page(
        &mut tx,
        "SELECT o.id, o.name, m.role, m.created_at FROM memberships m JOIN orgs o ON o.id = m.org_id
         WHERE m.user_id = $1 AND ($2::timestamptz IS NULL OR (m.created_at, m.org_id) > ($2, $3))
         ORDER BY m.created_at, m.org_id LIMIT $4",
        user,
        &request,
        |(id, name, role, joined_at): Row| Ok(OrgMembership { id, name, role: Role::parse(&role)?, joined_at }),
        |o| (o.joined_at, o.id),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(orgs))
}
