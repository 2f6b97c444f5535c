//! The UDP sockets of discovery, always on one IPv4 interface given by its address.
//!
//! A responder has two sockets, both with `SO_REUSEADDR` and `SO_REUSEPORT` so that many
//! cameras in one process or host each have their own:
//! - the multicast socket, bound to `239.255.255.250:PORT` (so it receives nothing but
//!   that group), joined on the interface only, with `IP_MULTICAST_ALL` off (Linux would
//!   otherwise deliver groups joined by other sockets on other interfaces);
//! - the unicast socket, bound to `INTERFACE:PORT`: directed probes arrive on it, and
//!   everything the responder sends leaves from it, with `IP_MULTICAST_IF` = the
//!   interface, multicast loop on (other responders and clients on the same host hear
//!   Hello and Bye) and TTL 1 (WS-Discovery's multicast stays on the link).
//!
//! The client has one socket bound to `INTERFACE:0`, with the same multicast settings.
//! Nothing is ever bound to or sent through `INADDR_ANY`.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use tokio::net::UdpSocket;

fn udp() -> io::Result<Socket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

fn refuse_any(interface: Ipv4Addr) -> io::Result<()> {
    if interface.is_unspecified() || interface.is_multicast() || interface.is_broadcast() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("discovery needs one interface address, not {interface}"),
        ));
    }
    Ok(())
}

fn sender_settings(s: &Socket, interface: Ipv4Addr) -> io::Result<()> {
    s.set_multicast_if_v4(&interface)?;
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_ttl_v4(1)?;
    Ok(())
}

fn into_tokio(s: Socket) -> io::Result<UdpSocket> {
    UdpSocket::from_std(s.into())
}

/// The responder's multicast (receive-only) socket on `interface`.
pub fn multicast_socket(interface: Ipv4Addr, group: Ipv4Addr, port: u16) -> io::Result<UdpSocket> {
    refuse_any(interface)?;
    let s = udp()?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    #[cfg(target_os = "linux")]
    s.set_multicast_all_v4(false)?;
    s.bind(&SockAddr::from(SocketAddrV4::new(group, port)))?;
    s.join_multicast_v4(&group, &interface)?;
    into_tokio(s)
}

/// The responder's unicast socket on `interface:port`, through which it also sends.
pub fn unicast_socket(interface: Ipv4Addr, port: u16) -> io::Result<UdpSocket> {
    refuse_any(interface)?;
    let s = udp()?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    sender_settings(&s, interface)?;
    s.bind(&SockAddr::from(SocketAddrV4::new(interface, port)))?;
    into_tokio(s)
}

/// The client's socket on `interface` (ephemeral port).
pub fn client_socket(interface: Ipv4Addr) -> io::Result<UdpSocket> {
    refuse_any(interface)?;
    let s = udp()?;
    sender_settings(&s, interface)?;
    s.bind(&SockAddr::from(SocketAddrV4::new(interface, 0)))?;
    into_tokio(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn any_address_is_refused() {
        for a in [Ipv4Addr::UNSPECIFIED, Ipv4Addr::new(239, 255, 255, 250)] {
            assert!(client_socket(a).is_err());
            assert!(unicast_socket(a, 0).is_err());
        }
    }

    #[tokio::test]
    async fn loopback_multicast_reaches_every_responder_socket() {
        let lo = Ipv4Addr::LOCALHOST;
        let group = Ipv4Addr::new(239, 255, 255, 250);
        let probe = client_socket(lo).unwrap();
        let port = {
            // A free port for this test only (other tests use 3702 or their own).
            let u = unicast_socket(lo, 0).unwrap();
            u.local_addr().unwrap().port()
        };
        let a = multicast_socket(lo, group, port).unwrap();
        let b = multicast_socket(lo, group, port).unwrap();
        probe.send_to(b"hi", (group, port)).await.unwrap();
        let mut buf = [0u8; 8];
        for s in [&a, &b] {
            let (n, from) = s.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"hi");
            assert_eq!(from.ip(), std::net::IpAddr::V4(lo));
        }
    }
}
