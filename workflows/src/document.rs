//! The document stage: its activity contracts, and [`generate`], the deterministic
//! map-reduce that drives them.
//!
//! Map: one LLM summary per transcript chunk, at most `fan_out` in flight. Reduce: merge
//! consecutive summaries, level by level, until they fit one prompt. Write: the final pass
//! that produces the Markdown document. Only IDs and token counts cross into the workflow's
//! history; the texts live in `document_summaries` and `documents`.

use std::{future::Future, pin::Pin, task::Poll, time::Duration};

use serde::{Deserialize, Serialize};
use temporalio_common::{ActivityError, RetryPolicy};
use temporalio_macros::{activity_definitions, workflow, workflow_methods};
use temporalio_workflow::{
    ActivityExecutionError, ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use uuid::Uuid;

use crate::{failure::backoff, recording::RecordingRef};

/// The default number of summaries in flight at once.
pub const DEFAULT_FAN_OUT: usize = 4;

/// What `document.plan` decided. The worker's settings reach the workflow through it, so a
/// replay (or a retried chunk) uses the values the run started with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DocumentPlan {
    /// Level-0 chunks of the transcript.
    pub chunks: u32,
    /// The most tokens (cl100k_base) of transcript in one chunk.
    pub chunk_tokens: u32,
    pub model_context_tokens: u32,
    /// How many tokens of summaries one reduce or write prompt may carry.
    pub reduce_budget_tokens: u32,
    pub duration_ms: i64,
}

/// One level-0 chunk to summarise (`level` is always 0: higher levels come from reduce).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkRef {
    pub recording: RecordingRef,
    pub level: u32,
    pub idx: u32,
    /// From [`DocumentPlan::chunk_tokens`], so every attempt cuts the same chunks.
    pub chunk_tokens: u32,
}

/// Merges summaries `[from, to)` of `level` into summary `idx` of `level + 1`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReduceRef {
    pub recording: RecordingRef,
    pub level: u32,
    pub idx: u32,
    pub from: u32,
    pub to: u32,
}

/// A stored summary; its text stays in `document_summaries`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkSummary {
    /// Tokens (cl100k_base) of the summary text, for planning the reduce.
    pub tokens: u32,
}

/// The final pass reads summaries `[0, count)` of `level`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WriteRef {
    pub recording: RecordingRef,
    pub level: u32,
    pub count: u32,
    /// A regeneration run (`document_generations`): the pass writes the document's next
    /// version, with the run's template and instructions. Absent in the pipeline's own pass
    /// (and in histories from before regeneration), which writes version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DocumentRef {
    pub document_id: Uuid,
    pub version: i32,
    pub title: String,
}

pub struct DocumentActivities;

#[activity_definitions]
impl DocumentActivities {
    /// Counts the transcript's chunks (cheap and deterministic to recompute, so boundaries
    /// are not stored) and fixes the token budgets for the run.
    #[activity(name = "document.plan")]
    pub fn plan(recording: RecordingRef) -> Result<DocumentPlan, ActivityError> {
        unimplemented!()
    }

    /// One LLM call; the summary is upserted by (recording, level, idx), and a stored one
    /// made from the same input is returned without calling the model again.
    #[activity(name = "document.summarize_chunk")]
    pub fn summarize_chunk(chunk: ChunkRef) -> Result<ChunkSummary, ActivityError> {
        unimplemented!()
    }

    /// Like `summarize_chunk`, over summaries instead of transcript.
    #[activity(name = "document.reduce")]
    pub fn reduce(reduce: ReduceRef) -> Result<ChunkSummary, ActivityError> {
        unimplemented!()
    }

    /// Writes, validates and stores version 1 of the document (a stored one is returned as
    /// it is), or, for a regeneration, the version that run writes (likewise).
    #[activity(name = "document.write")]
    pub fn write(write: WriteRef) -> Result<DocumentRef, ActivityError> {
        unimplemented!()
    }

    /// Records that generation failed: the document keeps its current version (or, with
    /// none, shows `failed` and the reason), the run is marked failed, and
    /// `document.generation_failed` goes out. Idempotent.
    #[activity(name = "document.record_failure")]
    pub fn record_failure(failure: GenerationFailure) -> Result<(), ActivityError> {
        unimplemented!()
    }
}

pub use document_activities::Plan as PlanDef;
pub use document_activities::RecordFailure as RecordFailureDef;
pub use document_activities::Reduce as ReduceDef;
pub use document_activities::SummarizeChunk as SummarizeChunkDef;
pub use document_activities::Write as WriteDef;

