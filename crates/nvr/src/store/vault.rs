//! The credential vault: each camera's own random password, sealed on disk.
//!
//! Passwords are [`PASSWORD_CHARS`] characters drawn uniformly from the RFC 3986
//! *unreserved* set (`A–Z a–z 0–9 - . _ ~`, 66 symbols, ≈ 6 bits each, so ≈ 193 bits), so
//! they sit in RTSP and HTTP URLs without escaping. They are sealed with
//! ChaCha20-Poly1305 under the NVR key, 32 random bytes in `DATA/nvr.key` (0600), with the
//! port and serial as associated data: a sealed password copied onto another channel does
//! not open. The key file is written once, durably; losing it (a new NVR) loses every
//! password, which is why replacing an NVR means resetting its cameras (`docs/nvr.md`).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use data_encoding::BASE64;
use rand::{Rng, RngCore};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The unreserved characters of RFC 3986 §2.3.
pub const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
/// Length of each generated camera password.
pub const PASSWORD_CHARS: usize = 32;
/// The key file's name in the data directory.
pub const KEY_FILE: &str = "nvr.key";

/// Vault failures.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The key file could not be read or written.
    #[error("NVR key {path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The key file is not 32 bytes.
    #[error("NVR key {0}: not a key this NVR wrote")]
    BadKey(String),
    /// A sealed password does not open under this key for this channel.
    #[error("a sealed password does not open (another NVR's store, or altered)")]
    Open,
}

/// A fresh camera password.
pub fn generate_password() -> String {
    let mut rng = rand::thread_rng();
    (0..PASSWORD_CHARS)
        .map(|_| char::from(UNRESERVED[rng.gen_range(0..UNRESERVED.len())]))
        .collect()
}

/// The NVR key.
pub struct Vault {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

impl Vault {
    /// Opens the key in `dir`, creating it (0600, durably) on first use.
    pub fn open_or_create(dir: &Path) -> Result<Self, VaultError> {
        let path = dir.join(KEY_FILE);
        let shown = path.display().to_string();
        let io = |source| VaultError::Io {
            path: shown.clone(),
            source,
        };
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                // Written to a temporary name first: a power cut leaves no short key.
                let tmp = dir.join(format!("{KEY_FILE}.tmp"));
                let _ = fs::remove_file(&tmp);
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(camkey_atomic::FILE_MODE)
                    .open(&tmp)
                    .map_err(io)?;
                f.write_all(&key).map_err(io)?;
                f.sync_all().map_err(io)?;
                drop(f);
                fs::rename(&tmp, &path).map_err(io)?;
                File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
                key.to_vec()
            }
            Err(e) => return Err(io(e)),
        };
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::BadKey(shown.clone()))?;
        Ok(Vault {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    fn aad(port: u8, serial: &str) -> Vec<u8> {
        format!("camkey-nvr/v1/{port}/{serial}").into_bytes()
    }

    /// Seals `password` for the camera `serial` on `port`: base64 of nonce ‖ ciphertext.
    pub fn seal(&self, port: u8, serial: &str, password: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = Self::aad(port, serial);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: password.as_bytes(),
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        BASE64.encode(&out)
    }

    /// Opens a sealed password.
    pub fn open(&self, port: u8, serial: &str, sealed: &str) -> Result<String, VaultError> {
        let raw = BASE64
            .decode(sealed.as_bytes())
            .map_err(|_| VaultError::Open)?;
        if raw.len() < 12 + 16 {
            return Err(VaultError::Open);
        }
        let (nonce, ct) = raw.split_at(12);
        let aad = Self::aad(port, serial);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| VaultError::Open)?;
        String::from_utf8(pt).map_err(|_| VaultError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn passwords_are_long_unreserved_and_distinct() {
        let a = generate_password();
        let b = generate_password();
        assert_ne!(a, b);
        assert!(a.len() >= 24);
        assert!(a.bytes().all(|c| UNRESERVED.contains(&c)), "{a}");
    }

    #[test]
    fn sealed_passwords_open_only_for_their_channel_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open_or_create(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let s = v.seal(1, "IPC4K15-1", "pw");
        assert!(!s.contains("pw"));
        assert_eq!(v.open(1, "IPC4K15-1", &s).unwrap(), "pw");
        assert!(v.open(2, "IPC4K15-1", &s).is_err());
        assert!(v.open(1, "IPC4K15-2", &s).is_err());
        // The same key after a restart; another NVR's key opens nothing.
        let again = Vault::open_or_create(dir.path()).unwrap();
        assert_eq!(again.open(1, "IPC4K15-1", &s).unwrap(), "pw");
        let other = tempfile::tempdir().unwrap();
        let v2 = Vault::open_or_create(other.path()).unwrap();
        assert!(v2.open(1, "IPC4K15-1", &s).is_err());
    }
}
