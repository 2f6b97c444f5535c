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

mod args;
pub mod auth;
pub mod device;
pub mod media;
pub mod ns;
pub mod soap;
pub mod xml;

pub use device::Access;