fn db_activity() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60))
        .retry_policy(retry_policy(10))
        .build()
}

/// LLM calls: the client already retries 429/5xx within one attempt; Temporal retries
/// the attempt (an invalid answer, a provider down for longer) with backoff.
/// LLM steps heartbeat while they wait on the model: a worker that dies mid-call is noticed
/// after 30 s rather than after the half-hour bound on the call. The bound is that long for
/// a model on the CPU, where a step waits its turn behind the others' and writing the
/// document alone takes minutes; the client's own timeout (`LLM_TIMEOUT_SECS`) is the
/// tighter one for hosted models. (Only activity types and IDs are matched on replay, so
/// old histories replay under the new bound.)
fn llm_activity() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(1800))
        .heartbeat_timeout(Duration::from_secs(30))
        .retry_policy(retry_policy(8))
        .build()
}

fn retry_policy(attempts: u32) -> RetryPolicy {
    backoff(Duration::from_secs(2), Duration::from_secs(120), attempts)
}

type Pending<'a, T> =
    Pin<Box<dyn Future<Output = (usize, Result<T, ActivityExecutionError>)> + 'a>>;

/// Resolves with the first ready future, polling in `Vec` order, so a replay picks the same
/// one; the rest stay in flight.
async fn first_ready<'a, T>(
    in_flight: &mut Vec<Pending<'a, T>>,
) -> (usize, Result<T, ActivityExecutionError>) {
    std::future::poll_fn(|cx| {
        for i in 0..in_flight.len() {
            if let Poll::Ready(out) = in_flight[i].as_mut().poll(cx) {
                drop(in_flight.remove(i));
                return Poll::Ready(out);
            }
        }
        Poll::Pending
    })
    .await
}

/// Runs `start(i)` for every `i < n` with at most `fan_out` in flight, starting the next as
/// one finishes (activity commands are issued when started, so only `fan_out` exist at once).
/// `done(count)` is called after each success. The first failure fails the whole.
async fn bounded<'a, T>(
    n: usize,
    fan_out: usize,
    mut start: impl FnMut(usize) -> Pending<'a, T>,
    mut done: impl FnMut(usize),
) -> Result<Vec<T>, ActivityExecutionError> {
    let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let (mut next, mut finished) = (0, 0);
    let mut in_flight = Vec::new();
    while finished < n {
        while in_flight.len() < fan_out.max(1) && next < n {
            in_flight.push(start(next));
            next += 1;
        }
        let (i, result) = first_ready(&mut in_flight).await;
        results[i] = Some(result?);
        finished += 1;
        done(finished);
    }
    Ok(results.into_iter().flatten().collect())
}

/// Groups consecutive summaries so each group's tokens fit `budget`, at least two to a group
/// (so every level shrinks, whatever the budget). Returns `[from, to)` ranges.
pub fn reduce_groups(tokens: &[u32], budget: u32) -> Vec<(u32, u32)> {
    let mut groups = Vec::new();
    let (mut from, mut sum) = (0usize, 0u64);
    for (i, &t) in tokens.iter().enumerate() {
        let size = i - from;
        if size >= 2 && sum + u64::from(t) > u64::from(budget) {
            groups.push((from as u32, i as u32));
            (from, sum) = (i, 0);
        }
        sum += u64::from(t);
    }
    if from < tokens.len() {
        // A lone last summary joins the group before it rather than stalling a level.
        match groups.last_mut() {
            Some(last) if tokens.len() - from == 1 => last.1 = tokens.len() as u32,
            _ => groups.push((from as u32, tokens.len() as u32)),
        }
    }
    groups
}

