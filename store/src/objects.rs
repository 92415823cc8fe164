//! S3 operations that both the API and the worker perform.

use anyhow::Context;

/// The stored object's size in bytes.
pub async fn stored_size(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> anyhow::Result<i64> {
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            let e = aws_sdk_s3::error::DisplayErrorContext(e);
            anyhow::anyhow!("HEAD s3://{bucket}/{key}: {e}")
        })?;
    Ok(head.content_length().unwrap_or(0))
}

/// Aborts a multipart upload; one that S3 no longer knows is already gone, which is fine.
pub async fn abort_multipart(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> anyhow::Result<()> {
    match s3
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_upload()) => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("aborting the multipart upload")),
    }
}

/// Deletes every object under `prefix`. Returns how many there were.
pub async fn delete_prefix(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<usize> {
    let mut deleted = 0;
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.context("listing objects to delete")?;
        for object in page.contents() {
            if let Some(key) = object.key() {
                s3.delete_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .context("deleting an object")?;
                deleted += 1;
            }
        }
    }
    Ok(deleted)
}
