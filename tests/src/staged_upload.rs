//! Multipart uploads through the real presigned flow, in two steps: stage (create the
//! recording and PUT every part) and complete (which starts the pipeline). Benchmarks stage
//! many recordings first, so that the pipelines they time start together; parts are made on
//! demand, so a 2 GiB recording never sits in memory.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{TestApp, api_client::part_urls, app::Account};

/// A recording whose bytes are all in S3, not yet completed.
pub struct StagedUpload {
    pub id: String,
    etags: Vec<(u32, String)>,
}

impl TestApp {
    /// Creates a recording of `size` bytes and uploads it part by part; `bytes(offset, len)`
    /// makes each part's content.
    pub async fn stage_upload(
        &self,
        who: &Account,
        filename: &str,
        content_type: &str,
        size: u64,
        bytes: impl Fn(u64, usize) -> Vec<u8>,
    ) -> StagedUpload {
        let created = self
            .create_recording(who, filename, content_type, size as usize)
            .await;
        let (id, created) = (created.id, created.body);
        let upload = &created["upload"];
        let part_size = upload["part_size"].as_u64().expect("a part size");
        let part_count = upload["part_count"].as_u64().expect("a part count") as u32;
        let mut urls: BTreeMap<u32, String> = part_urls(&upload["parts"]);
        let missing: Vec<u32> = (1..=part_count).filter(|n| !urls.contains_key(n)).collect();
        for batch in missing.chunks(100) {
            let parts: Vec<Value> = batch.iter().map(|n| json!({"part_number": n})).collect();
            let more: Value = self
                .authed(
                    reqwest::Method::POST,
                    &format!("/api/recordings/{id}/upload/parts"),
                    who.token(),
                )
                .json(&json!({ "parts": parts }))
                .send()
                .await
                .expect("POST …/upload/parts")
                .json()
                .await
                .expect("part URLs");
            urls.extend(part_urls(&more["parts"]));
        }
        let mut etags = Vec::with_capacity(urls.len());
        for (n, url) in urls {
            let offset = u64::from(n - 1) * part_size;
            let len = part_size.min(size - offset) as usize;
            let put = self
                .http
                .put(url)
                .body(bytes(offset, len))
                .send()
                .await
                .expect("PUT to S3");
            assert_eq!(put.status(), 200, "S3 took part {n}");
            etags.push((
                n,
                put.headers()["etag"].to_str().expect("an ETag").to_owned(),
            ));
        }
        StagedUpload { id, etags }
    }

    /// Completes a staged upload, which starts its pipeline.
    pub async fn complete_staged(&self, who: &Account, staged: &StagedUpload) {
        let (status, body) = self.complete_upload(who, &staged.id, &staged.etags).await;
        assert_eq!(status, 200, "the upload completes: {body}");
    }
}
