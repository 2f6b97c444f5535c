//! Running a camera: load the factory directory, boot the core, serve HTTPS (and the
//! redirecting plain HTTP) until told to stop.

use crate::core::{Core, CoreConfig, CoreError};
use crate::http;
use crate::onvif::{self, OnvifService, Transport};
use axum_server::tls_rustls::RustlsConfig;
use camkey_proto::clock::Clock;
use camkey_proto::factory::{CERT_FILE, FACTORY_FILE, FactoryData, TLS_KEY_FILE};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Why a camera could not start.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// The factory directory is missing or damaged.
    #[error("factory data in {dir}: {reason}")]
    Factory {
        /// Directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// TLS set-up failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The core refused to boot (e.g. unreadable state).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// A camera's identity as read from its factory directory.
pub struct Identity {
    /// The factory document.
    pub factory: FactoryData,
    /// The TLS configuration with the device certificate.
    pub tls: Arc<rustls::ServerConfig>,
}

/// Reads a factory directory.
pub fn load_identity(dir: &Path) -> Result<Identity, CameraError> {
    let err = |reason: String| CameraError::Factory {
        dir: dir.to_path_buf(),
        reason,
    };
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| err(format!("{name}: {e}")));
    let factory = FactoryData::from_json(&read(FACTORY_FILE)?).map_err(|e| err(e.to_string()))?;
    let chain: Vec<_> = rustls_pemfile::certs(&mut read(CERT_FILE)?.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("{CERT_FILE}: {e}")))?;
    let key = rustls_pemfile::private_key(&mut read(TLS_KEY_FILE)?.as_slice())
        .map_err(|e| err(format!("{TLS_KEY_FILE}: {e}")))?
        .ok_or_else(|| err(format!("{TLS_KEY_FILE}: no private key")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CameraError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| CameraError::Tls(e.to_string()))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity {
        factory,
        tls: Arc::new(tls),
    })
}

/// How to run one camera.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    /// The read-only factory directory.
    pub factory_dir: PathBuf,
    /// The writable data directory ("flash").
    pub data_dir: PathBuf,
    /// The camera's own HTTPS base address (redirects go here, never to a Host header).
    pub https_base: String,
    /// The camera's own plain HTTP base address (ONVIF XAddrs and URIs on that port);
    /// `None`: the HTTPS base's host with the plain listener's port.
    pub http_base: Option<String>,
    /// Core settings.
    pub core: CoreConfig,
    /// The interface WS-Discovery answers on, by its IPv4 address (127.0.0.1 on
    /// loopback); `None`: no discovery.
    pub discovery: Option<Ipv4Addr>,
}

/// The sockets a camera serves on, bound by the caller (port 0 in tests).
pub struct Listeners {
    /// HTTPS: web pages and API.
    pub https: std::net::TcpListener,
    /// Plain HTTP: redirects only.
    pub http: Option<std::net::TcpListener>,
}

/// A running camera.
pub struct Camera {
    core: Arc<Core>,
    https_addr: SocketAddr,
    /// `true`: stop gracefully; `false`: the power is cut.
    stop: Option<oneshot::Sender<bool>>,
    task: JoinHandle<()>,
}

