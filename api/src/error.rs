//! The one error type at the HTTP edge. Every failure leaves as `application/problem+json`
//! (RFC 9457); internal details are logged here, once, and never sent to the client.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be understood (malformed JSON, say).
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing, invalid, expired or revoked credentials. Never says which.
    #[error("unauthorized")]
    Unauthorized,
    /// 403: authenticated, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: the resource does not exist, or belongs to another org.
    #[error("not found")]
    NotFound,
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 409: the thing asked for is not made yet; `recording_status` says where it is.
    #[error("not ready: {detail}")]
    NotReady {
        detail: String,
        recording_status: String,
    },
    /// 412: `If-Match` names a version that is no longer current; carries the current ETag.
    #[error("precondition failed")]
    PreconditionFailed { current_etag: String },
    /// 428: a write that needs `If-Match` came without one.
    #[error("precondition required")]
    PreconditionRequired,
    /// 410: the resource existed but is no longer usable (an expired invite).
    #[error("{0}")]
    Gone(String),
    /// 413: the body is over the route's limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the body is not of a media type the route accepts.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: the request is well-formed but some fields are invalid.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 422: the body does not match the schema (unknown field, wrong type).
    #[error("{0}")]
    Unprocessable(String),
    /// 429: over a rate limit; retry after the given number of seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503: a dependency the request needs is down.
    #[error("{dependency} is unavailable")]
    Unavailable {
        dependency: &'static str,
        detail: String,
    },
    /// 500: anything unexpected. Logged, never echoed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

/// A move the recording's status does not allow is a conflict with its current state.
impl From<mediadocs_store::recordings::RecordingError> for ApiError {
    fn from(e: mediadocs_store::recordings::RecordingError) -> Self {
        use mediadocs_store::recordings::RecordingError;
        match e {
            RecordingError::IllegalTransition { .. } => Self::Conflict(e.to_string()),
            RecordingError::Database(e) => e.into(),
        }
    }
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For 503: which dependency failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependency: Option<String>,
    /// For 422: the offending fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For 409 when something is not ready yet: the recording's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_status: Option<String>,
    /// For 412: the current version's ETag, to fetch it again and merge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_etag: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://mediadocs.dev/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            dependency: None,
            errors: Vec::new(),
            recording_status: None,
            current_etag: None,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use StatusCode as S;
        let problem = match self {
            Self::BadRequest(d) => Problem::new(S::BAD_REQUEST, "bad-request", d),
            Self::Unauthorized => {
                let mut r = Problem::new(
                    S::UNAUTHORIZED,
                    "unauthorized",
                    "missing or invalid credentials",
                )
                .into_response();
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return r;
            }
            Self::Forbidden(d) => Problem::new(S::FORBIDDEN, "forbidden", d),
            Self::NotFound => Problem::new(S::NOT_FOUND, "not-found", "no such resource"),
            Self::Conflict(d) => Problem::new(S::CONFLICT, "conflict", d),
            Self::NotReady {
                detail,
                recording_status,
            } => Problem {
                recording_status: Some(recording_status),
                ..Problem::new(S::CONFLICT, "not-ready", detail)
            },
            Self::PreconditionFailed { current_etag } => {
                let mut r = Problem {
                    current_etag: Some(current_etag.clone()),
                    ..Problem::new(
                        S::PRECONDITION_FAILED,
                        "stale-version",
                        "the document changed since the version named in If-Match",
                    )
                }
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&current_etag) {
                    r.headers_mut().insert(header::ETAG, v);
                }
                return r;
            }
            Self::PreconditionRequired => Problem::new(
                S::PRECONDITION_REQUIRED,
                "if-match-required",
                "send If-Match with the ETag of the version you changed",
            ),
            Self::Gone(d) => Problem::new(S::GONE, "gone", d),
            Self::PayloadTooLarge(d) => Problem::new(S::PAYLOAD_TOO_LARGE, "payload-too-large", d),
            Self::UnsupportedMediaType(d) => {
                Problem::new(S::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", d)
            }
            Self::Validation(errors) => Problem {
                errors,
                ..Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "validation",
                    "some fields are invalid",
                )
            },
            Self::Unprocessable(d) => Problem::new(S::UNPROCESSABLE_ENTITY, "unprocessable", d),
            Self::TooManyRequests { retry_after_secs } => {
                let mut r = Problem::new(
                    S::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "too many requests; retry later",
                )
                .into_response();
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs.max(1)),
                );
                return r;
            }
            Self::Unavailable { dependency, detail } => {
                tracing::warn!(dependency, %detail, "dependency unavailable");
                Problem {
                    dependency: Some(dependency.to_owned()),
                    ..Problem::new(
                        S::SERVICE_UNAVAILABLE,
                        "dependency-unavailable",
                        format!("{dependency} is unavailable"),
                    )
                }
            }
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                Problem::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an unexpected error occurred",
                )
            }
        };
        problem.into_response()
    }
}

/// Maps a unique or check violation of a named constraint to a client error; anything else
/// stays internal. The one place where constraint names become HTTP statuses.
pub trait ResultExt<T> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> ApiError) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> ApiError) -> Result<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.constraint() == Some(name) => f(),
            _ => e.into(),
        })
    }
}

pub async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "no such route")
}

pub async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this route does not accept that method",
    )
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "an unexpected error occurred",
    )
    .into_response()
}
