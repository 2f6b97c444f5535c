//! # camkey-vendor
//!
//! The vendor's Internet-facing service (DESIGN §1, step 1): the web reset page a phone
//! opens from a camera's QR code, and its JSON API. It never holds the master key and never
//! sees a code: it asks the [signer](camkey_signer) over a local socket, and the signer
//! mails the code to the address sealed in the challenge.
//!
//! # Layout
//! - [`texts`]: the fixed answers (`docs/vendor.md`).
//! - [`service`]: one reset request, from the web (or, later, mail), to the signer.
//! - [`store`]: the storage trait and its SQLite implementation.
//! - [`web`]: the pages and `POST /api/reset-requests`.
//! - [`run`]: serving until told to stop.

pub mod service;
pub mod store;
pub mod texts;
pub mod web;

use camkey_proto::clock::Clock;
use camkey_signer::SignerClient;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// How to run the front end.
#[derive(Debug, Clone)]
pub struct VendorConfig {
    /// SQLite database file.
    pub db: PathBuf,
    /// The signer's socket.
    pub signer: PathBuf,
    /// The support desk's address.
    pub support_address: String,
}

/// Why the front end could not start.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// Storage.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Listener.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the app over its storage.
pub async fn app(
    config: &VendorConfig,
    clock: Arc<dyn Clock>,
) -> Result<axum::Router, VendorError> {
    let store = store::SqliteStore::open(&config.db).await?;
    let reset = service::ResetService {
        signer: SignerClient::new(&config.signer),
        store: Arc::new(store),
        clock,
        support_address: config.support_address.clone(),
    };
    Ok(web::app(web::AppState { reset }))
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    config: VendorConfig,
    listener: tokio::net::TcpListener,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), VendorError> {
    let app = app(&config, clock).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}
