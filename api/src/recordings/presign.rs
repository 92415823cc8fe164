//! Presigned `UploadPart` URLs. Presigning is local computation (SigV4 over the request),
//! so a thousand URLs cost no round trip to S3.

use aws_sdk_s3::presigning::PresigningConfig;
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
    pub headers: std::collections::BTreeMap<String, String>,
}

pub struct Target<'a> {
    pub key: &'a str,
    pub upload_id: &'a str,
    /// `SHA256` or `CRC32C` when the parts carry checksums.
    pub checksum: Option<&'a str>,
}

pub async fn part_urls(
    state: &AppState,
    target: &Target<'_>,
    parts: &[PartRequest],
) -> Result<Vec<PartUrl>, ApiError> {
    let config = PresigningConfig::expires_in(state.settings.uploads.url_ttl)
        .map_err(anyhow::Error::from)?;
    let mut urls = Vec::with_capacity(parts.len());
    for part in parts {
        let mut request = state
            .s3
            .upload_part()
            .bucket(&state.settings.s3.bucket)
            .key(target.key)
            .upload_id(target.upload_id)
            .part_number(part.part_number);
        match (target.checksum, &part.checksum) {
            (Some("SHA256"), Some(c)) => request = request.checksum_sha256(c),
            (Some("CRC32C"), Some(c)) => request = request.checksum_crc32_c(c),
            _ => {}
        }
        let presigned = request
            .presigned(config.clone())
            .await
            .map_err(anyhow::Error::from)?;
        urls.push(PartUrl {
            part_number: part.part_number,
            url: presigned.uri().to_owned(),
            headers: presigned
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        });
    }
    Ok(urls)
}
