//! Who the client is: the address every per-source limit counts, computed once per request
//! by [`layer`] and read by the [`Client`] extractor; and [`source_key`], the key such
//! limits count (the camera's as well as the vendor's).
//!
//! Without trusted proxies it is the TCP peer, and `Forwarded` / `X-Forwarded-For` are
//! ignored: anyone can write them. Behind a TLS-terminating proxy (the vendor's
//! `--trusted-proxy ADDR`, an address or a CIDR network, repeatable), the peer is the
//! proxy, so for a request whose peer is a trusted proxy the client is read from the chain
//! of addresses the proxies appended: the **right-most address that is not a trusted
//! proxy**. The left-most one is whatever the client wrote and is never believed.
//!
//! - `Forwarded` (RFC 7239): every header line, every element, its `for=` parameter: a bare
//!   IPv4 address, `"192.0.2.1:4711"`, `"[2001:db8::1]"`, `"[2001:db8::1]:4711"`.
//! - `X-Forwarded-For`: every header line, comma-separated addresses (an IPv4 or IPv6
//!   address, optionally `[v6]:port` or `v4:port`).
//!
//! **Falling back safely.** When the chain cannot name the client — no header, every
//! address trusted, an obfuscated or `unknown` identifier, a hop without `for=`, anything
//! unreadable reached before a non-trusted address, or both headers present and naming
//! different clients — the client is the proxy itself. Such requests share the proxy's one
//! budget; a client cannot escape its own budget that way (it only lands in the shared
//! one), and clients whose proxy names them properly are never counted there.
//!
//! Limits count a [`Client::key`]: the IPv4 address, or the /64 of an IPv6 address (one
//! host usually holds a whole /64). IPv4-mapped IPv6 addresses count as IPv4.

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode, request::Parts};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

/// Header lines of one kind read at most (more are ignored, and make the chain unknown).
const MAX_HEADER_LINES: usize = 16;
/// Addresses read from one header kind at most.
const MAX_HOPS: usize = 64;

/// A trusted proxy: one address or a CIDR network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

/// A `--trusted-proxy` value that is not an address or a network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a CIDR network (e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8)")]
pub struct BadProxy(String);

impl FromStr for ProxyNet {
    type Err = BadProxy;

    fn from_str(s: &str) -> Result<Self, BadProxy> {
        let bad = || BadProxy(s.chars().take(100).collect());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = canonical(addr.trim().parse::<IpAddr>().map_err(|_| bad())?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(bad)?,
            None => max,
        };
        Ok(ProxyNet { addr, prefix })
    }
}

impl ProxyNet {
    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The proxies whose `Forwarded` / `X-Forwarded-For` are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ProxyNet>);

impl TrustedProxies {
    /// These proxies.
    pub fn new(nets: Vec<ProxyNet>) -> Self {
        TrustedProxies(nets)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client of a request from `peer` with these headers (see the module docs).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = chain(headers, "forwarded", forwarded_hops);
        let xff = chain(headers, "x-forwarded-for", xff_hops);
        let pick = |c: Option<Vec<Option<IpAddr>>>| c.map(|hops| self.right_most(&hops));
        match (pick(forwarded), pick(xff)) {
            (Some(Some(a)), None) | (None, Some(Some(a))) => a,
            (Some(Some(a)), Some(Some(b))) if a == b => a,
            _ => peer,
        }
    }

    /// The right-most hop that is not a trusted proxy; `None` if an unknown hop comes
    /// first or every hop is trusted.
    fn right_most(&self, hops: &[Option<IpAddr>]) -> Option<IpAddr> {
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusts(*ip) => continue,
                Some(ip) => return Some(*ip),
                None => return None,
            }
        }
        None
    }
}

/// IPv4-mapped IPv6 as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The hops of one header kind, left to right (`None`: an unreadable or unknown hop), or
/// `None` when the request has no such header.
fn chain(
    headers: &HeaderMap,
    name: &str,
    hops_of: fn(&str, &mut Vec<Option<IpAddr>>),
) -> Option<Vec<Option<IpAddr>>> {
    let mut lines = headers.get_all(name).iter().peekable();
    lines.peek()?;
    let mut hops = Vec::new();
    for (i, line) in lines.enumerate() {
        if i >= MAX_HEADER_LINES || hops.len() >= MAX_HOPS {
            // Too many to read: what the nearest proxies said is beyond reach.
            return Some(vec![None]);
        }
        match line.to_str() {
            Ok(v) => hops_of(v, &mut hops),
            Err(_) => hops.push(None),
        }
    }
    if hops.len() > MAX_HOPS {
        return Some(vec![None]);
    }
    Some(hops)
}

fn xff_hops(v: &str, out: &mut Vec<Option<IpAddr>>) {
    for item in v.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        out.push(node_ip(item));
    }
}

fn forwarded_hops(v: &str, out: &mut Vec<Option<IpAddr>>) {
    for element in split_outside_quotes(v, ',') {
        if element.trim().is_empty() {
            continue;
        }
        let mut hop = None;
        for pair in split_outside_quotes(element, ';') {
            let Some((k, val)) = pair.split_once('=') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("for") {
                let val = val.trim();
                let val = val
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(val);
                hop = node_ip(val);
            }
        }
        out.push(hop);
    }
}

/// Splits at `sep`, except inside a quoted string.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:80`. Anything else (`unknown`, `_hidden`) is `None`.
fn node_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(valid_port)) {
            return None;
        }
        return ip
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| canonical(IpAddr::V6(ip)));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    let (ip, port) = s.rsplit_once(':')?;
    if !valid_port(port) {
        return None;
    }
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// The client of a request, as the limits see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    ip: IpAddr,
    proxied: bool,
}

