//! The one writer of a recording's document and its versions (`documents`,
//! `document_versions`): versions are only ever added, the document points at its current
//! one, and every write commits with the event that reports it.
//!
//! Callers pass a transaction begun with [`crate::tenancy::begin`] for the document's org.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::events::Event;

type Tx<'c> = Transaction<'c, Postgres>;

/// Where a version came from (`document_versions.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSource {
    /// Written by the pipeline (version 1).
    Generated,
    Edit,
    Restore,
    Regenerated,
}

impl VersionSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Generated => "generated",
            Self::Edit => "edit",
            Self::Restore => "restore",
            Self::Regenerated => "regenerated",
        }
    }
}

/// The template a version was written with; its name is kept with the version, so it
/// outlives the template.
#[derive(Debug, Clone, Copy)]
pub struct TemplateUsed<'a> {
    /// `None` once the template was deleted.
    pub id: Option<Uuid>,
    pub name: &'a str,
}

/// A version to add.
#[derive(Debug, Clone, Copy)]
pub struct NewVersion<'a> {
    pub title: &'a str,
    pub markdown: &'a str,
    pub source: VersionSource,
    /// The person who edited or restored it, or asked for the regeneration.
    pub author: Option<Uuid>,
    pub model: Option<&'a str>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub template: Option<TemplateUsed<'a>>,
    /// The regeneration run that wrote it: a second write for the same run returns the
    /// version the first one wrote.
    pub generation: Option<Uuid>,
    pub restored_from: Option<i32>,
}

/// A stored version, as the workflow and the API name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub document_id: Uuid,
    pub version: i32,
    pub title: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentWriteError {
    /// The caller's `If-Match` names a version that is no longer current.
    #[error("version {current} is current")]
    Stale { current: i32 },
    #[error("no such document")]
    NotFound,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The recording's document, locked, created without a version (status `failed`) if it has
/// none yet: the placeholder never outlives a transaction that goes on to write a version,
/// and is exactly what a failed first generation leaves. Returns (id, current version).
pub async fn lock_for_recording(
    tx: &mut Tx<'_>,
    org: Uuid,
    recording: Uuid,
) -> sqlx::Result<(Uuid, Option<i32>)> {
    sqlx::query!(
        "INSERT INTO documents (id, org_id, recording_id, status, status_reason)
         VALUES ($1, $2, $3, 'failed', 'no version has been written yet')
         ON CONFLICT (recording_id) DO NOTHING",
        Uuid::now_v7(),
        org,
        recording,
    )
    .execute(&mut **tx)
    .await?;
    let row = sqlx::query!(
        "SELECT id, current_version FROM documents WHERE recording_id = $1 FOR UPDATE",
        recording
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.id, row.current_version))
}

/// Version 1, written by the pipeline; when the recording's document already has a version
/// (an earlier attempt wrote it) that one is returned unchanged.
pub async fn write_first(
    tx: &mut Tx<'_>,
    org: Uuid,
    recording: Uuid,
    v: &NewVersion<'_>,
) -> sqlx::Result<Written> {
    let (id, current) = lock_for_recording(tx, org, recording).await?;
    if current.is_some() {
        return version_written(tx, id, 1).await;
    }
    insert_version(tx, org, recording, id, 1, v).await?;
    set_current(tx, id, 1).await?;
    version_written(tx, id, 1).await
}

/// Adds the next version of the document. `expected`: the version the writer based its
/// change on (`If-Match`), which must still be current. Emits `document.updated`.
pub async fn append(
    tx: &mut Tx<'_>,
    org: Uuid,
    document: Uuid,
    expected: Option<i32>,
    v: &NewVersion<'_>,
) -> Result<Written, DocumentWriteError> {
    let row = sqlx::query!(
        "SELECT recording_id, current_version FROM documents WHERE id = $1 FOR UPDATE",
        document
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DocumentWriteError::NotFound)?;
    if let Some(generation) = v.generation
        && let Some(version) = sqlx::query_scalar!(
            "SELECT version FROM document_versions WHERE generation_id = $1",
            generation
        )
        .fetch_optional(&mut **tx)
        .await?
    {
        return Ok(version_written(tx, document, version).await?);
    }
    if let Some(expected) = expected
        && row.current_version != Some(expected)
    {
        return Err(DocumentWriteError::Stale {
            current: row.current_version.unwrap_or(0),
        });
    }
    // Versions are only added, and each becomes current: the newest is the current one.
    let next = row.current_version.unwrap_or(0) + 1;
    insert_version(tx, org, row.recording_id, document, next, v).await?;
    set_current(tx, document, next).await?;
    Event::DocumentUpdated {
        recording_id: row.recording_id,
        document_id: document,
        version: next,
        source: v.source,
        author: v.author,
    }
    .emit(tx, org)
    .await?;
    Ok(version_written(tx, document, next).await?)
}

