//! `GET /api/search?q=`: the hybrid retrieval behind chat, for a search box.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{request, sources, store};
use crate::{
    AppState,
    auth::Principal,
    error::{ApiError, FieldError},
    extract::ApiQuery,
};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// What to look for: words, a phrase in quotes, a code; 1 to 2,000 characters.
    pub q: String,
    /// Comma-separated recording IDs to search; omitted, all of the org's.
    pub recording_ids: Option<String>,
    /// Passages to return before merging neighbours, 1 to 20, default 8.
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    /// Best first, numbered from 1.
    pub results: Vec<sources::Source>,
}

/// Passages of the org's recordings that match `q`, by meaning (pgvector) and by words
/// (full text), fused; neighbouring passages are merged into one result.
#[utoipa::path(get, path = "/api/search", tag = "chat", security(("bearer" = [])),
    params(SearchQuery),
    responses((status = 200, body = SearchResults),
        (status = 404, description = "A recording not of this org", body = crate::error::Problem),
        (status = 422, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(org_id = %principal.org_id))]
pub async fn search(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResults>, ApiError> {
    let mut errors = Vec::new();
    let q = request::question("q", &query.q, &mut errors);
    let limit = request::top_k("limit", query.limit, &mut errors);
    let recordings: Option<Vec<Uuid>> = query.recording_ids.as_deref().map(|raw| {
        raw.split(',')
            .map(|id| id.trim().parse::<Uuid>())
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|_| {
                errors.push(FieldError::new(
                    "recording_ids",
                    "must be comma-separated recording IDs",
                ));
                Vec::new()
            })
    });
    crate::auth::validate::finish(errors)?;

    if let Some(ids) = &recordings {
        let mut tx = principal.begin(&state).await?;
        store::require_recordings(&mut tx, ids).await?;
        tx.commit().await?;
    }
    let (model, vector) = sources::embed(&state.chat, &q).await?;
    let mut tx = principal.begin(&state).await?;
    let results =
        sources::retrieve(&mut tx, &model, &vector, &q, recordings.as_deref(), limit).await?;
    tx.commit().await?;
    Ok(Json(SearchResults { results }))
}
