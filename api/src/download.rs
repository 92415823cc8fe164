//! Files people download (exports, subtitles): the body with its type and a safe
//! `Content-Disposition` file name made from a title.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

/// A download: the body, its type, and a `Content-Disposition` filename from `title`.
pub fn file(
    body: impl Into<axum::body::Body>,
    content_type: &'static str,
    title: &str,
    ext: &str,
) -> Response {
    let name = mediadocs_exports::filename(title, ext);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body.into(),
    )
        .into_response()
}
