//! With the test model (SmolLM2-135M-Instruct, Q4_1) and the default model's tokenizer.

use std::{
    ops::ControlFlow,
    path::PathBuf,
    sync::{Mutex, OnceLock},
};

use candle_core::{
    Device,
    quantized::{GgmlDType, gguf_file},
};
use tokenizers::Tokenizer;

use super::*;

fn models_dir() -> PathBuf {
    std::env::var_os("MEDIADOCS_MODELS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/models"),
        PathBuf::from,
    )
}

fn smollm2_path() -> PathBuf {
    models_dir().join("smollm2-135m-instruct-q4_1.gguf")
}

/// One loaded copy for the tests in this binary (loading requantises once).
fn smollm2() -> std::sync::MutexGuard<'static, ChatModel> {
    static MODEL: OnceLock<Mutex<ChatModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| Mutex::new(ChatModel::load(&smollm2_path(), 2048).expect("SmolLM2 loads")))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn user(text: &str) -> Vec<ChatMessage> {
    vec![ChatMessage {
        role: Role::User,
        content: text.into(),
    }]
}

fn greedy(max_tokens: usize) -> GenerationParams {
    GenerationParams {
        max_tokens,
        temperature: 0.0,
        top_p: None,
        stop: vec![],
        seed: 1,
    }
}

fn run(
    model: &mut ChatModel,
    messages: &[ChatMessage],
    params: &GenerationParams,
) -> (String, Generation) {
    let mut text = String::new();
    let g = model
        .generate(messages, params, &mut |t| {
            text.push_str(t);
            ControlFlow::Continue(())
        })
        .unwrap();
    (text, g)
}

fn tokenizer_of(path: &std::path::Path) -> Tokenizer {
    let mut f = std::fs::File::open(path).unwrap();
    let content = gguf_file::Content::read(&mut f).unwrap();
    super::tokenizer_of(&content).unwrap()
}

#[test]
fn the_gguf_tokenizers_round_trip_and_keep_special_tokens_whole() {
    let qwen = models_dir().join("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
    let mut paths = vec![smollm2_path()];
    // The default model is installed by `scripts/dev up`, not by the test tools.
    if qwen.exists() {
        paths.push(qwen);
    }
    for path in paths {
        let t = tokenizer_of(&path);
        let text = "Ticket OPS-1234: ship on Friday — déjà vu, 100 % ✓";
        let ids = t.encode(text, false).unwrap().get_ids().to_vec();
        assert_eq!(t.decode(&ids, false).unwrap(), text, "{}", path.display());
        for special in ["<|im_start|>", "<|im_end|>"] {
            let ids = t
                .encode(format!("a{special}b"), false)
                .unwrap()
                .get_ids()
                .to_vec();
            let id = t.token_to_id(special).expect("a ChatML token");
            assert!(
                ids.contains(&id),
                "{special} is one token in {}",
                path.display()
            );
        }
    }
}

#[test]
fn requantising_turns_every_slow_tensor_into_q8_0_and_keeps_the_values() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("smol.q8_0.gguf");
    let report = requantize(&smollm2_path(), &dest).unwrap();
    assert!(report.tensors_changed > 0);
    let read = |p: &std::path::Path| {
        let mut f = std::fs::File::open(p).unwrap();
        let c = gguf_file::Content::read(&mut f).unwrap();
        (c, f)
    };
    let (before, mut bf) = read(&smollm2_path());
    let (after, mut af) = read(&dest);
    assert_eq!(before.tensor_infos.len(), after.tensor_infos.len());
    let mut slow = 0;
    for (name, info) in &before.tensor_infos {
        let new = &after.tensor_infos[name];
        assert_eq!(info.shape, new.shape, "{name}");
        if requantize::is_slow(info.ggml_dtype) {
            slow += 1;
            assert_eq!(new.ggml_dtype, GgmlDType::Q8_0, "{name}");
        } else {
            assert_eq!(new.ggml_dtype, info.ggml_dtype, "{name}");
        }
    }
    assert_eq!(slow, report.tensors_changed);
    // One layer's values: Q8_0 is finer than Q4_1, so the copy stays within a Q8_0 step.
    let name = before
        .tensor_infos
        .iter()
        .find(|(_, i)| requantize::is_slow(i.ggml_dtype))
        .map(|(n, _)| n.clone())
        .unwrap();
    let a = before
        .tensor(&mut bf, &name, &Device::Cpu)
        .unwrap()
        .dequantize(&Device::Cpu)
        .unwrap();
    let b = after
        .tensor(&mut af, &name, &Device::Cpu)
        .unwrap()
        .dequantize(&Device::Cpu)
        .unwrap();
    let scale = a
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let worst = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        worst <= scale / 100.0,
        "max error {worst} against max |x| {scale}"
    );
    assert_eq!(after.metadata.len(), before.metadata.len());
}

#[test]
fn greedy_generation_is_deterministic_and_respects_max_tokens() {
    let mut model = smollm2();
    let messages = user("Write a long story about a lighthouse keeper.");
    let (a, ga) = run(&mut model, &messages, &greedy(24));
    let (b, gb) = run(&mut model, &messages, &greedy(24));
    assert_eq!(a, b);
    assert!(!a.trim().is_empty());
    assert_eq!(
        (ga.finish_reason, ga.completion_tokens),
        (FinishReason::Length, 24)
    );
    assert_eq!(
        gb.prompt_tokens,
        model.count_prompt_tokens(&messages).unwrap()
    );
}

#[test]
fn a_stop_sequence_ends_the_reply_before_it() {
    let mut model = smollm2();
    let messages = user("Count from 1 to 20, separated by commas.");
    let (free, _) = run(&mut model, &messages, &greedy(40));
    assert!(free.contains('5'), "{free}");
    let mut params = greedy(40);
    params.stop = vec!["5".into()];
    let (cut, g) = run(&mut model, &messages, &params);
    assert_eq!(g.finish_reason, FinishReason::Stop);
    assert!(!cut.contains('5'), "{cut}");
    assert!(free.starts_with(&cut), "{free:?} / {cut:?}");
}

#[test]
fn breaking_out_cancels_and_an_over_long_prompt_is_refused() {
    let mut model = smollm2();
    let mut pieces = 0;
    let g = model
        .generate(&user("Tell me about the sea."), &greedy(100), &mut |_| {
            pieces += 1;
            if pieces == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(g.finish_reason, FinishReason::Cancelled);
    assert!(g.completion_tokens < 10);
    let long = "lighthouse ".repeat(3000);
    assert!(matches!(
        model.generate(
            &user(&long),
            &greedy(10),
            &mut |_| ControlFlow::Continue(())
        ),
        Err(GenerateError::PromptTooLong { limit: 2047, .. })
    ));
}

#[test]
fn the_test_model_answers_a_simple_question() {
    let mut model = smollm2();
    let (answer, g) = run(
        &mut model,
        &user("What is the capital of France? Answer in one word."),
        &greedy(16),
    );
    assert!(answer.contains("Paris"), "{answer}");
    assert_eq!(g.finish_reason, FinishReason::Stop);
}
