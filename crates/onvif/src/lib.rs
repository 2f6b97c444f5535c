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
//! - [`discovery`]: WS-Discovery: the camera's responder, camkey's client, and the
//!   messages and scope rules they share.

pub mod auth;
pub mod discovery;
pub mod ns;
pub mod soap;
pub mod xml;
