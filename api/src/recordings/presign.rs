//! Presigned S3 URLs: `UploadPart` for uploads, `GetObject` for playback.
//!
//! Signed here with SigV4 directly rather than through the SDK's operation pipeline, which
//! builds a whole request per URL and costs ~45 µs each; resumes presign up to 1,000 at once.
//! The URL is S3's own query-string form, so any S3-compatible server accepts it.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime},
};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{
        PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
        UriPathNormalizationMode, sign,
    },
    sign::v4,
};
use aws_smithy_runtime_api::client::identity::Identity;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{AppState, error::ApiError};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartRequest {
    pub part_number: i32,
    /// Base64 checksum of the part, required when the recording asked for per-part
    /// integrity; S3 then rejects a body that does not match.
    pub checksum: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartUrl {
    pub part_number: i32,
    /// `PUT` the part's bytes here.
    pub url: String,
    /// Headers the `PUT` must carry exactly (the signed checksum, when there is one).
    pub headers: BTreeMap<String, String>,
}

pub struct Target<'a> {
    pub key: &'a str,
    pub upload_id: &'a str,
    /// `SHA256` or `CRC32C` when the parts carry checksums.
    pub checksum: Option<&'a str>,
}

/// The object's URL without a query: path-style (`endpoint/bucket/key`) or virtual-hosted.
fn object_url(state: &AppState, key: &str) -> Result<url::Url, ApiError> {
    let s3 = &state.settings.s3;
    let endpoint = match &s3.endpoint {
        Some(endpoint) => endpoint.clone(),
        None => format!("https://s3.{}.amazonaws.com", s3.region)
            .parse()
            .map_err(anyhow::Error::from)?,
    };
    let mut url = endpoint;
    if !s3.force_path_style {
        let host = format!("{}.{}", s3.bucket, url.host_str().unwrap_or_default());
        url.set_host(Some(&host)).map_err(anyhow::Error::from)?;
    }
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| anyhow::anyhow!("S3_ENDPOINT cannot be a base URL"))?;
        segments.pop_if_empty();
        if s3.force_path_style {
            segments.push(&s3.bucket);
        }
        segments.extend(key.split('/'));
    }
    Ok(url)
}

fn identity(state: &AppState) -> Identity {
    let s3 = &state.settings.s3;
    Credentials::new(
        s3.access_key_id.clone(),
        s3.secret_access_key.expose_secret().to_owned(),
        None,
        None,
        "mediadocs-presign",
    )
    .into()
}

fn signing_settings(ttl: Duration) -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(ttl);
    // S3 signs the path as sent: single-encoded, not normalised.
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

/// Adds the SigV4 query (signing `host` and `headers`) to `url`.
fn sign_url(
    url: &mut url::Url,
    method: &str,
    headers: &BTreeMap<String, String>,
    params: &aws_sigv4::http_request::SigningParams<'_>,
) -> Result<(), ApiError> {
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let signed_headers = std::iter::once(("host", host.as_str()))
        .chain(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let request = SignableRequest::new(
        method,
        url.as_str(),
        signed_headers,
        SignableBody::UnsignedPayload,
    )
    .map_err(anyhow::Error::from)?;
    let (instructions, _) = sign(request, params)
        .map_err(anyhow::Error::from)?
        .into_parts();
    let (_, query) = instructions.into_parts();
    let mut pairs = url.query_pairs_mut();
    for (name, value) in &query {
        pairs.append_pair(name, value);
    }
    Ok(())
}

/// A presigned `GET` of the object, valid for `ttl`, that answers with `content_type` (S3's
/// `response-content-type`), so a browser plays it inline and seeks with Range requests.
pub fn get_url(
    state: &AppState,
    key: &str,
    content_type: &str,
    ttl: Duration,
) -> Result<String, ApiError> {
    let identity = identity(state);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&state.settings.s3.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(signing_settings(ttl))
        .build()
        .map_err(anyhow::Error::from)?
        .into();
    let mut url = object_url(state, key)?;
    url.query_pairs_mut()
        .append_pair("response-content-type", content_type);
    sign_url(&mut url, "GET", &BTreeMap::new(), &params)?;
    Ok(url.into())
}

pub async fn part_urls(
    state: &AppState,
    target: &Target<'_>,
    parts: &[PartRequest],
) -> Result<Vec<PartUrl>, ApiError> {
    let s3 = &state.settings.s3;
    let identity = identity(state);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&s3.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(signing_settings(state.settings.uploads.url_ttl))
        .build()
        .map_err(anyhow::Error::from)?
        .into();
    let base = object_url(state, target.key)?;

    let mut urls = Vec::with_capacity(parts.len());
    for part in parts {
        let mut url = base.clone();
        url.query_pairs_mut()
            .append_pair("partNumber", &part.part_number.to_string())
            .append_pair("uploadId", target.upload_id);
        let mut headers = BTreeMap::new();
        match (target.checksum, &part.checksum) {
            (Some("SHA256"), Some(c)) => {
                headers.insert("x-amz-checksum-sha256".to_owned(), c.clone())
            }
            (Some("CRC32C"), Some(c)) => {
                headers.insert("x-amz-checksum-crc32c".to_owned(), c.clone())
            }
            _ => None,
        };
        sign_url(&mut url, "PUT", &headers, &params)?;
        urls.push(PartUrl {
            part_number: part.part_number,
            url: url.into(),
            headers,
        });
    }
    Ok(urls)
}
