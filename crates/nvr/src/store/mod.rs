//! The NVR's power-safe state (S7): one JSON document replaced atomically
//! ([`camkey_atomic::AtomicFile`], the camera's way), plus the NVR key beside it.
//!
//! It holds the admin account (an Argon2id hash and the owner's recovery address), the
//! channel table, the installer's setup codes per port, the admin's sign-in limits, the
//! audit log, and the elapsed clock's reading: elapsed time continues across restarts
//! (docs/design.md §5), so limits and lifetimes do not reset when the NVR reboots.
//! Every change goes through [`Store::update`]: the new state is written durably before it
//! becomes the state in memory, so a power cut leaves the old state or the new one.
//!
//! # Layout
//! - [`vault`]: each camera's random password, sealed under the NVR key.
//! - [`limits`]: the admin's sign-in limits per source.

pub mod limits;
pub mod vault;

use camkey_atomic::{AtomicFile, StoreError};
use camkey_proto::clock::Clock;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The state document's name in the data directory.
pub const STATE_FILE: &str = "nvr.json";
/// Audit entries kept (oldest dropped first).
pub const MAX_AUDIT: usize = 2000;

/// A channel's state, as `GET /channels` names it (docs/design.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    /// Signed in and configured: the NVR records it.
    Adopted,
    /// The camera is initialized and the NVR cannot sign in.
    AuthFailed,
    /// Nothing answers on the port.
    Offline,
    /// Being adopted, or waiting on something the note names (setup code, window).
    #[default]
    Adopting,
    /// Another camera than the one adopted on this port: the admin decides.
    AwaitingApproval,
}

impl ChannelState {
    /// The state in plain words, for the page.
    pub fn words(self) -> &'static str {
        match self {
            ChannelState::Adopted => "Recording",
            ChannelState::AuthFailed => "Cannot sign in: reset the camera or enter its password",
            ChannelState::Offline => "Offline",
            ChannelState::Adopting => "Setting up",
            ChannelState::AwaitingApproval => "A different camera: waiting for your approval",
        }
    }
}

/// One PoE port's channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// The camera's serial, as its certificate proved it.
    pub serial: Option<String>,
    /// Its model.
    pub model: Option<String>,
    /// Its address (HTTPS, from the switch).
    pub address: Option<String>,
    /// The state.
    pub state: ChannelState,
    /// What the NVR did last or needs, in plain words.
    pub note: String,
    /// The camera's admin password, sealed ([`vault::Vault::seal`] for this port and
    /// `serial`).
    pub sealed_password: Option<String>,
    /// Whether a camera was adopted on this port (a different serial then needs approval).
    pub had_adopted: bool,
    /// A different camera's serial, waiting for the admin's approval.
    pub pending_serial: Option<String>,
    /// Whether the port was already power-cycled to reopen this camera's init window.
    pub power_cycled: bool,
    /// The media profile token.
    pub profile: Option<String>,
    /// The snapshot URI the media service gave.
    pub snapshot_uri: Option<String>,
}

/// The admin account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admin {
    /// User name.
    pub username: String,
    /// Argon2id PHC string.
    pub hash: String,
    /// The owner's recovery address, given to each camera at initialization.
    pub recovery_email: Option<String>,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Wall time (may be wrong, for people).
    pub wall_ms: i64,
    /// Elapsed time (the order that counts).
    pub elapsed_ms: u64,
    /// Event, a stable word (`adopted`, `reveal`, `awaiting_approval`, ...).
    pub event: String,
    /// The port concerned, if any.
    pub port: Option<u8>,
    /// Plain words: who, what, never a secret.
    pub detail: String,
}

/// The whole document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The admin account, once created.
    pub admin: Option<Admin>,
    /// Channels by port.
    pub channels: BTreeMap<u8, Channel>,
    /// Setup codes per port, from the installer.
    pub setup_codes: BTreeMap<u8, String>,
    /// Sign-in limits.
    pub limits: limits::SignInLimits,
    /// The audit log, oldest first.
    pub audit: Vec<AuditEntry>,
    /// Elapsed milliseconds at the last save.
    pub elapsed_ms: u64,
}

impl State {
    /// Appends an audit entry (bounded).
    pub fn audit(&mut self, clock: &NvrClock, event: &str, port: Option<u8>, detail: String) {
        if self.audit.len() >= MAX_AUDIT {
            self.audit.remove(0);
        }
        self.audit.push(AuditEntry {
            wall_ms: clock.wall_ms(),
            elapsed_ms: clock.elapsed_ms(),
            event: event.into(),
            port,
            detail,
        });
    }
}

