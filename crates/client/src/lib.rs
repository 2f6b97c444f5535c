//! # camkey-client
//!
//! How a tool (the `camkey` CLI) or an NVR talks to a camera, over the network only, as it
//! would to any vendor's camera (docs/design.md §2). Every connection first checks the
//! camera's identity (S10): its certificate must chain to the vendor's device CA, and the
//! serial in its certificate (the URI subject-alternative name `urn:camkey:serial:SERIAL`)
//! must be the one expected, from the label or from discovery. The check runs inside the
//! TLS handshake, so nothing (no password, no request at all) reaches a camera that fails
//! it. Host names are not checked: cameras are reached by address.
//!
//! # Layout
//!
//! - [`error`]: the one error type: not a genuine camera, wrong serial, unreachable, the
//!   camera's own `{"error": {"code", "message"}}`, ONVIF faults.
//! - [`verify`]: the device CA, the certificate verifier (chain, then serial) and the TLS
//!   settings built on it; [`verify::check_identity`] checks an address without a request.
//! - [`rest`]: the camera's REST API (docs/design.md §4): device, init, login, QR recovery,
//!   password change.
//! - [`onvif`]: the ONVIF calls an NVR needs (time, device information, profiles, snapshot),
//!   authenticated by HTTP digest.

pub mod error;
pub mod onvif;
pub mod rest;
pub mod verify;

pub use error::Error;
pub use onvif::{DeviceInformation, OnvifClient, Profile};
pub use rest::{CameraClient, QrChallenge};
pub use verify::{CameraVerifier, DeviceCa, check_identity, serial_of_certificate, tls_config};
