//! The live event feed across two API instances on one PostgreSQL: worker events reach
//! clients of either instance, orgs never see each other's, a reconnect with `since` gets
//! exactly what it missed, refusals, a dropped listener, and a slow client dropped alone.

use std::time::Duration;

use mediadocs_tests::{
    TestApp, TestContext,
    app::Account,
    feed::{self, ALLOWED_ORIGIN, FeedClient, Received, emit, try_open, ws_url},
    fixtures, wait,
};
use serde_json::{Value, json};

/// Two API instances on one test database, with `tune` applied to both's event settings.
async fn two_instances(
    ctx: &TestContext,
    tune: impl Fn(&mut mediadocs_settings::events::EventSettings),
) -> (TestApp, TestApp) {
    let spawn = || {
        let mut settings = ctx.api_settings();
        tune(&mut settings.events);
        TestApp::spawn_with(ctx, settings, ctx.pool.clone())
    };
    (spawn().await, spawn().await)
}

fn ids(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["id"].as_i64().expect("an event id"))
        .collect()
}

async fn note(ctx: &TestContext, who: &Account, n: i64) -> i64 {
    emit(
        &ctx.pool,
        who.org_id(),
        None,
        "test.note",
        json!({ "n": n }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_event_reaches_clients_on_either_instance() {
    use crate::providers::webhooks::{media, pipeline_result, sidecar, stack};
    let s = stack(Duration::from_secs(600)).await;
    let other = TestApp::spawn(&s.ctx).await;
    let owner = s.app.register("live@example.com").await;
    let (mut first, _) = feed::open(&s.app, &owner, None).await;
    let (mut second, _) = feed::open(&other, &owner, None).await;

    let bytes = media("live");
    s.sim.register(&bytes, sidecar());
    let id = s.app.upload(&owner, "live.wav", "audio/wav", &bytes).await;
    pipeline_result(&s.ctx, &id).await;

    let on_first = first.events_until("document.ready", &id).await;
    let on_second = second.events_until("document.ready", &id).await;
    assert_eq!(
        ids(&on_first),
        ids(&on_second),
        "both instances send the same feed"
    );
    let statuses: Vec<&str> = on_first
        .iter()
        .filter(|e| e["type"] == "recording.status_changed")
        .map(|e| e["payload"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "uploaded",
            "verifying",
            "transcribing",
            "generating",
            "embedding"
        ],
        "each status change, the API's (uploaded) and the worker's, in order"
    );
    let map: Vec<&Value> = on_first
        .iter()
        .filter(|e| e["type"] == "pipeline.progress" && e["payload"]["total"].is_number())
        .collect();
    let last = map.last().expect("map progress from the worker");
    assert_eq!(last["payload"]["done"], last["payload"]["total"], "{last}");
    assert_eq!(last["payload"]["percent"], 85);
    let ready = on_first.last().unwrap();
    assert_eq!(ready["payload"]["version"], 1, "{ready}");
    // The recording's completion commits with document.ready, right after it.
    let completed = first.event().await;
    assert_eq!(completed["payload"]["status"], "completed", "{completed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_of_one_org_receives_nothing_of_another() {
    let ctx = TestContext::new().await;
    let (a_app, b_app) = two_instances(&ctx, |_| {}).await;
    let alice = a_app.register("alice@a.example.com").await;
    let bob = b_app.register("bob@b.example.com").await;
    let (mut alice_feed, _) = feed::open(&a_app, &alice, None).await;
    let (mut bob_here, _) = feed::open(&b_app, &bob, None).await;
    let (mut bob_there, _) = feed::open(&a_app, &bob, None).await;

    // Org-wide, and for one user of org A only (another user of A's, here Bob's id).
    let a1 = note(&ctx, &alice, 1).await;
    emit(
        &ctx.pool,
        alice.org_id(),
        Some(bob.user_id()),
        "test.note",
        json!({"n": 2}),
    )
    .await;
    let a3 = note(&ctx, &alice, 3).await;
    assert_eq!(
        ids(&[alice_feed.event().await, alice_feed.event().await]),
        [a1, a3]
    );

    let b1 = note(&ctx, &bob, 1).await;
    for client in [&mut bob_here, &mut bob_there] {
        let first = client.event().await;
        assert_eq!(first["id"], b1, "org B's first event is its own: {first}");
    }
    let a4 = note(&ctx, &alice, 4).await;
    assert_eq!(
        alice_feed.event().await["id"],
        a4,
        "org A saw nothing of B's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resuming_with_since_delivers_exactly_the_missed_events_then_live_ones() {
    let ctx = TestContext::new().await;
    let (one, two) = two_instances(&ctx, |_| {}).await;
    let owner = one.register("resume@example.com").await;
    let (mut client, _) = feed::open(&one, &owner, None).await;
    let seen = note(&ctx, &owner, 0).await;
    assert_eq!(client.event().await["id"], seen);
    drop(client);

    let mut missed = Vec::new();
    for n in 1..=5 {
        missed.push(note(&ctx, &owner, n).await);
    }
    let (mut client, last) = feed::open(&two, &owner, Some(seen)).await;
    assert_eq!(
        ids(&client.replayed),
        missed,
        "exactly the missed events, in order"
    );
    assert_eq!(last, *missed.last().unwrap());
    let live = note(&ctx, &owner, 6).await;
    assert_eq!(client.event().await["id"], live, "then live ones");

    // The seam: events keep coming while the client reconnects; each one arrives once.
    let writer = {
        let pool = ctx.pool.clone();
        let org = owner.org_id();
        tokio::spawn(async move {
            let mut written = Vec::new();
            for n in 0..60 {
                written.push(emit(&pool, org, None, "test.note", json!({ "n": n })).await);
            }
            written
        })
    };
    let (mut client, _) = feed::open(&one, &owner, Some(live)).await;
    let written = writer.await.unwrap();
    let mut got = ids(&client.replayed);
    while got.last() != written.last() {
        got.push(client.event().await["id"].as_i64().unwrap());
    }
    assert_eq!(got, written, "no gap and no duplicate at the seam");

    // Server-Sent Events resume the same way, from Last-Event-ID.
    let response = one
        .authed(reqwest::Method::GET, "/api/events", owner.token())
        .header("last-event-id", written[57].to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = read_sse(response, 2).await;
    let sse_ids: Vec<i64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: ").or_else(|| l.strip_prefix("id:")))
        .map(|v| v.trim().parse().unwrap())
        .collect();
    assert_eq!(sse_ids, written[58..], "{text}");
    assert!(text.contains("event: ready"), "{text}");
}

/// The SSE body until `events` events with an id, and the ready marker, have arrived.
async fn read_sse(mut response: reqwest::Response, events: usize) -> String {
    let mut text = String::new();
    let complete = |text: &str| {
        text.lines().filter(|l| l.starts_with("id:")).count() >= events
            && text.contains("event: ready")
    };
    tokio::time::timeout(feed::PATIENCE, async {
        while !complete(&text) {
            let chunk = response.chunk().await.unwrap().expect("the stream goes on");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await
    .unwrap_or_else(|_| panic!("SSE events within the patience; got {text}"));
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_spent_and_expired_tickets_and_bad_origins_are_refused() {
    let ctx = TestContext::new().await;
    let (one, two) = two_instances(&ctx, |_| {}).await;
    let owner = one.register("refused@example.com").await;

    assert_eq!(
        try_open(&ws_url(&one, ""), Some(ALLOWED_ORIGIN))
            .await
            .err(),
        Some(401)
    );
    let forged = format!("mdt_{}", "A".repeat(43));
    assert_eq!(
        try_open(&ws_url(&one, &format!("ticket={forged}")), None)
            .await
            .err(),
        Some(401)
    );

    // A bad Origin is refused before the ticket is spent.
    let ticket = feed::ticket(&one, &owner).await;
    let url = ws_url(&two, &format!("ticket={ticket}"));
    assert_eq!(
        try_open(&url, Some("https://evil.example.com")).await.err(),
        Some(403)
    );
    // Redeemed on the other instance than the one that issued it, once.
    let client = try_open(&url, Some(ALLOWED_ORIGIN)).await;
    assert!(client.is_ok(), "a ticket works on any instance");
    assert_eq!(
        try_open(&url, Some(ALLOWED_ORIGIN)).await.err(),
        Some(401),
        "reused"
    );

    let ticket = feed::ticket(&one, &owner).await;
    sqlx::query("UPDATE ws_tickets SET expires_at = now() - interval '1 second'")
        .execute(&ctx.owner_pool)
        .await
        .unwrap();
    let url = ws_url(&one, &format!("ticket={ticket}"));
    assert_eq!(
        try_open(&url, Some(ALLOWED_ORIGIN)).await.err(),
        Some(401),
        "expired"
    );

    let response = one
        .authed(reqwest::Method::POST, "/api/ws-ticket", "not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_frame_closes_the_connection() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("big@example.com").await;
    let (mut client, _) = feed::open(&app, &owner, None).await;
    client.send_text("x".repeat(64 * 1024 + 1)).await;
    let (_, frame) = client.closed().await;
    let (code, reason) = frame.expect("a close frame");
    assert_eq!(code, 1009, "Message Too Big: {reason}");

    // At the limit is fine (and ignored).
    let (mut client, _) = feed::open(&app, &owner, None).await;
    client.send_text("x".repeat(64 * 1024)).await;
    let id = note(&ctx, &owner, 1).await;
    assert_eq!(client.event().await["id"], id);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_close_with_1008_when_the_token_expires_or_access_is_revoked() {
    let ctx = TestContext::new().await;
    let mut settings = ctx.api_settings();
    settings.auth.access_ttl = Duration::from_secs(2);
    settings.events.auth_check_interval = Duration::from_millis(200);
    let app = TestApp::spawn_with(&ctx, settings, ctx.pool.clone()).await;

    let owner = app.register("expiring@example.com").await;
    let (mut client, _) = feed::open(&app, &owner, None).await;
    let (_, frame) = client.closed().await;
    assert_eq!(
        frame,
        Some((1008, "access token expired".to_owned())),
        "closed when the token behind the ticket expires"
    );

    let member = app.register("removed@example.com").await;
    let (mut client, _) = feed::open(&app, &member, None).await;
    sqlx::query("DELETE FROM memberships WHERE user_id = $1")
        .bind(member.user_id())
        .execute(&ctx.owner_pool)
        .await
        .unwrap();
    let (_, frame) = client.closed().await;
    assert_eq!(
        frame,
        Some((1008, "access revoked".to_owned())),
        "removed from the org"
    );

    let leaving = app.register("logout@example.com").await;
    let (mut client, _) = feed::open(&app, &leaving, None).await;
    let logout = app
        .authed(reqwest::Method::POST, "/api/auth/logout", leaving.token())
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success());
    let (_, frame) = client.closed().await;
    assert_eq!(
        frame,
        Some((1008, "access revoked".to_owned())),
        "logged out"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_committed_while_the_listener_is_down_still_arrive() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("listener@example.com").await;
    let (mut client, _) = feed::open(&app, &owner, None).await;

    let killed: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&ctx.owner_pool)
    .await
    .unwrap();
    assert_eq!(killed.len(), 1, "one LISTEN connection per instance");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(killed[0])
        .execute(&ctx.owner_pool)
        .await
        .unwrap();
    let written = vec![note(&ctx, &owner, 1).await, note(&ctx, &owner, 2).await];
    let got = vec![client.event().await, client.event().await];
    assert_eq!(ids(&got), written);
    wait::until("a new LISTEN connection", Duration::from_secs(10), || async {
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(&ctx.owner_pool)
        .await
        .unwrap();
        (pids.len() == 1 && pids[0] != killed[0]).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_client_is_dropped_while_fast_clients_keep_receiving() {
    let ctx = TestContext::new().await;
    let mut settings = ctx.api_settings();
    settings.events.connection_buffer = 32;
    let app = TestApp::spawn_with(&ctx, settings, ctx.pool.clone()).await;
    let owner = app.register("slow@example.com").await;
    let (mut fast, _) = feed::open(&app, &owner, None).await;
    let mut slow = slow_client(&app, &owner).await;

    // Big events fill the socket buffers of a client that stops reading; then its buffer
    // in the server overflows. Each one is awaited by the fast client, so it never lags.
    let pad = "x".repeat(16 * 1024);
    let mut written = Vec::new();
    for n in 0..400 {
        let id = emit(
            &ctx.pool,
            owner.org_id(),
            None,
            "test.big",
            json!({"n": n, "pad": pad}),
        )
        .await;
        assert_eq!(
            fast.event().await["id"],
            id,
            "the fast client keeps receiving"
        );
        written.push(id);
    }

    let (events, frame) = slow.closed().await;
    let (code, reason) = frame.expect("the slow client gets a close frame");
    assert_eq!(code, 1013, "{reason}");
    assert!(reason.starts_with("too slow"), "{reason}");
    assert!(
        events.len() < written.len(),
        "it was dropped before the end"
    );
    assert_eq!(
        ids(&events),
        written[..events.len()],
        "what it got is in order"
    );
    let after = note(&ctx, &owner, 1).await;
    assert_eq!(
        fast.event().await["id"],
        after,
        "the fast client is still live"
    );
}

/// A client whose receive buffer is tiny, so the server's writes to it block soon after it
/// stops reading.
async fn slow_client(app: &TestApp, who: &Account) -> FeedClient<tokio::net::TcpStream> {
    let ticket = feed::ticket(app, who).await;
    let url = ws_url(app, &format!("ticket={ticket}"));
    let addr: std::net::SocketAddr = app.base_url.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(feed::request(&url, Some(ALLOWED_ORIGIN)), stream)
            .await
            .expect("the slow client connects");
    let mut client = FeedClient {
        ws,
        replayed: Vec::new(),
    };
    assert!(matches!(client.receive().await, Received::Ready(_)));
    client
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_recording_is_an_event_on_every_instance() {
    let ctx = TestContext::new().await;
    let (one, two) = two_instances(&ctx, |_| {}).await;
    let owner = one.register("deleting@example.com").await;
    let (mut client, _) = feed::open(&two, &owner, None).await;
    let recording = fixtures::recording(&ctx.owner_pool, owner.org_id(), "failed").await;
    let deleted = one
        .authed(
            reqwest::Method::DELETE,
            &format!("/api/recordings/{recording}"),
            owner.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let event = client.event().await;
    assert_eq!(event["type"], "recording.deleted");
    assert_eq!(event["payload"]["recording_id"], recording.to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn events_and_tickets_past_retention_are_pruned() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("retention@example.com").await;
    let kept = note(&ctx, &owner, 1).await;
    let old = note(&ctx, &owner, 2).await;
    sqlx::query("UPDATE events SET created_at = now() - interval '8 days' WHERE id = $1")
        .bind(old)
        .execute(&ctx.owner_pool)
        .await
        .unwrap();
    feed::ticket(&app, &owner).await;
    sqlx::query("UPDATE ws_tickets SET expires_at = now() - interval '1 second'")
        .execute(&ctx.owner_pool)
        .await
        .unwrap();

    let week = Duration::from_secs(7 * 24 * 3600);
    // As the application role, across orgs, through the owner's function.
    let pruned = mediadocs_api::events::retention::prune(&ctx.pool, week)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let left: Vec<i64> = sqlx::query_scalar("SELECT id FROM events ORDER BY id")
        .fetch_all(&ctx.owner_pool)
        .await
        .unwrap();
    assert_eq!(left, [kept]);
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM ws_tickets")
        .fetch_one(&ctx.owner_pool)
        .await
        .unwrap();
    assert_eq!(tickets, 0, "expired tickets go too");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_that_answers_no_ping_is_dropped_and_one_that_does_stays() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ctx = TestContext::new().await;
    let mut settings = ctx.api_settings();
    settings.events.ping_interval = Duration::from_millis(200);
    settings.events.pong_timeout = Duration::from_millis(300);
    let app = TestApp::spawn_with(&ctx, settings, ctx.pool.clone()).await;
    let owner = app.register("pings@example.com").await;
    let (mut alive, _) = feed::open(&app, &owner, None).await;
    // Reading all along, so it answers every ping.
    let alive = tokio::spawn(async move { alive.event().await });
    // tokio-tungstenite answers pings by itself whenever it reads, so the silent peer
    // speaks raw TCP: the upgrade, then nothing.
    let ticket = feed::ticket(&app, &owner).await;
    let host = app.base_url.trim_start_matches("http://");
    let mut silent = tokio::net::TcpStream::connect(host).await.unwrap();
    let upgrade = format!(
        "GET /ws?ticket={ticket} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    silent.write_all(upgrade.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(feed::PATIENCE, silent.read_to_end(&mut received))
        .await
        .expect("the server hangs up on the silent peer")
        .unwrap();
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(received.contains(&0x89), "it was pinged first");

    let id = note(&ctx, &owner, 1).await;
    assert_eq!(alive.await.unwrap()["id"], id, "a peer that answers stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feed_endpoints_are_documented_and_answer_problems() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in ["/ws", "/api/ws-ticket", "/api/events"] {
        assert!(spec["paths"][path].is_object(), "{path} is documented");
    }
    let plain = app.get("/ws?ticket=x").await;
    assert_eq!(plain.status(), 400, "not a WebSocket upgrade");
    assert_eq!(plain.headers()["content-type"], "application/problem+json");
    let sse = app.get("/api/events").await;
    assert_eq!(sse.status(), 401);
    let owner = app.register("problems@example.com").await;
    let bad = app
        .authed(reqwest::Method::GET, "/api/events?since=-1", owner.token())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}
