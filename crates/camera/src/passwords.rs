//! Password and answer hashing: Argon2id.
//!
//! Parameters: m = 19 MiB, t = 2, p = 1 — OWASP's recommended minimum for Argon2id. A
//! camera-class SoC (a 1 GHz Cortex-A7 with 128–512 MiB of RAM) takes roughly 0.3 s per
//! hash at these settings: slow enough to make offline guessing of a dumped state costly,
//! fast enough for a person signing in, and small enough in memory that the two hashes we
//! allow at once (a semaphore) fit beside the video pipeline. `docs/security.md` has the
//! measurements.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// Memory cost, KiB.
pub const M_COST_KIB: u32 = 19 * 1024;
/// Iterations.
pub const T_COST: u32 = 2;
/// Lanes.
pub const P_COST: u32 = 1;
/// Hashes computed at once, at most (each holds [`M_COST_KIB`] of memory).
pub const CONCURRENT_HASHES: usize = 2;

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a secret (a password or a normalized answer) to a PHC string.
pub fn hash(secret: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// Verifies a secret against a PHC string in constant time; a malformed hash never matches.
pub fn verify(secret: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash of nothing anyone knows: verified against for unknown users so that an unknown
/// name costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut r = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut r);
        hash(&data_encoding::HEXLOWER.encode(&r))
    })
}

/// Runs hashes on the blocking pool, at most [`CONCURRENT_HASHES`] at once.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher {
            permits: Arc::new(Semaphore::new(CONCURRENT_HASHES)),
        }
    }
}

impl Hasher {
    /// Hashes off the async threads.
    pub async fn hash(&self, secret: String) -> String {
        let _permit = self.permits.acquire().await;
        tokio::task::spawn_blocking(move || hash(&secret))
            .await
            .unwrap_or_default()
    }

    /// Waits for a turn to hash. A sign-in holds its turn from the rate-limit check to the
    /// recording of its outcome, so no more than [`CONCURRENT_HASHES`] guesses are ever
    /// between "allowed" and "counted".
    pub async fn turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.permits.clone().acquire_owned().await.ok()
    }

    /// Verifies off the async threads; the caller holds a [`Hasher::turn`].
    pub async fn verify_in_turn(&self, secret: String, phc: String) -> bool {
        tokio::task::spawn_blocking(move || verify(&secret, &phc))
            .await
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("tulip-harbor-quietly-42");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("tulip-harbor-quietly-42", &h));
        assert!(!verify("tulip-harbor-quietly-43", &h));
        assert!(!verify("x", "not a hash"));
        assert!(!verify("x", dummy_hash()));
    }
}
