//! The simulator's HTTP routes: the providers' APIs, and `/_simulator/*` for knobs and
//! counters (used by the binary; in-process tests call the handle directly).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header::AUTHORIZATION},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Calls, Flavour, Job, JobStatus, Knobs, Shared, callbacks, formats};

type Sim = State<Arc<Shared>>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v2/transcript", post(submit_assemblyai))
        .route("/v2/transcript/{id}", get(poll_assemblyai))
        .route("/v1/listen", post(submit_deepgram))
        .route("/_simulator/knobs", post(set_knobs))
        .route("/_simulator/calls", get(calls))
        .with_state(shared)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// AssemblyAI takes the bare key; Deepgram `Token <key>`.
fn authorised(shared: &Shared, headers: &HeaderMap, scheme: &str) -> bool {
    let Some(key) = &shared.api_key else {
        return true;
    };
    let got = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    got == Some(&format!("{scheme}{key}"))
}

#[derive(Deserialize)]
struct AssemblyAiSubmit {
    audio_url: String,
    webhook_url: Option<String>,
    webhook_auth_header_name: Option<String>,
    webhook_auth_header_value: Option<String>,
}

fn new_job(shared: &Shared, flavour: Flavour) -> Result<String, Box<Response>> {
    shared.with(|s| {
        s.calls.submissions += 1;
        if s.knobs.submit_500 > 0 {
            s.knobs.submit_500 -= 1;
            return Err(Box::new(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "simulated outage",
            )));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        s.jobs.insert(
            id.clone(),
            Job {
                flavour,
                status: JobStatus::Queued,
                transcript: None,
                error: None,
            },
        );
        Ok(id)
    })
}

async fn submit_assemblyai(
    State(shared): Sim,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &headers, "") {
        return error(
            StatusCode::UNAUTHORIZED,
            "Authentication error, API token missing/invalid",
        );
    }
    let request: AssemblyAiSubmit = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid request body: {e}"),
            );
        }
    };
    let id = match new_job(&shared, Flavour::AssemblyAi) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let callback = request.webhook_url.map(|url| callbacks::Target {
        url,
        header: request
            .webhook_auth_header_name
            .zip(request.webhook_auth_header_value),
    });
    let job = callbacks::run_job(
        shared.clone(),
        id.clone(),
        request.audio_url.clone(),
        callback,
    );
    if shared.with(|s| s.knobs.answer_submit_after_callback) {
        job.await;
    } else {
        tokio::spawn(job);
    }
    Json(json!({ "id": id, "status": "queued", "audio_url": request.audio_url })).into_response()
}

async fn poll_assemblyai(
    State(shared): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorised(&shared, &headers, "") {
        return error(
            StatusCode::UNAUTHORIZED,
            "Authentication error, API token missing/invalid",
        );
    }
    let (job, truncate) = shared.with(|s| {
        s.calls.polls += 1;
        let truncate = s.knobs.truncated_polls > 0;
        if truncate {
            s.knobs.truncated_polls -= 1;
        }
        (
            s.jobs
                .get(&id)
                .filter(|j| j.flavour == Flavour::AssemblyAi)
                .cloned(),
            truncate,
        )
    });
    let Some(job) = job else {
        return error(StatusCode::NOT_FOUND, "Transcript not found");
    };
    let body = formats::assemblyai_transcript(&id, &job).to_string();
    if truncate {
        let cut = body.len() / 2;
        return (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body[..cut].to_owned(),
        )
            .into_response();
    }
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct DeepgramQuery {
    callback: Option<String>,
}

async fn submit_deepgram(
    State(shared): Sim,
    headers: HeaderMap,
    Query(query): Query<DeepgramQuery>,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&shared, &headers, "Token ") {
        return error(StatusCode::UNAUTHORIZED, "Invalid credentials.");
    }
    let Some(url) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("url").and_then(Value::as_str).map(str::to_owned))
    else {
        return error(StatusCode::BAD_REQUEST, "the body must be {\"url\": …}");
    };
    let Some(callback) = query.callback else {
        return error(
            StatusCode::BAD_REQUEST,
            "the simulator only does callback requests",
        );
    };
    let id = match new_job(&shared, Flavour::Deepgram) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let target = callbacks::Target {
        url: callback,
        header: None,
    };
    tokio::spawn(callbacks::run_job(
        shared.clone(),
        id.clone(),
        url,
        Some(target),
    ));
    Json(json!({ "request_id": id })).into_response()
}

async fn set_knobs(State(shared): Sim, Json(knobs): Json<Knobs>) -> StatusCode {
    shared.with(|s| s.knobs = knobs);
    StatusCode::NO_CONTENT
}

async fn calls(State(shared): Sim) -> Json<Calls> {
    Json(shared.with(|s| s.calls.clone()))
}
