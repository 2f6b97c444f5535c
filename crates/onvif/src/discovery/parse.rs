//! Reading discovery messages: Probe (the camera) and ProbeMatches, Hello and Bye (the
//! client). Elements are matched by full QName (namespace and local name), never by
//! prefix; type QNames in `Types` are resolved with the namespace declarations in scope
//! of the `Types` element (on the Envelope, the Probe, or `Types` itself). Anything
//! malformed, unexpected or over the XML bounds gives `None`.

use super::advert::Advert;
use super::scopes::{MatchBy, all_match};
use super::{NS_ONVIF_DEVICE, NS_ONVIF_NETWORK, Soap, Wsd};

/// A probe as the camera reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// SOAP version (the answer uses the same).
    pub soap: Soap,
    /// WS-Discovery version (the answer uses the same).
    pub wsd: Wsd,
    /// `MessageID`, verbatim (may be `uuid:…` without `urn:`).
    pub message_id: String,
    /// Requested types as (namespace, local name).
    pub types: Vec<(String, String)>,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// How scopes are compared.
    pub match_by: MatchBy,
}

/// The types a camkey camera is.
pub const CAMERA_TYPES: [(&str, &str); 2] = [
    (NS_ONVIF_DEVICE, "Device"),
    (NS_ONVIF_NETWORK, "NetworkVideoTransmitter"),
];

impl Probe {
    /// Whether a camera with this advert answers: every requested type is one of
    /// [`CAMERA_TYPES`] (none requested: any) and every scope matches.
    pub fn matches(&self, advert: &Advert) -> bool {
        self.types
            .iter()
            .all(|(ns, local)| CAMERA_TYPES.iter().any(|(n, l)| n == ns && l == local))
            && all_match(self.match_by, &self.scopes, &advert.scopes)
    }
}

/// One advertised endpoint in a ProbeMatches or Hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Endpoint address.
    pub endpoint: String,
    /// Types as (namespace, local name).
    pub types: Vec<(String, String)>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// XAddrs.
    pub xaddrs: Vec<String>,
    /// Metadata version (0 when absent).
    pub metadata_version: u32,
}

/// A message the client reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// Answers to the probe whose id is `relates_to`.
    ProbeMatches {
        /// The probe's `MessageID`.
        relates_to: String,
        /// The endpoints.
        matches: Vec<Match>,
    },
    /// A device arrived or changed.
    Hello(Match),
    /// A device left (its endpoint address).
    Bye(String),
}

/// Reads a Probe (`None`: not a well-formed probe).
pub fn parse_probe(_bytes: &[u8]) -> Option<Probe> {
    None
}

/// Reads a ProbeMatches, Hello or Bye (`None`: anything else or malformed).
pub fn parse_announcement(_bytes: &[u8]) -> Option<Announcement> {
    None
}
