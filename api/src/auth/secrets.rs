//! Opaque secrets: refresh tokens, invite tokens and API keys.
//!
//! Each is 32 random bytes, base64url, behind a short prefix that says what it is (so a
//! leaked one is recognisable in logs and by secret scanners). Only SHA-256 digests are
//! stored; a 256-bit random secret needs no slow hash.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

pub const REFRESH_PREFIX: &str = "mdr_";
pub const INVITE_PREFIX: &str = "mdi_";
pub const API_KEY_PREFIX: &str = "mdk_";

/// A new secret: `prefix` followed by 32 random bytes in base64url.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hash_stably() {
        let a = generate(API_KEY_PREFIX);
        let b = generate(API_KEY_PREFIX);
        assert!(a.starts_with("mdk_") && a.len() == 4 + 43);
        assert_ne!(a, b);
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), digest(&b));
    }
}
