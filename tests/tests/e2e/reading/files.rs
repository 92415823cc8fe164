//! The whole path a reader takes: a recording through the pipeline, then its document,
//! transcript, subtitles, exports and media through the API.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{assert_problem, call, get, uuid};
use crate::providers::webhooks::{media, pipeline_result, sidecar, stack};

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_recording_reads_as_document_transcript_subtitles_exports_and_media() {
    let s = stack(Duration::from_secs(600)).await;
    let bytes = media("reading");
    s.sim.register(&bytes, sidecar());
    let owner = s.app.register("reader@example.com").await;
    let id = s.app.upload(&owner, "sync.wav", "audio/wav", &bytes).await;
    pipeline_result(&s.ctx, &id).await;

    // The recording names what was made from it.
    let recording = s.app.recording(&owner, &id).await;
    let document_id = uuid(&recording["document"]["id"]);
    assert_eq!(
        recording["links"]["transcript"],
        format!("/api/recordings/{id}/transcript")
    );
    assert_eq!(
        recording["links"]["document"],
        format!("/api/documents/{document_id}")
    );
    assert_eq!(recording["created_by"], owner.user_id().to_string());
    assert_eq!(recording["document"]["status"], "published");
    assert_eq!(recording["document"]["version"], 1);
    assert_eq!(recording["transcript"]["segment_count"], 3);
    assert_eq!(recording["transcript"]["speakers"], json!(["A", "B"]));
    let (status, listed) = get(&s.app, &owner, "/api/recordings?q=SYN").await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["items"][0]["document"]["id"],
        document_id.to_string()
    );
    let (_, none) = get(&s.app, &owner, "/api/recordings?q=nothing-like-it").await;
    assert_eq!(none["items"], json!([]));

    // The document, with an ETag naming its version.
    let (status, headers, document) = call(
        &s.app,
        owner.token(),
        Method::GET,
        &format!("/api/documents/{document_id}"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{document}");
    assert_eq!(headers["etag"], "\"v1\"");
    let markdown = document["markdown"].as_str().unwrap().to_owned();
    assert!(
        markdown.starts_with("# ") && markdown.contains("## Decisions"),
        "{markdown}"
    );
    assert_eq!(document["template"]["name"], "Meeting notes");
    assert!(
        document["usage"]["prompt_tokens"].as_i64().unwrap() > 0,
        "{document}"
    );
    let (_, found) = get(&s.app, &owner, "/api/documents?q=simulated").await;
    assert_eq!(found["items"][0]["id"], document_id.to_string(), "{found}");
    assert!(
        found["items"][0]["markdown"].is_null(),
        "listings leave bodies out"
    );

    // The transcript as JSON, a page at a time, with names given to speakers.
    let transcript_path = format!("/api/recordings/{id}/transcript");
    let (status, _, renamed) = call(
        &s.app,
        owner.token(),
        Method::PATCH,
        &format!("{transcript_path}/speakers"),
        Some(&json!({"A": "Alice"})),
        &[],
    )
    .await;
    assert_eq!(
        (status, &renamed["speakers"]),
        (StatusCode::OK, &json!({"A": "Alice"}))
    );
    let (status, page1) = get(&s.app, &owner, &format!("{transcript_path}?limit=2")).await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(page1["segments"].as_array().unwrap().len(), 2);
    assert_eq!(page1["segments"][0]["speaker"], "Alice");
    assert_eq!(page1["segments"][0]["speaker_label"], "A");
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = get(
        &s.app,
        &owner,
        &format!("{transcript_path}?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(page2["segments"].as_array().unwrap().len(), 1);
    assert!(page2["next_cursor"].is_null());
    let expected: Vec<(u64, u64, String)> = sidecar()
        .segments
        .iter()
        .map(|seg| {
            let name = if seg.speaker.as_deref() == Some("A") {
                "Alice"
            } else {
                "B"
            };
            (
                seg.start_ms as u64,
                seg.end_ms as u64,
                format!("{name}: {}", seg.text),
            )
        })
        .collect();

    // SubRip and WebVTT read back through parsers of their own, to the millisecond.
    let srt = s
        .app
        .authed(
            Method::GET,
            &format!("{transcript_path}?format=srt"),
            owner.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        srt.headers()["content-type"],
        "application/x-subrip; charset=utf-8"
    );
    assert!(
        srt.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".srt\"")
    );
    let srt = srtlib::Subtitles::parse_from_str(srt.text().await.unwrap())
        .unwrap()
        .to_vec();
    let ms = |t: &srtlib::Timestamp| {
        let (h, m, s, ms) = t.get();
        u64::from(srtlib::Timestamp::convert_to_milliseconds(h, m, s, ms))
    };
    let got: Vec<_> = srt
        .iter()
        .map(|c| (ms(&c.start_time), ms(&c.end_time), c.text.trim().to_owned()))
        .collect();
    assert_eq!(got, expected);
    let vtt = s
        .app
        .authed(
            Method::GET,
            &format!("{transcript_path}?format=vtt"),
            owner.token(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(vtt.headers()["content-type"], "text/vtt; charset=utf-8");
    let vtt = vtt.text().await.unwrap();
    let parsed = webvtt_parser::Vtt::parse(&vtt).unwrap_or_else(|e| panic!("{vtt}: {e:?}"));
    let got: Vec<_> = parsed
        .cues
        .iter()
        .map(|c| {
            let text = c
                .text
                .strip_prefix("<v ")
                .and_then(|t| t.split_once('>'))
                .map(|(who, said)| format!("{who}: {said}"))
                .unwrap_or_else(|| c.text.to_owned());
            (c.start.as_milliseconds(), c.end.as_milliseconds(), text)
        })
        .collect();
    assert_eq!(got, expected);
    let txt = s
        .app
        .authed(
            Method::GET,
            &format!("{transcript_path}?format=txt"),
            owner.token(),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(txt.starts_with("[00:00] Alice: Welcome"), "{txt}");

    // An edit quoting a line with markup; the HTML export keeps it as text.
    let quoted = format!("{markdown}\n> [00:04] B: <script>alert(1)</script>\n");
    let (status, _, edited) = call(
        &s.app,
        owner.token(),
        Method::PUT,
        &format!("/api/documents/{document_id}"),
        Some(&json!({"markdown": quoted})),
        &[("if-match", "\"v1\"")],
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    let export = |format: &'static str| {
        let path = format!("/api/documents/{document_id}/export?format={format}");
        let app = &s.app;
        let token = owner.token().to_owned();
        async move { app.authed(Method::GET, &path, &token).send().await.unwrap() }
    };
    let html = export("html").await;
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    let html = html.text().await.unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains(&format!("https://app.example.com/recordings/{id}?t=4")),
        "{html}"
    );
    let md = export("md").await.text().await.unwrap();
    assert_eq!(md, quoted);
    let docx = export("docx").await;
    assert!(
        docx.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".docx\"")
    );
    let docx = docx.bytes().await.unwrap();
    let read = docx_rs::read_docx(&docx).expect("the DOCX opens");
    // The runs' texts, joined: a line may be split across runs.
    let debug = format!("{:?}", read.document.children);
    let text: String = debug
        .split("Text { text: \"")
        .skip(1)
        .filter_map(|t| t.split_once("\", preserve_space").map(|(t, _)| t))
        .collect();
    assert!(
        text.contains("Decisions") && text.contains("<script>alert(1)</script>"),
        "{text}"
    );
    let (status, headers, problem) = call(
        &s.app,
        owner.token(),
        Method::GET,
        &format!("/api/documents/{document_id}/export?format=pdf"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, 422);
    assert_problem(&headers);
    assert!(problem.to_string().contains("md, html, docx"), "{problem}");

    // The media: a short-lived presigned URL that serves Range requests.
    let (status, media_url) = get(&s.app, &owner, &format!("/api/recordings/{id}/media")).await;
    assert_eq!(status, 200, "{media_url}");
    let ranged = reqwest::Client::new()
        .get(media_url["url"].as_str().unwrap())
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &bytes[..100]);
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(
            s.app
                .url(&format!("/api/recordings/{id}/media?redirect=true")),
        )
        .bearer_auth(owner.token())
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 302);
    assert!(
        redirect.headers()["location"]
            .to_str()
            .unwrap()
            .contains("X-Amz-Expires=120")
    );

    // Bad input, each as a problem document.
    for (path, want) in [
        (format!("{transcript_path}?format=doc"), 422),
        (format!("{transcript_path}?cursor=zzz"), 422),
        (format!("/api/documents/{document_id}/versions/9"), 404),
        (
            format!("/api/documents/{document_id}/export?format=md&version=9"),
            404,
        ),
        ("/api/recordings?sort=size".to_owned(), 422),
    ] {
        let (status, headers, body) =
            call(&s.app, owner.token(), Method::GET, &path, None, &[]).await;
        assert_eq!(status.as_u16(), want, "{path}: {body}");
        assert_problem(&headers);
    }
    let (status, _, body) = call(
        &s.app,
        owner.token(),
        Method::PATCH,
        &format!("{transcript_path}/speakers"),
        Some(&json!({"Z": "Zed"})),
        &[],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("speakers.Z"), "{body}");

    // The document's tokens counted toward the org's daily budget; once it is spent, a
    // regeneration is refused before any model is called.
    let used: i64 = sqlx::query_scalar("SELECT tokens FROM llm_usage_daily WHERE org_id = $1")
        .bind(owner.org_id())
        .fetch_one(&s.ctx.owner_pool)
        .await
        .unwrap();
    assert!(used > 0, "{used}");
    sqlx::query("UPDATE llm_usage_daily SET tokens = 1000000000000 WHERE org_id = $1")
        .bind(owner.org_id())
        .execute(&s.ctx.owner_pool)
        .await
        .unwrap();
    let calls = s.llm.calls().chat_requests;
    let (status, headers, _) = call(
        &s.app,
        owner.token(),
        Method::POST,
        &format!("/api/recordings/{id}/documents"),
        None,
        &[],
    )
    .await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
    assert_eq!(s.llm.calls().chat_requests, calls);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transcript_not_made_yet_is_a_conflict_naming_the_status() {
    let ctx = mediadocs_tests::TestContext::new().await;
    let app = mediadocs_tests::TestApp::spawn(&ctx).await;
    let owner = app.register("early@example.com").await;
    let created = app
        .create_recording(&owner, "early.webm", "video/webm", 1000)
        .await;
    let (status, headers, body) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/recordings/{}/transcript", created.id),
        None,
        &[],
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_problem(&headers);
    assert_eq!(body["recording_status"], "uploading");
    let (status, _, body) = call(
        &app,
        owner.token(),
        Method::GET,
        &format!("/api/recordings/{}/media", created.id),
        None,
        &[],
    )
    .await;
    assert_eq!(
        (status.as_u16(), &body["recording_status"]),
        (409, &json!("uploading"))
    );
    let recording = app.recording(&owner, &created.id).await;
    assert!(recording["links"]["media"].is_null() && recording["document"].is_null());
}