/// Publishes the draft and emits `document.ready`; `None` when it was published already
/// (by an earlier attempt, whose event went out with it) or is gone with its recording.
pub async fn publish(
    tx: &mut Tx<'_>,
    org: Uuid,
    recording: Uuid,
    document: Uuid,
) -> sqlx::Result<Option<Written>> {
    let version = sqlx::query_scalar!(
        r#"UPDATE documents SET status = 'published', published_at = now()
           WHERE id = $1 AND recording_id = $2 AND status = 'draft'
           RETURNING current_version AS "version!""#,
        document,
        recording
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(version) = version else {
        return Ok(None);
    };
    let written = version_written(tx, document, version).await?;
    Event::DocumentReady {
        recording_id: recording,
        document_id: document,
        version,
        title: written.title.clone(),
    }
    .emit(tx, org)
    .await?;
    Ok(Some(written))
}

/// Records that a generation failed: a document without a version shows `failed` and the
/// reason; one with a version keeps it current. Emits `document.generation_failed`.
pub async fn generation_failed(
    tx: &mut Tx<'_>,
    org: Uuid,
    recording: Uuid,
    reason: &str,
) -> sqlx::Result<Uuid> {
    let (id, _) = lock_for_recording(tx, org, recording).await?;
    sqlx::query!(
        "UPDATE documents SET status_reason = $2, updated_at = now()
         WHERE id = $1 AND current_version IS NULL",
        id,
        reason
    )
    .execute(&mut **tx)
    .await?;
    Event::DocumentGenerationFailed {
        recording_id: recording,
        document_id: id,
        reason: reason.to_owned(),
    }
    .emit(tx, org)
    .await?;
    Ok(id)
}

async fn insert_version(
    tx: &mut Tx<'_>,
    org: Uuid,
    recording: Uuid,
    document: Uuid,
    version: i32,
    v: &NewVersion<'_>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO document_versions (id, org_id, recording_id, document_id, version, title,
             markdown, source, author_id, model, prompt_tokens, completion_tokens, template_id,
             template_name, generation_id, restored_from)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        Uuid::now_v7(),
        org,
        recording,
        document,
        version,
        v.title,
        v.markdown,
        v.source.as_str(),
        v.author,
        v.model,
        v.prompt_tokens,
        v.completion_tokens,
        v.template.and_then(|t| t.id),
        v.template.map(|t| t.name),
        v.generation,
        v.restored_from,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Points the document at `version`; a document that had none becomes a draft.
async fn set_current(tx: &mut Tx<'_>, document: Uuid, version: i32) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE documents SET current_version = $2, updated_at = now(), status_reason = NULL,
             status = CASE status WHEN 'failed' THEN 'draft' ELSE status END
         WHERE id = $1",
        document,
        version
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn version_written(tx: &mut Tx<'_>, document: Uuid, version: i32) -> sqlx::Result<Written> {
    let title = sqlx::query_scalar!(
        "SELECT title FROM document_versions WHERE document_id = $1 AND version = $2",
        document,
        version
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(Written {
        document_id: document,
        version,
        title,
    })
}

/// Version `version` of the recording's document.
pub async fn version(tx: &mut Tx<'_>, recording: Uuid, version: i32) -> sqlx::Result<Written> {
    let row = sqlx::query!(
        "SELECT document_id, title FROM document_versions WHERE recording_id = $1 AND version = $2",
        recording,
        version
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(Written {
        document_id: row.document_id,
        version,
        title: row.title,
    })
}
