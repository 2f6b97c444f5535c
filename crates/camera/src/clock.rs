//! The camera's two clocks (docs/design.md §5), built on a raw [`Clock`].
//!
//! - **Elapsed**: the raw clock's monotonic milliseconds since this boot, plus a base
//!   persisted on flash. The base is saved every [`PERSIST_EVERY_MS`] and with every state
//!   save; at boot the camera starts from the largest saved value plus [`PERSIST_EVERY_MS`],
//!   so after a power cut the elapsed clock never runs behind what it had already shown:
//!   lifetimes can only end sooner and locks can only last longer, never the reverse.
//! - **Wall**: the raw wall clock plus an offset the owner, NTP or the NVR set. A camera
//!   that never had its clock set says so (`trusted: false`).

use crate::store::{AtomicFile, StoreError};
use camkey_proto::clock::Clock;
pub use camkey_proto::clock::SystemClock;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// How often the elapsed clock is written to flash.
pub const PERSIST_EVERY_MS: u64 = 10_000;
const FILE: &str = "clock.json";

#[derive(Serialize, Deserialize)]
struct Saved {
    elapsed_ms: u64,
}

/// The camera's clocks.
#[derive(Clone)]
pub struct CameraClock {
    raw: Arc<dyn Clock>,
    /// Elapsed ms at the raw clock's zero.
    base: u64,
    /// Raw elapsed ms at boot (the raw clock may have run before this camera booted).
    raw_at_boot: u64,
    wall_offset: Arc<AtomicI64>,
    last_persisted: Arc<AtomicU64>,
    file: AtomicFile,
}

impl CameraClock {
    /// Boots the clock from the data directory; `floor` is the elapsed time recorded in the
    /// user state, which the clock never goes below.
    pub fn boot(
        raw: Arc<dyn Clock>,
        data_dir: &Path,
        floor: u64,
        wall_offset: i64,
    ) -> Result<Self, StoreError> {
        let file = AtomicFile::new(data_dir, FILE)?;
        let saved = match file.load::<Saved>() {
            Ok(s) => s.map(|s| s.elapsed_ms).unwrap_or(0),
            // A clock file we cannot read is not worth refusing to boot over: the state's
            // floor still holds, and we add the same margin.
            Err(_) => 0,
        };
        let start = saved.max(floor);
        let base = if start == 0 {
            0
        } else {
            start + PERSIST_EVERY_MS
        };
        let clock = CameraClock {
            raw_at_boot: raw.elapsed_ms(),
            raw,
            base,
            wall_offset: Arc::new(AtomicI64::new(wall_offset)),
            last_persisted: Arc::new(AtomicU64::new(0)),
            file,
        };
        clock.persist()?;
        Ok(clock)
    }

    /// Elapsed ms, continuing across reboots.
    pub fn elapsed_ms(&self) -> u64 {
        self.base + self.raw.elapsed_ms().saturating_sub(self.raw_at_boot)
    }

    /// Elapsed ms since this boot.
    pub fn since_boot_ms(&self) -> u64 {
        self.raw.elapsed_ms().saturating_sub(self.raw_at_boot)
    }

    /// The camera's wall time, Unix ms.
    pub fn wall_ms(&self) -> i64 {
        self.raw
            .wall_ms()
            .saturating_add(self.wall_offset.load(Ordering::SeqCst))
    }

    /// The offset that makes the wall clock read `wall_ms` now.
    pub fn offset_for(&self, wall_ms: i64) -> i64 {
        wall_ms - self.raw.wall_ms()
    }

    /// Applies a new wall offset.
    pub fn set_wall_offset(&self, offset: i64) {
        self.wall_offset.store(offset, Ordering::SeqCst);
    }

    /// Writes the elapsed clock to flash.
    pub fn persist(&self) -> Result<(), StoreError> {
        let now = self.elapsed_ms();
        self.file.save(&Saved { elapsed_ms: now })?;
        self.last_persisted.store(now, Ordering::SeqCst);
        Ok(())
    }

    /// Writes the elapsed clock if [`PERSIST_EVERY_MS`] have passed since the last write.
    pub fn persist_if_due(&self) -> Result<(), StoreError> {
        if self.elapsed_ms() >= self.last_persisted.load(Ordering::SeqCst) + PERSIST_EVERY_MS {
            self.persist()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use camkey_proto::clock::ManualClock;

    #[test]
    fn elapsed_continues_across_reboots_and_never_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let raw = ManualClock::new(0);
        let c = CameraClock::boot(Arc::new(raw.clone()), dir.path(), 0, 0).unwrap();
        raw.advance(25_000);
        c.persist_if_due().unwrap();
        raw.advance(5_000); // not persisted: the power goes
        assert_eq!(c.elapsed_ms(), 30_000);
        let raw2 = ManualClock::new(0);
        let c2 = CameraClock::boot(Arc::new(raw2.clone()), dir.path(), 0, 0).unwrap();
        assert!(c2.elapsed_ms() >= 30_000, "{}", c2.elapsed_ms());
        // The state's floor wins when it is later.
        let c3 =
            CameraClock::boot(Arc::new(ManualClock::new(0)), dir.path(), 1_000_000, 0).unwrap();
        assert!(c3.elapsed_ms() >= 1_000_000);
    }

    #[test]
    fn wall_offset_applies() {
        let dir = tempfile::tempdir().unwrap();
        let raw = ManualClock::new(1_000);
        let c = CameraClock::boot(Arc::new(raw), dir.path(), 0, 0).unwrap();
        let off = c.offset_for(1_700_000_000_000);
        c.set_wall_offset(off);
        assert_eq!(c.wall_ms(), 1_700_000_000_000);
    }
}
