//! Chat's limits: the per-user token bucket and the org's daily LLM token budget. Both
//! answer 429 with Retry-After, and neither lets the request reach the model.

use std::num::NonZeroU32;

use super::{Chat, question};

#[tokio::test(flavor = "multi_thread")]
async fn the_per_user_bucket_refuses_a_burst_beyond_its_size() {
    let chat = Chat::start_with(|c| {
        c.burst = NonZeroU32::new(2).unwrap();
        c.requests_per_minute = NonZeroU32::new(1).unwrap();
    })
    .await;
    chat.billing().await;

    for _ in 0..2 {
        let (status, _, body) = chat
            .ask_json(&chat.alice, question("Which currency?"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, headers, problem) = chat
        .ask_json(&chat.alice, question("Which currency?"))
        .await;

    assert_eq!(status, 429, "{problem}");
    assert_eq!(headers["content-type"], "application/problem+json");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(chat.sim.calls().chat_requests, 2);

    // Another user has a bucket of their own.
    let bob = chat.app.register("bob@example.com").await;
    let (status, _, _) = chat.ask_json(&bob, question("Which currency?")).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exhausted_daily_budget_refuses_until_midnight_without_a_provider_call() {
    let chat = Chat::start_with(|c| c.daily_tokens_per_org = 50).await;
    chat.billing().await;

    // The first answer is allowed, and its tokens (well over 50) are counted.
    let (status, _, body) = chat
        .ask_json(&chat.alice, question("Which currency?"))
        .await;
    assert_eq!(status, 200, "{body}");
    let used = body["usage"]["total_tokens"].as_i64().unwrap();
    let counted: i64 = sqlx::query_scalar("SELECT tokens FROM llm_usage_daily WHERE org_id = $1")
        .bind(chat.alice.org_id())
        .fetch_one(&chat.ctx.owner_pool)
        .await
        .unwrap();
    assert_eq!(counted, used);
    assert!(used > 50);

    for accept in ["application/json", "text/event-stream"] {
        let response = chat
            .post(&chat.alice, accept, &question("And the ticket?"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=86_400).contains(&retry), "{retry}");
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 429);
    }
    assert_eq!(
        chat.sim.calls().chat_requests,
        1,
        "no call after the budget ran out"
    );

    // Other orgs have budgets of their own.
    let bob = chat.app.register("bob@example.com").await;
    let (status, _, _) = chat.ask_json(&bob, question("Anything?")).await;
    assert_eq!(status, 200);
}
