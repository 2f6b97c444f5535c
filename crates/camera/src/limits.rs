//! Rate limits for every guessable secret (S4), on the elapsed clock.
//!
//! Secrets that can be guessed (passwords, security answers) are limited by who guesses,
//! as a [`Guesser`]:
//! - a **trusted** client (a device cookie of that account, OWASP "device cookies", a
//!   live session, or an ONVIF client whose (account, source) pair signed in before, see
//!   `core::onvif`) has a counter of its own: [`Policy::per_source_max`] consecutive
//!   failures lock that one client out for [`Policy::per_source_lock_ms`]. Nobody else's
//!   failures delay or lock it;
//! - any **other** client is limited per (scope, account, source) with the same hard lock,
//!   and per (scope, account) across sources: after [`Policy::account_free`] consecutive
//!   failures of such clients, each further attempt by one of them waits a delay that
//!   doubles up to [`Policy::account_max_delay_ms`] — a slowdown, never a permanent lock.
//!
//! Secrets too long to guess (security codes, e-mailed codes, setup codes) are limited per
//! (scope, source) only ([`Limits::check_source`]): no delay that other sources can keep
//! alive, so an attacker's failures never make the owner's real code wait.
//!
//! A success clears the guesser's counter, and the account-wide one when it came from a
//! client without a device cookie. The table is part of
//! the persisted user state, so reboots lift nothing, and it is bounded: idle entries are
//! forgotten after a day and, when the table is full, the oldest go first — counters of
//! names that are no account first, the account-wide counters of real accounts last, locks
//! after unlocked entries — so a flood of made-up names or sources cannot push the owner's
//! account counter out. Unknown user
//! names count each on their own (see [`unknown_account`]), exactly like real ones, so the
//! limit answer does not tell which names exist.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[cfg(doc)]
use camkey_web::client::source_key;

/// The knobs.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Consecutive failures from one source (or one trusted client) before it is locked out.
    pub per_source_max: u32,
    /// How long such a lock lasts.
    pub per_source_lock_ms: u64,
    /// Failures across untrusted sources before delays start.
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

/// Who makes a guess at a password or answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guesser {
    /// A client that proved itself before (a valid device cookie of the account, or a live
    /// session): its id, limited on its own.
    Trusted(String),
    /// Anyone else: its [`source_key`] (the address, an IPv6 one by its /64).
    Untrusted(String),
}

/// The account part of a key for a user name that is no account: the name itself (a
/// digest of it when long or odd), marked so that the table evicts these first. Each name
/// counts on its own, exactly as a real account would.
pub fn unknown_account(name: &str) -> String {
    let plain = name.len() <= 64 && name.chars().all(|c| c.is_ascii_graphic() && c != '|');
    if plain {
        format!("?{name}")
    } else {
        let d = Sha256::digest(name.as_bytes());
        format!("?#{}", data_encoding::HEXLOWER.encode(&d[..12]))
    }
}

/// Which entries a full table gives up first: counters of names that are no account
/// (0), then those of one source or client (1), and last the account-wide counters of real
/// accounts (2), which are few and which a flood must not push out.
fn eviction_rank(key: &str) -> u8 {
    let account = key.split('|').nth(1).unwrap_or("");
    if account.starts_with('?') {
        0
    } else if key.ends_with("|*") {
        2
    } else {
        1
    }
}

impl Limits {
    fn key(scope: &str, account: &str, who: &Guesser) -> String {
        match who {
            Guesser::Trusted(id) => format!("{scope}|{account}|#{id}"),
            Guesser::Untrusted(src) => format!("{scope}|{account}|{src}"),
        }
    }
    fn acct(scope: &str, account: &str) -> String {
        format!("{scope}|{account}|*")
    }
    fn src_only(scope: &str, source: &str) -> String {
        format!("{scope}||{source}")
    }

    fn hard_lock(&self, key: &str, now: u64) -> Result<(), RetryAfter> {
        match self.entries.get(key) {
            Some(e) if e.locked_until > now => Err(RetryAfter {
                ms: e.locked_until - now,
                locked: true,
            }),
            _ => Ok(()),
        }
    }

