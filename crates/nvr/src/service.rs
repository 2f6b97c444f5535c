//! A running NVR: the store opened, the admin account made at first start, the adoption
//! loop and the web front on one listener. `camkey nvr` and the lab both start an NVR
//! through [`start`]; they differ only in their switch (the lab's simulated one, or the
//! fixed port table of `camkey nvr --port N=ADDR`) and in where notices go.

use crate::adopt::{Adopter, NoticeHook};
use crate::client_link::ClientLink;
use crate::http::{Nvr, router};
use crate::store::Store;
use crate::switch::PoeSwitch;
use camkey_client::DeviceCa;
use camkey_proto::clock::Clock;
use camkey_web::client::TrustedProxies;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What an NVR needs to start.
#[derive(Debug, Clone)]
pub struct NvrOptions {
    /// Its data directory (created 0700 with its missing parents).
    pub dir: PathBuf,
    /// The vendor's device CA certificate (PEM): every camera must chain to it.
    pub device_ca: PathBuf,
    /// The admin's user name, used when the account is made.
    pub admin_username: String,
    /// The admin's password at first start; `None` generates one (returned once in
    /// [`RunningNvr::generated_password`]). Ignored once the account exists.
    pub admin_password: Option<String>,
    /// The owner's recovery address given to each camera, at first start.
    pub recovery_email: Option<String>,
    /// How often every port is looked at again (the switch's changes wake it sooner).
    pub period: Duration,
}

/// Why an NVR could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The data directory.
    #[error("the NVR's data directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    /// The store.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// The device CA.
    #[error("the device CA {0}: {1}")]
    DeviceCa(PathBuf, camkey_client::Error),
    /// The admin's password is too weak.
    #[error("the NVR admin's password: {0}")]
    WeakPassword(String),
    /// The listener.
    #[error("the NVR's listener: {0}")]
    Listener(std::io::Error),
}

/// A running NVR.
pub struct RunningNvr {
    nvr: Arc<Nvr<ClientLink>>,
    addr: SocketAddr,
    generated: Option<String>,
    stop: tokio::sync::watch::Sender<bool>,
    web: tokio::task::JoinHandle<()>,
    adoption: tokio::task::JoinHandle<()>,
}

/// Starts an NVR on `listener` over `switch`.
pub async fn start(
    opts: &NvrOptions,
    switch: Arc<dyn PoeSwitch>,
    listener: tokio::net::TcpListener,
    notice: NoticeHook,
    clock: Arc<dyn Clock>,
) -> Result<RunningNvr, ServiceError> {
    camkey_atomic::create_private_dir(&opts.dir)
        .map_err(|e| ServiceError::Dir(opts.dir.clone(), e))?;
    let ca = DeviceCa::from_file(&opts.device_ca)
        .map_err(|e| ServiceError::DeviceCa(opts.device_ca.clone(), e))?;
    let store = Arc::new(Store::open(&opts.dir, clock)?);
    let mut generated = None;
    if store.read(|s| s.admin.is_none()) {
        let password = match &opts.admin_password {
            Some(p) => {
                let id = camkey_proto::policy::Identity {
                    username: &opts.admin_username,
                    serial: "",
                    model: "",
                };
                camkey_proto::policy::check_password(p, id)
                    .map_err(|e| ServiceError::WeakPassword(e.to_string()))?;
                p.clone()
            }
            None => {
                let p = crate::store::vault::generate_password();
                generated = Some(p.clone());
                p
            }
        };
        store.set_admin(&opts.admin_username, &password, opts.recovery_email.clone())?;
    }
    let addr = listener.local_addr().map_err(ServiceError::Listener)?;
    let adopter = Arc::new(Adopter::new(
        store,
        switch,
        Arc::new(ClientLink::new(ca)),
        notice,
    ));
    let adoption = adopter.spawn(opts.period);
    let nvr = Nvr::new(adopter);
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let app = router(nvr.clone(), Arc::new(TrustedProxies::default()))
        .into_make_service_with_connect_info::<SocketAddr>();
    let web = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
    });
    Ok(RunningNvr {
        nvr,
        addr,
        generated,
        stop,
        web,
        adoption,
    })
}

impl RunningNvr {
    /// The front (and through it the adoption engine and the store).
    pub fn nvr(&self) -> &Arc<Nvr<ClientLink>> {
        &self.nvr
    }

    /// Where the page and the API listen.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin's password, if this start made the account and generated it.
    pub fn generated_password(&self) -> Option<&str> {
        self.generated.as_deref()
    }

    /// Stops the adoption loop, then the web front after its requests in flight.
    pub async fn stop(self) {
        self.adoption.abort();
        let _ = self.adoption.await;
        let _ = self.stop.send(true);
        let _ = self.web.await;
    }
}
