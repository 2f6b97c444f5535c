//! Rate limits for every guessable secret (S4), on the elapsed clock.
//!
//! Two counters guard each secret:
//! - per (scope, account, source): [`Policy::per_source_max`] consecutive failures lock that
//!   source out of that account for [`Policy::per_source_lock_ms`];
//! - per (scope, account), across sources: after [`Policy::account_free`] consecutive
//!   failures, each further attempt waits a delay that doubles up to
//!   [`Policy::account_max_delay_ms`] — a slowdown, never a permanent lock, so nobody can
//!   lock the owner out for good.
//!
//! A success clears both. The table is part of the persisted user state, so reboots lift
//! nothing, and it is bounded: idle entries are forgotten after a day and the oldest go
//! first when the table is full.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The knobs.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Consecutive failures from one source before it is locked out.
    pub per_source_max: u32,
    /// How long such a lock lasts.
    pub per_source_lock_ms: u64,
    /// Failures across sources before delays start.
    pub account_free: u32,
    /// First delay.
    pub account_base_delay_ms: u64,
    /// Longest delay.
    pub account_max_delay_ms: u64,
    /// Idle entries are forgotten after this long.
    pub forget_after_ms: u64,
    /// Most entries kept.
    pub max_entries: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            per_source_max: 5,
            per_source_lock_ms: 5 * 60_000,
            account_free: 10,
            account_base_delay_ms: 1_000,
            account_max_delay_ms: 60_000,
            forget_after_ms: 24 * 3_600_000,
            max_entries: 2_048,
        }
    }
}

/// One counter.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Consecutive failures.
    pub fails: u32,
    /// Elapsed ms until which this key is locked (0: not locked).
    pub locked_until: u64,
    /// Elapsed ms of the last failure.
    pub last: u64,
}

/// The persisted table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Limits {
    entries: BTreeMap<String, Entry>,
}

/// An attempt that must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter {
    /// Milliseconds until the next attempt is allowed.
    pub ms: u64,
    /// Whether this is a hard per-source lock (vs a cross-source delay).
    pub locked: bool,
}

impl RetryAfter {
    /// Whole seconds, rounded up, for `Retry-After`.
    pub fn secs(&self) -> u64 {
        self.ms.div_ceil(1000).max(1)
    }
}

/// What recording a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Counted.
    Counted,
    /// This failure locked the source out.
    LockedOut,
}