/// Produces the recording's document: plan, map (bounded fan-out), hierarchical reduce,
/// write. `on_progress(state, done, total)` reports summarised chunks out of all chunks; the
/// reduce and write passes come after `done == total`.
pub async fn generate<W>(
    ctx: &mut WorkflowContext<W>,
    recording: &RecordingRef,
    generation: Option<Uuid>,
    fan_out: usize,
    on_progress: fn(&mut W, u32, u32),
) -> Result<DocumentRef, ActivityExecutionError> {
    let plan = ctx
        .execute_activity(DocumentActivities::plan, *recording, db_activity())
        .await?;
    let total = plan.chunks;
    ctx.state_mut(|s| on_progress(s, 0, total));
    let c: &WorkflowContext<W> = ctx;
    let mut tokens: Vec<u32> = bounded(
        total as usize,
        fan_out,
        |i| {
            let chunk = ChunkRef {
                recording: *recording,
                level: 0,
                idx: i as u32,
                chunk_tokens: plan.chunk_tokens,
            };
            let call =
                c.execute_activity(DocumentActivities::summarize_chunk, chunk, llm_activity());
            Box::pin(async move { (i, call.await) })
        },
        |done| c.state_mut(|s| on_progress(s, done as u32, total)),
    )
    .await?
    .into_iter()
    .map(|s| s.tokens)
    .collect();

    let mut level = 0;
    while tokens.len() > 1
        && tokens.iter().map(|&t| u64::from(t)).sum::<u64>() > u64::from(plan.reduce_budget_tokens)
    {
        let groups = reduce_groups(&tokens, plan.reduce_budget_tokens);
        let reduced = bounded(
            groups.len(),
            fan_out,
            |i| {
                let (from, to) = groups[i];
                let reduce = ReduceRef {
                    recording: *recording,
                    level,
                    idx: i as u32,
                    from,
                    to,
                };
                let call = c.execute_activity(DocumentActivities::reduce, reduce, llm_activity());
                Box::pin(async move { (i, call.await) })
            },
            |_| {},
        )
        .await?;
        tokens = reduced.into_iter().map(|s| s.tokens).collect();
        level += 1;
    }
    let write = WriteRef {
        recording: *recording,
        level,
        count: tokens.len() as u32,
        generation,
    };
    ctx.execute_activity(DocumentActivities::write, write, llm_activity())
        .await
}

/// Input of [`DocumentWorkflow`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenerateDocument {
    pub recording: RecordingRef,
    pub fan_out: u32,
    /// A regeneration run (`POST /api/recordings/{id}/documents`), whose version it writes
    /// and whose failure it records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<Uuid>,
}

/// A regeneration that failed, recorded before the workflow fails with the same type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenerationFailure {
    pub recording: RecordingRef,
    /// `None`: the pipeline's own document stage.
    pub generation: Option<Uuid>,
    pub kind: crate::FailureKind,
    pub reason: String,
}

/// The document stage on its own: a regeneration (ID from
/// [`crate::names::regeneration_workflow_id`]) writes the recording's next version from its
/// stored transcript without rerunning the pipeline; tests and benches run it to exercise
/// [`generate`] against a real server. The pipeline calls [`generate`] itself.
#[workflow]
#[derive(Default)]
pub struct DocumentWorkflow {
    chunks_done: u32,
    chunks_total: u32,
}

#[workflow_methods]
impl DocumentWorkflow {
    #[run(name = "DocumentWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: GenerateDocument,
    ) -> WorkflowResult<DocumentRef> {
        let fan_out = input.fan_out as usize;
        let written = generate(
            ctx,
            &input.recording,
            input.generation,
            fan_out,
            |s: &mut Self, done, total| {
                s.chunks_done = done;
                s.chunks_total = total;
            },
        )
        .await;
        match (written, input.generation) {
            (Ok(document), _) => Ok(document),
            (Err(e), None) => Err(e.into()),
            (Err(e), Some(generation)) => {
                let failure = crate::failure::StageFailure::from(e);
                if failure.cancelled {
                    return Err(temporalio_workflow::WorkflowTermination::cancelled());
                }
                let record = GenerationFailure {
                    recording: input.recording,
                    generation: Some(generation),
                    kind: failure.kind,
                    reason: failure.message.clone(),
                };
                ctx.execute_activity(DocumentActivities::record_failure, record, db_activity())
                    .await?;
                Err(failure.into_termination("generate"))
            }
        }
    }

    /// Map chunks summarised, of the total.
    #[query(name = "progress")]
    pub fn progress(&self, _ctx: &WorkflowContextView) -> (u32, u32) {
        (self.chunks_done, self.chunks_total)
    }
}

#[cfg(test)]
mod tests {
    use super::reduce_groups;

    #[test]
    fn groups_fit_the_budget_and_always_shrink() {
        assert_eq!(
            reduce_groups(&[100, 100, 100, 100], 250),
            vec![(0, 2), (2, 4)]
        );
        assert_eq!(reduce_groups(&[100, 100, 100], 250), vec![(0, 3)]);
        // Over budget pairwise: still pairs, so the level halves.
        assert_eq!(
            reduce_groups(&[900, 900, 900, 900], 100),
            vec![(0, 2), (2, 4)]
        );
        assert_eq!(reduce_groups(&[1, 1, 1, 1, 1], 10), vec![(0, 5)]);
        assert_eq!(reduce_groups(&[5, 5], 1), vec![(0, 2)]);
    }
}
