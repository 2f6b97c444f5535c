//! # camkey-signer
//!
//! The vendor's **signer** (S1): a separate process, the only one that holds the master
//! key. It opens challenges, makes security codes and mails them **itself** — only to the
//! address sealed in the challenge (and, for support releases, to an order's address from
//! its own copy of the orders) — keeps its own audit log and per-device caps, and never
//! hands a code back to its caller. The Internet-facing vendor process talks to it over a
//! local socket with a narrow API and never reads the key: a compromised front end can at
//! worst make the signer mail real owners.
//!
//! # Layout
//! - [`protocol`]: the requests and answers on the socket.
//! - [`service`]: the decisions (caps, idempotency, factory default) and the audit.
//! - [`store`]: its own SQLite database: challenges seen, the durable outbox of
//!   `camkey-outbox` (which names challenges, never holds a code), the audit log.
//! - [`mail`]: the code mail, made again at send time for the outbox worker of
//!   `camkey-outbox`, which mails queued codes with retries.
//! - [`server`]: the Unix socket.
//! - [`client`]: the front end's client.
//! - [`run`]: all of it, until told to stop.

pub mod client;
pub mod mail;
pub mod protocol;
pub mod server;
pub mod service;
pub mod store;

use camkey_proto::clock::Clock;
use camkey_proto::keys::MasterKey;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

pub use client::SignerClient;
pub use service::{Caps, Signer};

/// How to run a signer.
#[derive(Debug, Clone)]
pub struct SignerConfig {
    /// Every master key the vendor holds (each with its version).
    pub masters: Vec<MasterKey>,
    /// The signer's database file.
    pub db: PathBuf,
    /// The socket path.
    pub socket: PathBuf,
    /// The group (gid) that may also open the socket (mode 0660), so the front end can run
    /// as a user of its own; `None`: the signer's user only (0600).
    pub socket_gid: Option<u32>,
    /// Where mail goes.
    pub relay: camkey_outbox::Relay,
    /// Caps.
    pub caps: Caps,
    /// The signer's own copy of the orders (for support releases), loaded at start.
    pub orders: Option<Vec<camkey_proto::orders::OrderLine>>,
}

/// Why the signer could not start.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// Storage.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The socket.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// No key.
    #[error("the signer needs at least one master key")]
    NoKey,
}

/// Runs the signer (socket and outbox) until `shutdown` completes.
pub async fn run(
    config: SignerConfig,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SignerError> {
    if config.masters.is_empty() {
        return Err(SignerError::NoKey);
    }
    let store = store::SignerStore::open(&config.db).await?;
    if let Some(orders) = &config.orders {
        store.replace_orders(orders).await?;
        tracing::info!("signer: {} order line(s) loaded", orders.len());
    }
    let listener = server::bind(&config.socket, config.socket_gid)?;
    let masters = Arc::new(config.masters.clone());
    let signer = Arc::new(Signer::new(
        config.masters,
        store.clone(),
        clock.clone(),
        config.caps,
    ));
    let stop = Arc::new(tokio::sync::Notify::new());
    let worker = tokio::spawn(camkey_outbox::run(
        Arc::new(store.outbox()),
        Arc::new(mail::CodeMails { store, masters }),
        config.relay,
        clock,
        signer.wake.clone(),
        stop.clone(),
    ));
    tracing::info!("signer listening on {}", config.socket.display());
    server::serve(listener, signer, shutdown).await;
    stop.notify_one();
    let _ = worker.await;
    let _ = std::fs::remove_file(&config.socket);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Request, Response};
    use camkey_proto::challenge::{Challenge, Recovery};
    use camkey_proto::clock::SystemClock;
    use camkey_smtp::{Config, Mailbox, Server};
    use std::time::Duration;

    /// Issue 11, item 2: a thief who copies the signer's database files (the main file,
    /// its `-wal` and `-shm`) after codes went out finds no code in them, in any form.
    #[tokio::test(flavor = "multi_thread")]
    async fn no_code_at_rest_in_the_signers_files() {
        let dir = tempfile::tempdir().unwrap();
        let mailbox = Arc::new(Mailbox::new(20));
        let smtp = Server::start(
            "127.0.0.1:0".parse().unwrap(),
            Config::new("inbox.test"),
            mailbox.clone(),
        )
        .await
        .unwrap();
        let master = MasterKey::from_bytes(1, [0x42; 32]);
        let db = dir.path().join("signer.db");
        let socket = dir.path().join("signer.sock");
        let config = SignerConfig {
            masters: vec![master.clone()],
            db: db.clone(),
            socket: socket.clone(),
            socket_gid: None,
            relay: camkey_outbox::Relay {
                host: "127.0.0.1".into(),
                port: smtp.local_addr().port(),
                plain: true,
                sender: "reset@vendor.example".into(),
            },
            caps: Caps::default(),
            orders: None,
        };
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = stop.clone();
        let signer = tokio::spawn(run(config, Arc::new(SystemClock::default()), async move {
            stopped.notified().await
        }));
        let client = SignerClient::new(&socket);
        for _ in 0..200 {
            if client.call(&Request::Health).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        // Three cameras' codes, and one of them re-sent later.
        let mut texts = Vec::new();
        for i in 1..=3 {
            let serial = format!("IPC4K15-R{i:05}");
            let key = master.device_key(&serial);
            let text = Challenge::new(
                &key,
                &serial,
                1_790_000_000,
                false,
                Recovery::Owner(format!("owner{i}@example.com")),
            )
            .with_counter(i)
            .seal(&key)
            .unwrap();
            let r = client
                .call(&Request::Issue {
                    challenge: text.clone(),
                    channel: "web".into(),
                    requester: "127.0.0.1".into(),
                })
                .await
                .unwrap();
            assert!(matches!(r, Response::Issued { .. }), "{r:?}");
            texts.push(text);
        }
        let mails = mailbox.wait_for(3, Duration::from_secs(30)).await.unwrap();
        let codes: Vec<String> = mails
            .iter()
            .map(|m| {
                String::from_utf8_lossy(&m.message)
                    .lines()
                    .find_map(|l| l.strip_prefix("Code: ").map(|c| c.trim().to_string()))
                    .unwrap()
            })
            .collect();
        // The outbox worker truncates the WAL after its batch.
        let wal = dir.path().join("signer.db-wal");
        for _ in 0..200 {
            if std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(
            std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
            0,
            "the WAL is truncated after sends"
        );
        let mut files = Vec::new();
        for name in ["signer.db", "signer.db-wal", "signer.db-shm"] {
            files.push((
                name,
                std::fs::read(dir.path().join(name)).unwrap_or_default(),
            ));
        }
        assert!(files[0].1.len() > 4096, "the database was read");
        for code in &codes {
            let bare = code.replace('-', "");
            for needle in [
                code.clone(),
                bare.clone(),
                bare.to_lowercase(),
                bare[..10].to_string(),
            ] {
                for (name, bytes) in &files {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                        "{needle} found in {name}"
                    );
                }
            }
        }
        // The queued mails can still be made again (a restart loses nothing): the code
        // comes from the master key, the store holds only what regenerates it.
        stop.notify_one();
        signer.await.unwrap().unwrap();
    }
}
