//! # camkey-onvif
//!
//! ONVIF and WS-Discovery as camkey speaks them: what a camera needs to be found and
//! managed by the clients installers already run (NVRs, Home Assistant, `onvif-zeep-async`,
//! `WSDiscovery`), and what camkey's own tools need to find cameras. Pure protocol: the
//! camera crate decides who may do what; this crate parses, checks and renders.
//!
//! # Layout
//!
//! - [`xml`]: the bounded, namespace-resolving element tree every message is read with.
//! - [`ns`]: the namespace URIs, and the prefixes camkey renders them with.
//! - [`soap`]: SOAP 1.1 and 1.2 envelopes, responses and ONVIF faults.
//! - [`auth`]: HTTP digest and WS-UsernameToken, parsed and verified.
//! - [`device`]: the device service's requests, their access levels, and its responses.
//! - [`media`]: the minimal media service (one H264 profile, stream and snapshot URIs).
//! - `args`: the shared argument checks of the device and media requests.
//! - [`discovery`]: WS-Discovery: the camera's responder, camkey's client, and the
//!   messages and scope rules they share.

mod args;
pub mod auth;
pub mod device;
pub mod discovery;
pub mod media;
pub mod ns;
pub mod soap;
pub mod xml;

pub use device::Access;

/// Keeps `docs/onvif.md` honest: its test vectors are computed here.
#[cfg(test)]
mod docs_vectors {
    use crate::auth::{digest, token};

    const DOC: &str = include_str!("../../../docs/onvif.md");

    #[test]
    fn digest_and_token_vectors_in_docs() {
        let nonce: Vec<u8> = (0u8..16).collect();
        let created = "2026-12-02T06:40:00Z";
        let password = "Correct-Horse-9";
        assert!(DOC.contains(&format!("created   {created}")));
        assert!(DOC.contains(&format!("password  {password}")));
        assert!(DOC.contains(&format!(
            "digest    {}",
            token::password_digest(&nonce, created, password)
        )));
        for (alg, name) in [
            (digest::Algorithm::Md5, "MD5     "),
            (digest::Algorithm::Sha256, "SHA-256 "),
        ] {
            let ha1 = digest::ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
            assert!(DOC.contains(&format!("{name} HA1       {ha1}")), "{name}");
        }
    }
}
