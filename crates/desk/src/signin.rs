//! Limits on staff sign-in: a wrong password locks the (user name, source) pair that sent
//! it, never the name for everyone.
//!
//! The numbers are configuration ([`SignInLimitsConfig`]; defaults in brackets, listed in
//! `docs/vendor.md`, "Limits"):
//!
//! - **Per (name, source)**: [`pair_failures`](SignInLimitsConfig::pair_failures) (10)
//!   failures within [`window_ms`](SignInLimitsConfig::window_ms) (15 min) lock that pair
//!   until the window ends. Another source is not affected.
//! - **Per source**: [`source_failures`](SignInLimitsConfig::source_failures) (30)
//!   failures, whatever the names, lock the source likewise (spraying many names from one
//!   place).
//! - **Per name, from anywhere**: after
//!   [`name_free_failures`](SignInLimitsConfig::name_free_failures) (10) failures the name
//!   is only *slowed down*: a try must come at least a delay after the previous failure,
//!   the delay doubling from 1 s up to [`max_delay_ms`](SignInLimitsConfig::max_delay_ms)
//!   (30 s). A distributed guesser gets at most one try per 30 s; the real agent, on a
//!   source of their own, waits at most 30 s and gets in. The count ends `window_ms` after
//!   the last failure.
//!
//! Every try is counted as a failure *before* the password is checked (Argon2 takes tens
//! of milliseconds: parallel tries cannot slip through together) and refunded when it
//! succeeds. Unknown names count on their own, exactly like known ones, so the answers do
//! not tell which names exist. Counts run on the elapsed clock, in memory; each table
//! holds at most [`max_entries`](SignInLimitsConfig::max_entries) (10 000) entries,
//! evicting the least recently used, and sources are
//! [`camkey_web::client::source_key`]s (IPv6 by /64).

use camkey_proto::clock::Clock;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// The numbers of the sign-in limits. [`Default`] gives the production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimitsConfig {
    /// Failures of one (name, source) pair in [`Self::window_ms`] before it is locked.
    /// Default 10.
    pub pair_failures: u32,
    /// Failures of one source, any names, in [`Self::window_ms`] before it is locked.
    /// Default 30.
    pub source_failures: u32,
    /// Failures of one name, from anywhere, before tries on it are slowed down. Default 10.
    pub name_free_failures: u32,
    /// The longest delay between tries on a slowed name, in milliseconds. Default 30 s.
    pub max_delay_ms: u64,
    /// How long failures count, in milliseconds. Default 15 minutes.
    pub window_ms: u64,
    /// Entries per table (pairs, sources, names) at most. Default 10 000.
    pub max_entries: usize,
}

impl Default for SignInLimitsConfig {
    fn default() -> Self {
        SignInLimitsConfig {
            pair_failures: 10,
            source_failures: 30,
            name_free_failures: 10,
            max_delay_ms: 30_000,
            window_ms: 15 * 60_000,
            max_entries: 10_000,
        }
    }
}

/// Why a sign-in was not tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This name from this source (or this source) failed too often: locked for a while.
    Locked {
        /// Milliseconds until it may try again.
        retry_after_ms: u64,
    },
    /// This name failed too often, from anywhere: the next try must wait a little.
    SlowDown {
        /// Milliseconds until it may try again.
        retry_after_ms: u64,
    },
}

impl Refusal {
    /// Seconds to wait, rounded up (for `Retry-After`).
    pub fn retry_after_secs(self) -> u64 {
        let ms = match self {
            Refusal::Locked { retry_after_ms } | Refusal::SlowDown { retry_after_ms } => {
                retry_after_ms
            }
        };
        ms.div_ceil(1000).max(1)
    }
}

/// A try that was let through and counted as a failure until it succeeds.
#[derive(Debug)]
#[must_use = "call SignInLimits::succeeded when the password was right"]
pub struct Attempt {
    name: String,
    source: String,
}

/// A fixed window of failures.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: u64,
    failures: u32,
}

/// A name's failures and the time of the last one.
#[derive(Debug, Clone, Copy)]
struct NameCount {
    failures: u32,
    last: u64,
}

/// A map with at most [`SignInLimitsConfig::max_entries`] entries, evicting the least
/// recently touched.
#[derive(Debug)]
struct Table<K, V> {
    map: HashMap<K, (V, u64)>,
    tick: u64,
    max: usize,
}

impl<K: Hash + Eq + Clone, V> Table<K, V> {
    fn new(max: usize) -> Self {
        Table {
            map: HashMap::new(),
            tick: 0,
            max: max.max(1),
        }
    }

    fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k).map(|(v, _)| v)
    }

    fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        self.map.get_mut(k).map(|(v, _)| v)
    }

    /// The entry for `k`, made with `new` if absent; touched.
    fn entry(&mut self, k: &K, new: impl FnOnce() -> V) -> &mut V {
        self.tick += 1;
        if !self.map.contains_key(k) && self.map.len() >= self.max {
            self.evict();
        }
        let tick = self.tick;
        let slot = self.map.entry(k.clone()).or_insert_with(|| (new(), tick));
        slot.1 = tick;
        &mut slot.0
    }

    /// Drops the least recently touched eighth (at least one).
    fn evict(&mut self) {
        let mut ticks: Vec<u64> = self.map.values().map(|(_, t)| *t).collect();
        let n = (self.max / 8).max(1).min(ticks.len());
        let (_, cut, _) = ticks.select_nth_unstable(n - 1);
        let cut = *cut;
        self.map.retain(|_, (_, t)| *t > cut);
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

struct Tables {
    pairs: Table<(String, String), Window>,
    sources: Table<String, Window>,
    names: Table<String, NameCount>,
}

/// The sign-in limits of one front end.
pub struct SignInLimits {
    clock: Arc<dyn Clock>,
    config: SignInLimitsConfig,
    tables: Mutex<Tables>,
}

impl std::fmt::Debug for SignInLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInLimits").finish_non_exhaustive()
    }
}

impl SignInLimitsConfig {
    /// The delay after `failures` failures of one name.
    fn delay_ms(&self, failures: u32) -> u64 {
        if failures < self.name_free_failures {
            return 0;
        }
        let doublings = (failures - self.name_free_failures).min(16);
        (1000u64 << doublings).min(self.max_delay_ms)
    }

    fn window_left(&self, w: &Window, now: u64) -> Option<u64> {
        let end = w.start.saturating_add(self.window_ms);
        (now < end).then(|| end - now)
    }
}

