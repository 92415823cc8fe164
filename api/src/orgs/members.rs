//! An org's members: list, change role, remove. Admins only; the owner role is the owners'
//! to give or take, and the last owner can never be demoted or removed.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Principal, Role},
    error::ApiError,
    extract::{ApiPath, ApiQuery, AppJson},
    pagination::{Page, PageQuery, PageRequest, fetch_page},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: Role,
}

/// Members of the caller's org, oldest first.
#[utoipa::path(get, path = "/api/org/members", tag = "orgs", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<Member>), (status = 403, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Member>>, ApiError> {
    principal.require(Role::Admin)?;
    let request = PageRequest::try_from(query)?;
    type Row = (Uuid, String, String, String, DateTime<Utc>);
    let mut tx = principal.begin(&state).await?;
    let members = fetch_page(
        &mut tx,
        "SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 AND ($2::timestamptz IS NULL OR (m.created_at, m.user_id) > ($2, $3))
         ORDER BY m.created_at, m.user_id LIMIT $4",
        principal.org_id,
        &request,
        |(user_id, email, name, role, joined_at): Row| {
            Ok(Member { user_id, email, name, role: Role::parse(&role)?, joined_at })
        },
        |m| (m.joined_at, m.user_id),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(members))
}

/// Locks the org's owner rows (so two concurrent demotions cannot both pass the last-owner
/// check) and returns the target's current role.
async fn lock(
    tx: &mut Transaction<'static, Postgres>,
    org: Uuid,
    target: Uuid,
) -> Result<(Role, usize), ApiError> {
    let owners: Vec<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM memberships WHERE org_id = $1 AND role = 'owner' FOR UPDATE",
    )
    .bind(org)
    .fetch_all(&mut **tx)
    .await?;
    let role: String = sqlx::query_scalar(
        "SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(org)
    .bind(target)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok((Role::parse(&role)?, owners.len()))
}

fn check_owner_rules(
    principal: &Principal,
    current: Role,
    next: Option<Role>,
    owners: usize,
) -> Result<(), ApiError> {
    let touches_owner = current == Role::Owner || next == Some(Role::Owner);
    if touches_owner && principal.role != Role::Owner {
        return Err(ApiError::Forbidden(
            "only an owner can grant, revoke or remove the owner role".into(),
        ));
    }
    if current == Role::Owner && next != Some(Role::Owner) && owners <= 1 {
        return Err(ApiError::Conflict(
            "the last owner cannot be demoted or removed".into(),
        ));
    }
    Ok(())
}

/// Changes a member's role.
#[utoipa::path(patch, path = "/api/org/members/{user_id}", tag = "orgs", security(("bearer" = [])),
    params(("user_id" = Uuid, Path)), request_body = ChangeRole,
    responses(
        (status = 200, body = Member),
        (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "Would leave the org without an owner", body = crate::error::Problem),
    ))]
pub async fn change_role(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(user_id): ApiPath<Uuid>,
    AppJson(req): AppJson<ChangeRole>,
) -> Result<Json<Member>, ApiError> {
    principal.require(Role::Admin)?;
    let mut tx = principal.begin(&state).await?;
    let (current, owners) = lock(&mut tx, principal.org_id, user_id).await?;
    check_owner_rules(&principal, current, Some(req.role), owners)?;
    let (email, name, joined_at): (String, String, DateTime<Utc>) = sqlx::query_as(
        "UPDATE memberships m SET role = $3 FROM users u
         WHERE m.org_id = $1 AND m.user_id = $2 AND u.id = m.user_id
         RETURNING u.email, u.name, m.created_at",
    )
    .bind(principal.org_id)
    .bind(user_id)
    .bind(req.role.as_str())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(Member {
        user_id,
        email,
        name,
        role: req.role,
        joined_at,
    }))
}

/// Removes a member. Their sessions in this org end at once.
#[utoipa::path(delete, path = "/api/org/members/{user_id}", tag = "orgs", security(("bearer" = [])),
    params(("user_id" = Uuid, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "The last owner", body = crate::error::Problem),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(user_id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Admin)?;
    let mut tx = principal.begin(&state).await?;
    let (current, owners) = lock(&mut tx, principal.org_id, user_id).await?;
    check_owner_rules(&principal, current, None, owners)?;
    sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
        .bind(principal.org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE session_families SET revoked_at = now(), revoked_reason = 'removed from org'
         WHERE org_id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(principal.org_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
