//! Sign-in limits of the NVR's admin account (S4), on the elapsed clock.
//!
//! Like the camera's: consecutive failures are counted per source (the key of
//! `camkey_web::client::source_key`); [`MAX_FAILURES`] of them lock that one source out
//! for [`LOCK_MS`]. Another source's failures never delay or lock a source, so no LAN host
//! can keep the admin out. A success clears that source's counter. The table is part of
//! the persisted state (a reboot lifts nothing) and bounded: idle entries go after a day,
//! and when full the oldest go first.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Consecutive failures from one source before it is locked out.
pub const MAX_FAILURES: u32 = 5;
/// How long such a lock lasts.
pub const LOCK_MS: u64 = 5 * 60_000;
/// Idle entries are forgotten after this long.
pub const FORGET_MS: u64 = 24 * 3_600_000;
/// Most sources remembered.
pub const MAX_ENTRIES: usize = 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Entry {
    failures: u32,
    last_ms: u64,
    locked_until_ms: u64,
}

/// The table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignInLimits {
    by_source: BTreeMap<String, Entry>,
}

impl SignInLimits {
    /// `Err(seconds to wait)` while `source` is locked out.
    pub fn check(&self, source: &str, now_ms: u64) -> Result<(), u64> {
        match self.by_source.get(source) {
            Some(e) if e.locked_until_ms > now_ms => {
                Err((e.locked_until_ms - now_ms).div_ceil(1000))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failure from `source`.
    pub fn failure(&mut self, source: &str, now_ms: u64) {
        self.by_source.retain(|_, e| {
            now_ms.saturating_sub(e.last_ms) < FORGET_MS || e.locked_until_ms > now_ms
        });
        if !self.by_source.contains_key(source)
            && self.by_source.len() >= MAX_ENTRIES
            && let Some(oldest) = self
                .by_source
                .iter()
                .min_by_key(|(_, e)| (e.locked_until_ms > now_ms, e.last_ms))
                .map(|(k, _)| k.clone())
        {
            self.by_source.remove(&oldest);
        }
        let e = self.by_source.entry(source.to_string()).or_default();
        if e.locked_until_ms != 0 && e.locked_until_ms <= now_ms {
            e.failures = 0;
            e.locked_until_ms = 0;
        }
        e.failures += 1;
        e.last_ms = now_ms;
        if e.failures >= MAX_FAILURES {
            e.locked_until_ms = now_ms + LOCK_MS;
        }
    }

    /// Clears `source`'s counter.
    pub fn success(&mut self, source: &str) {
        self.by_source.remove(source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_locked_after_its_own_failures_only() {
        let mut l = SignInLimits::default();
        for _ in 0..MAX_FAILURES {
            assert!(l.check("10.0.0.9", 0).is_ok());
            l.failure("10.0.0.9", 0);
        }
        assert_eq!(l.check("10.0.0.9", 1000), Err(LOCK_MS / 1000 - 1));
        assert!(l.check("10.0.0.2", 1000).is_ok(), "others are not delayed");
        assert!(l.check("10.0.0.9", LOCK_MS).is_ok(), "the lock ends");
        l.failure("10.0.0.9", LOCK_MS);
        assert!(l.check("10.0.0.9", LOCK_MS).is_ok(), "counting starts over");
        l.success("10.0.0.9");
        assert_eq!(l, SignInLimits::default());
    }

    #[test]
    fn the_table_is_bounded() {
        let mut l = SignInLimits::default();
        for i in 0..(MAX_ENTRIES + 10) {
            l.failure(&format!("s{i}"), i as u64);
        }
        assert_eq!(l.by_source.len(), MAX_ENTRIES);
        assert!(!l.by_source.contains_key("s0"));
    }
}
