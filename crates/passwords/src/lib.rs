//! # camkey-passwords
//!
//! Password and answer hashing, the same for every part that keeps accounts: the camera
//! (its users and security answers), the vendor's support-desk staff, and the NVR's
//! accounts. Argon2id with one set of parameters, a dummy hash to verify against when the
//! account is unknown (so that an unknown name costs the same time as a wrong password),
//! and a [`Hasher`] that runs hashes on the blocking pool, a bounded number at once.
//!
//! Parameters: m = 19 MiB, t = 2, p = 1 — OWASP's recommended minimum for Argon2id. A
//! camera-class SoC (a 1 GHz Cortex-A7 with 128–512 MiB of RAM) takes roughly 0.3 s per
//! hash at these settings: slow enough to make offline guessing of a dumped state costly,
//! fast enough for a person signing in, and small enough in memory that the two hashes we
//! allow at once (a semaphore) fit beside the video pipeline. `docs/security.md` has the
//! measurements.
//!
//! What a password must be (length, strength) is `camkey_proto::policy`'s business, not
//! this crate's.
//!
//! # Layout
//! Everything is in this file: [`hash`], [`verify`], [`dummy_hash`], [`Hasher`] and the
//! parameters ([`M_COST_KIB`], [`T_COST`], [`P_COST`], [`CONCURRENT_HASHES`]).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use std::sync::{Arc, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Memory cost, KiB.
pub const M_COST_KIB: u32 = 19 * 1024;
/// Iterations.
pub const T_COST: u32 = 2;
/// Lanes.
pub const P_COST: u32 = 1;
/// Hashes computed at once by one [`Hasher`], at most (each holds [`M_COST_KIB`] of memory).
pub const CONCURRENT_HASHES: usize = 2;

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a secret (a password or a normalized answer) to a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$…`), with a fresh random salt.
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

/// A hash of nothing anyone knows (128 random bits, made once per process): verified
/// against for unknown accounts so that an unknown name costs the same time as a wrong
/// password. Whatever is verified against it, the caller still refuses: it knows the
/// account is unknown.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut r = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut r);
        hash(&r.iter().map(|b| format!("{b:02x}")).collect::<String>())
    })
}

/// Runs hashes on the blocking pool, at most [`CONCURRENT_HASHES`] at once. Clones share
/// their turns.
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
    /// Hashes off the async threads, waiting for a turn.
    pub async fn hash(&self, secret: String) -> String {
        let _permit = self.permits.acquire().await;
        tokio::task::spawn_blocking(move || hash(&secret))
            .await
            .unwrap_or_default()
    }

    /// Waits for a turn to hash. A sign-in holds its turn from the rate-limit check to the
    /// recording of its outcome, so no more than [`CONCURRENT_HASHES`] guesses are ever
    /// between "allowed" and "counted".
    pub async fn turn(&self) -> Option<OwnedSemaphorePermit> {
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

    #[test]
    fn the_dummy_hash_has_the_real_parameters_and_stays_the_same() {
        assert!(dummy_hash().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(dummy_hash(), dummy_hash());
        assert_ne!(hash("same"), hash("same"), "every hash has its own salt");
    }

    #[tokio::test]
    async fn the_hasher_hashes_off_the_async_threads_and_gives_turns() {
        let hasher = Hasher::default();
        let h = hasher.hash("marble-lantern-violin-88".into()).await;
        let turns = [hasher.turn().await, hasher.clone().turn().await];
        assert!(turns.iter().all(Option::is_some));
        // Both turns are taken: a third waits.
        let third = tokio::time::timeout(std::time::Duration::from_millis(50), hasher.turn());
        assert!(third.await.is_err());
        assert!(
            hasher
                .verify_in_turn("marble-lantern-violin-88".into(), h.clone())
                .await
        );
        assert!(!hasher.verify_in_turn("wrong".into(), h).await);
        drop(turns);
        assert!(hasher.turn().await.is_some());
    }
}
