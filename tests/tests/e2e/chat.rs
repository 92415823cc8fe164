//! Chat with recordings, end to end: a transcript embedded with the real local embedder,
//! questions asked over HTTP (SSE and JSON), answers from the OpenAI simulator.

mod conversations;
mod input;
mod limits;
mod sse;
mod streaming;

use std::{sync::OnceLock, time::Duration};

use mediadocs_activities::embedding::{self, BATCH_SIZE, NoProgress};
use mediadocs_api::chat::ChatSettings;
use mediadocs_dev::openai::OpenAiSimulator;
use mediadocs_providers::{
    embeddings::local::{LocalEmbedder, LocalEmbedderSettings},
    llm::LlmSettings,
    transcription::{Segment, Transcript},
};
use mediadocs_tests::{TestApp, TestContext, app::Account, fixtures, tools::repo_root};
use serde_json::{Value, json};
use uuid::Uuid;

use self::sse::SseReader;

/// Said once in the billing recording; found by meaning and by words.
const CURRENCY: &str = "The billing dashboard shows prices in dollars instead of euros, and Dana \
will switch the currency setting before the Friday release.";
/// A code embeddings handle poorly, for keyword search.
const TICKET: &str = "The login outage last night is tracked as ticket OPS-4521 in the tracker.";

fn local() -> &'static LocalEmbedder {
    static EMBEDDER: OnceLock<LocalEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        LocalEmbedder::load(&LocalEmbedderSettings {
            dir: repo_root().join(".tools/models/all-MiniLM-L6-v2"),
            batch_size: 32,
            max_tokens: 256,
        })
        .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Sixty segments of ordinary meeting talk with the two facts above in the middle: several
/// passages, so retrieval has to choose.
fn transcript(facts: &[&str]) -> Transcript {
    const TOPICS: [&str; 6] = [
        "the hiring plan for the support team and the interview schedule",
        "the office move and where the new kitchen will be",
        "the mobile app release notes and the screenshots for the store",
        "the quarterly roadmap and which milestones slipped",
        "the marketing newsletter and the audience for the spring campaign",
        "the database migration and the replica that lagged on Tuesday",
    ];
    let mut texts: Vec<String> = (0..60)
        .map(|i| {
            let topic = TOPICS[(i / 10) % TOPICS.len()];
            format!(
                "Point {} about {topic}: we went through it again and agreed on next steps.",
                i % 10
            )
        })
        .collect();
    for (k, fact) in facts.iter().enumerate() {
        texts[25 + 12 * k] = (*fact).to_owned();
    }
    transcript_of(&texts)
}

/// A transcript of exactly `lines`, six seconds apart, two speakers taking turns.
fn transcript_of(lines: &[impl AsRef<str>]) -> Transcript {
    Transcript {
        language: Some("en".into()),
        duration_ms: Some(lines.len() as i64 * 6_000),
        segments: lines
            .iter()
            .enumerate()
            .map(|(i, text)| Segment {
                start_ms: i as i64 * 6_000,
                end_ms: i as i64 * 6_000 + 5_500,
                text: text.as_ref().to_owned(),
                speaker: Some(["Ana", "Ben"][i % 2].into()),
                confidence: None,
            })
            .collect(),
    }
}

/// A recording of `org` titled `title`, transcribed and embedded (passages stored).
async fn indexed_recording(ctx: &TestContext, org: Uuid, title: &str, facts: &[&str]) -> Uuid {
    index(ctx, org, title, &transcript(facts)).await
}

/// A recording of `org` titled `title` with `transcript`, embedded.
async fn index(ctx: &TestContext, org: Uuid, title: &str, transcript: &Transcript) -> Uuid {
    let id =
        fixtures::recording_with_transcript(&ctx.owner_pool, org, "completed", transcript).await;
    fixtures::rename(&ctx.owner_pool, org, id, title).await;
    embedding::embed_transcript(&ctx.pool, local(), org, id, BATCH_SIZE, &NoProgress)
        .await
        .unwrap();
    id
}

/// One test's API, simulator and first account.
struct Chat {
    ctx: TestContext,
    app: TestApp,
    sim: OpenAiSimulator,
    alice: Account,
}

impl Chat {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut ChatSettings)) -> Self {
        let ctx = TestContext::new().await;
        let sim = OpenAiSimulator::start().await;
        let mut settings = ctx.api_settings();
        let mut llm = LlmSettings::for_base_url(sim.base_url().parse().unwrap(), "gpt-4o-mini");
        llm.timeout = Duration::from_secs(10);
        llm.stream_idle_timeout = Duration::from_secs(5);
        llm.max_retries = 0;
        settings.chat.llm = llm;
        tweak(&mut settings.chat);
        let app = TestApp::spawn_with(&ctx, settings, ctx.pool.clone()).await;
        let alice = app.register("alice@example.com").await;
        Self {
            ctx,
            app,
            sim,
            alice,
        }
    }

    /// Alice's org with the billing recording; returns its ID.
    async fn billing(&self) -> Uuid {
        indexed_recording(
            &self.ctx,
            self.alice.org_id(),
            "Billing review",
            &[CURRENCY, TICKET],
        )
        .await
    }

    fn post(&self, who: &Account, accept: &str, body: &Value) -> reqwest::RequestBuilder {
        self.app
            .authed(reqwest::Method::POST, "/api/chat", who.token())
            .header("accept", accept)
            .json(body)
    }

    /// Asks with `Accept: text/event-stream`; the response must be a 200 stream.
    async fn stream(&self, who: &Account, body: Value) -> SseReader {
        let response = self
            .post(who, "text/event-stream", &body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        SseReader::new(response)
    }

    /// Asks with `Accept: application/json`: (status, headers, body).
    async fn ask_json(
        &self,
        who: &Account,
        body: Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .post(who, "application/json", &body)
            .send()
            .await
            .unwrap();
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        (
            status,
            headers,
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn get(&self, who: &Account, path: &str) -> (u16, Value) {
        let response = self
            .app
            .authed(reqwest::Method::GET, path, who.token())
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }
}

fn question(text: &str) -> Value {
    json!({ "question": text })
}
