//! Bad questions and scopes, an org with nothing indexed, and search's tenancy.

use serde_json::json;
use uuid::Uuid;

use super::{Chat, TICKET, index, indexed_recording, question, transcript_of};

#[track_caller]
fn assert_problem(status: u16, body: &serde_json::Value, expected: u16, field: Option<&str>) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status"], expected, "a problem document: {body}");
    if let Some(field) = field {
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_questions_and_scopes_are_refused_before_any_model_call() {
    let chat = Chat::start().await;
    chat.billing().await;
    let bob = chat.app.register("bob@example.com").await;
    let bobs = indexed_recording(&chat.ctx, bob.org_id(), "Bob's", &[TICKET]).await;

    for (body, field) in [
        (question(""), "question"),
        (question("  \n\t "), "question"),
        (question(&"x".repeat(2001)), "question"),
        (json!({"question": "ok?", "top_k": 0}), "top_k"),
        (json!({"question": "ok?", "top_k": 21}), "top_k"),
        (
            json!({"question": "ok?", "recording_ids": []}),
            "recording_ids",
        ),
    ] {
        let (status, headers, problem) = chat.ask_json(&chat.alice, body).await;
        assert_problem(status, &problem, 422, Some(field));
        assert_eq!(headers["content-type"], "application/problem+json");
    }
    // 2,000 characters is still a question.
    let (status, _, _) = chat
        .ask_json(&chat.alice, question(&"é".repeat(2000)))
        .await;
    assert_eq!(status, 200);
    let calls = chat.sim.calls().chat_requests;

    // Another org's recording, and conversations that are not the caller's, look missing.
    let (status, _, problem) = chat
        .ask_json(
            &chat.alice,
            json!({"question": "What is OPS-4521?", "recording_ids": [bobs]}),
        )
        .await;
    assert_problem(status, &problem, 404, None);
    let (status, _, problem) = chat
        .ask_json(
            &chat.alice,
            json!({"question": "hi", "conversation_id": Uuid::now_v7()}),
        )
        .await;
    assert_problem(status, &problem, 404, None);
    let (_, _, bobs_answer) = chat.ask_json(&bob, question("What is OPS-4521?")).await;
    let bobs_conversation = bobs_answer["conversation_id"].as_str().unwrap();
    let (status, _, problem) = chat
        .ask_json(
            &chat.alice,
            json!({"question": "hi", "conversation_id": bobs_conversation}),
        )
        .await;
    assert_problem(status, &problem, 404, None);
    let (status, problem) = chat
        .get(
            &chat.alice,
            &format!("/api/conversations/{bobs_conversation}"),
        )
        .await;
    assert_problem(status, &problem, 404, None);

    assert_eq!(
        chat.sim.calls().chat_requests,
        calls + 1,
        "only Bob's question reached the model"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_org_with_nothing_indexed_gets_a_plain_answer_without_a_model_call() {
    let chat = Chat::start().await;

    let mut events = chat
        .stream(&chat.alice, question("What did we decide about pricing?"))
        .await;
    let all = events.rest().await;

    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sources", "delta", "done"], "{all:?}");
    assert_eq!(all[0].1["sources"], json!([]));
    let text = all[1].1["text"].as_str().unwrap();
    assert!(text.contains("found nothing relevant"), "{text}");
    assert_eq!(all[2].1["citations"], json!([]));
    assert_eq!(all[2].1["usage"]["total_tokens"], 0);
    assert!(all[2].1["time_to_first_token_ms"].is_null());
    assert_eq!(chat.sim.calls().chat_requests, 0);

    // Scoped to a recording without passages (not embedded yet): the same.
    let bare = mediadocs_tests::fixtures::recording(
        &chat.ctx.owner_pool,
        chat.alice.org_id(),
        "transcribing",
    )
    .await;
    let (status, _, body) = chat
        .ask_json(
            &chat.alice,
            json!({"question": "Anything?", "recording_ids": [bare]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sources"], json!([]));
    assert_eq!(chat.sim.calls().chat_requests, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn search_is_hybrid_and_confined_to_the_org_and_scope() {
    let chat = Chat::start().await;
    let billing = chat.billing().await;
    let other = indexed_recording(&chat.ctx, chat.alice.org_id(), "Planning", &[]).await;
    let bob = chat.app.register("bob@example.com").await;
    let bobs = indexed_recording(&chat.ctx, bob.org_id(), "Bob's billing", &[TICKET]).await;

    // A code: found by its words, in Alice's recording only.
    let (status, found) = chat.get(&chat.alice, "/api/search?q=OPS-4521").await;
    assert_eq!(status, 200, "{found}");
    let results = found["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert_eq!(results[0]["recording_id"], billing.to_string(), "{found}");
    assert!(results[0]["snippet"].as_str().unwrap().contains("OPS-4521"));
    assert!(
        results
            .iter()
            .all(|r| r["recording_id"] != bobs.to_string())
    );
    let (_, bobs_found) = chat.get(&bob, "/api/search?q=OPS-4521").await;
    let bobs_results = bobs_found["results"].as_array().unwrap();
    assert!(!bobs_results.is_empty());
    assert!(
        bobs_results
            .iter()
            .all(|r| r["recording_id"] == bobs.to_string()),
        "{bobs_found}"
    );

    // A paraphrase sharing no word with its answer: found by meaning alone.
    let baking = index(
        &chat.ctx,
        chat.alice.org_id(),
        "Kitchen chat",
        &transcript_of(&[
            "Grandma's sourdough bread recipe uses rye flour, honey and a cast iron pot.",
            "The dough rests overnight and goes into a very hot oven in the morning.",
        ]),
    )
    .await;
    let (_, found) = chat
        .get(
            &chat.alice,
            "/api/search?q=how%20to%20bake%20a%20loaf%20at%20home&limit=3",
        )
        .await;
    assert_eq!(
        found["results"][0]["recording_id"],
        baking.to_string(),
        "{found}"
    );
    assert_eq!(found["results"][0]["recording_title"], "Kitchen chat");

    // Scoped to one recording: only it.
    let (_, scoped) = chat
        .get(
            &chat.alice,
            &format!("/api/search?q=currency&recording_ids={other}"),
        )
        .await;
    let scoped = scoped["results"].as_array().unwrap();
    assert!(
        !scoped.is_empty()
            && scoped
                .iter()
                .all(|r| r["recording_id"] == other.to_string())
    );

    // Another org's recording as scope: 404; bad input: 422.
    let (status, problem) = chat
        .get(
            &chat.alice,
            &format!("/api/search?q=x&recording_ids={bobs}"),
        )
        .await;
    assert_problem(status, &problem, 404, None);
    for (path, field) in [
        ("/api/search?q=%20", "q"),
        ("/api/search?q=x&limit=50", "limit"),
        ("/api/search?q=x&recording_ids=nope", "recording_ids"),
    ] {
        let (status, problem) = chat.get(&chat.alice, path).await;
        assert_problem(status, &problem, 422, Some(field));
    }
    let (status, _) = chat.get(&chat.alice, "/api/search").await;
    assert_eq!(status, 422);
}
