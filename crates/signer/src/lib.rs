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
//! - [`store`]: its own SQLite database: challenges seen, the durable outbox, the audit log.
//! - [`outbox`]: the worker that mails queued codes with retries.
//! - [`server`]: the Unix socket.
//! - [`client`]: the front end's client.
//! - [`run`]: all of it, until told to stop.

pub mod client;
pub mod outbox;
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
    /// Where mail goes.
    pub relay: outbox::Relay,
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
    let listener = server::bind(&config.socket)?;
    let signer = Arc::new(Signer::new(
        config.masters,
        store.clone(),
        clock.clone(),
        config.caps,
    ));
    let stop = Arc::new(tokio::sync::Notify::new());
    let worker = tokio::spawn(outbox::run(
        Arc::new(store),
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
