//! The S3-compatible server the dev stack and the tests run, served by `mediadocs-dev-s3`. It
//! is `s3s-fs` (S3 on a directory, with SigV4 and presigned-URL checks) plus the checks real
//! S3 makes and `s3s-fs` 0.14 does not:
//! - ListParts reports each part's ETag (the MD5 of its bytes);
//! - CompleteMultipartUpload refuses a part whose ETag does not match (`InvalidPart`);
//! - UploadPart refuses a body that does not match its `x-amz-checksum-sha256` or
//!   `x-amz-checksum-crc32c` header (`BadDigest`).

use std::path::{Path, PathBuf};

use base64::{Engine, engine::general_purpose::STANDARD};
use md5::{Digest as _, Md5};
use s3s::{
    S3, S3Request, S3Response, S3Result,
    auth::SimpleAuth,
    dto::{self, ETag, StreamingBlob},
    s3_error,
    service::{S3Service, S3ServiceBuilder},
};
use tokio::net::TcpListener;

/// S3 on the directory `root` (created if missing), accepting one key pair.
///
/// # Panics
/// When `root` cannot be created or opened.
pub fn service(root: &Path, access_key: String, secret_key: String) -> S3Service {
    std::fs::create_dir_all(root).expect("creating the data directory");
    let fs = s3s_fs::FileSystem::new(root).expect("opening the data directory");
    let mut builder = S3ServiceBuilder::new(DevS3 {
        fs,
        root: root.canonicalize().expect("a data directory"),
    });
    builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
    builder.build()
}

/// Serves `service` on `listener`, one task per connection, until the process ends.
pub async fn serve(listener: TcpListener, service: S3Service) {
    let http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let service = service.clone();
        let http = http.clone();
        tokio::spawn(async move {
            let _ = http
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                .await;
        });
    }
}

struct DevS3 {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
}

impl DevS3 {
    async fn part_md5(&self, upload_id: &str, part: i32) -> Option<String> {
        let bytes = tokio::fs::read(
            self.root
                .join(format!(".upload_id-{upload_id}.part-{part}")),
        )
        .await
        .ok()?;
        Some(hex::encode(Md5::digest(&bytes)))
    }
}

/// Operations passed straight to s3s-fs. Written in `async_trait`'s expanded form, because
/// the attribute cannot see inside a macro invocation.
macro_rules! delegate {
    ($($op:ident: $input:ident => $output:ident),* $(,)?) => {$(
        fn $op<'life0, 'async_trait>(
            &'life0 self,
            req: S3Request<dto::$input>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = S3Result<S3Response<dto::$output>>> + Send + 'async_trait>>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move { self.fs.$op(req).await })
        }
    )*};
}

#[async_trait::async_trait]
impl S3 for DevS3 {
    delegate!(
        create_bucket: CreateBucketInput => CreateBucketOutput,
        delete_bucket: DeleteBucketInput => DeleteBucketOutput,
        head_bucket: HeadBucketInput => HeadBucketOutput,
        list_buckets: ListBucketsInput => ListBucketsOutput,
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
        put_object: PutObjectInput => PutObjectOutput,
        get_object: GetObjectInput => GetObjectOutput,
        head_object: HeadObjectInput => HeadObjectOutput,
        copy_object: CopyObjectInput => CopyObjectOutput,
        delete_object: DeleteObjectInput => DeleteObjectOutput,
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput,
        list_objects: ListObjectsInput => ListObjectsOutput,
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
        abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput,
        upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput,
    );

    async fn upload_part(
        &self,
        mut req: S3Request<dto::UploadPartInput>,
    ) -> S3Result<S3Response<dto::UploadPartOutput>> {
        let (sha256, crc32c) = (
            req.input.checksum_sha256.clone(),
            req.input.checksum_crc32c.clone(),
        );
        if sha256.is_some() || crc32c.is_some() {
            let body = req
                .input
                .body
                .take()
                .ok_or_else(|| s3_error!(IncompleteBody))?;
            let bytes = collect(body).await?;
            if let Some(expected) = sha256 {
                let actual = STANDARD.encode(sha2::Sha256::digest(&bytes));
                if actual != expected {
                    return Err(s3_error!(
                        BadDigest,
                        "the part's SHA-256 does not match x-amz-checksum-sha256"
                    ));
                }
            }
            if let Some(expected) = crc32c {
                let actual = STANDARD.encode(crc32c::crc32c(&bytes).to_be_bytes());
                if actual != expected {
                    return Err(s3_error!(
                        BadDigest,
                        "the part's CRC32C does not match x-amz-checksum-crc32c"
                    ));
                }
            }
            req.input.body = Some(StreamingBlob::from(s3s::Body::from(bytes)));
        }
        self.fs.upload_part(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<dto::ListPartsInput>,
    ) -> S3Result<S3Response<dto::ListPartsOutput>> {
        let upload_id = req.input.upload_id.clone();
        let mut response = self.fs.list_parts(req).await?;
        if let Some(parts) = response.output.parts.as_mut() {
            for part in parts.iter_mut() {
                if let Some(n) = part.part_number {
                    part.e_tag = self.part_md5(&upload_id, n).await.map(ETag::Strong);
                }
            }
            parts.sort_by_key(|p| p.part_number);
        }
        Ok(response)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<dto::CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<dto::CompleteMultipartUploadOutput>> {
        let parts = req
            .input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.clone())
            .unwrap_or_default();
        for part in &parts {
            let n = part.part_number.unwrap_or_default();
            let given = part
                .e_tag
                .as_ref()
                .map(|e| e.value().trim_matches('"').to_owned());
            let stored = self.part_md5(&req.input.upload_id, n).await;
            if stored.is_none() || given != stored {
                return Err(s3_error!(
                    InvalidPart,
                    "part {n} was not uploaded, or its ETag does not match"
                ));
            }
        }
        self.fs.complete_multipart_upload(req).await
    }
}

async fn collect(body: StreamingBlob) -> S3Result<bytes::Bytes> {
    use futures::TryStreamExt;
    let chunks: Vec<bytes::Bytes> = body
        .try_collect()
        .await
        .map_err(|_| s3_error!(IncompleteBody))?;
    Ok(chunks.concat().into())
}