/// The NVR's clocks: the injected wall clock, and elapsed time that continues from the
/// reading saved in the state.
#[derive(Clone)]
pub struct NvrClock {
    raw: Arc<dyn Clock>,
    base_ms: u64,
}

impl NvrClock {
    /// Wall time, Unix milliseconds.
    pub fn wall_ms(&self) -> i64 {
        self.raw.wall_ms()
    }
    /// Elapsed milliseconds, across restarts.
    pub fn elapsed_ms(&self) -> u64 {
        self.base_ms + self.raw.elapsed_ms()
    }
}

/// Failures of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The state document.
    #[error(transparent)]
    State(#[from] StoreError),
    /// The NVR key.
    #[error(transparent)]
    Vault(#[from] vault::VaultError),
}

/// The store: state in memory, on disk after every change.
pub struct Store {
    file: AtomicFile,
    state: Mutex<State>,
    vault: vault::Vault,
    clock: NvrClock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store in `dir` (0700), with the machine's raw clock.
    pub fn open(dir: &Path, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let file = AtomicFile::new(dir, STATE_FILE)?;
        let state: State = file.load()?.unwrap_or_default();
        let vault = vault::Vault::open_or_create(dir)?;
        let clock = NvrClock {
            raw: clock,
            base_ms: state.elapsed_ms,
        };
        Ok(Store {
            file,
            state: Mutex::new(state),
            vault,
            clock,
        })
    }

    /// The clocks.
    pub fn clock(&self) -> &NvrClock {
        &self.clock
    }

    /// The vault.
    pub fn vault(&self) -> &vault::Vault {
        &self.vault
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    /// Reads the state.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    /// Changes the state: `f` works on a copy, which is saved durably and only then
    /// becomes the state. `f`'s error leaves everything as it was.
    pub fn update<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&mut State, &NvrClock) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        let out = f(&mut next, &self.clock)?;
        next.elapsed_ms = self.clock.elapsed_ms();
        self.file.save(&next).map_err(Error::from)?;
        *guard = next;
        Ok(out)
    }

    /// Creates or replaces the admin account (the CLI and the lab do this at first start).
    pub fn set_admin(
        &self,
        username: &str,
        password: &str,
        recovery_email: Option<String>,
    ) -> Result<(), Error> {
        let hash = camkey_passwords::hash(password);
        self.update(|s, clock| {
            s.admin = Some(Admin {
                username: username.into(),
                hash,
                recovery_email,
            });
            s.audit(
                clock,
                "admin_set",
                None,
                format!("admin account {username} set"),
            );
            Ok::<_, Error>(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use camkey_proto::clock::ManualClock;

    #[test]
    fn state_and_elapsed_time_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let raw = ManualClock::new(1_000);
        let store = Store::open(dir.path(), Arc::new(raw.clone())).unwrap();
        raw.advance(60_000);
        store
            .update(|s, clock| {
                s.channels.insert(1, Channel::default());
                s.audit(clock, "test", Some(1), "x".into());
                Ok::<_, Error>(())
            })
            .unwrap();
        // A failed change changes nothing, on disk or in memory.
        let r: Result<(), Error> = store.update(|s, _| {
            s.channels.clear();
            Err(Error::Vault(vault::VaultError::Open))
        });
        assert!(r.is_err());
        assert_eq!(store.read(|s| s.channels.len()), 1);
        // Restart: a fresh raw clock at zero, elapsed time continues.
        let raw2 = ManualClock::new(0);
        let again = Store::open(dir.path(), Arc::new(raw2.clone())).unwrap();
        assert_eq!(again.clock().elapsed_ms(), 60_000);
        raw2.advance(5);
        assert_eq!(again.clock().elapsed_ms(), 60_005);
        assert_eq!(again.snapshot().channels.len(), 1);
        assert_eq!(again.snapshot().audit[0].elapsed_ms, 60_000);
    }

    #[test]
    fn admin_password_is_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Arc::new(ManualClock::new(0))).unwrap();
        store
            .set_admin("admin", "correct horse battery", None)
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        assert!(!text.contains("correct horse"));
        let admin = store.read(|s| s.admin.clone()).unwrap();
        assert!(camkey_passwords::verify(
            "correct horse battery",
            &admin.hash
        ));
    }
}
