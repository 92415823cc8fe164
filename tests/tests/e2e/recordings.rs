//! Recordings and presigned, resumable multipart uploads against a real S3 server.

use std::time::Duration;

use mediadocs_tests::{TestApp, TestContext, TestWorker, api_client::json_of, app::Account, wait};
use reqwest::Method;
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;

/// Deterministic bytes that differ from part to part, so a misplaced part shows.
fn media_bytes(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / 4096) % 251) as u8)
        .collect()
}

/// PUTs one part with plain HTTP, as a browser would, and returns its ETag.
async fn put_part(http: &reqwest::Client, url: &str, bytes: &[u8]) -> reqwest::Response {
    http.put(url).body(bytes.to_vec()).send().await.unwrap()
}

fn part_bytes(data: &[u8], part_size: usize, n: usize) -> &[u8] {
    &data[(n - 1) * part_size..(n * part_size).min(data.len())]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_50_mb_upload_goes_straight_to_s3_and_round_trips() {
    let ctx = TestContext::new().await;
    let _worker = TestWorker::spawn(&ctx);
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("uploader@example.com").await;
    let data = media_bytes(50 * MIB + 12_345);
    let created = app
        .create_recording(&owner, "talk.webm", "video/webm", data.len())
        .await
        .body;
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["recording"]["status"], "uploading");
    assert_eq!(created["upload"]["part_size"], 8 * MIB);
    assert_eq!(created["upload"]["part_count"], 7);
    let urls = created["upload"]["parts"].as_array().unwrap();
    assert_eq!(urls.len(), 7);

    let mut etags = Vec::new();
    for url in urls {
        let n = url["part_number"].as_u64().unwrap() as usize;
        let r = put_part(
            &app.http,
            url["url"].as_str().unwrap(),
            part_bytes(&data, 8 * MIB, n),
        )
        .await;
        assert_eq!(r.status(), 200, "PUT part {n}");
        etags.push((n as i64, r.headers()["etag"].to_str().unwrap().to_owned()));
    }
    let (status, recording) = app.complete_upload(&owner, &id, &etags).await;
    assert_eq!(status, 200, "{recording}");
    assert_eq!(recording["status"], "uploaded");
    assert_eq!(
        recording["workflow_id"],
        mediadocs_workflows::names::pipeline_workflow_id(&id)
    );

    let key = format!("orgs/{}/recordings/{id}/source.webm", owner.org_id());
    let object = ctx
        .s3
        .get_object()
        .bucket(&ctx.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let stored = object.body.collect().await.unwrap().into_bytes();
    assert!(
        stored.as_ref() == data.as_slice(),
        "the stored object is the uploaded file, byte for byte"
    );

    // The pipeline's verify stage picks it up; these bytes are no media format, so it fails
    // there, at once, with a reason fit for the owner.
    let failed = app
        .wait_for_status(&owner, &id, "failed", Duration::from_secs(30))
        .await;
    assert_eq!(failed["failed_stage"], "verify", "{failed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_client_resumes_from_what_s3_holds() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("resumer@example.com").await;
    let data = media_bytes(50 * MIB);
    let created = app
        .create_recording(&owner, "talk.webm", "video/webm", data.len())
        .await
        .body;
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    for url in &created["upload"]["parts"].as_array().unwrap()[..3] {
        let n = url["part_number"].as_u64().unwrap() as usize;
        put_part(
            &app.http,
            url["url"].as_str().unwrap(),
            part_bytes(&data, 8 * MIB, n),
        )
        .await;
    }
    drop(created); // the client crashes and forgets everything but the recording id

    let (status, state) = json_of(
        app.authed(
            Method::GET,
            &format!("/api/recordings/{id}/upload"),
            owner.token(),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let held: Vec<i64> = state["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["part_number"].as_i64().unwrap())
        .collect();
    assert_eq!(held, [1, 2, 3]);
    let count = state["part_count"].as_i64().unwrap();
    let missing: Vec<Value> = (4..=count).map(|n| json!({"part_number": n})).collect();
    let (status, urls) = json_of(
        app.authed(
            Method::POST,
            &format!("/api/recordings/{id}/upload/parts"),
            owner.token(),
        )
        .json(&json!({"parts": missing}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    for url in urls["parts"].as_array().unwrap() {
        let n = url["part_number"].as_u64().unwrap() as usize;
        assert_eq!(
            put_part(
                &app.http,
                url["url"].as_str().unwrap(),
                part_bytes(&data, 8 * MIB, n)
            )
            .await
            .status(),
            200
        );
    }
    let (_, state) = json_of(
        app.authed(
            Method::GET,
            &format!("/api/recordings/{id}/upload"),
            owner.token(),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let parts: Vec<(i64, String)> = state["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["part_number"].as_i64().unwrap(),
                p["etag"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(parts.len(), 7);
    let (status, recording) = app.complete_upload(&owner, &id, &parts).await;
    assert_eq!(status, 200, "{recording}");
}

async fn uploaded_single_part(
    app: &TestApp,
    owner: &Account,
    size: usize,
) -> (String, Vec<(i64, String)>) {
    let created = app
        .create_recording(owner, "talk.webm", "video/webm", size)
        .await
        .body;
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let url = created["upload"]["parts"][0]["url"].as_str().unwrap();
    let r = put_part(&app.http, url, &media_bytes(size)).await;
    (
        id,
        vec![(1, r.headers()["etag"].to_str().unwrap().to_owned())],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_completes_start_one_workflow() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("racer@example.com").await;
    let (id, parts) = uploaded_single_part(&app, &owner, 300_000).await;

    let ((a, ra), (b, rb)) = tokio::join!(
        app.complete_upload(&owner, &id, &parts),
        app.complete_upload(&owner, &id, &parts)
    );
    assert_eq!((a.as_u16(), b.as_u16()), (200, 200), "{ra} {rb}");
    assert_eq!(ra["workflow_id"], rb["workflow_id"]);
    let (again, _) = app.complete_upload(&owner, &id, &parts).await;
    assert_eq!(again, 200, "a late repeat is still fine");

    let query = format!("WorkflowId = 'recording-{id}'");
    let count = wait::until(
        "visibility to list the workflow",
        Duration::from_secs(20),
        || async {
            let n = ctx
                .temporal
                .count_workflows(query.as_str(), Default::default())
                .await
                .ok()?
                .count();
            (n > 0).then_some(n)
        },
    )
    .await;
    assert_eq!(count, 1, "exactly one pipeline run");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_upload_expires() {
    let ctx = TestContext::new().await;
    let _worker = TestWorker::spawn(&ctx);
    let mut settings = ctx.api_settings();
    settings.uploads.upload_ttl = Duration::from_secs(2);
    let app = TestApp::spawn_with(&ctx, settings, ctx.pool.clone()).await;
    let owner = app.register("abandoner@example.com").await;
    let created = &app
        .create_recording(&owner, "talk.webm", "video/webm", 1000)
        .await
        .body;
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let url = created["upload"]["parts"][0]["url"].as_str().unwrap();
    let upload_id = url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "uploadId")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(
        put_part(&app.http, url, &media_bytes(1000)).await.status(),
        200
    );

    let recording = app
        .wait_for_status(&owner, &id, "expired", Duration::from_secs(30))
        .await;
    assert!(
        recording["status_reason"]
            .as_str()
            .unwrap()
            .contains("not completed")
    );
    // The upload is gone from S3: unknown to ListParts (S3), or holding no parts (s3s-fs).
    let key = format!("orgs/{}/recordings/{id}/source.webm", owner.org_id());
    let parts = ctx
        .s3
        .list_parts()
        .bucket(&ctx.bucket)
        .key(&key)
        .upload_id(&upload_id)
        .send()
        .await;
    assert!(
        parts.map_or(true, |p| p.parts().is_empty()),
        "the multipart upload was aborted"
    );
    let late = app
        .authed(
            Method::GET,
            &format!("/api/recordings/{id}/upload"),
            owner.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 409);
    // Its timer workflow has finished; deleting still works.
    assert_eq!(app.delete_recording(&owner, &id).await, 204);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_recordings_are_refused_clearly() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("picky@example.com").await;
    let too_big = 10u64 * 1024 * 1024 * 1024 + 1;
    for (size, label) in [
        (json!(0), "zero"),
        (json!(-5), "negative"),
        (json!(too_big), "over the maximum"),
    ] {
        let r = app
            .create_recording_with(
                &owner,
                &json!({"filename": "a.webm", "content_type": "video/webm", "size_bytes": size}),
            )
            .await;
        assert_eq!(r.status(), 422, "{label}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], "size_bytes");
    }
    let r = app
        .create_recording_with(
            &owner,
            &json!({"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 10}),
        )
        .await;
    assert_eq!(r.status(), 415);
    let p: Value = r.json().await.unwrap();
    assert!(
        p["detail"].as_str().unwrap().contains("video/webm"),
        "lists what is allowed: {p}"
    );

    let r = app.create_recording_with(&owner, &json!({"filename": "../../etc/pass\u{1}wd", "content_type": "audio/wav", "size_bytes": 10}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        created["recording"]["filename"], "passwd",
        "path and control characters are stripped"
    );
    let r = app
        .create_recording_with(
            &owner,
            &json!({"filename": "dir/", "content_type": "audio/wav", "size_bytes": 10}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app.create_recording_with(&owner, &json!({"filename": "a.wav", "content_type": "audio/wav", "size_bytes": 10, "key": "x"}),
    )
    .await;
    assert_eq!(r.status(), 422, "a client-supplied key is an unknown field");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_completions_name_the_parts_and_leave_the_upload_resumable() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("completer@example.com").await;
    let data = media_bytes(20 * MIB);
    let created = app
        .create_recording(&owner, "talk.webm", "video/webm", data.len())
        .await
        .body;
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let mut etags = Vec::new();
    for url in created["upload"]["parts"].as_array().unwrap() {
        let n = url["part_number"].as_u64().unwrap() as usize;
        let r = put_part(
            &app.http,
            url["url"].as_str().unwrap(),
            part_bytes(&data, 8 * MIB, n),
        )
        .await;
        etags.push((n as i64, r.headers()["etag"].to_str().unwrap().to_owned()));
    }
    assert_eq!(etags.len(), 3);

    let (s, p) = app.complete_upload(&owner, &id, &etags[..2]).await;
    assert_eq!(s, 409);
    assert!(
        p["detail"].as_str().unwrap().contains("part 3 is missing"),
        "{p}"
    );
    let mut wrong = etags.clone();
    wrong[1].1 = "\"0123456789abcdef0123456789abcdef\"".into();
    let (s, p) = app.complete_upload(&owner, &id, &wrong).await;
    assert_eq!(s, 409);
    assert!(
        p["detail"].as_str().unwrap().contains("part 2: the ETag"),
        "{p}"
    );
    let dup = vec![etags[0].clone(), etags[0].clone(), etags[2].clone()];
    let (s, p) = app.complete_upload(&owner, &id, &dup).await;
    assert_eq!(s, 422, "{p}");
    let reversed: Vec<_> = etags.iter().rev().cloned().collect();
    assert_eq!(app.complete_upload(&owner, &id, &reversed).await.0, 422);
    let beyond = vec![(0, etags[0].1.clone()), (9, etags[0].1.clone())];
    let (s, p) = app.complete_upload(&owner, &id, &beyond).await;
    assert_eq!(s, 422);
    assert_eq!(
        p["errors"].as_array().unwrap().len(),
        2,
        "both bad numbers named: {p}"
    );
    for numbers in [json!([{"part_number": 0}]), json!([{"part_number": 4}])] {
        let r = app
            .authed(
                Method::POST,
                &format!("/api/recordings/{id}/upload/parts"),
                owner.token(),
            )
            .json(&json!({"parts": numbers}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
    }

    // Still resumable: the right list completes.
    let (s, body) = app.complete_upload(&owner, &id, &etags).await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_part_url_is_refused_by_s3_and_a_fresh_one_works() {
    let ctx = TestContext::new().await;
    let mut settings = ctx.api_settings();
    settings.uploads.url_ttl = Duration::from_secs(1);
    let app = TestApp::spawn_with(&ctx, settings, ctx.pool.clone()).await;
    let owner = app.register("slowpoke@example.com").await;
    let data = media_bytes(4096);
    let created = app
        .create_recording(&owner, "talk.webm", "video/webm", data.len())
        .await
        .body;
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    let stale = created["upload"]["parts"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await; // let the URL's own clock run out
    assert_eq!(put_part(&app.http, &stale, &data).await.status(), 403);

    // The fresh URL comes from an instance with the normal lifetime: on a loaded
    // CI machine a 1 s URL can expire between signing and the PUT.
    let patient = TestApp::spawn(&ctx).await;
    let fresh: Value = patient
        .authed(
            Method::POST,
            &format!("/api/recordings/{id}/upload/parts"),
            owner.token(),
        )
        .json(&json!({"parts": [{"part_number": 1}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh_url = fresh["parts"][0]["url"].as_str().unwrap();
    let tampered = fresh_url.replace("partNumber=1", "partNumber=2");
    assert_eq!(
        put_part(&app.http, &tampered, &data).await.status(),
        403,
        "the signature covers the part number"
    );
    let r = put_part(&app.http, fresh_url, &data).await;
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        patient.complete_upload(&owner, &id, &[(1, etag)]).await.0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn abort_then_complete_conflicts_and_delete_removes_everything() {
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("quitter@example.com").await;
    let (id, parts) = uploaded_single_part(&app, &owner, 5000).await;
    let r = app
        .authed(
            Method::POST,
            &format!("/api/recordings/{id}/upload/abort"),
            owner.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "aborted");
    assert_eq!(app.complete_upload(&owner, &id, &parts).await.0, 409);

    let (kept, parts) = uploaded_single_part(&app, &owner, 5000).await;
    assert_eq!(app.complete_upload(&owner, &kept, &parts).await.0, 200);
    let renamed = app
        .authed(
            Method::PATCH,
            &format!("/api/recordings/{kept}"),
            owner.token(),
        )
        .json(&json!({"title": "Quarterly review"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        renamed.json::<Value>().await.unwrap()["title"],
        "Quarterly review"
    );
    let listed: Value = app
        .authed(Method::GET, "/api/recordings?status=aborted", owner.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    let gone = app
        .authed(
            Method::DELETE,
            &format!("/api/recordings/{kept}"),
            owner.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let r = app
        .authed(
            Method::GET,
            &format!("/api/recordings/{kept}"),
            owner.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let prefix = format!("orgs/{}/recordings/{kept}/", owner.org_id());
    let left = ctx
        .s3
        .list_objects_v2()
        .bucket(&ctx.bucket)
        .prefix(&prefix)
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count().unwrap_or(0), 0, "no object of it remains");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM recordings WHERE id = $1::uuid")
        .bind(&kept)
        .fetch_one(&ctx.owner_pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn per_part_checksums_are_enforced_by_s3() {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use sha2::Digest;
    let ctx = TestContext::new().await;
    let app = TestApp::spawn(&ctx).await;
    let owner = app.register("careful@example.com").await;
    let data = media_bytes(9 * MIB);
    let r = app.create_recording_with(&owner, &json!({
        "filename": "a.webm", "content_type": "video/webm", "size_bytes": data.len(), "part_checksum": "SHA256"
    })).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["recording"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["recording"]["part_checksum"], "SHA256");
    assert!(
        created["upload"]["parts"].as_array().unwrap().is_empty(),
        "URLs wait for the checksums"
    );

    let no_checksum = app
        .authed(
            Method::POST,
            &format!("/api/recordings/{id}/upload/parts"),
            owner.token(),
        )
        .json(&json!({"parts": [{"part_number": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_checksum.status(), 422);

    let parts: Vec<&[u8]> = vec![part_bytes(&data, 8 * MIB, 1), part_bytes(&data, 8 * MIB, 2)];
    let sums: Vec<String> = parts
        .iter()
        .map(|p| STANDARD.encode(sha2::Sha256::digest(p)))
        .collect();
    let urls: Value = app
        .authed(
            Method::POST,
            &format!("/api/recordings/{id}/upload/parts"),
            owner.token(),
        )
        .json(&json!({"parts": [
            {"part_number": 1, "checksum": sums[0]}, {"part_number": 2, "checksum": sums[1]}
        ]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let put = |n: usize, body: Vec<u8>| {
        let url = &urls["parts"][n - 1];
        let mut request = app.http.put(url["url"].as_str().unwrap()).body(body);
        for (k, v) in url["headers"].as_object().unwrap() {
            request = request.header(k, v.as_str().unwrap());
        }
        request.send()
    };
    let mut corrupted = parts[0].to_vec();
    corrupted[100] ^= 0xff;
    let refused = put(1, corrupted).await.unwrap();
    assert_eq!(
        refused.status(),
        400,
        "S3 refuses a part whose body does not match its checksum"
    );
    assert!(refused.text().await.unwrap().contains("BadDigest"));

    let mut done = Vec::new();
    for n in 1..=2 {
        let r = put(n, parts[n - 1].to_vec()).await.unwrap();
        assert_eq!(r.status(), 200);
        done.push(json!({"part_number": n, "etag": r.headers()["etag"].to_str().unwrap(), "checksum": sums[n - 1]}));
    }
    let r = app
        .authed(
            Method::POST,
            &format!("/api/recordings/{id}/upload/complete"),
            owner.token(),
        )
        .json(&json!({"parts": done}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_in_progress_are_limited_per_org() {
    let ctx = TestContext::new().await;
    let mut settings = ctx.api_settings();
    settings.uploads.max_concurrent_per_org = 2;
    let app = TestApp::spawn_with(&ctx, settings, ctx.pool.clone()).await;
    let busy = app.register("busy@example.com").await;
    let other = app.register("other-org@example.com").await;
    let body = json!({"filename": "a.webm", "content_type": "video/webm", "size_bytes": 100});
    let first = app
        .create_recording_with(&busy, &body.clone())
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        app.create_recording_with(&busy, &body.clone())
            .await
            .status(),
        201
    );
    let third = app.create_recording_with(&busy, &body.clone()).await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    assert_eq!(
        app.create_recording_with(&other, &body.clone())
            .await
            .status(),
        201,
        "another org has its own allowance"
    );

    let id = first["recording"]["id"].as_str().unwrap();
    let aborted = app
        .authed(
            Method::POST,
            &format!("/api/recordings/{id}/upload/abort"),
            busy.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(aborted.status(), 200);
    assert_eq!(
        app.create_recording_with(&busy, &body).await.status(),
        201,
        "an aborted upload frees its slot"
    );
}
