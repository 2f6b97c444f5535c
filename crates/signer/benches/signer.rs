//! Figures for the signer, printed (not asserted): codes issued per second through its
//! socket, and its memory. `scripts/bench` runs it against the real `camkey vendor signer`
//! process (`CAMKEY_BIN`); without it, the signer runs in this process.
#![allow(clippy::unwrap_used)]

use camkey_proto::challenge::{Challenge, Recovery};
use camkey_proto::keys::MasterKey;
use camkey_signer::SignerClient;
use camkey_signer::protocol::{Request, Response};
use camkey_smtp::{Config, Mailbox, Server};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CODES: usize = 400;
const CLIENTS: usize = 8;

fn rss(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let get = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .map(|l| l[k.len()..].trim().to_string())
            .unwrap_or_default()
    };
    format!("RSS {} (peak {})", get("VmRSS:"), get("VmHWM:"))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate(1);
    std::fs::write(dir.path().join("master.key"), master.to_json()).unwrap();
    let mailbox = Arc::new(Mailbox::new(CODES * 2));
    let smtp = Server::start(
        "127.0.0.1:0".parse().unwrap(),
        Config::new("bench"),
        mailbox.clone(),
    )
    .await
    .unwrap();
    let socket = dir.path().join("signer.sock");
    let mut child = None;
    match std::env::var("CAMKEY_BIN") {
        Ok(bin) => {
            child = Some(
                tokio::process::Command::new(bin)
                    .args(["vendor", "signer", "--master-key"])
                    .arg(dir.path().join("master.key"))
                    .arg("--db")
                    .arg(dir.path().join("signer.db"))
                    .arg("--socket")
                    .arg(&socket)
                    .args([
                        "--smtp",
                        &smtp.local_addr().to_string(),
                        "--smtp-plain",
                        "--sender",
                        "reset@bench.example",
                    ])
                    .args(["--codes-per-day", "1000000"])
                    .env("RUST_LOG", "warn")
                    .kill_on_drop(true)
                    .spawn()
                    .unwrap(),
            );
        }
        Err(_) => {
            println!("(CAMKEY_BIN not set: the signer runs inside this process)");
            let config = camkey_signer::SignerConfig {
                orders: None,
                masters: vec![master.clone()],
                db: dir.path().join("signer.db"),
                socket: socket.clone(),
                socket_gid: None,
                relay: camkey_outbox::Relay {
                    host: "127.0.0.1".into(),
                    port: smtp.local_addr().port(),
                    plain: true,
                    sender: "reset@bench.example".into(),
                },
                caps: camkey_signer::Caps {
                    codes_per_device_per_day: 1_000_000,
                    ..Default::default()
                },
            };
            tokio::spawn(camkey_signer::run(
                config,
                Arc::new(camkey_proto::clock::SystemClock::default()),
                std::future::pending(),
            ));
        }
    }
    let client = SignerClient::new(&socket);
    while client.call(&Request::Health).await.is_err() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let idle = child.as_ref().and_then(|c| c.id()).map(rss);
    let challenges: Vec<String> = (0..CODES)
        .map(|i| {
            let serial = format!("IPC4K15-B{i:05}");
            let key = master.device_key(&serial);
            Challenge::new(
                &key,
                &serial,
                1_790_000_000,
                false,
                Recovery::Owner("owner@example.com".into()),
            )
            .seal(&key)
            .unwrap()
        })
        .collect();
    let chunks: Vec<Vec<String>> = challenges
        .chunks(CODES / CLIENTS)
        .map(|c| c.to_vec())
        .collect();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for challenge in chunk {
                let r = client
                    .call(&Request::Issue {
                        challenge,
                        channel: "web".into(),
                        requester: "bench".into(),
                    })
                    .await
                    .unwrap();
                assert!(matches!(r, Response::Issued { .. }), "{r:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let issued = start.elapsed().as_secs_f64();
    mailbox
        .wait_for(CODES, Duration::from_secs(120))
        .await
        .expect("every code mailed");
    let mailed = start.elapsed().as_secs_f64();
    println!(
        "signer: {CODES} codes issued in {issued:.2} s = {:.0} codes/s over its socket ({CLIENTS} clients); all mailed after {mailed:.2} s = {:.0} mails/s",
        CODES as f64 / issued,
        CODES as f64 / mailed
    );
    if let Some(pid) = child.as_ref().and_then(|c| c.id()) {
        println!(
            "signer process: idle {}; after the run {}",
            idle.unwrap_or_default(),
            rss(pid)
        );
    }
}
