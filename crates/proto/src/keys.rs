//! The vendor master key and the per-device keys derived from it (S1).
//!
//! `device_key = HKDF-SHA256(salt = "camkey device key", ikm = master,
//! info = "camkey/device-key/v1" || version (u32, big-endian) || serial)`. The version lets
//! the master key rotate: a camera's factory data records which version its key came from,
//! and the vendor keeps every version it ever provisioned with. Sub-keys for each use
//! (sealing challenges, MACing codes) are derived from the device key with their own labels
//! ([`DeviceKey::subkey`]), so no key ever serves two purposes.

use hkdf::Hkdf;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const DEVICE_KEY_SALT: &[u8] = b"camkey device key";
const DEVICE_KEY_INFO: &[u8] = b"camkey/device-key/v1";
const MASTER_KEY_KIND: &str = "camkey-master-key";

/// 32 secret bytes that never print.
#[derive(Clone, PartialEq, Eq)]
struct Secret([u8; 32]);

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&data_encoding::HEXLOWER.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a key is 32 bytes (64 hex digits)"))?;
        Ok(Secret(key))
    }
}

/// The vendor's master key, with its version. Lives only on the factory line and in the
/// vendor's signer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterKey {
    kind: String,
    version: u32,
    key: Secret,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(version {}, <secret>)", self.version)
    }
}

/// A master-key file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not a camkey master key file: {0}")]
pub struct KeyFileError(String);

impl MasterKey {
    /// A fresh random master key.
    pub fn generate(version: u32) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self::from_bytes(version, key)
    }

    /// A master key from known bytes (test vectors, imports).
    pub fn from_bytes(version: u32, key: [u8; 32]) -> Self {
        MasterKey {
            kind: MASTER_KEY_KIND.into(),
            version,
            key: Secret(key),
        }
    }

    /// The key's version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Serializes to the key file's JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a key file's JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, KeyFileError> {
        let key: MasterKey =
            serde_json::from_slice(bytes).map_err(|e| KeyFileError(e.to_string()))?;
        if key.kind != MASTER_KEY_KIND {
            return Err(KeyFileError(format!("kind is {:?}", key.kind)));
        }
        Ok(key)
    }

    /// Derives the device key of one camera.
    pub fn device_key(&self, serial: &str) -> DeviceKey {
        let hk = Hkdf::<Sha256>::new(Some(DEVICE_KEY_SALT), &self.key.0);
        let mut out = [0u8; 32];
        let version = self.version.to_be_bytes();
        hk.expand_multi_info(&[DEVICE_KEY_INFO, &version, serial.as_bytes()], &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        DeviceKey {
            version: self.version,
            key: Secret(out),
        }
    }
}

/// One camera's device key, and the master-key version it came from.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceKey {
    version: u32,
    key: Secret,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey(version {}, <secret>)", self.version)
    }
}

impl DeviceKey {
    /// The master-key version this key was derived from.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// A 32-byte sub-key for one purpose, named by `label` (e.g. `b"camkey/challenge-seal/v1"`).
    pub fn subkey(&self, label: &[u8]) -> [u8; 32] {
        let hk = Hkdf::<Sha256>::from_prk(&self.key.0).expect("32-byte PRK is valid");
        let mut out = [0u8; 32];
        hk.expand(label, &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        out
    }

    /// The raw key bytes, for test vectors in `docs/`.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.key.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector in docs/formats.md.
    #[test]
    fn device_key_vector() {
        let master = MasterKey::from_bytes(1, [0x42; 32]);
        let dk = master.device_key("IPC4K15-000001");
        assert_eq!(dk.version(), 1);
        assert_eq!(dk.to_hex(), VECTOR_V1);
        // Another serial, another version: other keys.
        assert_ne!(master.device_key("IPC4K15-000002").to_hex(), VECTOR_V1);
        let v2 = MasterKey::from_bytes(2, [0x42; 32]);
        assert_ne!(v2.device_key("IPC4K15-000001").to_hex(), VECTOR_V1);
    }

    const VECTOR_V1: &str = "317957b977c4d7264f67f3a93665a3ac229b871416fe7afcd4662c804fcebf68";

    #[test]
    fn key_file_round_trip_and_no_secret_in_debug() {
        let k = MasterKey::generate(3);
        let back = MasterKey::from_json(k.to_json().as_bytes()).unwrap();
        assert_eq!(k, back);
        assert_eq!(format!("{k:?}"), "MasterKey(version 3, <secret>)");
        assert!(MasterKey::from_json(b"{\"kind\":\"x\",\"version\":1,\"key\":\"00\"}").is_err());
    }

    #[test]
    fn subkeys_differ_by_label() {
        let dk = MasterKey::from_bytes(1, [7; 32]).device_key("ABCD");
        assert_ne!(dk.subkey(b"a"), dk.subkey(b"b"));
    }
}
