//! # camkey-front
//!
//! The vendor's Internet-facing front end (docs/design.md §1, step 1): one web server for
//! the [reset service](camkey_reset) and the [support desk](camkey_desk), the automated
//! reset mailbox, and the worker that sends the front end's mails. It never holds the
//! master key and never sees a code: it asks the [signer](camkey_signer) over a local
//! socket, and the signer mails the code to the address sealed in the challenge.
//!
//! This crate only wires the parts together ([`serve`]); each part is its own crate.
//!
//! # Layout
//! - [`limits`]: every rate limit of the front end, with its default ([`Limits`]).

use camkey_desk::{desk, signin};
use camkey_proto::clock::Clock;
use camkey_reset::{dmarc, intake, mailbox, service};
use camkey_signer::SignerClient;
use camkey_store::SqliteStore;
use camkey_web::client;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub mod limits;

pub use limits::{Limits, MailboxLimits};

/// How to run the front end.
#[derive(Debug, Clone)]
pub struct VendorConfig {
    /// SQLite database file.
    pub db: PathBuf,
    /// The signer's socket.
    pub signer: PathBuf,
    /// The support desk's address.
    pub support_address: String,
    /// The automated reset address (the mailbox answers mail for it).
    pub reset_address: String,
    /// Where replies go out (none: replies stay queued).
    pub relay: Option<camkey_outbox::Relay>,
    /// The front end's public base URL, for links in mails (`https://support.example.com`).
    pub public_url: String,
    /// The DMARC-alignment check on reset-mail requesters (on in production).
    pub dmarc: Dmarc,
    /// Front MTAs (e.g. Postfix on loopback) trusted to name the original client with
    /// `XFORWARD`, so the DMARC check and the per-requester limits see the real sender.
    pub xforward_from: Vec<std::net::IpAddr>,
    /// TLS-terminating proxies whose `Forwarded` / `X-Forwarded-For` name the web client
    /// ([`client`]); empty: the TCP peer is the client.
    pub trusted_proxies: Vec<client::ProxyNet>,
    /// The rate limits ([`Limits::default`]: the documented production values).
    pub limits: Limits,
}

/// Whether and how the reset mailbox checks its requesters' DMARC alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dmarc {
    /// No check: every sender gets the fixed answer (the lab: its senders have no DNS).
    Off,
    /// Check with the system's resolvers.
    System,
    /// Check with this resolver.
    Resolver(SocketAddr),
}

/// The sockets the front end serves on.
pub struct Listeners {
    /// HTTP: the reset page and API.
    pub http: tokio::net::TcpListener,
    /// SMTP: the automated reset mailbox.
    pub smtp: Option<tokio::net::TcpListener>,
}

/// Why the front end could not start.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// Storage.
    #[error(transparent)]
    Store(#[from] camkey_store::StoreError),
    /// Listener.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The DMARC check's resolver.
    #[error(transparent)]
    Dmarc(#[from] dmarc::DmarcSetupError),
}

fn service(
    config: &VendorConfig,
    store: Arc<SqliteStore>,
    clock: Arc<dyn Clock>,
) -> service::ResetService {
    service::ResetService {
        signer: SignerClient::new(&config.signer),
        store,
        clock,
        support_address: config.support_address.clone(),
        limits: config.limits.reset,
    }
}

/// Serves the web app, the reset mailbox (if an SMTP listener is given) and the outbox
/// worker until `shutdown` completes.
pub async fn serve(
    config: VendorConfig,
    listeners: Listeners,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), VendorError> {
    let store = Arc::new(SqliteStore::open(&config.db).await?);
    let reset = service(&config, store.clone(), clock.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let wake = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    if let Some(listener) = listeners.smtp {
        let dmarc = match config.dmarc {
            Dmarc::Off => None,
            Dmarc::System => Some(Arc::new(dmarc::DmarcCheck::system()?)),
            Dmarc::Resolver(addr) => Some(Arc::new(dmarc::DmarcCheck::with_nameserver(addr)?)),
        };
        let mut smtp = camkey_smtp::Config::new("reset-mailbox");
        smtp.max_message_bytes = intake::MAX_MAIL_BYTES;
        // Facing the Internet: a few sessions per client address (the front MTAs allowed
        // XFORWARD are exempt), a few NOOP/RSET per message, a short idle time and a
        // bounded session, so one host cannot hold the mailbox.
        let limits = &config.limits.mailbox;
        smtp.max_sessions_per_client = limits.sessions_per_client;
        smtp.max_idle_commands = limits.idle_commands;
        smtp.command_timeout = limits.idle_timeout;
        smtp.session_timeout = limits.session_timeout;
        smtp.xforward_from = config.xforward_from.clone();
        let sink = Arc::new(mailbox::ResetMailbox {
            reset: reset.clone(),
            reset_address: config.reset_address.clone(),
            wake: wake.clone(),
            dmarc,
        });
        let mut rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let _ = camkey_smtp::serve(listener, smtp, sink, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
        }));
    }
    let stop_outbox = Arc::new(tokio::sync::Notify::new());
    if let Some(relay) = config.relay.clone() {
        tasks.push(tokio::spawn(camkey_outbox::run(
            store.outbox(),
            Arc::new(camkey_outbox::ReadyOnly),
            relay,
            clock.clone(),
            wake.clone(),
            stop_outbox.clone(),
        )));
    }
    let desk = desk::Desk {
        store: store.clone(),
        signer: SignerClient::new(&config.signer),
        clock: clock.clone(),
        public_url: config.public_url.trim_end_matches('/').to_string(),
        support_address: config.support_address.clone(),
        wake: wake.clone(),
        limits: config.limits.desk,
    };
    let desk = camkey_desk::DeskState {
        desk,
        signin: Arc::new(signin::SignInLimits::with_config(
            clock.clone(),
            config.limits.signin,
        )),
    };
    let routes = camkey_reset::web::routes()
        .with_state(reset)
        .merge(camkey_desk::portal::routes().with_state(desk));
    let proxies = Arc::new(client::TrustedProxies::new(config.trusted_proxies.clone()));
    let app = camkey_web::site::site(routes, proxies);
    let mut rx = stop_rx.clone();
    let web = axum::serve(
        listeners.http,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = rx.wait_for(|s| *s).await;
    });
    let web = tokio::spawn(async move { web.await });
    shutdown.await;
    let _ = stop_tx.send(true);
    stop_outbox.notify_one();
    let _ = web.await;
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}
