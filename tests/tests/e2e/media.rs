//! Media probing (the verify stage) against the real S3 server: ranged reads, symphonia's
//! demuxers, and the failure types the pipeline branches on.

use mediadocs_activities::media::{BLOCK_SIZE, Media, ProbeError, probe_object};
use mediadocs_tests::{TestContext, tools::repo_root};
use mediadocs_workflows::{
    media::{MediaInfo, TrackInfo},
    recording::RecordingRef,
};
use uuid::Uuid;

const MIB: usize = 1024 * 1024;

async fn put(ctx: &TestContext, key: &str, bytes: Vec<u8>) {
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .expect("storing the fixture");
}

async fn probe_bytes(
    ctx: &TestContext,
    key: &str,
    bytes: Vec<u8>,
) -> Result<MediaInfo, ProbeError> {
    put(ctx, key, bytes).await;
    probe_object(&ctx.s3, &ctx.bucket, key).await
}

fn file(path: &str) -> Vec<u8> {
    std::fs::read(repo_root().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn audio(codec: &str, sample_rate: u32, channels: u16) -> TrackInfo {
    TrackInfo {
        kind: "audio".into(),
        codec: codec.into(),
        sample_rate: Some(sample_rate),
        channels: Some(channels),
    }
}

/// A 16 kHz mono WAV holding `data_len` bytes of a 440 Hz tone.
fn wav(data_len: u32) -> Vec<u8> {
    mediadocs_tests::media::wav(data_len / 2, 440)
}

#[tokio::test(flavor = "multi_thread")]
async fn identifies_the_sample_webm_as_opus() {
    let ctx = TestContext::new().await;
    let bytes = file("samples/weekly-sync.webm");
    let size = bytes.len() as u64;
    let info = probe_bytes(&ctx, "weekly-sync.webm", bytes).await.unwrap();
    assert_eq!(info.container, "webm");
    assert_eq!(info.tracks, vec![audio("opus", 48_000, 1)]);
    // ffprobe: 00:00:31.883, from the Segment Info's Duration.
    assert_eq!(info.duration_ms, Some(31_883));
    assert!(
        info.bytes_read > 0 && info.bytes_read <= size,
        "{}",
        info.bytes_read
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_read_for_a_wav_do_not_grow_with_its_size() {
    let ctx = TestContext::new().await;
    let small = probe_bytes(&ctx, "small.wav", wav(8 * MIB as u32))
        .await
        .unwrap();
    let large = probe_bytes(&ctx, "large.wav", wav(80 * MIB as u32))
        .await
        .unwrap();
    for (info, seconds) in [(&small, 8 * MIB / 32_000), (&large, 80 * MIB / 32_000)] {
        assert_eq!(info.container, "wav");
        assert_eq!(info.tracks, vec![audio("pcm_s16le", 16_000, 1)]);
        let expected = (seconds as f64 * 1000.0) as i64;
        let got = info.duration_ms.expect("a WAV declares its length");
        assert!(
            (got - expected).abs() <= 1000,
            "{got} ms, expected about {expected}"
        );
    }
    assert!(
        small.bytes_read.abs_diff(large.bytes_read) <= BLOCK_SIZE,
        "{} vs {} bytes",
        small.bytes_read,
        large.bytes_read
    );
    assert!(
        large.bytes_read <= 4 * BLOCK_SIZE,
        "{} bytes",
        large.bytes_read
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn identifies_aac_in_mp4_and_mp3() {
    let ctx = TestContext::new().await;
    let mp4 = probe_bytes(&ctx, "tone.mp4", file("tests/fixtures/media/tone-aac.mp4"))
        .await
        .unwrap();
    assert_eq!(mp4.container, "mp4");
    assert_eq!(mp4.tracks, vec![audio("aac", 44_100, 1)]);
    let ms = mp4.duration_ms.expect("the mp4 declares its duration");
    assert!((1950..=2100).contains(&ms), "{ms} ms");

    let mp3 = probe_bytes(&ctx, "tone.mp3", file("tests/fixtures/media/tone.mp3"))
        .await
        .unwrap();
    assert_eq!(mp3.container, "mp3");
    assert_eq!(mp3.tracks, vec![audio("mp3", 44_100, 1)]);
    let ms = mp3
        .duration_ms
        .expect("LAME's Info header declares the frame count");
    assert!((1950..=2100).contains(&ms), "{ms} ms");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_video_without_audio_is_no_audio_track() {
    let ctx = TestContext::new().await;
    let err = probe_bytes(&ctx, "v.webm", file("tests/fixtures/media/video-only.webm"))
        .await
        .unwrap_err();
    let ProbeError::NoAudioTrack { container, tracks } = &err else {
        panic!("expected NoAudioTrack, got {err:?}");
    };
    assert_eq!(container, "webm");
    assert_eq!(tracks.len(), 1);
    assert_ne!(tracks[0].kind, "audio");
    assert_eq!(err.kind(), mediadocs_workflows::FailureKind::NoAudioTrack);
    assert!(!err.is_retryable());
}

#[tokio::test(flavor = "multi_thread")]
async fn random_bytes_are_unsupported_media() {
    let ctx = TestContext::new().await;
    // xorshift: reproducible noise, and its first bytes are no container's signature.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: Vec<u8> = (0..256 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let err = probe_bytes(&ctx, "noise.bin", noise).await.unwrap_err();
    assert!(matches!(err, ProbeError::Unsupported(_)), "{err:?}");
    assert_eq!(
        err.kind(),
        mediadocs_workflows::FailureKind::UnsupportedMedia
    );
    assert!(!err.is_retryable());
}

#[tokio::test(flavor = "multi_thread")]
async fn files_cut_inside_their_header_are_corrupt_media() {
    let ctx = TestContext::new().await;
    let mut cut_wav = wav(64 * 1024);
    cut_wav.truncate(30);
    let mut cut_webm = file("samples/weekly-sync.webm");
    cut_webm.truncate(120);
    for (key, bytes, container) in [("cut.wav", cut_wav, "wav"), ("cut.webm", cut_webm, "webm")] {
        let err = probe_bytes(&ctx, key, bytes).await.unwrap_err();
        let ProbeError::Corrupt {
            container: c,
            reason,
        } = &err
        else {
            panic!("{key}: expected CorruptMedia, got {err:?}");
        };
        assert_eq!(c, container);
        assert!(!reason.is_empty());
        assert_eq!(err.kind(), mediadocs_workflows::FailureKind::CorruptMedia);
        assert!(!err.is_retryable());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_object_is_a_retryable_storage_error() {
    let ctx = TestContext::new().await;
    let err = probe_object(&ctx.s3, &ctx.bucket, "nothing-here")
        .await
        .unwrap_err();
    assert!(matches!(err, ProbeError::Storage(_)), "{err:?}");
    assert!(err.is_retryable());
}

/// A recording row whose source is the sample, inserted behind the API.
async fn sample_recording(ctx: &TestContext) -> (RecordingRef, String) {
    let (org, id) = (Uuid::now_v7(), Uuid::now_v7());
    let key = format!("orgs/{org}/recordings/{id}/source.webm");
    sqlx::query("INSERT INTO orgs (id, name) VALUES ($1, 'media')")
        .bind(org)
        .execute(&ctx.owner_pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO recordings (id, org_id, title, filename, content_type, size_bytes, status,
                                 s3_key, part_size, part_count, upload_expires_at)
         VALUES ($1, $2, 'weekly sync', 'sync.webm', 'video/webm', 130212, 'verifying', $3,
                 130212, 1, now() + interval '1 hour')",
    )
    .bind(id)
    .bind(org)
    .bind(&key)
    .execute(&ctx.owner_pool)
    .await
    .unwrap();
    put(ctx, &key, file("samples/weekly-sync.webm")).await;
    let recording = RecordingRef {
        org_id: org,
        recording_id: id,
    };
    (recording, key)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_activity_stores_media_info_once() {
    let ctx = TestContext::new().await;
    let (recording, key) = sample_recording(&ctx).await;
    let media = Media {
        pool: ctx.pool.clone(),
        s3: ctx.s3.clone(),
        bucket: ctx.bucket.clone(),
    };
    let first = media.probe_recording(&recording).await.unwrap();
    assert_eq!(first.tracks, vec![audio("opus", 48_000, 1)]);
    let stored: serde_json::Value =
        sqlx::query_scalar("SELECT media_info FROM recordings WHERE id = $1::uuid")
            .bind(recording.recording_id)
            .fetch_one(&ctx.owner_pool)
            .await
            .unwrap();
    assert_eq!(serde_json::from_value::<MediaInfo>(stored).unwrap(), first);

    // A retry answers from the row: with the object gone, probing again would fail.
    ctx.s3
        .delete_object()
        .bucket(&ctx.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(media.probe_recording(&recording).await.unwrap(), first);

    let elsewhere = RecordingRef {
        org_id: Uuid::now_v7(),
        ..recording
    };
    assert!(
        media.probe_recording(&elsewhere).await.is_err(),
        "another org's recording must look gone"
    );
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

/// The sample's Opus audio through libopus: its length, speech where the script put speech,
/// and the 600 ms pauses between speakers nearly silent.
#[test]
fn decodes_the_sample_webm_to_16k_mono() {
    use mediadocs_audio::{TARGET_RATE, decode_mono_16k};

    let webm = std::fs::File::open(repo_root().join("samples/weekly-sync.webm")).unwrap();
    let pcm = decode_mono_16k(Box::new(webm)).unwrap();
    let ms = |t: i64| (t * i64::from(TARGET_RATE) / 1000) as usize;
    let duration_ms = pcm.len() as f64 * 1000.0 / f64::from(TARGET_RATE);
    assert!((duration_ms - 31_883.0).abs() <= 50.0, "{duration_ms} ms");

    let sidecar: serde_json::Value =
        serde_json::from_slice(&file("samples/weekly-sync.transcript.json")).unwrap();
    let segments: Vec<(i64, i64)> = sidecar["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start_ms"].as_i64().unwrap(),
                s["end_ms"].as_i64().unwrap(),
            )
        })
        .collect();
    for (start, end) in &segments {
        let speech = rms(&pcm[ms(*start)..ms(*end)]);
        // espeak-ng speaks at about -20 dBFS; -34 dBFS leaves room for the pauses within.
        assert!(speech > 0.02, "{start}-{end} ms: RMS {speech}");
    }
    for pair in segments.windows(2) {
        // The middle of each gap, clear of the codec's smear at the edges.
        let (from, to) = (pair[0].1 + 150, pair[1].0 - 150);
        let gap = rms(&pcm[ms(from)..ms(to)]);
        // -54 dBFS: nothing a recogniser would hear.
        assert!(gap < 0.002, "gap {from}-{to} ms: RMS {gap}");
    }
}
