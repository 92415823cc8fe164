//! The local model server's models against their peers, side by side on the same clip,
//! weights, prompt and thread count:
//! - Whisper (CTranslate2 weights in candle) against faster-whisper (CTranslate2 itself) on
//!   a ten-minute clip: wall time and real-time factor. Target: ours ≤ 1.5× theirs.
//! - The chat model against llama.cpp (xllamacpp's prebuilt server) on the same GGUF:
//!   prompt and generation tokens per second. Target: ≥ 0.6× llama.cpp's generation speed.
//! - The model server's peak RSS with Whisper base and the 0.5B model loaded and used once.
//!
//! ```sh
//! scripts/lib/tools.sh models default && scripts/lib/tools.sh bench-peers
//! cargo bench -p mediadocs-tests --bench local_models
//! ```
//!
//! Knobs: BENCH_RUNS (3), BENCH_THREADS (2), BENCH_CLIP_REPEATS (19: the 32-second sample
//! repeated, about ten minutes), BENCH_WHISPER (whisper-base-ct2), BENCH_GGUF
//! (qwen2.5-coder-0.5b-instruct-q4_k_m.gguf), BENCH_PARTS (whisper,llm,rss).

use std::{
    io::BufRead,
    ops::ControlFlow,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use mediadocs_local_models::{
    llm::{ChatMessage, ChatModel, GenerationParams, Role},
    whisper::{TranscribeOptions, WhisperModel},
};
use mediadocs_tests::{
    local_models::models_dir,
    process::Server,
    stats::Spread,
    tools::{self, repo_root},
    wait,
};
use serde_json::Value;

fn knob(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn runs() -> usize {
    knob("BENCH_RUNS", "3").parse().unwrap_or(3)
}

fn threads() -> String {
    knob("BENCH_THREADS", "2")
}

fn peer_python() -> PathBuf {
    let python = repo_root().join(".tools/bench-venv/bin/python");
    assert!(
        python.exists(),
        "the peers are missing: run `scripts/lib/tools.sh bench-peers`"
    );
    python
}

fn peer_runs(script: &str, args: &[String]) -> Vec<Value> {
    let out = Command::new(peer_python())
        .arg(repo_root().join("tests/benches/peers").join(script))
        .args(args)
        .env("OMP_NUM_THREADS", threads())
        .output()
        .expect("running the peer");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(&l).expect("a JSON line"))
        .collect()
}

/// The sample repeated into one long clip (WebM/Opus, as a browser records), and its
/// script repeated as many times.
fn long_clip(dir: &Path) -> (PathBuf, String) {
    let repeats: usize = knob("BENCH_CLIP_REPEATS", "19").parse().unwrap_or(19);
    let sample = repo_root().join("samples/weekly-sync.webm");
    let list = dir.join("list.txt");
    std::fs::write(
        &list,
        format!("file '{}'\n", sample.display()).repeat(repeats),
    )
    .unwrap();
    let clip = dir.join("long.webm");
    let status = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
        ])
        .arg(&list)
        .args(["-c", "copy"])
        .arg(&clip)
        .status()
        .expect("ffmpeg (apt-get install ffmpeg)");
    assert!(status.success());
    let sidecar: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("samples/weekly-sync.transcript.json")).unwrap(),
    )
    .unwrap();
    let script: Vec<&str> = sidecar["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    (clip, vec![script.join(" "); repeats].join(" "))
}

fn whisper_bench() {
    let dir = tempfile::tempdir().unwrap();
    let (clip, script) = long_clip(dir.path());
    let model_dir = models_dir().join(knob("BENCH_WHISPER", "whisper-base-ct2"));
    let pcm =
        mediadocs_audio::decode_mono_16k(Box::new(std::fs::File::open(&clip).unwrap())).unwrap();
    let audio_secs = pcm.len() as f64 / 16_000.0;
    println!(
        "Whisper {} on {:.0} s of audio, {} threads, {} runs",
        model_dir.display(),
        audio_secs,
        threads(),
        runs()
    );
    let model = WhisperModel::load(&model_dir).unwrap();
    let options = TranscribeOptions {
        language: Some("en".into()),
        prompt: None,
    };
    let mut ours = Vec::new();
    let mut text = String::new();
    for _ in 0..runs() {
        let started = Instant::now();
        // Decoding the audio is timed too, as faster-whisper's is.
        let pcm = mediadocs_audio::decode_mono_16k(Box::new(std::fs::File::open(&clip).unwrap()))
            .unwrap();
        let t = model
            .transcribe(&pcm, &options, &mut |_| ControlFlow::Continue(()))
            .unwrap();
        ours.push(started.elapsed().as_secs_f64());
        text = t
            .segments
            .iter()
            .map(|s| s.text.trim())
            .collect::<Vec<_>>()
            .join(" ");
    }
    let peer = peer_runs(
        "faster_whisper_peer.py",
        &[
            model_dir.display().to_string(),
            clip.display().to_string(),
            threads(),
            runs().to_string(),
            "float32".into(),
        ],
    );
    let theirs: Vec<f64> = peer
        .iter()
        .map(|r| r["wall_secs"].as_f64().unwrap())
        .collect();
    let their_text = peer
        .last()
        .and_then(|r| r["text"].as_str())
        .unwrap_or_default();
    let wer = |t: &str| mediadocs_local_models::whisper::wer::word_error_rate(&script, t);
    let (o, t) = (Spread::of(&ours), Spread::of(&theirs));
    println!(
        "  ours (candle, f32)           wall s  {o}   RTF median {:.3}   WER {:.1}%",
        o.median / audio_secs,
        100.0 * wer(&text)
    );
    println!(
        "  faster-whisper (CT2, f32)    wall s  {t}   RTF median {:.3}   WER {:.1}%",
        t.median / audio_secs,
        100.0 * wer(their_text)
    );
    println!(
        "  ratio ours / faster-whisper (median): {:.2}× (target ≤ 1.5×)",
        o.median / t.median
    );
}

