//! One host holding the server's sessions, as an attacker would: many connections from
//! one loopback address, NOOP floods, idle sessions; other addresses must still get 220.

use crate::common::{Client, config, start};
use std::time::Duration;

/// The per-address cap of the vendor's mailbox, with short times.
fn capped() -> camkey_smtp::Config {
    let mut c = config();
    c.max_sessions = 64;
    c.max_sessions_per_client = 5;
    c.max_idle_commands = 20;
    c
}

#[tokio::test]
async fn attack_one_address_cannot_hold_every_session() {
    let (server, _sink) = start(capped()).await;
    let addr = server.local_addr();
    // The attacker opens sessions from 127.0.0.2 up to the cap and keeps them.
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut c = Client::connect_from(addr, [127, 0, 0, 2]).await;
        c.expect(220).await;
        held.push(c);
    }
    // The next one from the same address is refused, with a clear reason.
    for _ in 0..20 {
        let mut c = Client::connect_from(addr, [127, 0, 0, 2]).await;
        let r = c.expect(421).await;
        assert_eq!(
            r.text(),
            "4.7.0 too many sessions from your address (at most 5), try later"
        );
        c.expect_close().await;
    }
    // Everyone else is still served.
    for host in 3..8u8 {
        let mut c = Client::connect_from(addr, [127, 0, 0, host]).await;
        c.expect(220).await;
        c.cmd("EHLO other.test", 250).await;
        c.cmd("QUIT", 221).await;
    }
    // A held session that ends frees its place for the same address.
    let mut first = held.remove(0);
    first.cmd("QUIT", 221).await;
    first.expect_close().await;
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = Client::connect_from(addr, [127, 0, 0, 2]).await;
        if c.reply().await.code == 220 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place never freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(held);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn attack_a_trusted_front_mta_is_exempt_from_the_per_address_cap() {
    let mut cfg = capped();
    cfg.xforward_from = vec![std::net::Ipv4Addr::new(127, 0, 0, 9).into()];
    let (server, _sink) = start(cfg).await;
    let addr = server.local_addr();
    let mut held = Vec::new();
    for _ in 0..12 {
        let mut c = Client::connect_from(addr, [127, 0, 0, 9]).await;
        c.expect(220).await;
        held.push(c);
    }
    // Others are capped as usual.
    let mut others = Vec::new();
    for _ in 0..5 {
        let mut c = Client::connect_from(addr, [127, 0, 0, 10]).await;
        c.expect(220).await;
        others.push(c);
    }
    let mut c = Client::connect_from(addr, [127, 0, 0, 10]).await;
    c.expect(421).await;
    drop((held, others));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn attack_a_noop_flood_ends_the_session() {
    let (server, sink) = start(capped()).await;
    let addr = server.local_addr();
    let mut c = Client::connect_from(addr, [127, 0, 0, 2]).await;
    c.expect(220).await;
    c.cmd("EHLO flood.test", 250).await;
    // Idle commands up to the cap are answered; a message in between starts the count
    // again (Postfix sends RSET before each message on a cached connection).
    for i in 0..20 {
        c.cmd(if i % 2 == 0 { "NOOP" } else { "RSET" }, 250).await;
    }
    c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<owner@example.test>\r\nDATA\r\n")
        .await;
    for code in [250, 250, 354] {
        c.expect(code).await;
    }
    c.cmd("Subject: hi\r\n\r\nhello\r\n.", 250).await;
    sink.wait_for(1).await;
    for _ in 0..20 {
        c.cmd("NOOP", 250).await;
    }
    // One more: 421, closed.
    let r = c.cmd("NOOP", 421).await;
    assert_eq!(
        r.text(),
        "4.7.0 too many NOOP/RSET/VRFY/HELP without a message, closing connection"
    );
    c.expect_close().await;
    // Pipelined in one packet, the flood is cut off at the same place.
    let mut c = Client::connect_from(addr, [127, 0, 0, 2]).await;
    c.expect(220).await;
    c.send("NOOP\r\n".repeat(1000)).await;
    for _ in 0..20 {
        c.expect(250).await;
    }
    c.expect(421).await;
    c.expect_close().await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn attack_idle_and_endless_sessions_are_closed() {
    let mut cfg = capped();
    cfg.command_timeout = Duration::from_millis(300);
    cfg.session_timeout = Duration::from_millis(1500);
    let (server, _sink) = start(cfg).await;
    let addr = server.local_addr();
    // Idle: closed after the idle time.
    let mut idle = Client::connect_from(addr, [127, 0, 0, 2]).await;
    idle.expect(220).await;
    let r = idle.expect(421).await;
    assert_eq!(r.text(), "4.4.2 mx.camkey.test timeout, closing connection");
    idle.expect_close().await;
    // Busy but never sending mail (an EHLO every 100 ms, well within the idle time):
    // closed when the session's time is up.
    let mut busy = Client::connect_from(addr, [127, 0, 0, 2]).await;
    busy.expect(220).await;
    let started = tokio::time::Instant::now();
    let closing = loop {
        busy.send("EHLO busy.test\r\n").await;
        let r = busy.reply().await;
        if r.code == 421 {
            break r;
        }
        assert_eq!(r.code, 250);
        assert!(started.elapsed() < Duration::from_secs(10), "never closed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        closing.text(),
        "4.4.2 mx.camkey.test session too long, closing connection"
    );
    busy.expect_close().await;
    server.shutdown().await.unwrap();
}
