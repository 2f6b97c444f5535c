//! Time and concurrency bounds: idle clients, slow-loris, too many sessions, shutdown.

use crate::common::{Client, config, start};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Timeouts short enough for tests: 300 ms per command, 600 ms per DATA phase.
fn fast() -> camkey_smtp::Config {
    let mut c = config();
    c.command_timeout = Duration::from_millis(300);
    c.data_timeout = Duration::from_millis(600);
    c
}

#[tokio::test]
async fn an_idle_client_gets_421() {
    let (server, _sink) = start(fast()).await;
    let mut c = Client::greeted(server.local_addr()).await;
    let t = Instant::now();
    let r = c.expect(421).await;
    assert_eq!(r.text(), "4.4.2 mx.camkey.test timeout, closing connection");
    c.expect_close().await;
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    drop(c);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_command_trickled_byte_by_byte_gets_421() {
    let (server, _sink) = start(fast()).await;
    let c = Client::greeted(server.local_addr()).await;
    let t = Instant::now();
    // One byte every 100 ms: each arrives well within 300 ms, the line never does.
    let (mut rd, mut wr) = c.io.into_split();
    let writer = tokio::spawn(async move {
        for b in b"NOOP NOOP NOOP NOOP NOOP NOOP NOOP\r\n"
            .iter()
            .cycle()
            .take(100)
        {
            if wr.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::io::AsyncReadExt::read_to_end(&mut rd, &mut got),
    )
    .await;
    writer.abort();
    let waited = t.elapsed();
    assert_eq!(
        String::from_utf8_lossy(&got),
        "421 4.4.2 mx.camkey.test timeout, closing connection\r\n"
    );
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    drop(rd);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn slow_loris_in_data_gets_421_when_the_data_phase_is_up() {
    let (server, sink) = start(fast()).await;
    let mut c = Client::greeted(server.local_addr()).await;
    c.send("EHLO raw.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<owner@example.test>\r\nDATA\r\n")
        .await;
    for code in [250, 250, 250, 354] {
        c.expect(code).await;
    }
    let t = Instant::now();
    // A byte every 50 ms never trips the 300 ms between reads; only the DATA bound can.
    let (mut rd, mut wr) = c.io.into_split();
    let writer = tokio::spawn(async move {
        for _ in 0..200 {
            if wr.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut rd, &mut got),
    )
    .await;
    writer.abort();
    let waited = t.elapsed();
    assert_eq!(
        String::from_utf8_lossy(&got),
        "421 4.4.2 mx.camkey.test timeout, closing connection\r\n"
    );
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert!(sink.mailbox.is_empty());
    drop(rd);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn sessions_beyond_the_limit_get_421_too_busy() {
    let mut cfg = config();
    cfg.max_sessions = 2;
    let (server, _sink) = start(cfg).await;
    let addr = server.local_addr();
    let mut a = Client::greeted(addr).await;
    let mut b = Client::greeted(addr).await;
    let mut c = Client::connect(addr).await;
    assert_eq!(c.expect(421).await.text(), "4.3.2 too busy, try later");
    c.expect_close().await;
    b.cmd("NOOP", 250).await;
    a.cmd("QUIT", 221).await;
    a.expect_close().await;
    drop(a);
    // The slot frees when the first session ends.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut d = Client::connect(addr).await;
        let r = d.reply().await;
        if r.code == 220 {
            d.cmd("NOOP", 250).await;
            break;
        }
        assert_eq!(r.code, 421);
        assert!(Instant::now() < deadline, "the slot never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop((b, c));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_tells_idle_sessions_now_and_lets_a_message_finish() {
    let (server, sink) = start(config()).await;
    let addr = server.local_addr();
    let mut idle = Client::greeted(addr).await;
    idle.cmd("EHLO idle.test", 250).await;
    let mut busy = Client::greeted(addr).await;
    busy.send("EHLO busy.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<owner@example.test>\r\nDATA\r\n")
        .await;
    for code in [250, 250, 250, 354] {
        busy.expect(code).await;
    }
    busy.send("Subject: last words\r\n\r\nhalf").await;

    let t = Instant::now();
    let stopping = tokio::spawn(server.shutdown());
    let r = idle.expect(421).await;
    assert_eq!(r.text(), "4.3.2 mx.camkey.test shutting down, try later");
    idle.expect_close().await;
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    // New connections are refused once the listener is closed.
    let refused = async {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    };
    assert!(refused.await, "still accepting after shutdown");

    // The message in flight completes; the next command gets 421.
    assert!(!stopping.is_finished());
    busy.send(" a message\r\n.\r\nNOOP\r\n").await;
    busy.expect(250).await;
    busy.expect(421).await;
    busy.expect_close().await;
    drop((idle, busy));
    tokio::time::timeout(Duration::from_secs(3), stopping)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mails = sink.wait_for(1).await;
    assert_eq!(
        mails[0].message,
        b"Subject: last words\r\n\r\nhalf a message\r\n"
    );
}
