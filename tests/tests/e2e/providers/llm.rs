//! The LLM chat client against the OpenAI simulator: answers, retries, permanent and
//! retryable failures, timeouts, and streams that end early on either side.

use std::time::{Duration, Instant};

use futures::StreamExt;
use mediadocs_dev::openai::OpenAiSimulator;
use mediadocs_providers::llm::{ChatClient, ChatRequest, LlmError, LlmSettings, StreamEvent};
use mediadocs_tests::wait;

fn settings(sim: &OpenAiSimulator) -> LlmSettings {
    let mut settings = LlmSettings::for_base_url(sim.base_url().parse().unwrap(), "gpt-4o-mini");
    settings.timeout = Duration::from_secs(10);
    settings.stream_idle_timeout = Duration::from_secs(5);
    settings
}

fn client(settings: &LlmSettings) -> ChatClient {
    ChatClient::new(settings).expect("a chat client")
}

fn request(text: &str) -> ChatRequest {
    ChatRequest::new("You write meeting notes.").user(text)
}

const ASK: &str = "Summarise: the upload pipeline now resumes interrupted transfers";

/// Everything the stream yields: the deltas joined, then the last event or error.
async fn drain(
    stream: impl futures::Stream<Item = Result<StreamEvent, LlmError>>,
) -> (String, Vec<Result<StreamEvent, LlmError>>) {
    let (mut text, mut tail) = (String::new(), Vec::new());
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(StreamEvent::Delta(delta)) => text.push_str(&delta),
            other => tail.push(other),
        }
    }
    (text, tail)
}

#[tokio::test]
async fn complete_returns_the_answer_and_its_usage() {
    let sim = OpenAiSimulator::start().await;
    let llm = client(&settings(&sim));

    let answer = llm.complete(&request(ASK)).await.unwrap();

    assert!(
        answer
            .text
            .contains("\"Summarise: the upload pipeline now resumes"),
        "{}",
        answer.text
    );
    assert_eq!(answer.model, "simulated-gpt-4o-mini");
    assert_eq!(answer.finish_reason, "stop");
    assert_eq!(answer.usage.prompt_tokens, 4 + 8, "system and user words");
    assert_eq!(
        answer.usage.completion_tokens as usize,
        answer.text.split_whitespace().count()
    );
    assert_eq!(
        answer.usage.total,
        answer.usage.prompt_tokens + answer.usage.completion_tokens
    );
    let other = llm
        .complete(&request("A different question entirely"))
        .await
        .unwrap();
    assert_ne!(
        other.text, answer.text,
        "different prompts, different answers"
    );
    assert_eq!(sim.calls().chat_requests, 2);
}

#[tokio::test]
async fn stream_yields_the_same_answer_in_pieces_then_usage() {
    let sim = OpenAiSimulator::start().await;
    let llm = client(&settings(&sim));
    let whole = llm.complete(&request(ASK)).await.unwrap();

    let (text, tail) = drain(llm.stream(&request(ASK)).await.unwrap()).await;

    assert_eq!(text, whole.text);
    match tail.as_slice() {
        [
            Ok(StreamEvent::Finished {
                finish_reason,
                usage: Some(usage),
            }),
        ] => {
            assert_eq!(finish_reason, "stop");
            assert_eq!(*usage, whole.usage);
        }
        other => panic!("expected one Finished with usage, got {other:?}"),
    }
    let calls = sim.calls();
    assert_eq!(calls.streaming_requests, 1);
    assert_eq!(
        calls.tokens_sent,
        2 * u64::from(whole.usage.completion_tokens)
    );
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_servers_retry_after() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| {
        k.rate_limit_next = 2;
        k.retry_after_secs = 1;
    });
    let llm = client(&settings(&sim));

    let started = Instant::now();
    let answer = llm.complete(&request(ASK)).await.unwrap();

    assert!(!answer.text.is_empty());
    assert_eq!(sim.calls().chat_requests, 3, "two 429s, then the answer");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_timeout_fails_at_once_and_retryably() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| {
        k.rate_limit_next = 1;
        k.retry_after_secs = 60;
    });
    let mut settings = settings(&sim);
    settings.timeout = Duration::from_secs(5);

    let started = Instant::now();
    let error = client(&settings).complete(&request(ASK)).await.unwrap_err();

    assert!(matches!(error, LlmError::RateLimited(_)), "{error}");
    assert!(error.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(sim.calls().chat_requests, 1);
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| k.server_error_next = 1);

    let answer = client(&settings(&sim))
        .complete(&request(ASK))
        .await
        .unwrap();

    assert!(!answer.text.is_empty());
    assert_eq!(sim.calls().chat_requests, 2);
}

#[tokio::test]
async fn server_errors_beyond_the_retries_are_retryable_errors() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| k.server_error_next = 10);
    let mut settings = settings(&sim);
    settings.max_retries = 2;

    let error = client(&settings).complete(&request(ASK)).await.unwrap_err();

    assert!(matches!(error, LlmError::Unavailable(_)), "{error}");
    assert!(error.is_retryable());
    assert_eq!(sim.calls().chat_requests, 3);
}

