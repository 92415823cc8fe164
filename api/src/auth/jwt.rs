//! Access tokens: HS256 JWTs with a key id, so keys can rotate.
//!
//! `JWT_KEYS` holds every key that may verify a token; the first one signs. To rotate, put a
//! new key first, keep the old one until the last token it signed has expired (15 minutes
//! by default), then drop it.

use std::{collections::HashMap, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Role;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    pub org: Uuid,
    pub role: Role,
    /// The login (refresh-token family) the token was issued under; logout revokes it.
    pub fam: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct JwtKeys {
    signing_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl JwtKeys {
    /// `keys` is `[(kid, secret)]`, the signing key first.
    pub fn new(keys: &[(String, Vec<u8>)], issuer: &str, audience: &str, ttl: Duration) -> Self {
        let (signing_kid, signing_secret) = keys.first().expect("at least one JWT key");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            signing_kid: signing_kid.clone(),
            encoding: EncodingKey::from_secret(signing_secret),
            decoding: keys
                .iter()
                .map(|(kid, secret)| (kid.clone(), DecodingKey::from_secret(secret)))
                .collect(),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user: Uuid, org: Uuid, role: Role, family: Uuid) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            org,
            role,
            fam: family,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing_kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    /// Verifies signature, algorithm, `kid`, `exp`, `iss` and `aud`. Any failure is `None`:
    /// callers answer 401 without saying which check failed.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::HS256 {
            return None;
        }
        let key = self.decoding.get(header.kid.as_deref()?)?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[(&str, &str)]) -> JwtKeys {
        let keys: Vec<_> = list
            .iter()
            .map(|(k, s)| (k.to_string(), s.as_bytes().to_vec()))
            .collect();
        JwtKeys::new(
            &keys,
            "mediadocs",
            "mediadocs-api",
            Duration::from_secs(900),
        )
    }

    #[test]
    fn a_token_verifies_under_its_kid_after_rotation() {
        let old = keys(&[("k1", "0123456789abcdef0123456789abcdef")]);
        let token = old
            .issue(Uuid::nil(), Uuid::nil(), Role::Admin, Uuid::nil())
            .unwrap();
        let rotated = keys(&[
            ("k2", "fedcba9876543210fedcba9876543210"),
            ("k1", "0123456789abcdef0123456789abcdef"),
        ]);
        assert_eq!(rotated.verify(&token).unwrap().role, Role::Admin);
        let dropped = keys(&[("k2", "fedcba9876543210fedcba9876543210")]);
        assert!(
            dropped.verify(&token).is_none(),
            "a retired kid no longer verifies"
        );
    }
}
