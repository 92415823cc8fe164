//! Standard Webhooks (<https://www.standardwebhooks.com>): HMAC-SHA256 over
//! `{id}.{timestamp}.{body}`, sent as `webhook-signature: v1,<base64>` beside `webhook-id` and
//! `webhook-timestamp`.
//!
//! Verification works on the raw body bytes: re-serialising parsed JSON would change them.

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use hmac::{Hmac, Mac};
use mediadocs_settings::api::WebhookSecret;
use sha2::Sha256;

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// How far a timestamp may be from our clock, either way, before a delivery counts as a
/// replay (or a badly skewed sender).
pub const TOLERANCE_SECS: i64 = 300;

const SECRET_PREFIX: &str = WebhookSecret::PREFIX;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the webhook secret must be whsec_ followed by base64")]
    BadSecret,
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a Unix time in seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than {TOLERANCE_SECS} s from our clock")]
    OutsideTolerance,
    #[error("no signature matches")]
    NoMatch,
}

/// A signing key: the bytes behind `whsec_<base64>` (whose `Debug` redacts them).
#[derive(Debug, Clone)]
pub struct Secret(WebhookSecret);

impl Secret {
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        WebhookSecret::parse(text)
            .map(Self)
            .ok_or(SignatureError::BadSecret)
    }

    pub fn from_settings(secret: &WebhookSecret) -> Self {
        Self(secret.clone())
    }

    /// A new random secret, for provisioning a self-hosted transcriber.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(WebhookSecret::from_bytes(bytes))
    }

    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(self.0.bytes()))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.0.bytes()).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value for one delivery.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", B64.encode(tag))
    }
}

/// The three headers of one delivery, as received.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Checks a delivery against every secret we accept (more than one while rotating) and every
/// signature in the header (more than one while the sender rotates). One match is enough.
/// `now` is Unix seconds; the caller passes the clock so tests can pin it.
pub fn verify(
    secrets: &[Secret],
    headers: Headers<'_>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let id = headers.id.ok_or(SignatureError::MissingHeader(ID_HEADER))?;
    let timestamp: i64 = headers
        .timestamp
        .ok_or(SignatureError::MissingHeader(TIMESTAMP_HEADER))?
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let signatures = headers
        .signature
        .ok_or(SignatureError::MissingHeader(SIGNATURE_HEADER))?;
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::OutsideTolerance);
    }
    let candidates: Vec<Vec<u8>> = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| B64.decode(s).ok())
        .collect();
    for secret in secrets {
        let mac = secret.mac(id, timestamp, body);
        // verify_slice compares in constant time.
        if candidates
            .iter()
            .any(|c| mac.clone().verify_slice(c).is_ok())
        {
            return Ok(());
        }
    }
    Err(SignatureError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vector {
        secret: &'static str,
        id: &'static str,
        timestamp: i64,
        body: &'static str,
        signature: &'static str,
    }

    /// The published test vectors of the Standard Webhooks reference libraries.
    const VECTORS: [Vector; 2] = [
        Vector {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1614265330,
            body: r#"{"test": 2432232314}"#,
            signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        },
        Vector {
            secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            timestamp: 1649367553,
            body: r#"{"email":"test@example.com","username":"test_user"}"#,
            signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        },
    ];

    fn headers<'a>(v: &'a Vector, ts: &'a str, sig: &'a str) -> Headers<'a> {
        Headers {
            id: Some(v.id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn published_vectors_verify_and_sign() {
        for v in &VECTORS {
            let secret = Secret::parse(v.secret).unwrap();
            assert_eq!(
                secret.sign(v.id, v.timestamp, v.body.as_bytes()),
                v.signature
            );
            let ts = v.timestamp.to_string();
            let h = headers(v, &ts, v.signature);
            assert_eq!(verify(&[secret], h, v.body.as_bytes(), v.timestamp), Ok(()));
        }
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let v = &VECTORS[0];
        let ts = v.timestamp.to_string();
        let sig = format!("v1,Zm9v v2,whatever {} v1,!!notbase64", v.signature);
        let secret = Secret::parse(v.secret).unwrap();
        assert_eq!(
            verify(
                &[secret],
                headers(v, &ts, &sig),
                v.body.as_bytes(),
                v.timestamp
            ),
            Ok(())
        );
    }

    #[test]
    fn any_accepted_secret_may_match() {
        let v = &VECTORS[0];
        let ts = v.timestamp.to_string();
        let old = Secret::parse(VECTORS[1].secret).unwrap();
        let new = Secret::parse(v.secret).unwrap();
        let h = headers(v, &ts, v.signature);
        assert_eq!(
            verify(
                std::slice::from_ref(&old),
                h,
                v.body.as_bytes(),
                v.timestamp
            ),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(&[old, new], h, v.body.as_bytes(), v.timestamp),
            Ok(())
        );
    }

    #[test]
    fn tampering_and_time_are_rejected() {
        let v = &VECTORS[0];
        let secret = Secret::parse(v.secret).unwrap();
        let ts = v.timestamp.to_string();
        let check = |h: Headers<'_>, body: &str, now: i64| {
            verify(std::slice::from_ref(&secret), h, body.as_bytes(), now)
        };
        let good = headers(v, &ts, v.signature);
        assert_eq!(
            check(good, r#"{"test": 2432232315}"#, v.timestamp),
            Err(SignatureError::NoMatch)
        );
        let other_id = Headers {
            id: Some("msg_other"),
            ..good
        };
        assert_eq!(
            check(other_id, v.body, v.timestamp),
            Err(SignatureError::NoMatch)
        );
        let later = (v.timestamp + 1).to_string();
        assert_eq!(
            check(headers(v, &later, v.signature), v.body, v.timestamp),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(check(good, v.body, v.timestamp + TOLERANCE_SECS), Ok(()));
        assert_eq!(check(good, v.body, v.timestamp - TOLERANCE_SECS), Ok(()));
        assert_eq!(
            check(good, v.body, v.timestamp + TOLERANCE_SECS + 1),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            check(good, v.body, v.timestamp - TOLERANCE_SECS - 1),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            check(headers(v, "soon", v.signature), v.body, v.timestamp),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            check(
                Headers {
                    signature: None,
                    ..good
                },
                v.body,
                v.timestamp
            ),
            Err(SignatureError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            check(Headers { id: None, ..good }, v.body, v.timestamp),
            Err(SignatureError::MissingHeader(ID_HEADER))
        );
        assert_eq!(
            check(headers(v, &ts, "v1,"), v.body, v.timestamp),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn secrets_parse_strictly() {
        assert_eq!(
            Secret::parse("whsec_").err(),
            Some(SignatureError::BadSecret)
        );
        assert_eq!(
            Secret::parse("whsec_***").err(),
            Some(SignatureError::BadSecret)
        );
        let s = Secret::parse(VECTORS[0].secret).unwrap();
        assert_eq!(s.to_whsec(), VECTORS[0].secret);
    }
}