    /// Whether a guess at a password or answers may go ahead now.
    pub fn check(
        &self,
        p: &Policy,
        scope: &str,
        account: &str,
        who: &Guesser,
        now: u64,
    ) -> Result<(), RetryAfter> {
        self.hard_lock(&Self::key(scope, account, who), now)?;
        if matches!(who, Guesser::Trusted(_)) {
            // Others' failures never hold up a client that proved itself before.
            return Ok(());
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

    /// Counts one failure under `key`; locks it after `per_source_max`.
    fn count(&mut self, p: &Policy, key: String, now: u64) -> Failure {
        let e = self.entries.entry(key).or_default();
        if e.locked_until != 0 && e.locked_until <= now {
            // The lock ran out: a fresh start.
            *e = Entry::default();
        }
        e.fails += 1;
        e.last = now;
        if e.fails >= p.per_source_max {
            e.locked_until = now + p.per_source_lock_ms;
            e.fails = 0;
            Failure::LockedOut
        } else {
            Failure::Counted
        }
    }

    /// Records a failed guess at a password or answers.
    pub fn fail(
        &mut self,
        p: &Policy,
        scope: &str,
        account: &str,
        who: &Guesser,
        now: u64,
    ) -> Failure {
        self.prune(p, now);
        let outcome = self.count(p, Self::key(scope, account, who), now);
        if matches!(who, Guesser::Untrusted(_)) {
            let acct = self.entries.entry(Self::acct(scope, account)).or_default();
            acct.fails = acct.fails.saturating_add(1);
            acct.last = now;
        }
        outcome
    }

    /// Records a success: the guesser's counter is cleared, and the account-wide one too
    /// when the guesser is not trusted (a trusted client's success says nothing about the
    /// others: clearing it would hand an attacker fresh free guesses at every sign-in of
    /// the owner).
    pub fn succeed(&mut self, scope: &str, account: &str, who: &Guesser) {
        self.entries.remove(&Self::key(scope, account, who));
        if matches!(who, Guesser::Untrusted(_)) {
            self.entries.remove(&Self::acct(scope, account));
        }
    }

    /// Whether a guess at a secret too long to guess may go ahead now (per source only).
    pub fn check_source(&self, scope: &str, source: &str, now: u64) -> Result<(), RetryAfter> {
        self.hard_lock(&Self::src_only(scope, source), now)
    }

    /// Records a failed guess at a secret too long to guess (per source only).
    pub fn fail_source(&mut self, p: &Policy, scope: &str, source: &str, now: u64) -> Failure {
        self.prune(p, now);
        self.count(p, Self::src_only(scope, source), now)
    }

    /// Records a success at a secret too long to guess.
    pub fn succeed_source(&mut self, scope: &str, source: &str) {
        self.entries.remove(&Self::src_only(scope, source));
    }

    /// Clears every counter of a scope and account, and every per-source counter of the
    /// scope (after a password reset).
    pub fn clear_account(&mut self, scope: &str, account: &str) {
        let prefix = format!("{scope}|{account}|");
        let sources = format!("{scope}||");
        self.entries
            .retain(|k, _| !k.starts_with(&prefix) && !k.starts_with(&sources));
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
            // By rank, then unlocked before locked, then the entry idle longest.
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(k, e)| (eviction_rank(k), e.locked_until > now, e.last))
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
    use camkey_web::client::source_key;
    use std::net::IpAddr;

    const P: Policy = Policy {
        per_source_max: 5,
        per_source_lock_ms: 300_000,
        account_free: 10,
        account_base_delay_ms: 1_000,
        account_max_delay_ms: 60_000,
        forget_after_ms: 86_400_000,
        max_entries: 64,
    };

    fn src(s: &str) -> Guesser {
        Guesser::Untrusted(s.into())
    }

    #[test]
    fn five_failures_lock_one_source_for_five_minutes() {
        let mut l = Limits::default();
        let g = src("10.0.0.9");
        for i in 0..4 {
            assert_eq!(l.fail(&P, "login", "admin", &g, i), Failure::Counted);
            assert!(l.check(&P, "login", "admin", &g, i).is_ok());
        }
        assert_eq!(l.fail(&P, "login", "admin", &g, 4), Failure::LockedOut);
        let r = l.check(&P, "login", "admin", &g, 5).unwrap_err();
        assert!(r.locked && r.secs() == 300);
        // Another source is not locked; the lock lifts after 5 minutes.
        assert!(l.check(&P, "login", "admin", &src("10.0.0.7"), 5).is_ok());
        assert!(l.check(&P, "login", "admin", &g, 300_004).is_ok());
        // And counting starts afresh.
        assert_eq!(l.fail(&P, "login", "admin", &g, 300_010), Failure::Counted);
    }

    #[test]
    fn across_sources_delays_grow_but_never_lock_for_good() {
        let mut l = Limits::default();
        let mut now = 0;
        for i in 0..10 {
            l.fail(&P, "login", "admin", &src(&format!("10.0.1.{i}")), now);
        }
        let r = l
            .check(&P, "login", "admin", &src("10.0.2.1"), now)
            .unwrap_err();
        assert!(!r.locked && r.ms == 1_000);
        for i in 0..200 {
            now += 61_000;
            let g = src(&format!("10.0.3.{i}"));
            assert!(l.check(&P, "login", "admin", &g, now).is_ok());
            l.fail(&P, "login", "admin", &g, now);
        }
        // Capped at the maximum delay, however many failures.
        let r = l.check(&P, "login", "admin", &src("10.9.9.9"), now);
        assert_eq!(r.unwrap_err().ms, 60_000);
        // A success from the owner clears the account-wide counter.
        l.succeed("login", "admin", &src("10.9.9.9"));
        assert!(l.check(&P, "login", "admin", &src("10.9.9.8"), now).is_ok());
    }

    #[test]
    fn a_trusted_client_is_never_held_up_by_others_and_is_limited_on_its_own() {
        let mut l = Limits::default();
        let owner = Guesser::Trusted("d1".into());
        for i in 0..500u64 {
            l.fail(
                &P,
                "login",
                "admin",
                &src(&format!("10.0.{}.{}", i / 200, i % 200)),
                i,
            );
        }
        assert!(
            l.check(&P, "login", "admin", &src("10.1.1.1"), 500)
                .is_err()
        );
        assert!(l.check(&P, "login", "admin", &owner, 500).is_ok());
        // Its own failures lock only itself, and count nowhere else.
        for i in 0..5 {
            l.fail(&P, "login", "admin", &owner, 1_000 + i);
        }
        let r = l.check(&P, "login", "admin", &owner, 1_010).unwrap_err();
        assert!(r.locked);
        assert!(
            l.check(&P, "login", "admin", &Guesser::Trusted("d2".into()), 1_010)
                .is_ok()
        );
        assert!(l.check(&P, "login", "admin", &owner, 301_010).is_ok());
        // Its success leaves the others' slowdown in place.
        l.succeed("login", "admin", &owner);
        assert!(
            l.check(&P, "login", "admin", &src("10.1.1.1"), 500)
                .is_err()
        );
    }

    #[test]
    fn long_secrets_are_limited_per_source_only() {
        let mut l = Limits::default();
        for i in 0..1_000u64 {
            l.fail_source(&P, "qr", &format!("10.0.{}.{}", i / 200, i % 200), i);
        }
        // A source that never failed goes ahead at once, however many others failed.
        assert!(l.check_source("qr", "10.9.9.9", 1_000).is_ok());
        for i in 0..5 {
            l.fail_source(&P, "qr", "10.9.9.8", 2_000 + i);
        }
        assert!(l.check_source("qr", "10.9.9.8", 2_010).unwrap_err().locked);
        assert!(l.check_source("qr", "10.9.9.8", 302_010).is_ok());
        assert!(l.len() <= P.max_entries);
    }

    #[test]
    fn unknown_names_count_each_on_their_own_like_real_ones() {
        let mut l = Limits::default();
        let bob = unknown_account("bob");
        for i in 0..12 {
            let g = src(&format!("10.0.0.{i}"));
            l.fail(&P, "login", "admin", &g, 0);
            l.fail(&P, "login", &bob, &g, 0);
        }
        let g = src("10.0.1.1");
        assert_eq!(
            l.check(&P, "login", "admin", &g, 0),
            l.check(&P, "login", &bob, &g, 0)
        );
        // Another made-up name is not slowed by bob's failures.
        assert!(
            l.check(&P, "login", &unknown_account("carol"), &g, 0)
                .is_ok()
        );
        assert_ne!(
            unknown_account(&"x".repeat(500)),
            unknown_account(&"x".repeat(501))
        );
        assert!(unknown_account("a|b").starts_with("?#"));
    }

    #[test]
    fn table_stays_bounded_and_floods_of_names_keep_the_owners_counter() {
        let mut l = Limits::default();
        let mut now = 0;
        for i in 0..30 {
            now += 1;
            l.fail(&P, "login", "admin", &src(&format!("10.0.0.{i}")), now);
        }
        for i in 0..10_000u64 {
            now += 1;
            l.fail(
                &P,
                "login",
                &unknown_account(&format!("user{i}")),
                &src("10.0.0.1"),
                now,
            );
        }
        assert!(l.len() <= P.max_entries);
        // The real account's slowdown survived the flood of made-up names.
        assert!(
            !l.check(&P, "login", "admin", &src("10.0.9.9"), now)
                .unwrap_err()
                .locked
        );
        for i in 0..10_000u64 {
            now += 1;
            l.fail_source(&P, "email", &format!("10.{}.{}.1", i / 250, i % 250), now);
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
        // A flood of addresses from one /64 is one source: locked together, one entry.
        let mut l = Limits::default();
        for i in 0..1_000u32 {
            let ip: IpAddr = format!("2001:db8:1:2:{:x}:{:x}::9", i >> 8, i & 0xff)
                .parse()
                .unwrap();
            l.fail_source(&P, "qr", &source_key(ip), u64::from(i));
        }
        assert_eq!(l.len(), 1);
        assert!(l.check_source("qr", &source_key(a), 1_000).is_err());
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.check_source("qr", &source_key(other), 1_000).is_ok());
    }
}
