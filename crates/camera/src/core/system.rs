//! What an NVR (or the owner) does to the device as a whole: set the wall clock (ONVIF
//! SetSystemDateAndTime), switch discovery (SetDiscoveryMode), restore the factory
//! defaults (SetSystemFactoryDefault) and reboot (SystemReboot).
//!
//! The wall clock only ever shortens a validity (docs/design.md §5): limits, locks,
//! sessions and every lifetime run on the elapsed clock, and the wall clock, once set,
//! only adds the QR code's 24-hour check on the code's generation time. So an NVR (or a
//! spoofed time source) that moves the clock cannot lengthen a challenge or lift a lock.
//!
//! A reboot is asked for here and carried out by [`crate::device`], which listens to
//! [`Core::reboot_requested`]: it stops the camera gracefully and boots it again, as a
//! power cycle that keeps the power (the init window reopens, sessions end).

use super::*;

/// Earliest wall time accepted (2020-01-01).
pub const WALL_MIN_MS: i64 = 1_577_836_800_000;
/// Latest wall time accepted (2100-01-01, exclusive).
pub const WALL_MAX_MS: i64 = 4_102_444_800_000;

impl Core {
    /// Sets the wall clock to `utc_ms` (Unix ms), as told by an ONVIF client (an NVR): the
    /// time source becomes `nvr`. Between 2020 and 2100 only.
    pub fn set_wall_clock_utc(&self, utc_ms: i64, source: Source) -> Result<(), CoreError> {
        if !(WALL_MIN_MS..WALL_MAX_MS).contains(&utc_ms) {
            return Err(CoreError::BadSetting(
                "The time to set must lie between 2020 and 2100.".into(),
            ));
        }
        let mut g = self.lock();
        if !g.state.initialized() {
            return Err(CoreError::NotInitialized);
        }
        let mut next = g.state.clone();
        let was = format_wall(self.clock.wall_ms());
        next.time.offset_ms = self.clock.offset_for(utc_ms);
        next.time.source = Some("nvr".into());
        let e = self.entry(
            &next,
            "time_set",
            None,
            Some(source),
            format!(
                "wall clock set to {} by an ONVIF client (it read {was})",
                format_wall(utc_ms)
            ),
        );
        next.push_audit(e);
        let offset = next.time.offset_ms;
        self.commit(&mut g, next)?;
        self.clock.set_wall_offset(offset);
        Ok(())
    }

    /// Whether the camera answers WS-Discovery probes (on by default and after a factory
    /// reset).
    pub fn discoverable(&self) -> bool {
        self.lock().state.discoverable
    }

    /// Switches discovery on or off (an Administrator's change; kept across reboots).
    pub fn set_discoverable(&self, on: bool, by: &str, source: Source) -> Result<(), CoreError> {
        let mut g = self.lock();
        self.require_admin(&g.state, by)?;
        if g.state.discoverable == on {
            return Ok(());
        }
        let mut next = g.state.clone();
        next.discoverable = on;
        let e = self.entry(
            &next,
            "discovery_mode",
            Some(by),
            Some(source),
            if on {
                "discoverable: the camera answers WS-Discovery probes".into()
            } else {
                "not discoverable: the camera no longer answers WS-Discovery probes".into()
            },
        );
        next.push_audit(e);
        self.commit(&mut g, next)?;
        Ok(())
    }

    /// Restores the factory defaults (an Administrator's request, e.g. ONVIF
    /// SetSystemFactoryDefault): `hard` wipes like the reset button; soft does the same but
    /// keeps the network settings, so the camera stays reachable where it was. Then the
    /// camera reboots ([`Core::request_reboot`]'s signal), so the init window opens again.
    pub fn factory_default(&self, hard: bool, by: &str, source: Source) -> Result<(), CoreError> {
        self.require_admin(&self.lock().state, by)?;
        let when = format_wall(self.clock.wall_ms());
        let detail = if hard {
            format!("factory reset (hard) by {by} at {when}: every user setting wiped")
        } else {
            format!(
                "factory reset (soft) by {by} at {when}: every user setting wiped but the network settings"
            )
        };
        self.wipe(!hard, Some(by), Some(source), detail)?;
        self.reboot.notify_one();
        Ok(())
    }

    /// Asks the device to reboot the camera (an Administrator's request, e.g. ONVIF
    /// SystemReboot), with an audit entry.
    pub fn request_reboot(&self, by: &str, source: Source) -> Result<(), CoreError> {
        let mut g = self.lock();
        self.require_admin(&g.state, by)?;
        let e = self.entry(
            &g.state,
            "reboot_requested",
            Some(by),
            Some(source),
            "reboot requested: sessions end and the camera starts again".into(),
        );
        self.record(&mut g, |s| s.push_audit(e))?;
        self.reboot.notify_one();
        Ok(())
    }

    /// Signalled when a reboot is asked for: [`crate::device`] waits on it.
    pub fn reboot_requested(&self) -> &tokio::sync::Notify {
        &self.reboot
    }
}