fn llm_bench() {
    let gguf = models_dir().join(knob(
        "BENCH_GGUF",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    ));
    let prompt = bench_prompt();
    let prompt_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(prompt_file.path(), &prompt).unwrap();
    println!(
        "LLM {} , {} threads, {} runs, 128 tokens asked",
        gguf.display(),
        threads(),
        runs()
    );
    let mut model = ChatModel::load(&gguf, 8192).unwrap();
    let messages = [ChatMessage {
        role: Role::User,
        content: prompt.clone(),
    }];
    let params = GenerationParams {
        max_tokens: 128,
        temperature: 0.0,
        top_p: None,
        stop: vec![],
        seed: 1,
    };
    let (mut prompt_rate, mut gen_rate) = (Vec::new(), Vec::new());
    let mut prompt_tokens = 0;
    for _ in 0..runs() {
        let g = model
            .generate(&messages, &params, &mut |_| ControlFlow::Continue(()))
            .unwrap();
        prompt_tokens = g.prompt_tokens;
        prompt_rate.push(g.prompt_tokens as f64 / g.prompt_seconds);
        gen_rate.push(g.completion_tokens as f64 / g.generation_seconds);
    }
    let peer = peer_runs(
        "llamacpp_peer.py",
        &[
            gguf.display().to_string(),
            prompt_file.path().display().to_string(),
            "128".into(),
            threads(),
            runs().to_string(),
        ],
    );
    let their_prompt: Vec<f64> = peer
        .iter()
        .map(|r| r["prompt_per_second"].as_f64().unwrap())
        .collect();
    let their_gen: Vec<f64> = peer
        .iter()
        .map(|r| r["generated_per_second"].as_f64().unwrap())
        .collect();
    let (op, og, tp, tg) = (
        Spread::of(&prompt_rate),
        Spread::of(&gen_rate),
        Spread::of(&their_prompt),
        Spread::of(&their_gen),
    );
    println!("  prompt ({prompt_tokens} tokens), tokens/s   ours {op}");
    println!(
        "                                 llama.cpp {tp}   ratio {:.2}×",
        op.median / tp.median
    );
    println!("  generation, tokens/s           ours {og}");
    println!(
        "                                 llama.cpp {tg}   ratio {:.2}× (target ≥ 0.6×)",
        og.median / tg.median
    );
}

/// A meeting summary request over the sample's script, about 540 tokens.
fn bench_prompt() -> String {
    let sidecar: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("samples/weekly-sync.transcript.json")).unwrap(),
    )
    .unwrap();
    let lines: Vec<String> = sidecar["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s["speaker"].as_str().unwrap(),
                s["text"].as_str().unwrap()
            )
        })
        .collect();
    format!(
        "Summarise the following meeting transcript in three bullet points.\n\n{}",
        vec![lines.join(" "); 5].join(" ")
    )
}

fn peak_rss_bench() {
    let port = wait::free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(tools::release_binary("mediadocs-local-models"));
    command
        .env("LOCAL_MODELS_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "LOCAL_MODELS_WHISPER_DIR",
            models_dir().join("whisper-base-ct2"),
        )
        .env(
            "LOCAL_MODELS_CHAT_MODEL",
            models_dir().join("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
        )
        .env("RAYON_NUM_THREADS", threads());
    let mut server = Server::spawn(
        "local-models",
        command,
        &dir.path().join("log"),
        libc::SIGKILL,
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let up = server
            .wait_ready(Duration::from_secs(300), || {
                let r = http.get(format!("{base}/healthz")).send();
                async move { r.await.is_ok_and(|r| r.status().is_success()) }
            })
            .await;
        assert!(up, "the model server came up");
        let form = reqwest::multipart::Form::new()
            .text("model", "whisper-1")
            .part(
                "file",
                reqwest::multipart::Part::bytes(
                    std::fs::read(repo_root().join("samples/weekly-sync.webm")).unwrap(),
                )
                .file_name("s.webm"),
            );
        let t = http
            .post(format!("{base}/v1/audio/transcriptions"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(t.status(), 200);
        let c = http
            .post(format!("{base}/v1/chat/completions"))
            .json(
                &serde_json::json!({"model": "qwen2.5-coder-0.5b-instruct-q4_k_m", "max_tokens": 64,
                "messages": [{"role": "user", "content": bench_prompt()}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(c.status(), 200);
    });
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?");
    println!(
        "Model server with Whisper base and Qwen 0.5B, after one transcription and one chat: {hwm}"
    );
}

fn main() {
    let parts = knob("BENCH_PARTS", "whisper,llm,rss");
    if parts.contains("llm") {
        llm_bench();
    }
    if parts.contains("whisper") {
        whisper_bench();
    }
    if parts.contains("rss") {
        peak_rss_bench();
    }
}
