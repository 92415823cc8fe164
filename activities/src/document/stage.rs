//! The document stage's steps as plain async functions over [`Documents`], so tests can
//! drive them without Temporal; the activities in `mod.rs` only wrap them.

use mediadocs_providers::llm::{ChatRequest, Completion};
use mediadocs_store::{
    documents::{self, DocumentWriteError, NewVersion, TemplateUsed, VersionSource},
    generations, tenancy, usage,
};
use mediadocs_workflows::{
    document::{
        ChunkRef, ChunkSummary, DocumentPlan, DocumentRef, GenerationFailure, ReduceRef, WriteRef,
    },
    recording::RecordingRef,
};
use uuid::Uuid;

use super::{
    DocumentError, Documents,
    chunking::count_tokens,
    prompts::{self, SummaryInput},
    store::{self, Summary},
    validate::{self, Requirements},
};

fn int(v: u32) -> Result<i32, DocumentError> {
    i32::try_from(v).map_err(|_| DocumentError::InvalidInput(format!("{v} is out of range")))
}

/// FNV-1a over what the model is asked: a stored summary with the same fingerprint was made
/// from the same input, so a retried or repeated step reuses it instead of paying again.
fn fingerprint(model: &str, request: &ChatRequest) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let parts = [model, request.system.as_deref().unwrap_or("")]
        .into_iter()
        .chain(request.messages.iter().map(|m| m.content.as_str()));
    for part in parts {
        for b in part.bytes().chain([0]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

pub async fn plan(
    docs: &Documents,
    recording: &RecordingRef,
) -> Result<DocumentPlan, DocumentError> {
    let (org, rec) = (recording.org_id, recording.recording_id);
    let mut tx = tenancy::begin(&docs.pool, Some(org), None).await?;
    store::require_recording(&mut tx, rec).await?;
    let context = docs.llm.context_tokens();
    let chunk_tokens = docs.settings.chunk_tokens_for(context);
    let (chunks, duration_ms) = store::cut_chunks(&mut tx, org, rec, chunk_tokens).await?;
    store::drop_stale_chunks(&mut tx, rec, int(chunks)?).await?;
    tx.commit().await?;
    tracing::info!(recording_id = %rec, chunks, chunk_tokens, "document planned");
    Ok(DocumentPlan {
        chunks,
        chunk_tokens,
        model_context_tokens: context,
        reduce_budget_tokens: docs.settings.reduce_budget_for(context),
        duration_ms,
    })
}

pub async fn summarize_chunk(
    docs: &Documents,
    chunk: &ChunkRef,
) -> Result<ChunkSummary, DocumentError> {
    let (org, rec) = (chunk.recording.org_id, chunk.recording.recording_id);
    if chunk.level != 0 {
        return Err(DocumentError::InvalidInput(
            "only level-0 chunks are summarised; higher levels are reduced".into(),
        ));
    }
    let idx = int(chunk.idx)?;
    let mut tx = tenancy::begin(&docs.pool, Some(org), None).await?;
    store::require_recording(&mut tx, rec).await?;
    // The plan step cut the transcript; a run from before it kept its cut (or one whose
    // transcript was replaced since) cuts again, the same way.
    let planned = match store::planned_chunk(&mut tx, rec, chunk.chunk_tokens, chunk.idx).await? {
        Some(planned) => Some(planned),
        None => {
            store::cut_chunks(&mut tx, org, rec, chunk.chunk_tokens).await?;
            store::planned_chunk(&mut tx, rec, chunk.chunk_tokens, chunk.idx).await?
        }
    };
    let Some((c, total)) = planned else {
        return Err(DocumentError::InvalidInput(format!(
            "chunk {} is beyond the transcript's chunks",
            chunk.idx
        )));
    };
    let stored = store::summaries(&mut tx, rec, 0, idx, idx + 1).await?.pop();
    tx.commit().await?;
    let request = prompts::summarize_chunk(&c, total, docs.settings.summary_max_tokens);
    let (start_ms, end_ms) = (c.start_ms, c.end_ms);
    let map = Some(total);
    summarise(
        docs,
        org,
        rec,
        request,
        stored,
        0,
        idx,
        (start_ms, end_ms),
        map,
    )
    .await
}

pub async fn reduce(docs: &Documents, r: &ReduceRef) -> Result<ChunkSummary, DocumentError> {
    let (org, rec) = (r.recording.org_id, r.recording.recording_id);
    let (level, idx, from, to) = (int(r.level)?, int(r.idx)?, int(r.from)?, int(r.to)?);
    if from >= to {
        return Err(DocumentError::InvalidInput(format!(
            "empty range {from}..{to}"
        )));
    }
    let mut tx = tenancy::begin(&docs.pool, Some(org), None).await?;
    store::require_recording(&mut tx, rec).await?;
    let inputs = complete_range(&mut tx, rec, level, from, to).await?;
    let stored = store::summaries(&mut tx, rec, level + 1, idx, idx + 1)
        .await?
        .pop();
    tx.commit().await?;
    let span = (inputs[0].start_ms, inputs[inputs.len() - 1].end_ms);
    let request = prompts::reduce(&inputs, docs.settings.summary_max_tokens);
    summarise(docs, org, rec, request, stored, level + 1, idx, span, None).await
}

/// Summaries `[from, to)` of `level`, all of them, or `InvalidInput`: a missing one means
/// the workflow asked out of order, which no retry fixes.
async fn complete_range(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    rec: Uuid,
    level: i32,
    from: i32,
    to: i32,
) -> Result<Vec<SummaryInput>, DocumentError> {
    let rows = store::summaries(tx, rec, level, from, to).await?;
    if rows.len() != (to - from) as usize {
        return Err(DocumentError::InvalidInput(format!(
            "summaries {from}..{to} of level {level}: only {} are stored",
            rows.len()
        )));
    }
    Ok(rows
        .into_iter()
        .map(|s| SummaryInput {
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            text: s.text,
        })
        .collect())
}

/// Reuses `stored` if it was made from the same request; otherwise asks the model and
/// upserts the answer at (level, idx). `map_total`: this is a map chunk, of that many, so
/// clients get a `pipeline.progress` event with it.
#[allow(clippy::too_many_arguments)]
async fn summarise(
    docs: &Documents,
    org: Uuid,
    rec: Uuid,
    request: ChatRequest,
    stored: Option<Summary>,
    level: i32,
    idx: i32,
    (start_ms, end_ms): (i64, i64),
    map_total: Option<u32>,
) -> Result<ChunkSummary, DocumentError> {
    let source_hash = fingerprint(docs.llm.model(), &request);
    if let Some(s) = stored.filter(|s| s.source_hash == source_hash) {
        return Ok(ChunkSummary {
            tokens: count_tokens(&s.text),
        });
    }
    let answer: Completion = docs.llm.complete(&request).await?;
    let text = validate::sanitize(&answer.text);
    if text.is_empty() {
        return Err(DocumentError::OutputInvalid(
            "the summary was empty once images, HTML and links were removed".into(),
        ));
    }
    let summary = Summary {
        level,
        idx,
        start_ms,
        end_ms,
        source_hash,
        model: answer.model,
        prompt_tokens: answer.usage.prompt_tokens as i32,
        completion_tokens: answer.usage.completion_tokens as i32,
        text,
    };
    let mut tx = tenancy::begin(&docs.pool, Some(org), None).await?;
    store::upsert_summary(&mut tx, org, rec, &summary).await?;
    let tokens = u64::from(answer.usage.prompt_tokens) + u64::from(answer.usage.completion_tokens);
    usage::record(&mut tx, org, tokens).await?;
    if let Some(total) = map_total {
        crate::events::map_progress(&mut tx, org, rec, total).await?;
    }
    tx.commit().await?;
    Ok(ChunkSummary {
        tokens: count_tokens(&summary.text),
    })
}

pub async fn write(docs: &Documents, w: &WriteRef) -> Result<DocumentRef, DocumentError> {
    let (org, rec) = (w.recording.org_id, w.recording.recording_id);
    let (level, count) = (int(w.level)?, int(w.count)?);
    let mut tx = tenancy::begin(&docs.pool, Some(org), None).await?;
    store::require_recording(&mut tx, rec).await?;
    let generation = match w.generation {
        None => {
            if let Some((id, title)) = store::first_version(&mut tx, rec).await? {
                return Ok(DocumentRef {
                    document_id: id,
                    version: 1,
                    title,
                });
            }
            None
        }
        Some(id) => {
            let g = generations::get(&mut tx, id)
                .await?
                .filter(|g| g.recording_id == rec)
                .ok_or_else(|| DocumentError::InvalidInput(format!("no generation {id}")))?;
            if let Some(version) = g.version {
                return Ok(written(documents::version(&mut tx, rec, version).await?));
            }
            Some(g)
        }
    };
    let duration_ms = store::transcript(&mut tx, rec).await?.duration_ms;
    let inputs = complete_range(&mut tx, rec, level, 0, count.max(1)).await?;
    let explicit = generation.as_ref().and_then(|g| g.template_id);
    let template = store::template(&mut tx, org, rec, explicit).await?;
    tx.commit().await?;

    let instructions = generation.as_ref().map_or("", |g| g.instructions.as_str());
    let request = prompts::write_document(
        &inputs,
        Some(&template),
        instructions,
        duration_ms,
        docs.settings.document_max_tokens,
    );
    let answer = docs.llm.complete(&request).await?;
    let markdown = validate::sanitize(&validate::unwrap_answer(&answer.text));
    let sections = prompts::template_sections(Some(&template));
    let title = validate::validate(
        &markdown,
        &Requirements {
            sections: &sections,
            duration_ms,
        },
    )
    .map_err(|problems| {
        DocumentError::OutputInvalid(format!("the document is invalid: {}", problems.join("; ")))
    })?;

    let mut tx = tenancy::begin(&docs.pool, Some(org), None).await?;
    let (map_prompt, map_completion) = store::summary_usage(&mut tx, rec).await?;
    let (prompt, completion) = (answer.usage.prompt_tokens, answer.usage.completion_tokens);
    usage::record(&mut tx, org, u64::from(prompt) + u64::from(completion)).await?;
    let version = NewVersion {
        title: &title,
        markdown: &markdown,
        source: match generation {
            None => VersionSource::Generated,
            Some(_) => VersionSource::Regenerated,
        },
        author: generation.as_ref().and_then(|g| g.requested_by),
        model: Some(&answer.model),
        prompt_tokens: map_prompt + i64::from(prompt),
        completion_tokens: map_completion + i64::from(completion),
        template: Some(TemplateUsed {
            id: Some(template.id),
            name: &template.name,
        }),
        generation: generation.as_ref().map(|g| g.id),
        restored_from: None,
    };
    let stored = match &generation {
        None => documents::write_first(&mut tx, org, rec, &version).await?,
        Some(g) => {
            let (document, _) = documents::lock_for_recording(&mut tx, org, rec).await?;
            let stored = documents::append(&mut tx, org, document, None, &version)
                .await
                .map_err(|e| match e {
                    DocumentWriteError::Database(e) => DocumentError::Database(e),
                    other => DocumentError::InvalidInput(other.to_string()),
                })?;
            generations::succeeded(&mut tx, g.id, stored.version).await?;
            stored
        }
    };
    tx.commit().await?;
    tracing::info!(recording_id = %rec, document_id = %stored.document_id, version = stored.version, "document written");
    Ok(written(stored))
}

fn written(w: documents::Written) -> DocumentRef {
    DocumentRef {
        document_id: w.document_id,
        version: w.version,
        title: w.title,
    }
}

/// See `DocumentActivities::record_failure`.
pub async fn record_failure(docs: &Documents, f: &GenerationFailure) -> Result<(), DocumentError> {
    let (org, rec) = (f.recording.org_id, f.recording.recording_id);
    let mut tx = tenancy::begin(&docs.pool, Some(org), None).await?;
    if store::require_recording(&mut tx, rec).await.is_err() {
        // Deleted meanwhile: there is no document left to mark.
        return Ok(());
    }
    let first_report = match f.generation {
        Some(id) => generations::failed(&mut tx, id, &f.reason).await?,
        None => store::first_version(&mut tx, rec).await?.is_none(),
    };
    if first_report {
        documents::generation_failed(&mut tx, org, rec, &f.reason).await?;
    }
    tx.commit().await?;
    tracing::warn!(recording_id = %rec, kind = %f.kind, reason = %f.reason, "document generation failed");
    Ok(())
}
