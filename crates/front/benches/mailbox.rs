//! Figures for the automated reset mailbox, printed (not asserted): reset mails processed
//! per second (SMTP in, challenge found, signer asked, code and reply queued), the latency
//! of each up to its `250`, and the process's peak memory. The signer, the front end and
//! the SMTP relay all run in this process; each mail is a distinct genuine challenge from
//! a distinct sender, so no limit slows the run.
#![allow(clippy::unwrap_used)]

use camkey_proto::challenge::{Challenge, Recovery};
use camkey_proto::clock::SystemClock;
use camkey_proto::keys::MasterKey;
use camkey_smtp::{Config, Mailbox, Server};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAILS: usize = 400;
const CLIENTS: usize = 8;

fn vm(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l[key.len()..].trim().to_string())
        .unwrap_or_default()
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
    let relay_box = Arc::new(Mailbox::new(MAILS * 3));
    let relay = Server::start(
        "127.0.0.1:0".parse().unwrap(),
        Config::new("relay"),
        relay_box.clone(),
    )
    .await
    .unwrap();
    let relay_cfg = camkey_outbox::Relay {
        host: "127.0.0.1".into(),
        port: relay.local_addr().port(),
        plain: true,
        sender: "reset@bench.example".into(),
    };
    let socket = dir.path().join("signer.sock");
    let signer = camkey_signer::SignerConfig {
        masters: vec![master.clone()],
        db: dir.path().join("signer.db"),
        socket: socket.clone(),
        socket_gid: None,
        relay: relay_cfg.clone(),
        caps: camkey_signer::Caps {
            codes_per_device_per_day: 1_000_000,
            ..Default::default()
        },
        orders: None,
    };
    tokio::spawn(camkey_signer::run(
        signer,
        Arc::new(SystemClock::default()),
        std::future::pending(),
    ));
    let client = camkey_signer::SignerClient::new(&socket);
    while client
        .call(&camkey_signer::protocol::Request::Health)
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp_port = smtp.local_addr().unwrap().port();
    let config = camkey_front::VendorConfig {
        db: dir.path().join("vendor.db"),
        signer: socket,
        support_address: "support@bench.example".into(),
        reset_address: "reset@bench.example".into(),
        relay: Some(relay_cfg),
        public_url: "http://127.0.0.1".into(),
        dmarc: camkey_front::Dmarc::Off,
        // The bench's many clients all come from 127.0.0.1: as a trusted front MTA, it is
        // exempt from the per-address session cap.
        xforward_from: vec![std::net::Ipv4Addr::LOCALHOST.into()],
        trusted_proxies: Vec::new(),
        limits: camkey_front::Limits::default(),
    };
    tokio::spawn(camkey_front::serve(
        config,
        camkey_front::Listeners {
            http,
            smtp: Some(smtp),
        },
        Arc::new(SystemClock::default()),
        std::future::pending(),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mails: Vec<Message> = (0..MAILS)
        .map(|i| {
            let serial = format!("IPC4K15-M{i:05}");
            let key = master.device_key(&serial);
            let text = Challenge::new(
                &key,
                &serial,
                1_790_000_000,
                false,
                Recovery::Owner("owner@example.com".into()),
            )
            .seal(&key)
            .unwrap();
            Message::builder()
                .from(format!("sender{i}@example.org").parse().unwrap())
                .to("reset@bench.example".parse().unwrap())
                .subject("reset")
                .body(format!(
                    "Please reset:\n\nhttps://vendor.example/reset#{text}\n"
                ))
                .unwrap()
        })
        .collect();
    let rss_before = vm("VmRSS:");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for chunk in mails.chunks(MAILS / CLIENTS) {
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            let t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
                .port(smtp_port)
                .build();
            let mut lat = Vec::new();
            for m in chunk {
                let s = Instant::now();
                t.send(m).await.unwrap();
                lat.push(s.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    let p =
        |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "reset mailbox: {MAILS} mails in {secs:.2} s = {:.0} mails/s ({CLIENTS} SMTP clients, {} cores); latency to 250: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        MAILS as f64 / secs,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        p(0.5),
        p(0.99),
        p(1.0)
    );
    relay_box
        .wait_for(MAILS * 2, Duration::from_secs(120))
        .await
        .expect("every code and reply mailed");
    println!(
        "all {} codes and replies relayed after {:.2} s; process memory: RSS before {rss_before}, peak {}",
        MAILS * 2,
        start.elapsed().as_secs_f64(),
        vm("VmHWM:")
    );
    smtp_source(&master, smtp_port).await;
}

/// The same mailbox under Postfix's load generator, when it is installed: 8 `smtp-source`
/// processes (2 sessions each), each mailing its own camera's challenge in the subject
/// from its own sender, 200 times. After the first mail of each, the signer's idempotence
/// and the per-recipient reply cap take over, as they would under a flood.
async fn smtp_source(master: &MasterKey, smtp_port: u16) {
    const TOOL: &str = "/usr/sbin/smtp-source";
    const PER: usize = 200;
    const PROCS: usize = 8;
    if !std::path::Path::new(TOOL).exists() {
        println!("smtp-source: not installed (apt-get install postfix), skipped");
        return;
    }
    let start = Instant::now();
    let mut procs = Vec::new();
    for i in 0..PROCS {
        let serial = format!("IPC4K15-S{i:05}");
        let key = master.device_key(&serial);
        let text = Challenge::new(
            &key,
            &serial,
            1_790_000_000,
            false,
            Recovery::Owner("owner@example.com".into()),
        )
        .seal(&key)
        .unwrap();
        procs.push(
            tokio::process::Command::new(TOOL)
                .args(["-s", "2", "-m", &PER.to_string(), "-S", &text])
                .args(["-f", &format!("flood{i}@example.org")])
                .args([
                    "-t",
                    "reset@bench.example",
                    &format!("127.0.0.1:{smtp_port}"),
                ])
                .kill_on_drop(true)
                .output(),
        );
    }
    for p in procs {
        let out = p.await.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "smtp-source: {} reset mails ({PROCS} processes x 2 sessions) in {secs:.2} s = {:.0} mails/s; process peak RSS {}",
        PER * PROCS,
        (PER * PROCS) as f64 / secs,
        vm("VmHWM:")
    );
}
