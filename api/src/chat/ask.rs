//! `POST /api/chat`: a question answered from the org's recordings, with citations.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use super::{
    limits, prompt,
    request::{ChatBody, Question},
    sources, store,
    stream::{self, ChatAnswer},
    turn::{self, Turn},
};
use crate::{AppState, auth::Principal, error::ApiError, extract::AppJson};

/// Asks a question. With `Accept: text/event-stream` the answer streams as server-sent
/// events: `sources` first (the numbered citations), then `delta`s (`{"text": …}`), then
/// `done` (message ID, token usage, time to first token) or, after a failure, `error` (a
/// problem document); a comment every 15 s keeps an idle stream open. Otherwise the same
/// answer comes as one JSON document. Closing the stream stops the model.
#[utoipa::path(post, path = "/api/chat", tag = "chat", security(("bearer" = [])),
    request_body = ChatBody,
    responses(
        (status = 200, description = "With Accept: application/json, the whole answer; with \
            Accept: text/event-stream, events sources, delta…, then done or error",
            content((ChatAnswer = "application/json"), (String = "text/event-stream"))),
        (status = 404, description = "An unknown conversation, or a recording not of this org",
            body = crate::error::Problem),
        (status = 422, description = "An empty or over-long question, or a bad top_k",
            body = crate::error::Problem),
        (status = 429, description = "Over the per-user rate or the org's daily token budget; \
            see Retry-After", body = crate::error::Problem),
        (status = 503, description = "The embedder or the LLM is unavailable",
            body = crate::error::Problem)))]
#[tracing::instrument(skip_all, fields(org_id = %principal.org_id))]
pub async fn ask(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppJson(body): AppJson<ChatBody>,
) -> Result<Response, ApiError> {
    let question = Question::try_from(body)?;
    let chat = &state.chat;
    let settings = chat.settings();
    chat.limiter().check(store::owner(&principal))?;
    let history = admit(&state, &principal, &question).await?;

    // Embedding is CPU work or a provider call: no connection is held meanwhile.
    let (model, vector) = sources::embed(chat, &question.text).await?;
    let llm = chat.llm().await?;
    let mut tx = principal.begin(&state).await?;
    let found = sources::retrieve(
        &mut tx,
        &model,
        &vector,
        &question.text,
        question.recordings.as_deref(),
        question.top_k,
    )
    .await?;
    let conversation = match question.conversation {
        Some(id) => id,
        None => store::create_conversation(&mut tx, &principal, &question.text).await?,
    };
    store::insert_question(&mut tx, principal.org_id, conversation, &question.text).await?;
    tx.commit().await?;

    let found = if found.is_empty() {
        found
    } else {
        let room = (llm.context_tokens() as usize)
            .saturating_sub(settings.max_answer_tokens as usize)
            .saturating_sub(settings.history_tokens)
            .saturating_sub(prompt::tokens(&question.text) + 1000);
        prompt::fit_sources(found, room)
    };
    // Nothing to cite, nothing to ask: the turn answers plainly without a model.
    let ask_model = (!found.is_empty()).then(|| {
        let request = prompt::request(
            &history,
            settings.history_tokens,
            &question.text,
            &found,
            settings.max_answer_tokens,
        );
        (llm, request)
    });
    let events = turn::start(Turn {
        pool: state.pool.clone(),
        org: principal.org_id,
        conversation,
        message_id: Uuid::now_v7(),
        sources: found,
        llm: ask_model,
    });
    if wants_events(&headers) {
        Ok(stream::sse(events, settings.keep_alive).into_response())
    } else {
        Ok(Json(stream::collect(events).await?).into_response())
    }
}

/// Everything that refuses a question before any provider is called: the org's daily
/// budget, the scope and the conversation. Returns the conversation's history.
async fn admit(
    state: &AppState,
    principal: &Principal,
    question: &Question,
) -> Result<Vec<store::HistoryMessage>, ApiError> {
    let budget = state.chat.settings().daily_tokens_per_org;
    let mut tx = principal.begin(state).await?;
    limits::check_budget(&mut tx, principal.org_id, budget).await?;
    if let Some(ids) = &question.recordings {
        store::require_recordings(&mut tx, ids).await?;
    }
    let history = match question.conversation {
        Some(id) => {
            store::require_conversation(&mut tx, principal, id).await?;
            store::history(&mut tx, id).await?
        }
        None => Vec::new(),
    };
    tx.commit().await?;
    Ok(history)
}

fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}