impl Camera {
    /// Boots a camera and starts serving.
    pub async fn start(
        config: CameraConfig,
        listeners: Listeners,
        clock: Arc<dyn Clock>,
    ) -> Result<Camera, CameraError> {
        let id = load_identity(&config.factory_dir)?;
        let core = Core::boot(id.factory, clock, &config.data_dir, config.core)?;
        let https_addr = listeners.https.local_addr()?;
        listeners.https.set_nonblocking(true)?;

        let handle = axum_server::Handle::new();
        let mut server =
            axum_server::from_tcp_rustls(listeners.https, RustlsConfig::from_config(id.tls));
        // A client that trickles its headers is dropped (slow-loris).
        server
            .http_builder()
            .http1()
            .timer(hyper_util_timer())
            .header_read_timeout(Duration::from_secs(10));
        let http_base = match (&config.http_base, &listeners.http) {
            (Some(b), _) => Some(b.clone()),
            (None, Some(l)) => derived_http_base(&config.https_base, l.local_addr()?.port()),
            (None, None) => None,
        };
        let onvif = OnvifService::new(core.clone(), config.https_base.clone(), http_base.clone());
        let app = http::app(core.clone())
            .merge(onvif::routes(onvif.clone(), Transport::Https))
            .into_make_service_with_connect_info::<SocketAddr>();
        let https = tokio::spawn(server.handle(handle.clone()).serve(app));

        let (plain_stop_tx, plain_stop_rx) = oneshot::channel::<()>();
        let plain = match listeners.http {
            Some(l) => {
                l.set_nonblocking(true)?;
                let l = tokio::net::TcpListener::from_std(l)?;
                let app = http::plain::app_with(
                    config.https_base.clone(),
                    onvif::routes(onvif.clone(), Transport::Http),
                )
                .into_make_service_with_connect_info::<SocketAddr>();
                Some(tokio::spawn(async move {
                    let _ = axum::serve(l, app)
                        .with_graceful_shutdown(async {
                            let _ = plain_stop_rx.await;
                        })
                        .await;
                }))
            }
            None => None,
        };

        // Background mail (notices): waiting on flash until sent, retried with backoff,
        // outcomes in the audit log. Notices saved before a power cut go out now.
        let mail_core = core.clone();
        let mailer = tokio::spawn(async move {
            let mut boot = true;
            loop {
                let next = mail_core.send_pending_mail(boot).await;
                boot = false;
                let wait = next.unwrap_or(Duration::from_secs(3600));
                tokio::select! {
                    _ = mail_core.mail_wake().notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        });

        // Listening: announce the camera (Hello) and answer probes.
        let responder = match config.discovery {
            Some(interface) => {
                crate::discovery::start(&core, interface, &config.https_base, http_base.as_deref())
                    .await
            }
            None => None,
        };

        let (stop, stopped) = oneshot::channel::<bool>();
        let tick_core = core.clone();
        let https_base = config.https_base.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            tokio::pin!(stopped);
            let graceful = loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        tick_core.tick();
                        if let Some(r) = &responder {
                            let facts = crate::discovery::facts(&tick_core, &https_base, http_base.as_deref());
                            r.refresh(camkey_onvif::discovery::Advert::for_camera(&facts)).await;
                        }
                    }
                    g = &mut stopped => break g.unwrap_or(true),
                }
            };
            mailer.abort();
            // Bye before the listeners close; a power cut sends nothing.
            if let Some(r) = responder {
                if graceful {
                    r.stop().await;
                } else {
                    r.power_cut();
                }
            }
            if graceful {
                handle.graceful_shutdown(Some(Duration::from_secs(3)));
            } else {
                // Power cut: connections drop, nothing more is written.
                handle.shutdown();
            }
            let _ = plain_stop_tx.send(());
            let _ = https.await;
            // The server returns as soon as it stops accepting; its connections end in
            // their own tasks. Wait (a little) until they have, so a camera reported off
            // has no connection left that could still answer.
            for _ in 0..400 {
                if handle.connection_count() == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if let Some(p) = plain {
                let _ = p.await;
            }
            if graceful {
                tick_core.tick();
            }
        });
        Ok(Camera {
            core,
            https_addr,
            stop: Some(stop),
            task,
        })
    }

    /// The camera's core (the lab and tests look inside).
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Where HTTPS is served.
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// Stops serving and waits until every listener is closed.
    pub async fn stop(self) {
        self.halt(true).await;
    }

    /// The power is cut: connections drop at once, RAM (sessions, queued notices) is
    /// lost, nothing more is written; returns when the listeners are closed.
    pub async fn power_cut(self) {
        self.halt(false).await;
    }

    async fn halt(mut self, graceful: bool) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(graceful);
        }
        let _ = (&mut self.task).await;
    }
}

/// The plain HTTP base from the HTTPS base's host and the plain port
/// (`https://10.0.0.5:8443` and 8080 give `http://10.0.0.5:8080`).
pub fn derived_http_base(https_base: &str, http_port: u16) -> Option<String> {
    let rest = https_base.strip_prefix("https://")?;
    let authority = rest.split('/').next()?;
    let host = if authority.starts_with('[') {
        &authority[..=authority.find(']')?]
    } else {
        authority.split(':').next()?
    };
    if host.is_empty() {
        return None;
    }
    Some(if http_port == 80 {
        format!("http://{host}")
    } else {
        format!("http://{host}:{http_port}")
    })
}

fn hyper_util_timer() -> hyper_util::rt::TokioTimer {
    hyper_util::rt::TokioTimer::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_base_from_the_https_base() {
        assert_eq!(
            derived_http_base("https://10.0.0.5:8443", 8080).as_deref(),
            Some("http://10.0.0.5:8080")
        );
        assert_eq!(
            derived_http_base("https://cam.local/", 80).as_deref(),
            Some("http://cam.local")
        );
        assert_eq!(
            derived_http_base("https://[fe80::1]:443", 8080).as_deref(),
            Some("http://[fe80::1]:8080")
        );
        assert_eq!(derived_http_base("http://x", 80), None);
        assert_eq!(derived_http_base("https://", 80), None);
    }
}
