//! Random byte streams over real sockets: no panic, and every reply is a well-formed
//! SMTP reply. (The session logic alone gets many more cases in its unit tests.)

use crate::common::{Client, config, start};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Pieces that reach deep states, mixed with raw random bytes.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"EHLO fuzz.test\r\n".to_vec()),
        Just(b"MAIL FROM:<a@b.test> SIZE=10\r\n".to_vec()),
        Just(b"MAIL FROM:<>\r\n".to_vec()),
        Just(b"RCPT TO:<owner@example.test>\r\n".to_vec()),
        Just(b"RCPT TO:<nobody@example.test>\r\n".to_vec()),
        Just(b"DATA\r\n".to_vec()),
        Just(b"\r\n.\r\n".to_vec()),
        Just(b"..\r\n".to_vec()),
        Just(b"STARTTLS\r\n".to_vec()),
        Just(b"RSET\r\nNOOP\r\nVRFY x\r\nHELP\r\n".to_vec()),
        Just(vec![b'z'; 700]),
        proptest::collection::vec(any::<u8>(), 0..64),
        "[ -~\r\n]{0,64}".prop_map(String::into_bytes),
    ]
}

#[test]
fn random_streams_over_a_socket_get_well_formed_replies() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = config();
    cfg.max_errors = 50;
    let (server, _sink) = rt.block_on(start(cfg));
    let addr = server.local_addr();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (proptest::collection::vec(piece(), 0..24), 1usize..200);
    runner
        .run(&strategy, |(pieces, cut)| {
            rt.block_on(async {
                let stream: Vec<u8> = pieces.concat();
                let mut c = Client::connect(addr).await;
                c.expect(220).await;
                for chunk in stream.chunks(cut) {
                    // The server may close early (QUIT, errors, a failed TLS handshake).
                    if c.io.write_all(chunk).await.is_err() {
                        break;
                    }
                }
                let _ = c.io.shutdown().await;
                // Every reply until the end must be well-formed (`try_reply` checks).
                let mut n = 0;
                while let Some(reply) = tokio::time::timeout(Duration::from_secs(5), c.try_reply())
                    .await
                    .map_err(|_| TestCaseError::fail("server hung"))?
                {
                    n += 1;
                    prop_assert!(n < 10_000);
                    if reply.code == 220 {
                        // The 220 to STARTTLS: what follows is TLS (an alert, most likely).
                        break;
                    }
                }
                Ok(())
            })
        })
        .unwrap();
    rt.block_on(async {
        // Still serving after all that.
        let mut c = Client::greeted(addr).await;
        c.cmd("NOOP", 250).await;
        drop(c);
        server.shutdown().await.unwrap();
    });
}
