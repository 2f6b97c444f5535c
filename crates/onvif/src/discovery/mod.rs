//! WS-Discovery 1.0 (2005/04, the version ONVIF uses; probes in the 2009 namespaces are
//! answered in kind): how a camkey camera is found on its LAN, and camkey's own client.
//!
//! A camera answers Probe messages for `tds:Device` and `dn:NetworkVideoTransmitter`
//! (matched by namespace, never by prefix) whose scopes match its own, announces itself
//! with Hello at start and leaves with Bye at a graceful stop. What it discloses is the
//! same whatever its state except for camkey's state scope, and is answered after the
//! same random delay: nothing secret or timing-revealing (S8). Message shapes, bounds and
//! a test vector are in docs/discovery.md.
//!
//! # Layout
//! - [`scopes`]: scope matching (RFC 3986, strcmp0) and the scopes a camera advertises.
//! - [`advert`]: the advertisement and the endpoint address derived from the serial.
//! - [`render`]: ProbeMatches, Hello, Bye and Probe as sent.
//! - [`parse`]: reading Probe (camera) and ProbeMatches, Hello and Bye (client).
//! - [`net`]: the UDP sockets, on one IPv4 interface only.
//! - [`guard`]: answer rate limits and duplicate message ids.
//! - [`responder`]: the camera's responder task (rate limits, duplicate suppression).
//! - [`client`]: probing an interface and collecting the cameras that answer.

pub mod advert;
pub mod client;
pub mod guard;
pub mod net;
pub mod parse;
pub mod render;
pub mod responder;
pub mod scopes;

pub use advert::{Advert, CameraFacts, endpoint_for_serial};
pub use client::{DiscoverError, Found, ProbeOptions, discover};
pub use parse::{Announcement, Probe, parse_announcement, parse_probe};
pub use responder::{Responder, ResponderConfig};
pub use scopes::{CameraState, MatchBy};

use std::net::Ipv4Addr;

/// The WS-Discovery UDP port.
pub const PORT: u16 = 3702;
/// The WS-Discovery IPv4 multicast group.
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
/// ONVIF's device service namespace (`tds:Device`).
pub const NS_ONVIF_DEVICE: &str = crate::ns::TDS;
/// ONVIF's network namespace (`dn:NetworkVideoTransmitter`).
pub const NS_ONVIF_NETWORK: &str = crate::ns::DN;

/// The SOAP version of a message (a probe is answered in its own; ZoneMinder also
/// probes in SOAP 1.1).
pub use crate::soap::SoapVersion as Soap;

/// The WS-Discovery version (with its WS-Addressing version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wsd {
    /// WS-Discovery 2005/04 with WS-Addressing 2004/08: what ONVIF uses.
    V2005,
    /// WS-Discovery 1.1 (OASIS 2009/01) with WS-Addressing 1.0.
    V2009,
}

impl Wsd {
    /// The discovery namespace.
    pub fn ns(self) -> &'static str {
        match self {
            Wsd::V2005 => crate::ns::D,
            Wsd::V2009 => "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01",
        }
    }

    /// The WS-Addressing namespace used with it.
    pub fn addressing_ns(self) -> &'static str {
        match self {
            Wsd::V2005 => crate::ns::WSA,
            Wsd::V2009 => crate::ns::WSA10,
        }
    }

    /// The anonymous reply address (`To` of a ProbeMatches).
    pub fn anonymous(self) -> &'static str {
        match self {
            Wsd::V2005 => "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",
            Wsd::V2009 => "http://www.w3.org/2005/08/addressing/anonymous",
        }
    }

    /// The `To` of multicast messages.
    pub fn multicast_to(self) -> &'static str {
        match self {
            Wsd::V2005 => "urn:schemas-xmlsoap-org:ws:2005:04:discovery",
            Wsd::V2009 => "urn:docs-oasis-open-org:ws-dd:ns:discovery:2009:01",
        }
    }

    /// The action URI of a message (`Probe`, `ProbeMatches`, `Hello`, `Bye`).
    pub fn action(self, name: &str) -> String {
        format!("{}/{name}", self.ns())
    }

    /// The version whose discovery namespace this is.
    pub fn from_ns(ns: &str) -> Option<Wsd> {
        [Wsd::V2005, Wsd::V2009].into_iter().find(|w| w.ns() == ns)
    }
}
