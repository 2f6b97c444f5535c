//! The camera's WS-Discovery responder: a task that answers probes on one interface,
//! announces the camera with Hello and takes it away with Bye.
//!
//! Per datagram: anything over [`MAX_PROBE_BYTES`] is dropped unread; a datagram that is
//! not a well-formed Probe ([`parse_probe`]) is dropped; a message id seen before is
//! dropped (clients repeat probes); in non-discoverable mode, probes that came by
//! multicast are dropped (directed probes to the camera's own address are still
//! answered, as WS-Discovery and ONVIF allow); a probe whose types or scopes do not
//! match is dropped; then the per-source and total answer limits ([`guard`]) decide,
//! and the ProbeMatches goes to the probe's source address (never to a `ReplyTo`, which
//! would let anyone aim the camera at a third party) after a random delay in
//! `[0, max_delay]`. Every drop is silent. Which path a probe takes does not depend on
//! the camera's state, so neither does the time of the answer (S8).
//!
//! [`guard`]: super::guard

use super::advert::{Advert, random_message_id};
use super::guard::{AnswerGuard, AnswerLimits, RecentIds};
use super::net;
use super::parse::parse_probe;
use super::render::{self, AppSequence};
use super::{MULTICAST_V4, PORT};
use rand::Rng;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Datagrams longer than this are dropped unread: a probe is well under 1 KiB, and a
/// probe with a few dozen scopes still fits.
pub const MAX_PROBE_BYTES: usize = 8 * 1024;

/// Reads whether the camera is discoverable (the persisted discovery mode).
pub type Discoverable = Arc<dyn Fn() -> bool + Send + Sync>;

/// How a responder runs.
#[derive(Debug, Clone)]
pub struct ResponderConfig {
    /// The one interface, by its IPv4 address (127.0.0.1 on loopback).
    pub interface: Ipv4Addr,
    /// UDP port ([`PORT`]; tests pick their own to stay apart).
    pub port: u16,
    /// Multicast group ([`MULTICAST_V4`]).
    pub group: Ipv4Addr,
    /// Largest random delay before an answer (WS-Discovery's APP_MAX_DELAY is 500 ms;
    /// any smaller bound is within the spec).
    pub max_delay: Duration,
    /// `AppSequence/@InstanceId`: must grow from one start to the next (the camera uses
    /// its wall clock in seconds at start).
    pub instance_id: u64,
    /// Answer rate limits.
    pub limits: AnswerLimits,
}

impl ResponderConfig {
    /// The standard group and port on `interface`, 100 ms delay, default limits.
    pub fn new(interface: Ipv4Addr, instance_id: u64) -> ResponderConfig {
        ResponderConfig {
            interface,
            port: PORT,
            group: MULTICAST_V4,
            max_delay: Duration::from_millis(100),
            instance_id,
            limits: AnswerLimits::default(),
        }
    }
}

struct Shared {
    config: ResponderConfig,
    advert: Mutex<Advert>,
    discoverable: Discoverable,
    /// Whether the last announcement was a Hello (so a Bye is owed).
    announced: Mutex<bool>,
    number: AtomicU64,
    send: UdpSocket,
}

