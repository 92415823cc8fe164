//! The HTTP stack under async-openai, shared by the chat client and the OpenAI embedder.
//!
//! async-openai's own retry layer retries 429, 5xx and connection errors with exponential
//! backoff and honours `Retry-After`, but it will wait as long as the server asks. Under it
//! sits [`DeadlineGuard`]: when a `Retry-After` would outlast the call's deadline, it ends the
//! call at once with the server's answer rather than sleeping into a timeout.

use std::{future::Future, pin::Pin, time::Duration};

use async_openai::{
    Client,
    config::OpenAIConfig,
    error::{OpenAIError, WrappedError},
    middleware::{HttpRequestFactory, ReqwestService, retry::OpenAIRetryLayer},
};
use reqwest::{Response, header::HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use tower::{Layer, Service};
use url::Url;

use super::error::{LlmError, excerpt, from_api};

tokio::task_local! {
    /// When the current call must be over; set by [`with_deadline`].
    static DEADLINE: Instant;
}

/// Runs `call` with `deadline` visible to the retry stack. The caller still wraps `call` in
/// its own timeout: this only stops retries from sleeping past the deadline.
pub(crate) async fn with_deadline<F: Future>(deadline: Instant, call: F) -> F::Output {
    DEADLINE.scope(deadline, call).await
}

/// An async-openai client for `base_url` with our retry stack.
pub(crate) fn client(
    base_url: &Url,
    api_key: Option<&SecretString>,
    max_retries: usize,
) -> Result<Client<OpenAIConfig>, LlmError> {
    let key = api_key.map(|k| k.expose_secret()).unwrap_or_default();
    // async-openai unwraps the header it builds from the key, so refuse a bad key here.
    HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
        LlmError::Config("the API key contains characters not allowed in a header".into())
    })?;
    if !matches!(base_url.scheme(), "http" | "https") {
        return Err(LlmError::Config(format!(
            "{base_url} is not an http(s) URL"
        )));
    }
    // Explicit empty org and project: `OpenAIConfig::new` would read them (and the key)
    // from OPENAI_* variables, which must not leak into a server configured otherwise.
    let config = OpenAIConfig::new()
        .with_api_base(base_url.as_str().trim_end_matches('/'))
        .with_api_key(key)
        .with_org_id("")
        .with_project_id("");
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| LlmError::Config(format!("HTTP client: {e}")))?;
    let service = OpenAIRetryLayer::new(max_retries).layer(DeadlineGuard {
        inner: ReqwestService::new(http.clone()),
    });
    Ok(Client::build(http, config).with_http_service(service))
}

/// Ends a call whose server asks for a wait the call has no time left for.
#[derive(Clone, Debug)]
struct DeadlineGuard<S> {
    inner: S,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, OpenAIError>> + Send>>;

impl<S> Service<HttpRequestFactory> for DeadlineGuard<S>
where
    S: Service<HttpRequestFactory, Response = Response, Error = OpenAIError>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = OpenAIError;
    type Future = ResponseFuture;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let attempt = self.inner.call(request);
        Box::pin(async move {
            let response = attempt.await?;
            let status = response.status();
            if status.as_u16() != 429 && !status.is_server_error() {
                return Ok(response);
            }
            let (Some(wait), Ok(deadline)) = (retry_after(&response), DEADLINE.try_with(|d| *d))
            else {
                return Ok(response);
            };
            if Instant::now() + wait < deadline {
                return Ok(response);
            }
            let body = response.text().await.unwrap_or_default();
            Err(OpenAIError::Boxed(Box::new(BackoffBeyondDeadline {
                status: status.as_u16(),
                retry_after: wait,
                body,
            })))
        })
    }
}

/// Same parsing as async-openai's retry layer, so both agree on how long the wait is.
fn retry_after(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A 429 or 5xx whose `Retry-After` ends after the call's deadline.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status} with Retry-After {retry_after:?}, past the call's deadline")]
pub(crate) struct BackoffBeyondDeadline {
    status: u16,
    retry_after: Duration,
    body: String,
}

impl BackoffBeyondDeadline {
    pub(crate) fn into_llm_error(self) -> LlmError {
        let note = format!(
            "asked to retry after {:?}, beyond the call's timeout",
            self.retry_after
        );
        match serde_json::from_str::<WrappedError>(&self.body) {
            // Keeps a permanent 429 (insufficient_quota) permanent.
            Ok(wrapped) => match from_api(self.status, &wrapped.error) {
                LlmError::RateLimited(m) => LlmError::RateLimited(format!("{m}; {note}")),
                LlmError::Unavailable(m) => LlmError::Unavailable(format!("{m}; {note}")),
                other => other,
            },
            Err(_) if self.status == 429 => LlmError::RateLimited(note),
            Err(_) => LlmError::Unavailable(format!(
                "HTTP {}: {}; {note}",
                self.status,
                excerpt(&self.body, 200)
            )),
        }
    }
}
