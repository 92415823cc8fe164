//! Templates: how documents are written (instructions and the sections to produce). Each
//! org has its own, one of which may be its default; the built-ins (meeting notes, how-to,
//! lecture notes, interview, customer call, incident review) are readable by every org and
//! copied, never changed. This module is the one writer of `templates`.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Transaction};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Principal, Role, validate},
    error::{ApiError, FieldError},
    extract::{ApiPath, AppJson},
};

pub const MAX_SECTIONS: usize = 20;
pub const MAX_INSTRUCTIONS_CHARS: usize = 8000;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_SECTION_CHARS: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Template {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub instructions: String,
    /// Extra `##` sections, in order, between the summary and the key points.
    pub sections: Vec<String>,
    /// The org's default for new recordings.
    pub is_default: bool,
    /// Read-only, shared by every org; copy it to change it.
    pub built_in: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT id, name, description, instructions, sections, is_default,
    org_id IS NULL AS built_in, created_by, created_at, updated_at FROM templates";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    /// 1 to 100 characters.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// At most 8,000 characters; fenced as untrusted in prompts.
    #[serde(default)]
    pub instructions: String,
    /// At most 20, each 1 to 100 characters.
    #[serde(default)]
    pub sections: Vec<String>,
    #[serde(default)]
    pub is_default: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplatePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub instructions: Option<String>,
    pub sections: Option<Vec<String>>,
    pub is_default: Option<bool>,
}

struct Valid {
    name: String,
    description: String,
    instructions: String,
    sections: Vec<String>,
}

