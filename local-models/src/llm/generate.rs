//! The decode loop: prefill the prompt, then sample one token at a time, streaming text that
//! has passed the UTF-8 and stop-sequence holds.

use super::load::ChatModel;
use super::stop::StopMatcher;
use super::stream::TextStream;
use super::{ChatMessage, FinishReason, GenerateError, Generation, GenerationParams};
use candle_core::{DType, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use std::ops::ControlFlow;
use std::time::Instant;

/// Prompt tokens per forward pass. Attention scores take heads × chunk × context floats, so
/// one pass over a long prompt would need gigabytes; the matmuls gain little beyond this size.
const PREFILL_CHUNK: usize = 512;

/// How the loop ended, with what the tails still held back mean for the client.
enum Ending {
    /// An end-of-turn token or the length limit: held-back text is part of the answer.
    Flush(FinishReason),
    /// A stop sequence matched: what was held back is the stop sequence itself.
    StopSequence,
    Cancelled,
}

impl ChatModel {
    /// The chat template applied and tokenised: how many tokens the prompt is.
    pub fn count_prompt_tokens(&self, messages: &[ChatMessage]) -> Result<usize, GenerateError> {
        Ok(self.prompt_ids(messages)?.len())
    }

    /// Generates a reply, handing decoded text to `on_text` as it is produced: valid UTF-8
    /// pieces, never text at or past a stop sequence. `on_text` returning `Break` ends
    /// generation with [`FinishReason::Cancelled`]. Every call starts from an empty KV cache.
    pub fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation, GenerateError> {
        let prompt = self.prompt_ids(messages)?;
        let limit = self.context_tokens;
        if prompt.len() >= limit {
            return Err(GenerateError::PromptTooLong {
                tokens: prompt.len(),
                limit,
            });
        }
        let max_new = params.max_tokens.min(limit - prompt.len());
        let mut generation = Generation {
            prompt_tokens: prompt.len(),
            completion_tokens: 0,
            finish_reason: FinishReason::Length,
            prompt_seconds: 0.0,
            generation_seconds: 0.0,
        };
        if max_new == 0 {
            return Ok(generation);
        }

        let started = Instant::now();
        let mut logits = self.prefill(&prompt)?;
        generation.prompt_seconds = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let mut sampler = sampler(params);
        let mut text = TextStream::default();
        let mut stops = StopMatcher::new(&params.stop);
        let mut position = prompt.len();
        let ending = loop {
            let id = sampler.sample(&logits)?;
            generation.completion_tokens += 1;
            if self.tokenizer.is_stop(id) {
                break Ending::Flush(FinishReason::Stop);
            }
            if let Some(piece) = text.push(id, &self.tokenizer)? {
                let pushed = stops.push(&piece);
                if !pushed.emit.is_empty() && on_text(&pushed.emit).is_break() {
                    break Ending::Cancelled;
                }
                if pushed.stopped {
                    break Ending::StopSequence;
                }
            }
            if generation.completion_tokens >= max_new {
                break Ending::Flush(FinishReason::Length);
            }
            logits = self.step(id, position)?;
            position += 1;
        };
        generation.finish_reason = match ending {
            Ending::Flush(reason) => self.flush(text, stops, reason, on_text)?,
            Ending::StopSequence => FinishReason::Stop,
            Ending::Cancelled => FinishReason::Cancelled,
        };
        generation.generation_seconds = started.elapsed().as_secs_f64();
        Ok(generation)
    }

    pub(crate) fn prompt_ids(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, GenerateError> {
        self.tokenizer
            .encode_segments(&self.template.render(messages))
    }

    /// Runs the prompt through the model from position 0; the logits of its last token.
    fn prefill(&mut self, prompt: &[u32]) -> Result<Tensor, GenerateError> {
        // The models also drop the cache when index_pos is 0; clearing first frees the last
        // conversation's cache before this one's grows.
        self.weights.clear_kv_cache();
        let mut logits = None;
        for (i, chunk) in prompt.chunks(PREFILL_CHUNK).enumerate() {
            let input = Tensor::new(chunk, &self.device)?.unsqueeze(0)?;
            logits = Some(self.weights.forward(&input, i * PREFILL_CHUNK)?);
        }
        let logits = logits.ok_or_else(|| GenerateError::Model("empty prompt".to_string()))?;
        Ok(logits.squeeze(0)?.to_dtype(DType::F32)?)
    }

    fn step(&mut self, id: u32, position: usize) -> Result<Tensor, GenerateError> {
        let input = Tensor::new(&[id], &self.device)?.unsqueeze(0)?;
        let logits = self.weights.forward(&input, position)?;
        Ok(logits.squeeze(0)?.to_dtype(DType::F32)?)
    }

    /// Releases what the UTF-8 and stop-sequence holds kept back, now that no more text comes.
    fn flush(
        &self,
        mut text: TextStream,
        mut stops: StopMatcher,
        reason: FinishReason,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<FinishReason, GenerateError> {
        let mut rest = String::new();
        if let Some(piece) = text.finish(&self.tokenizer)? {
            let pushed = stops.push(&piece);
            rest.push_str(&pushed.emit);
            if pushed.stopped {
                return Ok(emit(&rest, on_text).unwrap_or(FinishReason::Stop));
            }
        }
        rest.push_str(&stops.finish());
        Ok(emit(&rest, on_text).unwrap_or(reason))
    }
}

/// Hands `text` to the client; `Some(Cancelled)` if it asked to stop.
fn emit(text: &str, on_text: &mut dyn FnMut(&str) -> ControlFlow<()>) -> Option<FinishReason> {
    if text.is_empty() {
        return None;
    }
    on_text(text).is_break().then_some(FinishReason::Cancelled)
}

fn sampler(params: &GenerationParams) -> LogitsProcessor {
    let temperature = params.temperature;
    let sampling = if temperature <= 0.0 {
        Sampling::ArgMax
    } else {
        match params.top_p {
            Some(p) if p > 0.0 && p < 1.0 => Sampling::TopP { p, temperature },
            _ => Sampling::All { temperature },
        }
    };
    LogitsProcessor::from_sampling(params.seed, sampling)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::test_support::{SMOLLM, greedy, model_path, smollm, user};
    use crate::llm::{ChatModel, Role};

    fn collect(
        model: &mut ChatModel,
        messages: &[ChatMessage],
        params: &GenerationParams,
    ) -> (String, Generation) {
        let mut out = String::new();
        let generation = model
            .generate(messages, params, &mut |t| {
                out.push_str(t);
                ControlFlow::Continue(())
            })
            .unwrap();
        (out, generation)
    }

    #[test]
    fn chat_model_is_send() {
        fn send<T: Send>() {}
        send::<ChatModel>();
    }

    #[test]
    fn greedy_generation_is_deterministic_and_fresh_per_call() {
        let mut model = smollm();
        let messages = [user("Write one sentence about the sea.")];
        let (a, ga) = collect(&mut model, &messages, &greedy(24));
        // Another conversation in between must not leak into the next through the KV cache.
        collect(&mut model, &[user("Count to five.")], &greedy(8));
        let (b, gb) = collect(&mut model, &messages, &greedy(24));
        assert!(!a.trim().is_empty());
        assert_eq!(a, b);
        assert_eq!(ga.completion_tokens, gb.completion_tokens);
        assert_eq!(
            ga.prompt_tokens,
            model.count_prompt_tokens(&messages).unwrap()
        );
    }

    #[test]
    fn max_tokens_ends_with_length() {
        let mut model = smollm();
        let (text, g) = collect(
            &mut model,
            &[user("Tell me a long story about a dragon.")],
            &greedy(5),
        );
        assert_eq!(
            (g.completion_tokens, g.finish_reason),
            (5, FinishReason::Length)
        );
        assert!(!text.is_empty());
        assert!(g.prompt_seconds > 0.0 && g.generation_seconds > 0.0);
    }

    #[test]
    fn a_stop_string_ends_generation_before_it() {
        let mut model = smollm();
        let messages = [user("Tell me a long story about a dragon.")];
        let (full, _) = collect(&mut model, &messages, &greedy(40));
        // A stop string taken from the middle of the unrestricted answer, so it must match.
        let words: Vec<&str> = full.split_whitespace().collect();
        assert!(words.len() > 6, "{full:?}");
        let stop = format!("{} {}", words[4], words[5]);
        let at = full.find(&stop).unwrap();
        let mut params = greedy(40);
        params.stop = vec!["never-produced-xyz".into(), stop.clone()];
        let (text, g) = collect(&mut model, &messages, &params);
        assert_eq!(g.finish_reason, FinishReason::Stop);
        assert_eq!(text, full[..at], "stop {stop:?}");
        assert!(g.completion_tokens < 40);
    }

    #[test]
    fn the_end_of_turn_token_ends_with_stop() {
        let mut model = smollm();
        let (text, g) = collect(&mut model, &[user("Say hello.")], &greedy(200));
        assert_eq!(g.finish_reason, FinishReason::Stop, "{text:?}");
        assert!(!text.contains("<|im_end|>"));
    }

    #[test]
    fn break_from_the_callback_cancels() {
        let mut model = smollm();
        let mut pieces = 0;
        let g = model
            .generate(
                &[user("Tell me a long story about a dragon.")],
                &greedy(50),
                &mut |_| {
                    pieces += 1;
                    if pieces == 3 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            )
            .unwrap();
        assert_eq!(g.finish_reason, FinishReason::Cancelled);
        assert_eq!(pieces, 3);
        assert!(g.completion_tokens < 50);
    }

    #[test]
    fn the_context_bounds_prompt_and_completion() {
        let mut model = ChatModel::load(&model_path(SMOLLM), 64).unwrap();
        assert_eq!(model.context_tokens(), 64);
        let long = [user(&"word ".repeat(100))];
        let tokens = model.count_prompt_tokens(&long).unwrap();
        match model.generate(&long, &greedy(10), &mut |_| ControlFlow::Continue(())) {
            Err(GenerateError::PromptTooLong { tokens: t, limit }) => {
                assert_eq!((t, limit), (tokens, 64))
            }
            other => panic!("expected PromptTooLong, got {other:?}"),
        }
        // A prompt that fits gets what is left of the context, not max_tokens.
        let short = [
            ChatMessage::new(Role::System, "You write long stories."),
            user("Tell me a long story about a dragon."),
        ];
        let prompt = model.count_prompt_tokens(&short).unwrap();
        let (_, g) = collect(&mut model, &short, &greedy(1000));
        assert_eq!(g.finish_reason, FinishReason::Length);
        assert_eq!(g.completion_tokens, 64 - prompt);
    }

    #[test]
    fn sampling_with_a_seed_is_reproducible() {
        let mut model = smollm();
        let messages = [user("Name a colour.")];
        let params = GenerationParams {
            max_tokens: 12,
            temperature: 0.9,
            top_p: Some(0.95),
            stop: vec![],
            seed: 7,
        };
        let (a, _) = collect(&mut model, &messages, &params);
        let (b, _) = collect(&mut model, &messages, &params);
        assert_eq!(a, b);
    }

    #[test]
    fn smollm_knows_the_capital_of_france() {
        let mut model = smollm();
        let (text, g) = collect(
            &mut model,
            &[user("What is the capital of France? Answer in one word.")],
            &greedy(20),
        );
        assert!(text.contains("Paris"), "{text:?}");
        assert_eq!(g.finish_reason, FinishReason::Stop);
    }
}

/// Speed on this machine. Run with
/// `RAYON_NUM_THREADS=2 cargo test -p mediadocs-local-models --lib llm::generate::bench -- --ignored --nocapture --test-threads 1`
/// on an otherwise idle machine: decoding is many small parallel operations, and with another
/// process on one of the two cores each of them waits for the descheduled thread (10x slower).
#[cfg(test)]
mod bench {
    use super::*;
    use crate::llm::test_support::{QWEN, SMOLLM, greedy, model_path, user};

    /// A made-up meeting transcript of about 500 tokens, with a request for a long answer.
    fn long_prompt(model: &ChatModel) -> Vec<ChatMessage> {
        let lines = [
            "Anna: Let's start with the budget for the next quarter, which is still open.",
            "Ben: Marketing asked for twelve percent more, mostly for the autumn campaign.",
            "Chloe: Engineering needs two more servers and a contractor for the migration.",
            "Anna: Then we should decide what to cut, because the total is fixed.",
            "Ben: The travel budget was underspent last year, so that is a candidate.",
            "Chloe: I would rather delay the office move than the migration itself.",
        ];
        let mut transcript = String::new();
        for i in 0.. {
            transcript.push_str(lines[i % lines.len()]);
            transcript.push('\n');
            let messages = [user(&format!(
                "{transcript}\nSummarise this meeting in detail, in at least 300 words."
            ))];
            if model.count_prompt_tokens(&messages).unwrap() >= 500 {
                return messages.to_vec();
            }
        }
        unreachable!()
    }

    fn measure(label: &str, path: &std::path::Path, requantise: bool) {
        let mut model = ChatModel::load_with(path, 2048, requantise).unwrap();
        let messages = long_prompt(&model);
        // Warm-up: the first pass pays for repacking and allocation.
        model
            .generate(&messages, &greedy(4), &mut |_| ControlFlow::Continue(()))
            .unwrap();
        let mut text = String::new();
        let g = model
            .generate(&messages, &greedy(128), &mut |t| {
                text.push_str(t);
                ControlFlow::Continue(())
            })
            .unwrap();
        println!(
            "{label}: prompt {} tokens in {:.2} s = {:.1} tok/s; generated {} tokens in {:.2} s = {:.1} tok/s ({:?}); threads {}",
            g.prompt_tokens,
            g.prompt_seconds,
            g.prompt_tokens as f64 / g.prompt_seconds,
            g.completion_tokens,
            g.generation_seconds,
            g.completion_tokens as f64 / g.generation_seconds,
            g.finish_reason,
            candle_core::utils::get_num_threads(),
        );
        println!("  {:?}", text.chars().take(160).collect::<String>());
    }

    #[test]
    #[ignore = "a benchmark: about 30 s of CPU"]
    fn smollm() {
        measure("smollm2-135m q8_0 (requantised)", &model_path(SMOLLM), true);
        measure("smollm2-135m q4_1 (raw)", &model_path(SMOLLM), false);
    }

    #[test]
    #[ignore = "a benchmark: about 30 s of CPU"]
    fn qwen() {
        measure(
            "qwen2.5-coder-0.5b q8_0 (requantised)",
            &model_path(QWEN),
            true,
        );
    }

    #[test]
    #[ignore = "a benchmark: minutes of CPU"]
    fn qwen_raw() {
        measure("qwen2.5-coder-0.5b q5_0 (raw)", &model_path(QWEN), false);
    }
}
