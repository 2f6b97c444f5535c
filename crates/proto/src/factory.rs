//! A camera's factory data: what the factory line writes once and the camera only reads.
//!
//! The factory directory holds three files: [`FACTORY_FILE`] (this JSON document),
//! [`CERT_FILE`] (the device certificate followed by the device CA certificate, PEM) and
//! [`TLS_KEY_FILE`] (the certificate's private key, PEM). The device key inside the JSON is
//! this camera's own (S1): dumping it reveals nothing about any other camera.

use crate::keys::DeviceKey;
use serde::{Deserialize, Serialize};

/// Name of the JSON factory document in a factory directory.
pub const FACTORY_FILE: &str = "factory.json";
/// Name of the PEM chain (device certificate, then device CA) in a factory directory.
pub const CERT_FILE: &str = "device-chain.pem";
/// Name of the PEM private key of the device certificate.
pub const TLS_KEY_FILE: &str = "device-tls.key";
/// Current version of the factory document's format.
pub const FACTORY_FORMAT: u32 = 1;
/// The prefix of the URI subject-alternative name that carries a camera's serial in its
/// device certificate (S10): `urn:camkey:serial:<SERIAL>`.
pub const SERIAL_SAN_PREFIX: &str = "urn:camkey:serial:";

/// A camera's read-only factory data.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FactoryData {
    /// Format version of this document ([`FACTORY_FORMAT`]).
    pub format: u32,
    /// Serial number, as on the label.
    pub serial: String,
    /// Model name from the catalogue.
    pub model: String,
    /// Ethernet MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Firmware version flashed at the factory.
    pub firmware: String,
    /// This camera's device key and the master-key version it was derived from.
    pub device_key: DeviceKey,
    /// Setup code printed on the label (S8).
    pub setup_code: String,
    /// The vendor's automated reset address, shown on the QR recovery page.
    pub reset_address: String,
    /// The vendor's reset page; the QR code holds it with the challenge in its fragment.
    pub reset_page_url: String,
    /// The recovery address a camera has until its owner sets one (the vendor's support
    /// desk, as the vendor's support article describes).
    pub default_recovery_address: String,
    /// The firmware signing public key (Ed25519, hex).
    pub firmware_public_key: String,
}

impl std::fmt::Debug for FactoryData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactoryData")
            .field("serial", &self.serial)
            .field("model", &self.model)
            .field("mac", &self.mac)
            .field("firmware", &self.firmware)
            .field("key_version", &self.device_key.version())
            .finish_non_exhaustive()
    }
}

/// What is wrong with a serial number or factory document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FactoryError {
    /// The serial does not follow the format.
    #[error(
        "serial numbers are 4 to 32 characters: capital letters, digits and '-', starting with a letter or digit"
    )]
    BadSerial,
    /// Unknown model.
    #[error("unknown model {0:?}")]
    UnknownModel(String),
    /// The document's format version is not one we read.
    #[error("factory data format {0} is not supported")]
    Format(u32),
    /// The JSON did not parse.
    #[error("factory data is not valid: {0}")]
    Json(String),
}

/// Checks a serial number: 4 to 32 of `A-Z`, `0-9`, `-`, not starting with `-`.
pub fn validate_serial(serial: &str) -> Result<(), FactoryError> {
    let ok = (4..=32).contains(&serial.len())
        && serial
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && !serial.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(FactoryError::BadSerial)
    }
}

impl FactoryData {
    /// Parses and checks a factory document.
    pub fn from_json(bytes: &[u8]) -> Result<Self, FactoryError> {
        let data: FactoryData =
            serde_json::from_slice(bytes).map_err(|e| FactoryError::Json(e.to_string()))?;
        if data.format != FACTORY_FORMAT {
            return Err(FactoryError::Format(data.format));
        }
        validate_serial(&data.serial)?;
        if crate::catalogue::model(&data.model).is_none() {
            return Err(FactoryError::UnknownModel(data.model));
        }
        Ok(data)
    }

    /// The catalogue entry of this camera's model.
    pub fn model_info(&self) -> &'static crate::catalogue::Model {
        crate::catalogue::model(&self.model).unwrap_or(&crate::catalogue::CATALOGUE[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials() {
        assert!(validate_serial("IPC4K15-0001").is_ok());
        assert!(validate_serial("AB1").is_err());
        assert!(validate_serial("-ABCD").is_err());
        assert!(validate_serial("abcd").is_err());
        assert!(validate_serial("ABCD/../x").is_err());
        assert!(validate_serial(&"A".repeat(33)).is_err());
    }
}