/// The source part of a key: the address for IPv4, the /64 for IPv6 (one host owns a /64).
pub fn source_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl Limits {
    fn src(scope: &str, account: &str, source: &str) -> String {
        format!("{scope}|{account}|{source}")
    }
    fn acct(scope: &str, account: &str) -> String {
        format!("{scope}|{account}|*")
    }

    /// Whether an attempt may go ahead now.
    pub fn check(
        &self,
        p: &Policy,
        scope: &str,
        account: &str,
        source: &str,
        now: u64,
    ) -> Result<(), RetryAfter> {
        if let Some(e) = self.entries.get(&Self::src(scope, account, source))
            && e.locked_until > now
        {
            return Err(RetryAfter {
                ms: e.locked_until - now,
                locked: true,
            });
        }
        if let Some(e) = self.entries.get(&Self::acct(scope, account))
            && e.fails >= p.account_free
        {
            let steps = (e.fails - p.account_free).min(30);
            let delay = p
                .account_base_delay_ms
                .saturating_mul(1u64 << steps)
                .min(p.account_max_delay_ms);
            let until = e.last.saturating_add(delay);
            if until > now {
                return Err(RetryAfter {
                    ms: until - now,
                    locked: false,
                });
            }
        }
        Ok(())
    }

    /// Records a failed attempt.
    pub fn fail(
        &mut self,
        p: &Policy,
        scope: &str,
        account: &str,
        source: &str,
        now: u64,
    ) -> Failure {
        self.prune(p, now);
        let src = self
            .entries
            .entry(Self::src(scope, account, source))
            .or_default();
        if src.locked_until != 0 && src.locked_until <= now {
            // The lock ran out: a fresh start.
            *src = Entry::default();
        }
        src.fails += 1;
        src.last = now;
        let outcome = if src.fails >= p.per_source_max {
            src.locked_until = now + p.per_source_lock_ms;
            src.fails = 0;
            Failure::LockedOut
        } else {
            Failure::Counted
        };
        let acct = self.entries.entry(Self::acct(scope, account)).or_default();
        acct.fails = acct.fails.saturating_add(1);
        acct.last = now;
        outcome
    }

    /// Records a success: both counters are cleared.
    pub fn succeed(&mut self, scope: &str, account: &str, source: &str) {
        self.entries.remove(&Self::src(scope, account, source));
        self.entries.remove(&Self::acct(scope, account));
    }

    /// Clears every counter of a scope and account (after a password reset).
    pub fn clear_account(&mut self, scope: &str, account: &str) {
        let prefix = format!("{scope}|{account}|");
        self.entries.retain(|k, _| !k.starts_with(&prefix));
    }

    /// Number of entries (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn prune(&mut self, p: &Policy, now: u64) {
        self.entries
            .retain(|_, e| e.locked_until > now || e.last.saturating_add(p.forget_after_ms) > now);
        // Room for the two entries a failure may add.
        while self.entries.len() + 2 > p.max_entries {
            // Drop the entry idle longest; locked entries go last.
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| (e.locked_until > now, e.last))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    self.entries.remove(&k);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Policy = Policy {
        per_source_max: 5,
        per_source_lock_ms: 300_000,
        account_free: 10,
        account_base_delay_ms: 1_000,
        account_max_delay_ms: 60_000,
        forget_after_ms: 86_400_000,
        max_entries: 64,
    };

    #[test]
    fn five_failures_lock_one_source_for_five_minutes() {
        let mut l = Limits::default();
        for i in 0..4 {
            assert_eq!(
                l.fail(&P, "login", "admin", "10.0.0.9", i),
                Failure::Counted
            );
            assert!(l.check(&P, "login", "admin", "10.0.0.9", i).is_ok());
        }
        assert_eq!(
            l.fail(&P, "login", "admin", "10.0.0.9", 4),
            Failure::LockedOut
        );
        let r = l.check(&P, "login", "admin", "10.0.0.9", 5).unwrap_err();
        assert!(r.locked && r.secs() == 300);
        // Another source is not locked; the lock lifts after 5 minutes.
        assert!(l.check(&P, "login", "admin", "10.0.0.7", 5).is_ok());
        assert!(l.check(&P, "login", "admin", "10.0.0.9", 300_004).is_ok());
        // And counting starts afresh.
        assert_eq!(
            l.fail(&P, "login", "admin", "10.0.0.9", 300_010),
            Failure::Counted
        );
    }

    #[test]
    fn across_sources_delays_grow_but_never_lock_for_good() {
        let mut l = Limits::default();
        let mut now = 0;
        for i in 0..10 {
            l.fail(&P, "login", "admin", &format!("10.0.1.{i}"), now);
        }
        let r = l.check(&P, "login", "admin", "10.0.2.1", now).unwrap_err();
        assert!(!r.locked && r.ms == 1_000);
        for i in 0..200 {
            now += 61_000;
            assert!(
                l.check(&P, "login", "admin", &format!("10.0.3.{i}"), now)
                    .is_ok()
            );
            l.fail(&P, "login", "admin", &format!("10.0.3.{i}"), now);
        }
        // Capped at the maximum delay, however many failures.
        assert_eq!(
            l.check(&P, "login", "admin", "10.9.9.9", now)
                .unwrap_err()
                .ms,
            60_000
        );
        // A success from the owner clears the account-wide counter.
        l.succeed("login", "admin", "10.9.9.9");
        assert!(l.check(&P, "login", "admin", "10.9.9.8", now).is_ok());
    }

    #[test]
    fn table_stays_bounded() {
        let mut l = Limits::default();
        for i in 0..10_000u64 {
            l.fail(&P, "login", &format!("user{i}"), "10.0.0.1", i);
        }
        assert!(l.len() <= P.max_entries);
    }

    #[test]
    fn ipv6_sources_group_by_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        let m: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(source_key(m), "10.1.2.3");
    }
}
