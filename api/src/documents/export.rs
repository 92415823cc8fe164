//! `GET /api/documents/{id}/export?format=md|html|docx`: the current version (or `version`)
//! as a file. HTML is rendered from the Markdown and sanitised, with `[mm:ss]` references
//! linked to the recording at that second; DOCX opens in Word and LibreOffice.

use axum::{extract::State, response::Response};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::{
    AppState,
    auth::Principal,
    download::file,
    error::{ApiError, FieldError},
    extract::{ApiPath, ApiQuery},
};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `md` (default), `html` or `docx`.
    pub format: Option<String>,
    /// A past version; default the current one.
    pub version: Option<i32>,
}

#[derive(Clone, Copy)]
enum Format {
    Markdown,
    Html,
    Docx,
}

impl Format {
    fn parse(raw: &str) -> Result<Self, ApiError> {
        match raw {
            "md" => Ok(Self::Markdown),
            "html" => Ok(Self::Html),
            "docx" => Ok(Self::Docx),
            _ => Err(ApiError::Validation(vec![FieldError::new(
                "format",
                "must be one of md, html, docx",
            )])),
        }
    }
}

/// The document as a Markdown, HTML or Word file.
#[utoipa::path(get, path = "/api/documents/{id}/export", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path), ExportQuery),
    responses(
        (status = 200, description = "The file, with `Content-Disposition: attachment; filename=…`",
            content(("text/markdown"), ("text/html"), ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"))),
        (status = 404, description = "No such document or version", body = crate::error::Problem),
        (status = 409, description = "No version has been written yet", body = crate::error::Problem),
        (status = 422, description = "Unknown format; the allowed ones are named", body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(document_id = %id))]
pub async fn export(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = Format::parse(query.format.as_deref().unwrap_or("md"))?;
    let mut tx = principal.begin(&state).await?;
    let (recording, current, status): (Uuid, Option<i32>, String) = sqlx::query_as(
        "SELECT d.recording_id, d.current_version, r.status
         FROM documents d JOIN recordings r ON r.id = d.recording_id WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    let Some(version) = query.version.or(current) else {
        return Err(ApiError::NotReady {
            detail: "the document has no version yet".into(),
            recording_status: status,
        });
    };
    let (title, markdown): (String, String) = sqlx::query_as(
        "SELECT title, markdown FROM document_versions WHERE document_id = $1 AND version = $2",
    )
    .bind(id)
    .bind(version)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    tx.commit().await?;

    let app_url = state.settings.reading.app_url.clone();
    // Rendering a long document is CPU work; keep it off the request threads.
    let rendered = tokio::task::spawn_blocking(move || {
        render(format, &title, &markdown, &app_url, recording).map(|b| (b, title))
    })
    .await
    .map_err(anyhow::Error::from)?;
    let (body, title) = rendered?;
    let (content_type, ext) = match format {
        Format::Markdown => ("text/markdown; charset=utf-8", "md"),
        Format::Html => ("text/html; charset=utf-8", "html"),
        Format::Docx => (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
    };
    Ok(file(body, content_type, &title, ext))
}

fn render(
    format: Format,
    title: &str,
    markdown: &str,
    app_url: &url::Url,
    recording: Uuid,
) -> Result<Vec<u8>, ApiError> {
    match format {
        Format::Markdown => Ok(markdown.as_bytes().to_vec()),
        Format::Html => {
            let link = |second: u64| recording_link(app_url, recording, second);
            let body = mediadocs_exports::html::render(markdown, link);
            Ok(mediadocs_exports::html::page(title, &body).into_bytes())
        }
        Format::Docx => mediadocs_exports::docx::render(title, markdown)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("docx export: {e}"))),
    }
}

/// Where a person opens the recording at `second`.
pub fn recording_link(app_url: &url::Url, recording: Uuid, second: u64) -> String {
    let mut url = app_url.clone();
    url.path_segments_mut()
        .map(|mut p| {
            p.pop_if_empty()
                .push("recordings")
                .push(&recording.to_string());
        })
        .ok();
    url.query_pairs_mut().append_pair("t", &second.to_string());
    url.into()
}
