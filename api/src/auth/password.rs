//! Password hashing: argon2id at OWASP's parameters (m=19456 KiB, t=2, p=1).
//!
//! Hashing takes tens of milliseconds of CPU, so it runs on the blocking pool, never on
//! the async workers.

use std::sync::LazyLock;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

pub const MIN_LENGTH: usize = 10;
/// Longer inputs only cost CPU; no real passphrase needs more.
pub const MAX_LENGTH: usize = 1024;

fn hasher() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).expect("OWASP's argon2id parameters are valid"),
    )
}

/// A hash of a random password, verified against when the email is unknown, so that an
/// unknown email and a wrong password cost the same time.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("not-a-real-password-0123456789").expect("hashing works"));

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let hash = hasher()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

/// Checks `password` against `stored`, or against a dummy hash when there is no account, so
/// both outcomes take the same time.
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (DUMMY_HASH.clone(), false),
        };
        Ok(hasher()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
            && real)
    })
    .await?
}