#[tokio::test]
async fn a_wrong_key_is_permanent_and_not_retried() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| k.api_key = Some("sk-right".into()));
    let mut settings = settings(&sim);
    settings.api_key = Some("sk-wrong".to_owned().into());

    let error = client(&settings).complete(&request(ASK)).await.unwrap_err();

    assert!(
        matches!(error, LlmError::Unauthorized { status: 401, .. }),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert_eq!(sim.calls().chat_requests, 1);

    settings.api_key = Some("sk-right".to_owned().into());
    client(&settings)
        .complete(&request(ASK))
        .await
        .expect("the right key works");
}

#[tokio::test]
async fn a_content_policy_refusal_is_permanent_and_not_retried() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| k.content_policy_next = 1);

    let error = client(&settings(&sim))
        .complete(&request(ASK))
        .await
        .unwrap_err();

    assert!(matches!(error, LlmError::ContentPolicy(_)), "{error}");
    assert!(!error.is_retryable());
    assert_eq!(sim.calls().chat_requests, 1);
}

#[tokio::test]
async fn malformed_and_empty_answers_are_retryable_errors() {
    let sim = OpenAiSimulator::start().await;
    let llm = client(&settings(&sim));

    sim.set(|k| k.malformed_next = 1);
    let error = llm.complete(&request(ASK)).await.unwrap_err();
    assert!(
        matches!(error, LlmError::Malformed(_)) && error.is_retryable(),
        "{error}"
    );

    sim.set(|k| k.empty_next = 1);
    let error = llm.complete(&request(ASK)).await.unwrap_err();
    assert!(
        matches!(error, LlmError::Empty { .. }) && error.is_retryable(),
        "{error}"
    );

    sim.set(|k| k.malformed_next = 1);
    let (_, tail) = drain(llm.stream(&request(ASK)).await.unwrap()).await;
    assert!(
        matches!(tail.as_slice(), [Err(LlmError::Malformed(_))]),
        "{tail:?}"
    );

    sim.set(|k| k.empty_next = 1);
    let (text, tail) = drain(llm.stream(&request(ASK)).await.unwrap()).await;
    assert_eq!(text, "");
    assert!(
        matches!(tail.as_slice(), [Err(LlmError::Empty { .. })]),
        "{tail:?}"
    );
    assert_eq!(
        sim.calls().chat_requests,
        4,
        "none of these is retried within the call"
    );
}

#[tokio::test]
async fn a_stream_the_server_cuts_short_is_a_retryable_error() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| k.drop_stream_after_tokens = Some(3));

    let (text, tail) = drain(client(&settings(&sim)).stream(&request(ASK)).await.unwrap()).await;

    assert_eq!(text.split_whitespace().count(), 3);
    match tail.as_slice() {
        [Err(error @ LlmError::Interrupted(_))] => assert!(error.is_retryable()),
        other => panic!("expected one Interrupted error, got {other:?}"),
    }
    assert_eq!(
        sim.calls().streams_abandoned,
        0,
        "the simulator cut it, not the client"
    );
}

#[tokio::test]
async fn dropping_our_stream_stops_the_upstream_generation() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| {
        k.reply_words = Some(1000);
        k.inter_token_delay_ms = 10;
    });
    let mut stream = Box::pin(client(&settings(&sim)).stream(&request(ASK)).await.unwrap());
    for _ in 0..3 {
        assert!(matches!(
            stream.next().await,
            Some(Ok(StreamEvent::Delta(_)))
        ));
    }

    drop(stream);

    wait::until(
        "the simulator to see the stream abandoned",
        Duration::from_secs(1),
        || async { (sim.calls().streams_abandoned == 1).then_some(()) },
    )
    .await;
    let sent = sim.calls().tokens_sent;
    assert!(
        sent < 100,
        "generation stopped early, not after {sent} tokens"
    );
    // Proving that nothing more happens needs a window of time: 30 token intervals.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sim.calls().tokens_sent,
        sent,
        "no tokens after the client left"
    );
    assert_eq!(sim.calls().in_flight, 0);
}

#[tokio::test]
async fn a_slow_first_token_times_out_both_calls() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| k.time_to_first_token_ms = 3_000);
    let mut settings = settings(&sim);
    settings.timeout = Duration::from_millis(400);
    let llm = client(&settings);

    let started = Instant::now();
    let error = llm.complete(&request(ASK)).await.unwrap_err();
    assert!(
        matches!(error, LlmError::Timeout(_)) && error.is_retryable(),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let outcome = match llm.stream(&request(ASK)).await {
        Err(error) => vec![Err(error)],
        Ok(stream) => drain(stream).await.1,
    };
    assert!(
        matches!(outcome.as_slice(), [Err(LlmError::Timeout(_))]),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_stream_that_stalls_after_starting_times_out() {
    let sim = OpenAiSimulator::start().await;
    sim.set(|k| k.inter_token_delay_ms = 3_000);
    let mut settings = settings(&sim);
    settings.stream_idle_timeout = Duration::from_millis(300);

    let started = Instant::now();
    let (text, tail) = drain(client(&settings).stream(&request(ASK)).await.unwrap()).await;

    assert_eq!(
        text.split_whitespace().count(),
        1,
        "the first token came at once"
    );
    assert!(
        matches!(tail.as_slice(), [Err(LlmError::Timeout(_))]),
        "{tail:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}