impl Client {
    /// The address.
    pub fn ip(self) -> IpAddr {
        self.ip
    }

    /// Whether the request came through a trusted proxy (whose other headers, such as
    /// `X-Forwarded-Proto`, may then be believed).
    pub fn proxied(self) -> bool {
        self.proxied
    }

    /// What limits count: [`source_key`].
    pub fn key(self) -> String {
        source_key(self.ip)
    }
}

/// The key a source is limited by: an IPv4 address as itself, an IPv6 address by its /64
/// (`2001:db8:1:2::/64`); IPv4-mapped IPv6 as IPv4.
pub fn source_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let net = Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64));
            format!("{net}/64")
        }
    }
}

/// Middleware: computes the [`Client`] of each request once, from the peer and, behind a
/// trusted proxy, its headers.
pub async fn layer(
    State(proxies): State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let client = Client {
            ip: proxies.client(peer, req.headers()),
            proxied: proxies.trusts(peer),
        };
        req.extensions_mut().insert(client);
    }
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(c) = parts.extensions.get::<Client>() {
            return Ok(*c);
        }
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| Client {
                ip: canonical(c.0.ip()),
                proxied: false,
            })
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let n: ProxyNet = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains(ip("10.200.1.1")) && !n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.1.2.3")));
        let n: ProxyNet = "fd00::/8".parse().unwrap();
        assert!(n.contains(ip("fd12::1")) && !n.contains(ip("fe80::1")));
        let n: ProxyNet = "0.0.0.0/0".parse().unwrap();
        assert!(n.contains(ip("203.0.113.9")));
        let n: ProxyNet = "127.0.0.1".parse().unwrap();
        assert!(n.contains(ip("127.0.0.1")) && !n.contains(ip("127.0.0.2")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "host.example",
            "10.0.0.1/x",
            "1.2.3.4:80",
        ] {
            assert!(bad.parse::<ProxyNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn untrusted_peers_headers_are_ignored() {
        let p = proxies(&["127.0.0.1"]);
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=203.0.113.7"),
        ]);
        assert_eq!(p.client(ip("127.0.0.2"), &h), ip("127.0.0.2"));
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn right_most_untrusted_address_wins() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        // The client wrote the left-most; the proxies appended the rest.
        let h = headers(&[("x-forwarded-for", "203.0.113.7, 198.51.100.66, 10.1.1.1")]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.66"));
        // Several header lines are one list.
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-for", "198.51.100.66,10.1.1.1"),
        ]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.66"));
        // Ports and brackets.
        let h = headers(&[("x-forwarded-for", "[2001:db8::5]:4711")]);
        assert_eq!(p.client(peer, &h), ip("2001:db8::5"));
        let h = headers(&[("x-forwarded-for", "198.51.100.66:1234")]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.66"));
        // RFC 7239, with quoted IPv6 and ports, and other parameters.
        let h = headers(&[(
            "forwarded",
            "for=203.0.113.7;proto=https, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1",
        )]);
        assert_eq!(p.client(peer, &h), ip("2001:db8:cafe::17"));
        let h = headers(&[
            ("forwarded", "For=\"198.51.100.66:80\""),
            ("forwarded", "for=10.2.2.2"),
        ]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.66"));
    }

    #[test]
    fn unreadable_chains_fall_back_to_the_proxy() {
        let p = proxies(&["127.0.0.1"]);
        let peer = ip("127.0.0.1");
        for h in [
            headers(&[]),
            headers(&[("x-forwarded-for", "")]),
            headers(&[("x-forwarded-for", "127.0.0.1")]),
            headers(&[("x-forwarded-for", "198.51.100.66, garbage")]),
            headers(&[("x-forwarded-for", "198.51.100.66, unknown")]),
            headers(&[("forwarded", "for=_hidden")]),
            headers(&[("forwarded", "for=unknown")]),
            headers(&[("forwarded", "proto=https")]),
            headers(&[("forwarded", "for=\"[2001:db8::1\"")]),
            // Both kinds, naming different clients: one of them is the client's own.
            headers(&[
                ("forwarded", "for=203.0.113.7"),
                ("x-forwarded-for", "198.51.100.66"),
            ]),
        ] {
            assert_eq!(p.client(peer, &h), peer, "{h:?}");
        }
        // Both kinds agreeing is fine.
        let h = headers(&[
            ("forwarded", "for=198.51.100.66"),
            ("x-forwarded-for", "198.51.100.66"),
        ]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.66"));
        // A trusted hop left of an unknown one does not matter; an unknown one right of
        // the client does.
        let h = headers(&[("x-forwarded-for", "unknown, 198.51.100.66")]);
        assert_eq!(p.client(peer, &h), ip("198.51.100.66"));
        // Absurdly long chains are not read.
        let long = vec!["198.51.100.1"; 100].join(",");
        let h = headers(&[("x-forwarded-for", &long)]);
        assert_eq!(p.client(peer, &h), peer);
    }

    #[test]
    fn ipv6_sources_count_by_their_64() {
        assert_eq!(source_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            source_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            source_key(ip("2001:db8:1:2::"))
        );
        assert_ne!(
            source_key(ip("2001:db8:1:3::1")),
            source_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(source_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(source_key(ip("192.0.2.1")), "192.0.2.1");
    }
}
