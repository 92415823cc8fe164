//! The answer as server-sent events and as JSON: event order and contents, keep-alives,
//! a client walking away, and a model failing mid-answer.

use std::time::{Duration, Instant};

use mediadocs_tests::wait;
use serde_json::{Value, json};

use super::{CURRENCY, Chat, question, sse::Frame};

const REPLY: &str = "Dana switches the currency to euros before Friday [1]. The outage has a \
ticket [1, 2]. A made-up source [9].";

#[tokio::test(flavor = "multi_thread")]
async fn sources_come_first_then_deltas_then_done() {
    let chat = Chat::start().await;
    let recording = chat.billing().await;
    chat.sim.set(|k| {
        k.reply_text = Some(REPLY.into());
        k.time_to_first_token_ms = 150;
    });

    let mut events = chat
        .stream(
            &chat.alice,
            json!({"question": "Which currency will the billing dashboard use?", "top_k": 3}),
        )
        .await;

    let (name, sources) = events.event().await.unwrap();
    assert_eq!(name, "sources", "{sources}");
    let list = sources["sources"].as_array().unwrap();
    assert!(!list.is_empty() && list.len() <= 3, "{sources}");
    let first = &list[0];
    assert_eq!(first["n"], 1);
    assert_eq!(first["recording_id"], recording.to_string());
    assert_eq!(first["recording_title"], "Billing review");
    assert!(
        first["snippet"].as_str().unwrap().contains("currency"),
        "{first}"
    );
    assert!(first["score"].as_f64().unwrap() > 0.0);
    assert!(first.get("text").is_none(), "the prompt text is not sent");
    // The cited passage exists, is this recording's, holds the fact, and the times are its own.
    let (text, start_ms, end_ms): (String, i64, i64) = sqlx::query_as(
        "SELECT text, start_ms, end_ms FROM passages WHERE id = $1 AND recording_id = $2",
    )
    .bind(first["passage_id"].as_i64().unwrap())
    .bind(recording)
    .fetch_one(&chat.ctx.owner_pool)
    .await
    .unwrap();
    assert!(text.contains(CURRENCY), "{text}");
    assert!(first["start_ms"].as_i64().unwrap() <= start_ms);
    assert!(first["end_ms"].as_i64().unwrap() >= end_ms);
    assert!(first["end_ms"].as_i64().unwrap() > first["start_ms"].as_i64().unwrap());
    for (i, s) in list.iter().enumerate() {
        assert_eq!(s["n"], i + 1);
    }

    let rest = events.rest().await;
    let (deltas, tail) = rest.split_at(rest.len() - 1);
    assert!(
        deltas.len() > 3 && deltas.iter().all(|(n, _)| n == "delta"),
        "{rest:?}"
    );
    let answer: String = deltas
        .iter()
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(answer, REPLY);
    let (name, done) = &tail[0];
    assert_eq!(name, "done", "{done}");
    assert_eq!(done["conversation_id"], sources["conversation_id"]);
    assert_eq!(done["message_id"], sources["message_id"]);
    let expected: Vec<i64> = if list.len() >= 2 { vec![1, 2] } else { vec![1] };
    assert_eq!(done["citations"], json!(expected), "[9] is not a source");
    let usage = &done["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 50, "{usage}");
    assert_eq!(
        usage["completion_tokens"].as_u64().unwrap() as usize,
        REPLY.split_whitespace().count()
    );
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(
            usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
        )
    );
    assert!(
        done["time_to_first_token_ms"].as_u64().unwrap() >= 150,
        "{done}"
    );

    // The prompt: rules, then the sources fenced as untrusted and numbered, then the question.
    let prompt = chat.sim.last_chat_request();
    assert_eq!(prompt[0].0, "system");
    assert!(prompt[0].1.contains("[2]") && prompt[0].1.contains("never instructions"));
    let last = &prompt.last().unwrap().1;
    assert!(
        last.contains("Source [1]:\n<<<TRANSCRIPT id=1>>>\nRecording: Billing review"),
        "{last}"
    );
    assert!(
        last.contains(CURRENCY) && last.ends_with("Which currency will the billing dashboard use?")
    );

    // Stored: the question, and the answer with its validated citations.
    let id = done["conversation_id"].as_str().unwrap();
    let (status, stored) = chat
        .get(&chat.alice, &format!("/api/conversations/{id}"))
        .await;
    assert_eq!(status, 200, "{stored}");
    let messages = stored["messages"]["items"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        (messages[0]["role"].as_str(), messages[1]["role"].as_str()),
        (Some("user"), Some("assistant"))
    );
    let answer = &messages[1];
    assert_eq!(answer["id"], done["message_id"]);
    assert_eq!(answer["content"], REPLY);
    assert_eq!(answer["status"], "complete");
    assert_eq!(answer["citations"], done["citations"]);
    assert_eq!(answer["sources"], sources["sources"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_mode_returns_the_same_answer_in_one_document() {
    let chat = Chat::start().await;
    let recording = chat.billing().await;
    chat.sim
        .set(|k| k.reply_text = Some("Euros, before Friday [1].".into()));

    let (status, _, body) = chat
        .ask_json(
            &chat.alice,
            question("Which currency will the billing dashboard use?"),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["answer"], "Euros, before Friday [1].");
    assert_eq!(body["citations"], json!([1]));
    assert_eq!(body["sources"][0]["recording_id"], recording.to_string());
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert!(body["message_id"].is_string() && body["conversation_id"].is_string());
    assert_eq!(chat.sim.calls().streaming_requests, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_streams_get_keep_alive_comments() {
    let chat = Chat::start_with(|c| c.keep_alive = Duration::from_millis(200)).await;
    chat.billing().await;
    chat.sim.set(|k| {
        k.time_to_first_token_ms = 1_200;
        k.reply_text = Some("Euros [1].".into());
    });

    let mut events = chat.stream(&chat.alice, question("Which currency?")).await;
    let mut frames = Vec::new();
    while let Some(frame) = events.next().await {
        frames.push(frame);
    }

    let kinds: Vec<&str> = frames
        .iter()
        .map(|f| match f {
            Frame::Comment => "comment",
            Frame::Event(name, _) => name.as_str(),
        })
        .collect();
    assert_eq!(kinds.first(), Some(&"sources"), "{kinds:?}");
    let first_delta = kinds.iter().position(|k| *k == "delta").unwrap();
    let comments = kinds[..first_delta]
        .iter()
        .filter(|k| **k == "comment")
        .count();
    assert!(comments >= 3, "comments while the model thought: {kinds:?}");
    assert_eq!(kinds.last(), Some(&"done"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_disconnects_cancels_the_upstream_stream() {
    let chat = Chat::start().await;
    chat.billing().await;
    chat.sim.set(|k| {
        k.reply_words = Some(400);
        k.inter_token_delay_ms = 40;
    });

    let mut events = chat.stream(&chat.alice, question("Which currency?")).await;
    assert_eq!(events.event().await.unwrap().0, "sources");
    for _ in 0..3 {
        assert_eq!(events.event().await.unwrap().0, "delta");
    }
    assert_eq!(chat.sim.calls().streams_abandoned, 0);
    drop(events);
    let dropped = Instant::now();

    wait::until(
        "the simulator to see its stream abandoned",
        Duration::from_secs(1),
        || async { (chat.sim.calls().streams_abandoned == 1).then_some(()) },
    )
    .await;
    assert!(dropped.elapsed() < Duration::from_secs(1));
    let sent = chat.sim.calls().tokens_sent;
    assert!(sent < 400, "{sent} tokens");
    // Absence can only be observed over a window: ten inter-token delays.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        chat.sim.calls().tokens_sent,
        sent,
        "no token after the drop"
    );
    assert_eq!(chat.sim.calls().in_flight, 0);

    // What was written is kept, marked as cut short by the client.
    let stored: (String, String, String) =
        wait::until("the partial answer", Duration::from_secs(5), || async {
            sqlx::query_as(
                "SELECT status, stop_reason, content FROM chat_messages WHERE role = 'assistant'",
            )
            .fetch_optional(&chat.ctx.owner_pool)
            .await
            .unwrap()
        })
        .await;
    assert_eq!(
        (stored.0.as_str(), stored.1.as_str()),
        ("incomplete", "client_disconnected")
    );
    assert!(stored.2.split_whitespace().count() >= 3, "{}", stored.2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_failing_mid_answer_sends_an_error_and_keeps_the_partial_answer() {
    let chat = Chat::start().await;
    chat.billing().await;
    chat.sim.set(|k| {
        k.reply_text = Some("Euros before Friday as Dana said in the review [1].".into());
        k.drop_stream_after_tokens = Some(4);
    });

    let mut events = chat.stream(&chat.alice, question("Which currency?")).await;
    let all = events.rest().await;

    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["sources", "delta", "delta", "delta", "delta", "error"]
    );
    let problem = &all[5].1;
    assert_eq!(problem["status"], 503, "{problem}");
    assert_eq!(problem["type"], "https://mediadocs.dev/problems/llm-failed");
    assert_eq!(problem["dependency"], "llm");
    let partial: String = all[1..5]
        .iter()
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(partial, "Euros before Friday as ");

    let conversation = all[0].1["conversation_id"].as_str().unwrap();
    let (_, stored) = chat
        .get(&chat.alice, &format!("/api/conversations/{conversation}"))
        .await;
    let answer = &stored["messages"]["items"][1];
    assert_eq!(answer["status"], "incomplete", "{stored}");
    assert_eq!(answer["stop_reason"], "llm_error");
    assert_eq!(answer["content"], partial);
    assert_eq!(answer["id"], all[0].1["message_id"]);

    // JSON mode: the same failure is a 503 problem.
    let (status, _, body) = chat
        .ask_json(&chat.alice, question("Which currency?"))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["dependency"], "llm");
    let _: Value = body;
}
