//! Rows inserted behind the API, for tests and benches that start mid-pipeline. They go
//! through the owner's pool (no row-level security), and transcripts through the activities'
//! own writer, so fixtures look exactly like what the pipeline stores.

use mediadocs_providers::transcription::Transcript;
use sqlx::PgPool;
use uuid::Uuid;

/// A recording of `org` in `status`, as if uploaded.
pub async fn recording(pool: &PgPool, org: Uuid, status: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO recordings (id, org_id, title, filename, content_type, size_bytes, status,
             s3_key, part_size, part_count, upload_expires_at)
         VALUES ($1, $2, 'Weekly sync', 'sync.webm', 'video/webm', 1000, $3, $4, 1000, 1,
                 now() + interval '1 hour')",
    )
    .bind(id)
    .bind(org)
    .bind(status)
    .bind(format!("orgs/{org}/recordings/{id}/source.webm"))
    .execute(pool)
    .await
    .expect("inserting a recording");
    id
}

/// A submitted transcription job of `recording` at `provider`.
pub async fn transcription_job(
    pool: &PgPool,
    org: Uuid,
    recording: Uuid,
    provider: &str,
    provider_job_id: &str,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO transcription_jobs (id, org_id, recording_id, attempt, run_id, provider, provider_job_id, status)
         VALUES ($1, $2, $3, 1, 'fixture-run', $4, $5, 'submitted')",
    )
    .bind(id)
    .bind(org)
    .bind(recording)
    .bind(provider)
    .bind(provider_job_id)
    .execute(pool)
    .await
    .expect("inserting a transcription job");
    id
}

/// A recording in `status` whose transcription completed with `transcript`.
pub async fn recording_with_transcript(
    pool: &PgPool,
    org: Uuid,
    status: &str,
    transcript: &Transcript,
) -> Uuid {
    let id = recording(pool, org, status).await;
    let job = transcription_job(pool, org, id, "assemblyai", &format!("fixture-{id}")).await;
    mediadocs_activities::transcription::store_transcript(pool, org, id, job, transcript)
        .await
        .expect("storing a transcript");
    id
}

/// Renames a recording through the store, as the API does.
pub async fn rename(pool: &PgPool, org: Uuid, id: Uuid, title: &str) {
    let mut tx = mediadocs_store::tenancy::begin(pool, Some(org), None)
        .await
        .unwrap();
    assert!(
        mediadocs_store::recordings::rename(&mut tx, id, title)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
}

/// Version 1 of a generated document of `recording`, written through the store as the
/// pipeline writes it. Returns the document's ID.
pub async fn document(pool: &PgPool, org: Uuid, recording: Uuid) -> Uuid {
    let markdown = "# Weekly sync\n\n## Summary\nWe met [00:05].\n\n## Key points\n- Ship [00:10]\n\n## Action items\nNone.\n";
    document_with(pool, org, recording, "Weekly sync", markdown).await
}

/// [`document`] with the given title and body.
pub async fn document_with(
    pool: &PgPool,
    org: Uuid,
    recording: Uuid,
    title: &str,
    markdown: &str,
) -> Uuid {
    use mediadocs_store::documents::{self, NewVersion, VersionSource};
    let mut tx = mediadocs_store::tenancy::begin(pool, Some(org), None)
        .await
        .unwrap();
    let version = NewVersion {
        title,
        markdown,
        source: VersionSource::Generated,
        author: None,
        model: Some("fixture"),
        prompt_tokens: 0,
        completion_tokens: 0,
        template: None,
        generation: None,
        restored_from: None,
    };
    let written = documents::write_first(&mut tx, org, recording, &version)
        .await
        .expect("writing a document");
    tx.commit().await.unwrap();
    written.document_id
}
