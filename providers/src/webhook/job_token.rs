//! Per-job callback credentials for providers that do not sign their webhooks.
//!
//! Each transcription job gets (1) a token in its callback URL, an HMAC over the recording
//! and job IDs, and (2) a header value that AssemblyAI echoes back, another HMAC over the job
//! ID under a different label. Both derive from one server key, so nothing secret is stored
//! per job, and a URL that leaks into a log does not reveal the header value.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use hmac::{Hmac, Mac};
use mediadocs_settings::transcription::WebhookTokenKey;
use sha2::Sha256;

/// The header AssemblyAI sends back with the value we give it.
pub const AUTH_HEADER: &str = "x-mediadocs-webhook-secret";

const MIN_KEY_BYTES: usize = WebhookTokenKey::MIN_BYTES;

#[derive(Clone)]
pub struct JobTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for JobTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobTokens(…)")
    }
}

impl JobTokens {
    /// `key` must hold at least 32 bytes.
    pub fn new(key: Vec<u8>) -> Option<Self> {
        (key.len() >= MIN_KEY_BYTES).then_some(Self { key })
    }

    /// The tokens of the configured `WEBHOOK_TOKEN_KEY`.
    pub fn from_key(key: &WebhookTokenKey) -> Self {
        Self {
            key: key.bytes().to_vec(),
        }
    }

    fn mac(&self, label: &str, parts: &[&str]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        for part in parts {
            // The separator keeps ("ab", "c") and ("a", "bc") apart.
            mac.update(b"\0");
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The token for the callback URL of `job` on `recording`.
    pub fn token(&self, recording_id: &str, job_id: &str) -> String {
        B64URL.encode(
            self.mac("url-token", &[recording_id, job_id])
                .finalize()
                .into_bytes(),
        )
    }

    pub fn verify_token(&self, recording_id: &str, job_id: &str, token: &str) -> bool {
        let Ok(tag) = B64URL.decode(token) else {
            return false;
        };
        self.mac("url-token", &[recording_id, job_id])
            .verify_slice(&tag)
            .is_ok()
    }

    /// The value of [`AUTH_HEADER`] for `job`.
    pub fn header_value(&self, job_id: &str) -> String {
        B64URL.encode(self.mac("header-secret", &[job_id]).finalize().into_bytes())
    }

    pub fn verify_header(&self, job_id: &str, value: &str) -> bool {
        let Ok(tag) = B64URL.decode(value.trim()) else {
            return false;
        };
        self.mac("header-secret", &[job_id])
            .verify_slice(&tag)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(fill: u8) -> JobTokens {
        JobTokens::new(vec![fill; 32]).unwrap()
    }

    #[test]
    fn tokens_bind_recording_job_and_key() {
        let t = tokens(7);
        let token = t.token("rec-1", "job-1");
        assert!(t.verify_token("rec-1", "job-1", &token));
        assert!(!t.verify_token("rec-2", "job-1", &token));
        assert!(!t.verify_token("rec-1", "job-2", &token));
        assert!(!tokens(8).verify_token("rec-1", "job-1", &token));
        assert!(!t.verify_token("rec-1", "job-1", "not base64!"));
        assert!(!t.verify_token("rec-1", "job-1", ""));
        // The separator matters: shifting a character between the IDs changes the token.
        assert_ne!(t.token("ab", "c"), t.token("a", "bc"));
    }

    #[test]
    fn header_values_differ_from_url_tokens() {
        let t = tokens(7);
        let header = t.header_value("job-1");
        assert!(t.verify_header("job-1", &header));
        assert!(!t.verify_header("job-2", &header));
        assert!(!t.verify_token("", "job-1", &header));
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(JobTokens::new(vec![1; 31]).is_none());
    }
}
