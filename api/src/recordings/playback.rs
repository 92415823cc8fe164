//! `GET /api/recordings/{id}/media`: a short-lived presigned URL of the source, so players
//! stream and seek straight from S3 with Range requests; bytes never pass through the API.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::presign;
use crate::{
    AppState,
    auth::Principal,
    error::ApiError,
    extract::{ApiPath, ApiQuery},
};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MediaQuery {
    /// Answer `302 Found` to the URL instead of JSON, for `<video src>`.
    #[serde(default)]
    pub redirect: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediaUrl {
    /// A presigned `GET`; supports Range requests.
    pub url: String,
    /// The URL stops working then (`MEDIA_URL_TTL_SECS` after it was issued).
    pub expires_at: DateTime<Utc>,
    pub content_type: String,
    pub size_bytes: i64,
}

/// A presigned URL of the recording's source media.
#[utoipa::path(get, path = "/api/recordings/{id}/media", tag = "recordings", security(("bearer" = [])),
    params(("id" = Uuid, Path), MediaQuery),
    responses(
        (status = 200, body = MediaUrl, example = json!({"url": "https://s3.example.com/bucket/orgs/…/source.webm?X-Amz-Signature=…",
            "expires_at": "2026-12-03T12:10:00Z", "content_type": "video/webm", "size_bytes": 1048576})),
        (status = 302, description = "`?redirect=true`: Location is the presigned URL"),
        (status = 404, body = crate::error::Problem),
        (status = 409, description = "Not stored (still uploading, aborted, expired or rejected)",
            body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(recording_id = %id))]
pub async fn media(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<MediaQuery>,
) -> Result<Response, ApiError> {
    let mut tx = principal.begin(&state).await?;
    let row = super::find(&mut tx, id).await?;
    tx.commit().await?;
    if !row.media_stored() {
        return Err(ApiError::NotReady {
            detail: format!(
                "the media is not stored: the recording is {}",
                row.status.as_str()
            ),
            recording_status: row.status.as_str().to_owned(),
        });
    }
    let ttl = state.settings.reading.media_url_ttl;
    // Taken before signing, so the stated expiry is never later than the URL's.
    let issued = Utc::now();
    let url = presign::get_url(&state, &row.s3_key, &row.content_type, ttl)?;
    if query.redirect {
        let location = HeaderValue::from_str(&url).map_err(anyhow::Error::from)?;
        return Ok((
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, no-store"),
                ),
            ],
        )
            .into_response());
    }
    let expires_at = issued + chrono::Duration::from_std(ttl).map_err(anyhow::Error::from)?;
    Ok((
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        )],
        Json(MediaUrl {
            url,
            expires_at,
            content_type: row.content_type,
            size_bytes: row.size_bytes,
        }),
    )
        .into_response())
}