impl SignInLimits {
    /// Limits on `clock`'s elapsed time, with the default numbers.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_config(clock, SignInLimitsConfig::default())
    }

    /// Limits on `clock`'s elapsed time, with these numbers.
    pub fn with_config(clock: Arc<dyn Clock>, config: SignInLimitsConfig) -> Self {
        let max = config.max_entries;
        SignInLimits {
            clock,
            config,
            tables: Mutex::new(Tables {
                pairs: Table::new(max),
                sources: Table::new(max),
                names: Table::new(max),
            }),
        }
    }

    /// Lets a try on `name` from `source` through (counting it as a failure until
    /// [`SignInLimits::succeeded`]), or says why not.
    pub fn begin(&self, name: &str, source: &str) -> Result<Attempt, Refusal> {
        let now = self.clock.elapsed_ms();
        let name: String = name.chars().take(60).collect();
        let source: String = source.chars().take(60).collect();
        let pair = (name.clone(), source.clone());
        let mut guard = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let t = &mut *guard;
        let c = &self.config;
        let locked = |w: Option<&Window>, max: u32| {
            w.filter(|w| w.failures >= max)
                .and_then(|w| c.window_left(w, now))
        };
        if let Some(ms) = locked(t.pairs.get(&pair), c.pair_failures)
            .or_else(|| locked(t.sources.get(&source), c.source_failures))
        {
            return Err(Refusal::Locked { retry_after_ms: ms });
        }
        if let Some(n) = t.names.get(&name)
            && now.saturating_sub(n.last) < c.window_ms
        {
            let next = n.last.saturating_add(c.delay_ms(n.failures));
            if now < next {
                return Err(Refusal::SlowDown {
                    retry_after_ms: next - now,
                });
            }
        }
        for w in [
            t.pairs.entry(&pair, || Window {
                start: now,
                failures: 0,
            }),
            t.sources.entry(&source, || Window {
                start: now,
                failures: 0,
            }),
        ] {
            if c.window_left(w, now).is_none() {
                *w = Window {
                    start: now,
                    failures: 0,
                };
            }
            w.failures = w.failures.saturating_add(1);
        }
        let n = t.names.entry(&name, || NameCount {
            failures: 0,
            last: now,
        });
        if now.saturating_sub(n.last) >= c.window_ms {
            n.failures = 0;
        }
        n.failures = n.failures.saturating_add(1);
        n.last = now;
        Ok(Attempt { name, source })
    }

    /// The try was right: it was no failure after all.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut guard = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let t = &mut *guard;
        let Attempt { name, source } = attempt;
        if let Some(w) = t.pairs.get_mut(&(name.clone(), source.clone())) {
            w.failures = 0;
        }
        if let Some(w) = t.sources.get_mut(&source) {
            w.failures = w.failures.saturating_sub(1);
        }
        if let Some(n) = t.names.get_mut(&name) {
            n.failures = n.failures.saturating_sub(1);
        }
    }

    /// Entries held (pairs, sources, names).
    pub fn sizes(&self) -> (usize, usize, usize) {
        let t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        (t.pairs.len(), t.sources.len(), t.names.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use camkey_proto::clock::ManualClock;

    // The defaults: the tests hold for the production numbers.
    const PAIR_FAILURES: u32 = 10;
    const SOURCE_FAILURES: u32 = 30;
    const NAME_FREE_FAILURES: u32 = 10;
    const MAX_DELAY_MS: u64 = 30_000;
    const WINDOW_MS: u64 = 15 * 60_000;

    #[test]
    fn the_tests_use_the_defaults() {
        let d = SignInLimitsConfig::default();
        assert_eq!(
            (
                d.pair_failures,
                d.source_failures,
                d.name_free_failures,
                d.max_delay_ms,
                d.window_ms
            ),
            (
                PAIR_FAILURES,
                SOURCE_FAILURES,
                NAME_FREE_FAILURES,
                MAX_DELAY_MS,
                WINDOW_MS
            )
        );
    }

    fn limits() -> (SignInLimits, ManualClock) {
        let clock = ManualClock::new(1_790_000_000_000);
        (SignInLimits::new(Arc::new(clock.clone())), clock)
    }

    #[test]
    fn a_pair_locks_and_other_sources_only_wait() {
        let (l, clock) = limits();
        for _ in 0..PAIR_FAILURES {
            let _ = l.begin("ann", "10.0.0.1").unwrap();
        }
        // The pair is locked for the window; the name is at its free limit.
        let Err(Refusal::Locked { retry_after_ms }) = l.begin("ann", "10.0.0.1") else {
            panic!("not locked")
        };
        assert_eq!(retry_after_ms, WINDOW_MS);
        // Another source: a short wait at most, then it is let through.
        let Err(Refusal::SlowDown { retry_after_ms }) = l.begin("ann", "10.0.0.2") else {
            panic!("not slowed")
        };
        assert!(retry_after_ms <= MAX_DELAY_MS);
        clock.advance(retry_after_ms);
        let a = l.begin("ann", "10.0.0.2").unwrap();
        l.succeeded(a);
        // Other names are not affected at all.
        let _ = l.begin("bob", "10.0.0.3").unwrap();
    }

    #[test]
    fn a_distributed_guesser_gets_one_try_per_30_seconds_at_most() {
        let (l, clock) = limits();
        let mut tries = 0;
        let mut source = 0u32;
        // An hour of one try per second from ever new sources.
        for _ in 0..3600 {
            source += 1;
            if l.begin("ann", &format!("10.0.{}.{}", source / 256, source % 256))
                .is_ok()
            {
                tries += 1;
            }
            clock.advance(1000);
        }
        assert!(
            tries <= NAME_FREE_FAILURES as usize + 3600 / 30 + 10,
            "{tries}"
        );
        // And the delay never exceeds 30 s for the agent.
        let Err(Refusal::SlowDown { retry_after_ms }) = l.begin("ann", "192.0.2.1") else {
            panic!("not slowed")
        };
        assert!(retry_after_ms <= MAX_DELAY_MS);
        // A quarter of an hour without failures forgets them.
        clock.advance(WINDOW_MS);
        let a = l.begin("ann", "10.0.0.1").unwrap();
        l.succeeded(a);
        for _ in 0..NAME_FREE_FAILURES - 1 {
            let _ = l.begin("ann", "192.0.2.9").unwrap();
        }
    }

    #[test]
    fn one_source_spraying_names_is_locked() {
        let (l, _clock) = limits();
        for i in 0..SOURCE_FAILURES {
            let _ = l.begin(&format!("user{i}"), "10.0.0.1").unwrap();
        }
        assert!(matches!(
            l.begin("ann", "10.0.0.1"),
            Err(Refusal::Locked { .. })
        ));
        let _ = l.begin("ann", "10.0.0.2").unwrap();
    }

    #[test]
    fn success_refunds_the_try() {
        let (l, _clock) = limits();
        for _ in 0..PAIR_FAILURES * 2 {
            let a = l.begin("ann", "10.0.0.1").unwrap();
            l.succeeded(a);
        }
        let _ = l.begin("ann", "10.0.0.1").unwrap();
    }

    #[test]
    fn tables_are_bounded_evicting_the_oldest() {
        let clock = ManualClock::new(0);
        let config = SignInLimitsConfig {
            max_entries: 64,
            ..SignInLimitsConfig::default()
        };
        let l = SignInLimits::with_config(Arc::new(clock.clone()), config);
        for i in 0..1000 {
            let _ = l.begin(&format!("n{i}"), &format!("s{i}"));
            clock.advance(1);
        }
        let (p, s, n) = l.sizes();
        assert!(p <= 64 && s <= 64 && n <= 64, "{p} {s} {n}");
        // The newest entries are kept.
        for _ in 0..PAIR_FAILURES - 1 {
            let _ = l.begin("n999", "s999").unwrap();
            clock.advance(60_000);
        }
        assert!(l.begin("n999", "s999").is_err());
    }
}
