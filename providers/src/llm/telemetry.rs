//! Counters for spend and reliability, labelled by the configured model.

use super::{LlmError, Usage};

pub(super) fn record_usage(model: &str, usage: &Usage) {
    let model = model.to_owned();
    metrics::counter!("llm_tokens_total", "model" => model.clone(), "kind" => "prompt")
        .increment(usage.prompt_tokens.into());
    metrics::counter!("llm_tokens_total", "model" => model, "kind" => "completion")
        .increment(usage.completion_tokens.into());
}

/// `outcome` is `ok`, `abandoned` (the caller dropped a stream) or an [`LlmError::kind`].
pub(super) fn record_outcome(model: &str, outcome: &'static str) {
    metrics::counter!("llm_requests_total", "model" => model.to_owned(), "outcome" => outcome)
        .increment(1);
}

pub(super) fn record_result<T>(model: &str, result: &Result<T, LlmError>) {
    record_outcome(model, result.as_ref().map_or_else(LlmError::kind, |_| "ok"));
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    use super::*;

    type Log = Arc<Mutex<Vec<(String, Vec<(String, String)>, u64)>>>;

    /// Records every counter increment with its name and labels.
    #[derive(Default)]
    struct Capture(Log);

    struct Entry(Key, Log);

    impl CounterFn for Entry {
        fn increment(&self, value: u64) {
            let labels = self
                .0
                .labels()
                .map(|l| (l.key().into(), l.value().into()))
                .collect();
            self.1
                .lock()
                .unwrap()
                .push((self.0.name().into(), labels, value));
        }
        fn absolute(&self, _: u64) {}
    }

    impl Recorder for Capture {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(Arc::new(Entry(key.clone(), self.0.clone())))
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tokens_and_outcomes_are_counted_by_model() {
        let capture = Capture::default();
        metrics::with_local_recorder(&capture, || {
            let usage = Usage {
                prompt_tokens: 3,
                completion_tokens: 5,
                total: 8,
            };
            record_usage("m", &usage);
            record_result::<()>(
                "m",
                &Err(LlmError::Empty {
                    finish_reason: "stop".into(),
                }),
            );
            record_result("m", &Ok(()));
        });
        let log = capture.0.lock().unwrap().clone();
        assert_eq!(
            log,
            vec![
                (
                    "llm_tokens_total".into(),
                    labels(&[("model", "m"), ("kind", "prompt")]),
                    3
                ),
                (
                    "llm_tokens_total".into(),
                    labels(&[("model", "m"), ("kind", "completion")]),
                    5
                ),
                (
                    "llm_requests_total".into(),
                    labels(&[("model", "m"), ("outcome", "empty")]),
                    1
                ),
                (
                    "llm_requests_total".into(),
                    labels(&[("model", "m"), ("outcome", "ok")]),
                    1
                ),
            ]
        );
    }
}
