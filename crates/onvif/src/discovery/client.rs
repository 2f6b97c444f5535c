//! camkey's discovery client: one Probe multicast on one interface, then every
//! ProbeMatches that relates to it until the timeout, one entry per endpoint.
//!
//! The client checks the scopes itself as well (some cameras ignore them), and keeps
//! answers of at most [`MAX_ANSWER_BYTES`].

use super::advert::random_message_id;
use super::net;
use super::parse::{Announcement, parse_announcement};
use super::render;
use super::scopes::{MatchBy, ScopeInfo, all_match, read_camkey_scopes};
use super::{MULTICAST_V4, PORT};
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::time::Instant;

/// Answers longer than this are dropped (a camera with many scopes still fits).
pub const MAX_ANSWER_BYTES: usize = 32 * 1024;

/// What to probe for, and where.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The one interface to send on, by its IPv4 address.
    pub interface: Ipv4Addr,
    /// Destination port ([`PORT`]).
    pub port: u16,
    /// Multicast group ([`MULTICAST_V4`]).
    pub group: Ipv4Addr,
    /// How long to collect answers.
    pub timeout: Duration,
    /// Scopes every answer must match (RFC 3986 rule).
    pub scopes: Vec<String>,
    /// Stop as soon as this many cameras answered (`None`: wait for the timeout).
    pub expect: Option<usize>,
}

impl ProbeOptions {
    /// The standard group and port on `interface`, 2 s, no scope.
    pub fn new(interface: Ipv4Addr) -> ProbeOptions {
        ProbeOptions {
            interface,
            port: PORT,
            group: MULTICAST_V4,
            timeout: Duration::from_secs(2),
            scopes: Vec::new(),
            expect: None,
        }
    }
}

/// A camera (or any ONVIF device) that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its endpoint address (`urn:uuid:…`).
    pub endpoint: String,
    /// Where the answer came from.
    pub from: SocketAddr,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Its device service URLs.
    pub xaddrs: Vec<String>,
    /// Its metadata version.
    pub metadata_version: u32,
    /// camkey's scopes read back (serial, model, state, name).
    pub info: ScopeInfo,
}

/// Why discovery could not run.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The socket could not be made or the probe not sent.
    #[error("discovery on {interface}: {source}")]
    Io {
        /// The interface.
        interface: Ipv4Addr,
        /// The error.
        source: std::io::Error,
    },
}

/// Probes and collects the answers, sorted by serial then endpoint.
pub async fn discover(opts: &ProbeOptions) -> Result<Vec<Found>, DiscoverError> {
    let io = |source| DiscoverError::Io {
        interface: opts.interface,
        source,
    };
    let sock = net::client_socket(opts.interface).map_err(io)?;
    let id = random_message_id();
    let probe = render::probe(&id, &opts.scopes);
    sock.send_to(probe.as_bytes(), (opts.group, opts.port))
        .await
        .map_err(io)?;
    let deadline = Instant::now() + opts.timeout;
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut buf = vec![0u8; 64 * 1024];
    while opts.expect.is_none_or(|n| found.len() < n) {
        let r = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await;
        let Ok(r) = r else { break };
        let Ok((n, from)) = r else { continue };
        if n > MAX_ANSWER_BYTES {
            continue;
        }
        let Some(Announcement::ProbeMatches {
            relates_to,
            matches,
        }) = parse_announcement(&buf[..n])
        else {
            continue;
        };
        if relates_to != id {
            continue;
        }
        for m in matches {
            if !all_match(MatchBy::Rfc3986, &opts.scopes, &m.scopes)
                || !seen.insert(m.endpoint.clone())
            {
                continue;
            }
            found.push(Found {
                info: read_camkey_scopes(&m.scopes),
                endpoint: m.endpoint,
                from,
                scopes: m.scopes,
                xaddrs: m.xaddrs,
                metadata_version: m.metadata_version,
            });
        }
    }
    found.sort_by(|a, b| {
        (a.info.serial.as_deref(), &a.endpoint).cmp(&(b.info.serial.as_deref(), &b.endpoint))
    });
    Ok(found)
}
