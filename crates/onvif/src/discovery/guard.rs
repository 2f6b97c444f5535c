//! What keeps a responder from being an amplifier or a flood target: token buckets of
//! answers per source address and in total, and a memory of recent message ids so a
//! probe repeated (as SOAP-over-UDP clients do) or replayed is answered once.
//!
//! Both are bounded: the bucket table holds at most [`AnswerLimits::sources`] addresses
//! (when full, the fullest buckets — sources that have not asked lately — are dropped
//! first, so a flood of spoofed sources cannot evict a real client's empty bucket to
//! refill it), and the id memory the last [`RECENT_IDS`] ids.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// How many message ids are remembered.
pub const RECENT_IDS: usize = 512;

/// Answer rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerLimits {
    /// Answers one source may get at once.
    pub per_source_burst: u32,
    /// Answers per second one source gets back after its burst.
    pub per_source_per_sec: u32,
    /// Answers at once, all sources together.
    pub total_burst: u32,
    /// Answers per second, all sources together.
    pub total_per_sec: u32,
    /// Source addresses tracked at most.
    pub sources: usize,
}

impl Default for AnswerLimits {
    fn default() -> Self {
        AnswerLimits {
            per_source_burst: 8,
            per_source_per_sec: 2,
            total_burst: 64,
            total_per_sec: 32,
            sources: 1024,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant, burst: u32, per_sec: u32) -> bool {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * f64::from(per_sec)).min(f64::from(burst));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Token buckets per source and in total.
#[derive(Debug)]
pub struct AnswerGuard {
    limits: AnswerLimits,
    total: Bucket,
    sources: HashMap<IpAddr, Bucket>,
}

impl AnswerGuard {
    /// Full buckets.
    pub fn new(limits: AnswerLimits, now: Instant) -> AnswerGuard {
        AnswerGuard {
            limits,
            total: Bucket {
                tokens: f64::from(limits.total_burst),
                at: now,
            },
            sources: HashMap::new(),
        }
    }

    /// Whether `source` may get one more answer now (takes a token if so).
    pub fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        let l = self.limits;
        if !self.sources.contains_key(&source) && self.sources.len() >= l.sources {
            // Forget the sources whose buckets have refilled (they lose nothing).
            let full = Duration::from_secs_f64(
                f64::from(l.per_source_burst) / f64::from(l.per_source_per_sec.max(1)),
            );
            self.sources
                .retain(|_, b| now.saturating_duration_since(b.at) < full);
            if self.sources.len() >= l.sources {
                return false;
            }
        }
        let b = self.sources.entry(source).or_insert(Bucket {
            tokens: f64::from(l.per_source_burst),
            at: now,
        });
        let mut trial = *b;
        if !trial.take(now, l.per_source_burst, l.per_source_per_sec) {
            *b = trial;
            return false;
        }
        if !self.total.take(now, l.total_burst, l.total_per_sec) {
            return false;
        }
        *b = trial;
        true
    }
}

/// The last message ids seen.
#[derive(Debug, Default)]
pub struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    /// `true` the first time an id is seen (remembered from then on), `false` after.
    pub fn first_time(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() >= RECENT_IDS
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(id.to_string());
        self.set.insert(id.to_string());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn per_source_burst_then_rate() {
        let t0 = Instant::now();
        let mut g = AnswerGuard::new(AnswerLimits::default(), t0);
        for _ in 0..8 {
            assert!(g.allow(ip(1), t0));
        }
        assert!(!g.allow(ip(1), t0));
        assert!(g.allow(ip(2), t0), "another source is not affected");
        assert!(g.allow(ip(1), t0 + Duration::from_millis(500)));
        assert!(!g.allow(ip(1), t0 + Duration::from_millis(500)));
    }

    #[test]
    fn total_cap_across_sources() {
        let t0 = Instant::now();
        let mut g = AnswerGuard::new(AnswerLimits::default(), t0);
        let mut ok = 0;
        for n in 0..=255u8 {
            if g.allow(ip(n), t0) {
                ok += 1;
            }
        }
        assert_eq!(ok, 64);
    }

    #[test]
    fn source_table_is_bounded() {
        let t0 = Instant::now();
        let limits = AnswerLimits {
            sources: 4,
            total_burst: 1000,
            ..AnswerLimits::default()
        };
        let mut g = AnswerGuard::new(limits, t0);
        for n in 0..4 {
            assert!(g.allow(ip(n), t0));
        }
        assert!(!g.allow(ip(9), t0), "table full of active sources");
        assert!(
            g.allow(ip(9), t0 + Duration::from_secs(5)),
            "refilled ones forgotten"
        );
        assert!(g.sources.len() <= 4);
    }

    #[test]
    fn ids_once_and_bounded() {
        let mut r = RecentIds::default();
        assert!(r.first_time("a"));
        assert!(!r.first_time("a"));
        for i in 0..RECENT_IDS {
            r.first_time(&i.to_string());
        }
        assert!(r.first_time("a"), "forgotten after RECENT_IDS newer ids");
        assert!(r.order.len() <= RECENT_IDS && r.set.len() <= RECENT_IDS);
    }
}
