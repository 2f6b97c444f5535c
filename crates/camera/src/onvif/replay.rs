//! The cache of credentials already used, so a sniffed ONVIF request cannot be sent again
//! (CVE-2022-30563).
//!
//! A UsernameToken is identified by its user, nonce and `Created`; an HTTP digest answer by
//! its server nonce, nonce count and client nonce. Only credentials that verified are
//! remembered (so sources without a password cannot fill the cache), and the check and the
//! insertion are one step under the lock (so two copies racing each other cannot both
//! pass).
//!
//! Entries live for [`KEEP_MS`] of the camera's elapsed clock, longer than any token can be
//! fresh. The cache is bounded ([`CAPACITY`]); when it is full the oldest entry goes. To
//! stay safe when entries go (by age or by capacity), and when the wall clock is moved
//! back, the cache keeps a floor: the latest `Created` of any token it dropped. A token
//! created at or before the floor is refused as possibly replayed, so a dropped entry can
//! never be accepted again (the wall clock may only shorten a validity, docs/design.md §5).

use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};

/// Most remembered credentials.
pub const CAPACITY: usize = 8192;
/// How long an entry is kept (elapsed clock): twice the freshness window.
pub const KEEP_MS: u64 = 2 * super::auth::TOKEN_WINDOW_MS;

/// What a credential check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not seen before: now remembered.
    New,
    /// Already used (or possibly used: older than the floor).
    Replayed,
}

/// Remembered credentials.
#[derive(Debug, Default)]
pub struct ReplayCache {
    set: HashSet<[u8; 32]>,
    /// (key, inserted at elapsed ms, created wall ms if a token).
    order: VecDeque<([u8; 32], u64, Option<i64>)>,
    /// The latest `Created` of a dropped token.
    floor: Option<i64>,
}

/// The key of a credential: SHA-256 of its identifying parts, length-prefixed.
pub fn key(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

impl ReplayCache {
    /// Whether a credential was used before (or may have been: older than the floor),
    /// without recording it. Checked before the password is, so a copy never counts as a
    /// successful sign-in (which would reset the sender's failure count, S4).
    pub fn seen(&self, key: &[u8; 32], created_ms: Option<i64>) -> bool {
        let below_floor = matches!((created_ms, self.floor), (Some(c), Some(f)) if c <= f);
        below_floor || self.set.contains(key)
    }

    /// Records a verified credential at `now_ms` (elapsed); `created_ms` is a token's
    /// `Created` (wall clock), `None` for a digest answer.
    pub fn check_and_insert(
        &mut self,
        key: [u8; 32],
        now_ms: u64,
        created_ms: Option<i64>,
    ) -> Seen {
        self.expire(now_ms);
        if let (Some(created), Some(floor)) = (created_ms, self.floor)
            && created <= floor
        {
            return Seen::Replayed;
        }
        if !self.set.insert(key) {
            return Seen::Replayed;
        }
        self.order.push_back((key, now_ms, created_ms));
        while self.order.len() > CAPACITY {
            self.drop_oldest();
        }
        Seen::New
    }

    fn expire(&mut self, now_ms: u64) {
        while self
            .order
            .front()
            .is_some_and(|(_, at, _)| now_ms.saturating_sub(*at) > KEEP_MS)
        {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        if let Some((k, _, created)) = self.order.pop_front() {
            self.set.remove(&k);
            if let Some(c) = created {
                self.floor = Some(self.floor.map_or(c, |f| f.max(c)));
            }
        }
    }

    /// Remembered entries.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_passes_once() {
        let mut c = ReplayCache::default();
        let k = key(&[b"admin", b"nonce", b"2026-01-01T00:00:00Z"]);
        assert!(!c.seen(&k, Some(1_000)));
        assert_eq!(c.check_and_insert(k, 0, Some(1_000)), Seen::New);
        assert!(c.seen(&k, Some(1_000)));
        assert_eq!(c.check_and_insert(k, 10, Some(1_000)), Seen::Replayed);
        let other = key(&[b"admin", b"nonce2", b"2026-01-01T00:00:00Z"]);
        assert_eq!(c.check_and_insert(other, 10, Some(1_000)), Seen::New);
        // Length prefixes keep the parts apart.
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
    }

    #[test]
    fn dropped_entries_raise_the_floor() {
        let mut c = ReplayCache::default();
        let k = key(&[b"t"]);
        assert_eq!(c.check_and_insert(k, 0, Some(5_000)), Seen::New);
        // Long after: the entry is gone, but a token created at or before it is refused
        // (the wall clock might have been moved back to make it look fresh).
        let later = KEEP_MS + 1;
        assert_eq!(c.check_and_insert(k, later, Some(5_000)), Seen::Replayed);
        assert!(c.is_empty());
        assert!(c.seen(&key(&[b"u"]), Some(4_000)));
        assert_eq!(
            c.check_and_insert(key(&[b"u"]), later, Some(4_000)),
            Seen::Replayed
        );
        assert_eq!(
            c.check_and_insert(key(&[b"v"]), later, Some(5_001)),
            Seen::New
        );
        // Digest answers carry no Created and are not subject to the floor.
        assert_eq!(c.check_and_insert(key(&[b"d"]), later, None), Seen::New);
    }

    #[test]
    fn capacity_is_bounded() {
        let mut c = ReplayCache::default();
        for i in 0..(CAPACITY as u64 + 10) {
            let created = i64::try_from(i).unwrap_or(i64::MAX);
            assert_eq!(
                c.check_and_insert(key(&[&i.to_be_bytes()]), 0, Some(created)),
                Seen::New
            );
        }
        assert_eq!(c.len(), CAPACITY);
        // The ten oldest went; the floor keeps them out.
        assert_eq!(
            c.check_and_insert(key(&[&0u64.to_be_bytes()]), 0, Some(0)),
            Seen::Replayed
        );
    }
}