impl Shared {
    fn seq(&self) -> AppSequence {
        AppSequence {
            instance_id: self.config.instance_id,
            message_number: self.number.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }

    fn advert(&self) -> Advert {
        self.advert
            .lock()
            .map(|a| a.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    async fn multicast(&self, text: String) {
        let to = (self.config.group, self.config.port);
        if let Err(e) = self.send.send_to(text.as_bytes(), to).await {
            tracing::debug!("discovery: multicast on {}: {e}", self.config.interface);
        }
    }

    /// Sends Hello or Bye when the mode changed since the last announcement, or Hello
    /// again when `changed` (the advert's metadata version went up).
    async fn announce(&self, changed: bool) {
        let now = (self.discoverable)();
        let was = {
            let mut a = self.announced.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *a, now)
        };
        let advert = self.advert();
        if now && (!was || changed) {
            self.multicast(render::hello(&advert, &random_message_id(), self.seq()))
                .await;
        } else if !now && was {
            self.multicast(render::bye(&advert, &random_message_id(), self.seq()))
                .await;
        }
    }
}

/// A running responder.
pub struct Responder {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Responder {
    /// Binds the sockets on the interface, sends Hello (if discoverable) and starts
    /// answering probes.
    pub async fn start(
        config: ResponderConfig,
        advert: Advert,
        discoverable: Discoverable,
    ) -> io::Result<Responder> {
        let mc = net::multicast_socket(config.interface, config.group, config.port)?;
        let uc = net::unicast_socket(config.interface, config.port)?;
        let shared = Arc::new(Shared {
            advert: Mutex::new(advert),
            discoverable,
            announced: Mutex::new(false),
            number: AtomicU64::new(0),
            send: uc,
            config,
        });
        shared.announce(false).await;
        let task = tokio::spawn(serve(shared.clone(), mc));
        Ok(Responder { shared, task })
    }

    /// The advert as currently answered.
    pub fn advert(&self) -> Advert {
        self.shared.advert()
    }

    /// Takes the camera's current advert and mode: when scopes or XAddrs changed, the
    /// metadata version goes up and a Hello goes out (if discoverable); a change of mode
    /// sends Hello (now discoverable) or Bye (no longer). Cheap when nothing changed.
    pub async fn refresh(&self, next: Advert) {
        let changed = {
            let mut a = self.shared.advert.lock().unwrap_or_else(|e| e.into_inner());
            let next = a.updated(next);
            let changed = next.metadata_version != a.metadata_version;
            *a = next;
            changed
        };
        self.shared.announce(changed).await;
    }

    /// Graceful stop: Bye (if a Hello is standing), then the sockets close.
    pub async fn stop(self) {
        let Responder { shared, task } = self;
        task.abort();
        let _ = task.await;
        let owed = *shared.announced.lock().unwrap_or_else(|e| e.into_inner());
        if owed {
            let s = &shared;
            s.multicast(render::bye(&s.advert(), &random_message_id(), s.seq()))
                .await;
        }
    }

    /// Power cut: the sockets close and nothing is sent (a camera losing power cannot
    /// say goodbye; clients notice by the missing answers).
    pub fn power_cut(self) {
        self.task.abort();
    }
}

async fn serve(shared: Arc<Shared>, mc: UdpSocket) {
    let mut guard = AnswerGuard::new(shared.config.limits, Instant::now());
    let mut seen = RecentIds::default();
    let mut mbuf = vec![0u8; MAX_PROBE_BYTES + 1];
    let mut ubuf = vec![0u8; MAX_PROBE_BYTES + 1];
    // Pending answers: aborted with this task (a camera that stops answers no more).
    let mut pending = tokio::task::JoinSet::new();
    loop {
        while pending.try_join_next().is_some() {}
        let (n, from, multicast) = tokio::select! {
            r = mc.recv_from(&mut mbuf) => match r {
                Ok((n, from)) => (n, from, true),
                Err(_) => {
                    // A socket error (rare with UDP) must not become a busy loop.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            r = shared.send.recv_from(&mut ubuf) => match r {
                Ok((n, from)) => (n, from, false),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let buf = if multicast { &mbuf } else { &ubuf };
        if n > MAX_PROBE_BYTES {
            continue;
        }
        let Some(probe) = parse_probe(&buf[..n]) else {
            continue;
        };
        if !seen.first_time(&probe.message_id) {
            continue;
        }
        if multicast && !(shared.discoverable)() {
            continue;
        }
        if !replyable(from) {
            continue;
        }
        let advert = shared.advert();
        if !probe.matches(&advert) {
            continue;
        }
        if !guard.allow(from.ip(), Instant::now()) {
            continue;
        }
        let max = shared.config.max_delay.as_millis() as u64;
        let delay = Duration::from_millis(if max == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=max)
        });
        let answer = render::probe_matches(
            &advert,
            probe.soap,
            probe.wsd,
            &random_message_id(),
            &probe.message_id,
            shared.seq(),
        );
        let s = shared.clone();
        pending.spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = s.send.send_to(answer.as_bytes(), from).await;
        });
    }
}

/// Only a unicast source with a port can be answered.
fn replyable(from: SocketAddr) -> bool {
    let ip = from.ip();
    from.port() != 0 && !ip.is_unspecified() && !ip.is_multicast() && {
        match ip {
            std::net::IpAddr::V4(v4) => !v4.is_broadcast(),
            std::net::IpAddr::V6(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unicast_sources_are_answered() {
        assert!(replyable("10.0.0.2:5000".parse().unwrap()));
        assert!(!replyable("10.0.0.2:0".parse().unwrap()));
        assert!(!replyable("239.255.255.250:3702".parse().unwrap()));
        assert!(!replyable("255.255.255.255:3702".parse().unwrap()));
        assert!(!replyable("0.0.0.0:3702".parse().unwrap()));
    }
}
