//! Discovery figures: how long camkey's client takes to find N responders on loopback
//! (multicast with IP_MULTICAST_IF = 127.0.0.1, a port of its own), for the default
//! answer delay (100 ms) and WS-Discovery's APP_MAX_DELAY (500 ms).
//!
//!     cargo bench -p camkey-onvif --bench discovery [-- N]

#![allow(clippy::unwrap_used, clippy::expect_used)]

use camkey_onvif::discovery::{
    Advert, CameraFacts, ProbeOptions, Responder, ResponderConfig, discover,
};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn advert(n: usize) -> Advert {
    Advert::for_camera(&CameraFacts {
        serial: format!("BENCH-{n:05}"),
        model: "IPC4K15".into(),
        initialized: n.is_multiple_of(3),
        http_base: Some(format!("http://127.0.0.1:{}", 20000 + n)),
        https_base: format!("https://127.0.0.1:{}", 30000 + n),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(256);
    let port = std::net::UdpSocket::bind((LO, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for delay_ms in [100u64, 500] {
        let mut rs = Vec::with_capacity(n);
        for i in 0..n {
            let mut c = ResponderConfig::new(LO, 1);
            c.port = port;
            c.max_delay = Duration::from_millis(delay_ms);
            rs.push(
                Responder::start(c, advert(i), Arc::new(|| true))
                    .await
                    .expect("responder (raise `ulimit -n` for many)"),
            );
        }
        // Let the Hellos settle.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut times = Vec::new();
        for _ in 0..5 {
            let mut o = ProbeOptions::new(LO);
            o.port = port;
            o.timeout = Duration::from_secs(10);
            o.expect = Some(n);
            let t = Instant::now();
            let found = discover(&o).await.unwrap();
            let dt = t.elapsed();
            assert_eq!(found.len(), n, "every responder found");
            times.push(dt);
        }
        times.sort();
        println!(
            "discovery: client found {n} responders (answer delay 0..{delay_ms} ms): \
             median {:.0} ms, min {:.0} ms, max {:.0} ms (5 runs)",
            times[2].as_secs_f64() * 1000.0,
            times[0].as_secs_f64() * 1000.0,
            times[4].as_secs_f64() * 1000.0,
        );
        for r in rs {
            r.stop().await;
        }
    }
}