fn check(
    name: &str,
    description: &str,
    instructions: &str,
    sections: &[String],
) -> Result<Valid, ApiError> {
    let mut errors = Vec::new();
    let name = validate::name("name", name, MAX_NAME_CHARS, &mut errors);
    if name.is_empty() {
        errors.push(FieldError::new("name", "must not be empty"));
    }
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(FieldError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if instructions.chars().count() > MAX_INSTRUCTIONS_CHARS {
        errors.push(FieldError::new(
            "instructions",
            format!("must be at most {MAX_INSTRUCTIONS_CHARS} characters"),
        ));
    }
    if sections.len() > MAX_SECTIONS {
        errors.push(FieldError::new(
            "sections",
            format!("must list at most {MAX_SECTIONS} sections"),
        ));
    }
    let mut clean = Vec::new();
    for (i, section) in sections.iter().enumerate() {
        let field = format!("sections[{i}]");
        let s = validate::name(&field, section, MAX_SECTION_CHARS, &mut errors);
        // A section becomes a `##` heading: Markdown of its own would break the structure.
        if s.is_empty() || s.contains(['#', '<', '>', '[', ']']) {
            errors.push(FieldError::new(
                &field,
                "must be a plain heading: not empty, without # < > [ ]",
            ));
        }
        if ["summary", "key points", "action items"].contains(&s.to_lowercase().as_str()) {
            errors.push(FieldError::new(&field, "is always included; leave it out"));
        }
        clean.push(s);
    }
    validate::finish(errors)?;
    Ok(Valid {
        name,
        description: description.trim().to_owned(),
        instructions: instructions.trim().to_owned(),
        sections: clean,
    })
}

async fn fetch(tx: &mut Transaction<'static, Postgres>, id: Uuid) -> Result<Template, ApiError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(ApiError::NotFound)
}

/// 404 unless `id` names a template the caller's org may write with: one of its own or a
/// built-in (row-level security hides the rest).
pub async fn require_usable(
    tx: &mut Transaction<'static, Postgres>,
    id: Uuid,
) -> Result<(), ApiError> {
    sqlx::query_scalar::<_, Uuid>("SELECT id FROM templates WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(())
}

/// Only one default per org: setting one clears the others first.
async fn clear_default(tx: &mut Transaction<'static, Postgres>, org: Uuid) -> Result<(), ApiError> {
    sqlx::query("UPDATE templates SET is_default = false WHERE org_id = $1 AND is_default")
        .bind(org)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The org's templates and the built-ins, built-ins first, then by name.
#[utoipa::path(get, path = "/api/templates", tag = "templates", security(("bearer" = [])),
    responses((status = 200, body = Vec<Template>)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<Template>>, ApiError> {
    let mut tx = principal.begin(&state).await?;
    let rows: Vec<Template> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} ORDER BY org_id IS NOT NULL, lower(name), id"
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Creates a template in the caller's org (copy a built-in by posting its fields).
#[utoipa::path(post, path = "/api/templates", tag = "templates", security(("bearer" = [])),
    request_body(content = NewTemplate, example = json!({"name": "Sprint review", "description": "What shipped and what slipped.",
        "instructions": "Group by team; name every owner.", "sections": ["Shipped", "Slipped", "Demos"], "is_default": false})),
    responses((status = 201, body = Template), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(req): AppJson<NewTemplate>,
) -> Result<(StatusCode, Json<Template>), ApiError> {
    principal.require(Role::Member)?;
    if req.is_default {
        principal.require(Role::Admin)?;
    }
    let v = check(
        &req.name,
        &req.description,
        &req.instructions,
        &req.sections,
    )?;
    let mut tx = principal.begin(&state).await?;
    if req.is_default {
        clear_default(&mut tx, principal.org_id).await?;
    }
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO templates (id, org_id, name, description, instructions, sections, is_default, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(principal.org_id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(&v.instructions)
    .bind(&v.sections)
    .bind(req.is_default)
    .bind(principal.user_id())
    .execute(&mut *tx)
    .await?;
    let template = fetch(&mut tx, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(template)))
}

/// One template.
#[utoipa::path(get, path = "/api/templates/{id}", tag = "templates", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Template), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Template>, ApiError> {
    let mut tx = principal.begin(&state).await?;
    let template = fetch(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(template))
}

/// The template, locked for a change by its creator or an admin; built-ins are read-only.
async fn lock_own(
    tx: &mut Transaction<'static, Postgres>,
    principal: &Principal,
    id: Uuid,
) -> Result<Template, ApiError> {
    principal.require(Role::Member)?;
    let template: Template = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    if template.built_in {
        return Err(ApiError::Forbidden(
            "built-in templates are read-only; create a copy to change it".into(),
        ));
    }
    let creator = principal.user_id().is_some() && template.created_by == principal.user_id();
    if !creator && principal.role < Role::Admin {
        return Err(ApiError::Forbidden(
            "only the template's creator or an org admin may change it".into(),
        ));
    }
    Ok(template)
}

/// Changes some of a template's fields.
#[utoipa::path(patch, path = "/api/templates/{id}", tag = "templates", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = TemplatePatch,
    responses((status = 200, body = Template), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    AppJson(patch): AppJson<TemplatePatch>,
) -> Result<Json<Template>, ApiError> {
    let mut tx = principal.begin(&state).await?;
    let old = lock_own(&mut tx, &principal, id).await?;
    let v = check(
        patch.name.as_deref().unwrap_or(&old.name),
        patch.description.as_deref().unwrap_or(&old.description),
        patch.instructions.as_deref().unwrap_or(&old.instructions),
        patch.sections.as_deref().unwrap_or(&old.sections),
    )?;
    let is_default = patch.is_default.unwrap_or(old.is_default);
    if is_default != old.is_default {
        principal.require(Role::Admin)?;
    }
    if is_default && !old.is_default {
        clear_default(&mut tx, principal.org_id).await?;
    }
    sqlx::query(
        "UPDATE templates SET name = $2, description = $3, instructions = $4, sections = $5,
             is_default = $6, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(&v.instructions)
    .bind(&v.sections)
    .bind(is_default)
    .execute(&mut *tx)
    .await?;
    let template = fetch(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(template))
}

/// Deletes a template. Documents written with it keep its name; recordings that named it
/// fall back to the org default.
#[utoipa::path(delete, path = "/api/templates/{id}", tag = "templates", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let mut tx = principal.begin(&state).await?;
    lock_own(&mut tx, &principal, id).await?;
    sqlx::query("DELETE FROM templates WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
