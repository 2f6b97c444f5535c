//! What a camera advertises: its stable endpoint address, scopes, XAddrs and metadata
//! version, and how the endpoint address is derived from the serial.

use super::scopes::{CameraState, camera_scopes};
use sha2::{Digest, Sha256};

/// The text hashed before the serial to make the endpoint address (a fixed namespace,
/// so camkey's addresses never collide with another scheme's from the same serial).
pub const ENDPOINT_NAMESPACE: &str = "camkey ws-discovery endpoint v1\n";

/// One camera's discovery advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    /// `urn:uuid:…`, stable for the camera's life ([`endpoint_for_serial`]).
    pub endpoint: String,
    /// Scope URIs ([`camera_scopes`]).
    pub scopes: Vec<String>,
    /// Device service URLs (http first, then https), sent space-separated.
    pub xaddrs: Vec<String>,
    /// Bumped whenever scopes or XAddrs change, so clients refetch.
    pub metadata_version: u32,
}

/// What the camera knows that goes into its advert (never from a request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraFacts {
    /// Serial (printed on the label).
    pub serial: String,
    /// Model name.
    pub model: String,
    /// Whether an owner set the admin password.
    pub initialized: bool,
    /// The camera's own plain HTTP base, e.g. `http://10.0.0.5` (no trailing `/`).
    pub http_base: Option<String>,
    /// The camera's own HTTPS base, e.g. `https://10.0.0.5`.
    pub https_base: String,
}

/// The path of the ONVIF device service on both ports.
pub const DEVICE_SERVICE_PATH: &str = "/onvif/device_service";

impl Advert {
    /// The advert for these facts, at metadata version 1.
    pub fn for_camera(facts: &CameraFacts) -> Advert {
        let state = if facts.initialized {
            CameraState::Initialized
        } else {
            CameraState::Uninitialized
        };
        let name = format!("camkey {} {}", facts.model, facts.serial);
        let mut xaddrs = Vec::new();
        if let Some(h) = &facts.http_base {
            xaddrs.push(format!("{}{DEVICE_SERVICE_PATH}", h.trim_end_matches('/')));
        }
        xaddrs.push(format!(
            "{}{DEVICE_SERVICE_PATH}",
            facts.https_base.trim_end_matches('/')
        ));
        Advert {
            endpoint: endpoint_for_serial(&facts.serial),
            scopes: camera_scopes(&facts.model, &facts.serial, &name, state),
            xaddrs,
            metadata_version: 1,
        }
    }

    /// This advert updated to `next`: the metadata version goes up by one when scopes or
    /// XAddrs differ, and stays otherwise.
    pub fn updated(&self, mut next: Advert) -> Advert {
        next.metadata_version = if next.scopes != self.scopes || next.xaddrs != self.xaddrs {
            self.metadata_version.wrapping_add(1).max(1)
        } else {
            self.metadata_version
        };
        next
    }
}

/// The endpoint address of the camera with this serial: `urn:uuid:` and a UUID made of
/// the first 16 bytes of SHA-256([`ENDPOINT_NAMESPACE`] ‖ serial), with the version
/// nibble set to 8 and the RFC 9562 variant bits (a name-based UUIDv8, RFC 9562 §5.8).
/// The same serial gives the same address on every boot, after a factory reset and on
/// any network, as WS-Discovery asks; it reveals nothing the label does not.
pub fn endpoint_for_serial(serial: &str) -> String {
    let mut h = Sha256::new();
    h.update(ENDPOINT_NAMESPACE.as_bytes());
    h.update(serial.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    format!("urn:uuid:{}", format_uuid(&b))
}

/// A random (version 4) `urn:uuid:` message id.
pub fn random_message_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format!("urn:uuid:{}", format_uuid(&b))
}

fn format_uuid(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> CameraFacts {
        CameraFacts {
            serial: "CK2-0001".into(),
            model: "CK-200".into(),
            initialized: false,
            http_base: Some("http://10.77.0.1:8080".into()),
            https_base: "https://10.77.0.1:8443/".into(),
        }
    }

    #[test]
    fn endpoint_is_stable_and_well_formed() {
        let a = endpoint_for_serial("CK2-0001");
        assert_eq!(a, endpoint_for_serial("CK2-0001"));
        assert_ne!(a, endpoint_for_serial("CK2-0002"));
        // The test vector of docs/discovery.md.
        assert_eq!(a, "urn:uuid:295776c4-5f6a-8247-b467-c37eabee6874");
        let u = a.strip_prefix("urn:uuid:").unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "8");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn message_ids_are_v4() {
        let m = random_message_id();
        assert_ne!(m, random_message_id());
        assert_eq!(&m[9 + 14..9 + 15], "4");
    }

    #[test]
    fn advert_from_facts() {
        let a = Advert::for_camera(&facts());
        assert_eq!(
            a.xaddrs,
            [
                "http://10.77.0.1:8080/onvif/device_service",
                "https://10.77.0.1:8443/onvif/device_service"
            ]
        );
        assert!(
            a.scopes
                .contains(&"onvif://camkey/state/uninitialized".to_string())
        );
        assert!(
            a.scopes
                .contains(&"onvif://camkey/serial/CK2-0001".to_string())
        );
        assert_eq!(a.metadata_version, 1);
    }

    #[test]
    fn metadata_version_bumps_only_on_change() {
        let a = Advert::for_camera(&facts());
        let same = a.updated(Advert::for_camera(&facts()));
        assert_eq!(same.metadata_version, 1);
        let mut f = facts();
        f.initialized = true;
        let b = same.updated(Advert::for_camera(&f));
        assert_eq!(b.metadata_version, 2);
        assert!(
            b.scopes
                .contains(&"onvif://camkey/state/initialized".to_string())
        );
    }
}
