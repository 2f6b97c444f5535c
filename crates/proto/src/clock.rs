//! The two clocks of docs/design.md §5, as a trait the parts implement.
//!
//! - **wall time**: Unix milliseconds, may be wrong (a camera boots in 1970 until NTP or
//!   the NVR sets it) or moved by a spoofed time source. It may only shorten a validity.
//! - **elapsed time**: milliseconds that only go forward and, on a camera, continue across
//!   reboots (the camera persists it). Limits, lock-outs and lifetimes run on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Both clocks.
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time, Unix milliseconds.
    fn wall_ms(&self) -> i64;
    /// Monotonic elapsed milliseconds.
    fn elapsed_ms(&self) -> u64;
}

/// The machine's clocks: `SystemTime` and `Instant` (the one place this crate reads the
/// operating system, so that every part shares one implementation).
#[derive(Debug, Clone)]
pub struct SystemClock {
    boot: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            boot: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn wall_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
    fn elapsed_ms(&self) -> u64 {
        self.boot.elapsed().as_millis() as u64
    }
}

/// A clock that moves only when told to: tests run hours in milliseconds with it.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    wall: Arc<AtomicI64>,
    elapsed: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at the given wall time and zero elapsed.
    pub fn new(wall_ms: i64) -> Self {
        let c = ManualClock::default();
        c.wall.store(wall_ms, Ordering::SeqCst);
        c
    }

    /// Moves both clocks forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.elapsed.fetch_add(ms, Ordering::SeqCst);
        self.wall.fetch_add(ms as i64, Ordering::SeqCst);
    }

    /// Sets the wall clock (either way), leaving elapsed time alone.
    pub fn set_wall(&self, wall_ms: i64) {
        self.wall.store(wall_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn wall_ms(&self) -> i64 {
        self.wall.load(Ordering::SeqCst)
    }
    fn elapsed_ms(&self) -> u64 {
        self.elapsed.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_on_request_only() {
        let c = ManualClock::new(1000);
        assert_eq!((c.wall_ms(), c.elapsed_ms()), (1000, 0));
        c.advance(86_400_000);
        assert_eq!(c.elapsed_ms(), 86_400_000);
        c.set_wall(0);
        assert_eq!((c.wall_ms(), c.elapsed_ms()), (0, 86_400_000));
    }
}
