//! # camkey-lab
//!
//! The whole system on one machine, on loopback, with embedded defaults: `camkey lab`.
//! A lab directory holds the vendor's keys, one factory directory and one data directory
//! ("flash") per camera, and `lab.json`, the map of every URL (docs/design.md §4). Started
//! again on the same directory, the lab resumes the same cameras, state and ports. Everything in it
//! is private (files 0600 or 0400, directories 0700, whatever the umask) except the public
//! files of `docs/formats.md` ("File modes").
//!
//! # Layout
//! - [`LabOptions`]: the command-line options of docs/design.md §4.
//! - [`plan`]: what the lab consists of, saved in `lab-plan.json` so it can resume.
//! - [`manifest`]: `lab.json`, written once every listener is bound.
//! - [`hardware`]: each camera's simulated power, reset button and LED, their API and panel.
//! - [`inbox`]: the lab's mail catcher (SMTP in, a page per mailbox, JSON API, compose).
//! - `vendor`: the sample orders, the desk's staff account, the signer as a process.
//! - `nvr`: the lab's NVR on the simulated PoE switch, its cameras' power on its ports.
//! - [`run`]: provision what is missing, bind, start, write `lab.json`, wait for the stop.

pub mod hardware;
pub mod inbox;
pub mod manifest;
mod nvr;
pub mod plan;
mod vendor;

pub use nvr::{NVR_ADMIN_FILE, NVR_DIR};
pub use vendor::{LAB_CUSTOMER, LAB_STAFF, ORDERS_FILE, SIGNER_SOCKET, STAFF_FILE};
use vendor::{prepare_desk, start_signer, write_orders};

use camkey_camera::CameraConfig;
use camkey_camera::core::CoreConfig;
use camkey_camera::device::{Device, DeviceConfig, Reserved};
use camkey_camera::hardware::{ButtonTiming, SimLed, sim_button};
use camkey_camera::mail::{SmtpSettings, TlsMode};
use camkey_factory::{ProvisionRequest, VendorKeys, VendorProfile};
use camkey_proto::factory::FACTORY_FILE;
use plan::LabPlan;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Options of `camkey lab`.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The lab directory.
    pub dir: PathBuf,
    /// Divides every hardware delay (boot, button hold).
    pub time_scale: u32,
    /// Cameras added to the catalogue set.
    pub extra_cameras: u32,
    /// Cameras on the NVR's PoE ports 1..=N.
    pub nvr_cameras: u32,
    /// Send every outbound mail to this SMTP server instead of the built-in inbox.
    pub relay: Option<String>,
    /// Address every lab listener binds to.
    pub bind: IpAddr,
    /// The `camkey` executable, to start the signer as a process of its own.
    pub exe: PathBuf,
}

/// Why the lab could not run.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// File system.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A port of a resumed lab is taken.
    #[error(
        "cannot bind {addr} ({source}); another program holds it. Stop it, or start a lab in a new directory."
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Factory line.
    #[error(transparent)]
    Factory(#[from] camkey_factory::Error),
    /// A camera.
    #[error(transparent)]
    Camera(#[from] camkey_camera::CameraError),
    /// Bad option.
    #[error("{0}")]
    Option(String),
    /// The lab plan is damaged.
    #[error("{0}")]
    Plan(String),
    /// The vendor's database (orders, staff).
    #[error("the lab vendor's database: {0}")]
    Vendor(String),
    /// The NVR.
    #[error("the lab NVR: {0}")]
    Nvr(String),
}

/// The lab's vendor profile: addresses that stay inside the lab; the reset page is the
/// lab vendor's.
pub fn lab_profile(vendor: SocketAddr) -> VendorProfile {
    VendorProfile {
        reset_address: "reset@vendor.camkey.lab".into(),
        reset_page_url: format!("http://{vendor}/reset"),
        support_address: "support@vendor.camkey.lab".into(),
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener, LabError> {
    TcpListener::bind(addr).map_err(|source| LabError::Bind { addr, source })
}

/// Checks the options.
pub fn check_options(opts: &LabOptions) -> Result<(), LabError> {
    if opts.time_scale == 0 {
        return Err(LabError::Option("--time-scale must be at least 1".into()));
    }
    if opts.extra_cameras > 64 {
        return Err(LabError::Option("--cameras adds at most 64 cameras".into()));
    }
    if opts.nvr_cameras > 64 {
        return Err(LabError::Option(
            "--nvr-cameras puts at most 64 cameras on the NVR".into(),
        ));
    }
    if let Some(r) = &opts.relay {
        let rest = r
            .strip_prefix("smtp://")
            .ok_or_else(|| LabError::Option("--relay must look like smtp://HOST:PORT".into()))?;
        let ok = rest
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return Err(LabError::Option(
                "--relay must look like smtp://HOST:PORT".into(),
            ));
        }
    }
    Ok(())
}

/// A running lab.
pub struct Lab {
    cameras: Vec<Arc<hardware::SimCamera>>,
    nvr: Option<camkey_nvr::service::RunningNvr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
    manifest: manifest::Manifest,
    signer: tokio::process::Child,
}

fn to_tokio(l: TcpListener, dir: &Path) -> Result<tokio::net::TcpListener, LabError> {
    l.set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(l))
        .map_err(|e| LabError::Io(dir.to_path_buf(), e))
}

/// The mail server lab cameras use until their owner sets one: the inbox, or `--relay`.
fn lab_smtp(opts: &LabOptions, inbox: SocketAddr) -> SmtpSettings {
    let (server, port) = opts
        .relay
        .as_deref()
        .and_then(|r| r.strip_prefix("smtp://"))
        .and_then(|r| r.rsplit_once(':'))
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']).to_string(), p.parse().ok()?)))
        .unwrap_or((inbox.ip().to_string(), inbox.port()));
    let tls = if opts.relay.is_none() || camkey_camera::mail::is_loopback(&server) {
        TlsMode::None
    } else {
        TlsMode::Starttls
    };
    SmtpSettings {
        server,
        port,
        tls,
        username: None,
        password: None,
        sender: "camera@cameras.camkey.lab".into(),
    }
}

impl Lab {
    /// Provisions what is missing, binds every listener, starts every part and writes
    /// `lab.json`.
    pub async fn start(opts: &LabOptions) -> Result<Lab, LabError> {
        check_options(opts)?;
        let dir = &opts.dir;
        camkey_camera::store::create_private_dir(dir).map_err(|e| LabError::Io(dir.clone(), e))?;
        let mut plan = LabPlan::load_or_new(dir, opts)?;
        // The vendor's port first: the cameras' factory data names its reset page.
        let vendor_http = bind(SocketAddr::new(opts.bind, plan.vendor_http_port))?;
        let vendor_addr = vendor_http
            .local_addr()
            .map_err(|e| LabError::Io(dir.clone(), e))?;
        plan.vendor_http_port = vendor_addr.port();
        let vendor_dir = dir.join("vendor");
        let keys = if vendor_dir.join(camkey_factory::files::MASTER_KEY).exists() {
            VendorKeys::open(&vendor_dir.join(camkey_factory::files::MASTER_KEY))?
        } else {
            VendorKeys::generate(&vendor_dir, 1, &lab_profile(vendor_addr))?
        };
        let profile = keys.profile()?;

        // Bind everything first (same ports on resume), then record the ports.
        let port = |l: &TcpListener| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(|e| LabError::Io(dir.clone(), e))
        };
        let home_listener = bind(SocketAddr::new(opts.bind, plan.home_port))?;
        plan.home_port = port(&home_listener)?;
        let inbox_http = bind(SocketAddr::new(opts.bind, plan.inbox_http_port))?;
        plan.inbox_http_port = port(&inbox_http)?;
        let vendor_smtp = bind(SocketAddr::new(opts.bind, plan.vendor_smtp_port))?;
        plan.vendor_smtp_port = port(&vendor_smtp)?;
        let inbox_smtp = bind(SocketAddr::new(opts.bind, plan.inbox_smtp_port))?;
        plan.inbox_smtp_port = port(&inbox_smtp)?;
        let nvr_http = bind(SocketAddr::new(opts.bind, plan.nvr_http_port))?;
        plan.nvr_http_port = port(&nvr_http)?;
        // A camera's own ports are held (bound, not listening) for its device, which
        // listens on them only while the camera runs: nothing answers there while it is
        // off or booting, and nothing else can take them. The hardware API answers all
        // along.
        let mut hardware_listeners = Vec::new();
        let mut camera_ports = Vec::new();
        for cam in plan.cameras.iter_mut() {
            let reserve = |port: u16| {
                let addr = SocketAddr::new(opts.bind, port);
                Reserved::bind(addr).map_err(|source| LabError::Bind { addr, source })
            };
            let https = reserve(cam.https_port)?;
            let http = reserve(cam.http_port)?;
            let hw = bind(SocketAddr::new(hardware_ip(opts.bind), cam.hardware_port))?;
            cam.https_port = https.addr().port();
            cam.http_port = http.addr().port();
            cam.hardware_port = port(&hw)?;
            hardware_listeners.push(hw);
            camera_ports.push((https, http));
        }
        plan.save(dir)?;
        write_orders(dir, &plan)?;

        // The inbox: every lab mail lands here unless --relay says otherwise.
        let mut tasks = Vec::new();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let inbox = Arc::new(inbox::Inbox::handing_on(
            profile.reset_address.clone(),
            SocketAddr::new(opts.bind, plan.vendor_smtp_port),
        ));
        let smtp_addr = SocketAddr::new(opts.bind, plan.inbox_smtp_port);
        {
            let mut config = camkey_smtp::Config::new("inbox.camkey.lab");
            config.max_message_bytes = inbox::MAX_MESSAGE;
            let listener = to_tokio(inbox_smtp, dir)?;
            let sink: Arc<dyn camkey_smtp::Sink> = inbox.clone();
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let _ = camkey_smtp::serve(listener, config, sink, async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
            }));
            let listener = to_tokio(inbox_http, dir)?;
            let app = inbox::app(inbox.clone(), smtp_addr);
            tasks.push(serve_http(listener, app, stop_rx.clone()));
        }
        let default_smtp = lab_smtp(opts, smtp_addr);

        // The vendor: its signer as a process of its own (it alone reads the master key),
        // and the reset service in this process, talking to it over the socket.
        let signer = start_signer(opts, &keys, &default_smtp, &profile).await?;
        let staff = prepare_desk(dir, &vendor_dir).await?;
        {
            let config = camkey_front::VendorConfig {
                db: vendor_dir.join("vendor.db"),
                signer: vendor_dir.join(SIGNER_SOCKET),
                support_address: profile.support_address.clone(),
                reset_address: profile.reset_address.clone(),
                relay: Some(camkey_outbox::Relay {
                    host: default_smtp.server.clone(),
                    port: default_smtp.port,
                    plain: default_smtp.tls == TlsMode::None,
                    sender: profile.reset_address.clone(),
                }),
                public_url: format!("http://{vendor_addr}"),
                // The lab's senders have no DNS to be checked against (S5: off in the lab).
                dmarc: camkey_front::Dmarc::Off,
                // Everything in the lab mails from the one lab address (the inbox hands
                // the reset address's mail on from there): it is the lab vendor's front
                // mail server, exempt from the per-address session cap.
                xforward_from: vec![opts.bind],
                trusted_proxies: Vec::new(),
                limits: camkey_front::Limits::default(),
            };
            let listeners = camkey_front::Listeners {
                http: to_tokio(vendor_http, dir)?,
                smtp: Some(to_tokio(vendor_smtp, dir)?),
            };
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                if let Err(e) = camkey_front::serve(
                    config,
                    listeners,
                    Arc::new(camkey_proto::clock::SystemClock::default()),
                    stop,
                )
                .await
                {
                    tracing::error!("lab vendor: {e}");
                }
            }));
        }

        // The NVR's PoE switch: a port's power is the power of the camera plugged into it.
        let switch = Arc::new(camkey_nvr::switch::SimSwitch::new(plan.nvr_ports()));
        let mut cameras = Vec::new();
        let mut setup_codes = Vec::new();
        for ((cam, hw), (https, http)) in plan
            .cameras
            .iter()
            .zip(hardware_listeners)
            .zip(camera_ports)
        {
            let factory_dir = dir.join(&cam.dir).join("factory");
            if !factory_dir.join(FACTORY_FILE).exists() {
                let req = ProvisionRequest {
                    model: &cam.model,
                    serial: &cam.serial,
                    extra_names: vec![opts.bind.to_string(), "localhost".into()],
                };
                camkey_factory::provision(&keys, &req, &factory_dir)?;
            }
            let factory = std::fs::read(factory_dir.join(FACTORY_FILE))
                .map_err(|e| LabError::Io(factory_dir.clone(), e))?;
            let factory = camkey_proto::factory::FactoryData::from_json(&factory)
                .map_err(|e| LabError::Plan(format!("{}: {e}", factory_dir.display())))?;
            setup_codes.push(factory.setup_code.clone());
            let model = factory.model_info();
            let config = CameraConfig {
                factory_dir,
                data_dir: dir.join(&cam.dir).join("flash"),
                https_base: https_base(opts.bind, cam.https_port),
                http_base: None,
                core: CoreConfig {
                    default_smtp: Some(default_smtp.clone().with_sender(&cam.serial)),
                    ..CoreConfig::default()
                },
                // Every lab camera answers WS-Discovery on the lab's interface.
                discovery: match opts.bind {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                },
            };
            let scale = opts.time_scale.max(1);
            let timing = ButtonTiming::for_model(model.reset_hold_secs, scale);
            let button = model.reset_button.present.then(sim_button);
            let led = Arc::new(SimLed::default());
            let device = Device::spawn(
                DeviceConfig {
                    camera: config,
                    https,
                    http: Some(http),
                    boot_time: Duration::from_secs(model.boot_secs) / scale,
                    button: model.reset_button.present.then_some(timing),
                },
                Arc::new(camkey_camera::clock::SystemClock::default()),
                button
                    .as_ref()
                    .map(|b| Box::new(b.line()) as Box<dyn camkey_camera::hardware::ButtonLine>),
                led.clone(),
                true,
            );
            let sim = Arc::new(hardware::SimCamera {
                serial: cam.serial.clone(),
                model: cam.model.clone(),
                device,
                button,
                led,
                hold: timing.hold,
                url: format!("{}/", https_base(opts.bind, cam.https_port)),
                poe: cam.poe_port.map(|p| (switch.clone(), p)),
            });
            let listener = to_tokio(hw, dir)?;
            let app = hardware::app(sim.clone());
            tasks.push(serve_http(listener, app, stop_rx.clone()));
            cameras.push(sim);
        }

        let nvr = nvr::start_nvr(
            opts,
            &plan,
            &keys,
            &cameras,
            &setup_codes,
            switch,
            to_tokio(nvr_http, dir)?,
            default_smtp.clone(),
        )
        .await?;
        let nvr_admin = (camkey_nvr::adopt::CAMERA_USER.to_string(), nvr.1.clone());
        let manifest = manifest::Manifest::build(
            opts,
            &plan,
            &keys,
            &setup_codes,
            &profile,
            &staff,
            &nvr_admin,
        );
        let listener = to_tokio(home_listener, dir)?;
        let app = manifest::home_app(manifest.clone(), hardware::panel(cameras.clone()));
        tasks.push(serve_http(listener, app, stop_rx.clone()));
        manifest.write(dir)?;
        Ok(Lab {
            cameras,
            nvr: Some(nvr.0),
            tasks,
            stop: stop_tx,
            manifest,
            signer,
        })
    }

    /// What `lab.json` says.
    pub fn manifest(&self) -> &manifest::Manifest {
        &self.manifest
    }

    /// Stops every part.
    pub async fn stop(mut self) {
        // Closing its standard input tells the signer to stop.
        drop(self.signer.stdin.take());
        if tokio::time::timeout(std::time::Duration::from_secs(10), self.signer.wait())
            .await
            .is_err()
        {
            let _ = self.signer.kill().await;
        }
        if let Some(nvr) = self.nvr.take() {
            nvr.stop().await;
        }
        let _ = self.stop.send(true);
        for c in self.cameras {
            c.device.stop().await;
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The password of a lab account, kept in `dir/file` (`{"username", "password"}`, 0600) so
/// that a resumed lab signs in with the same one; made by `generate` the first time.
pub(crate) fn kept_password(
    dir: &Path,
    file: &str,
    username: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, camkey_camera::store::StoreError> {
    let file = camkey_camera::store::AtomicFile::new(dir, file)?;
    let password = file
        .load::<serde_json::Value>()
        .ok()
        .flatten()
        .and_then(|v| v["password"].as_str().map(String::from))
        .unwrap_or_else(generate);
    file.save(&serde_json::json!({"username": username, "password": password}))?;
    Ok(password)
}

/// Serves `app` on `listener` until the lab stops.
fn serve_http(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    })
}

/// Where the simulated hardware API listens: loopback only, whatever `--bind` says (it
/// powers cameras off and holds their reset buttons; nobody on the lab's network may).
pub fn hardware_ip(bind: IpAddr) -> IpAddr {
    match bind {
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    }
}

fn https_base(ip: IpAddr, port: u16) -> String {
    format!("https://{}", SocketAddr::new(ip, port))
}

/// Runs the lab until `shutdown` completes.
pub async fn run(opts: LabOptions, shutdown: impl Future<Output = ()>) -> Result<(), LabError> {
    let lab = Lab::start(&opts).await?;
    println!("{}", lab.manifest().table());
    println!("lab.json: {}", opts.dir.join("lab.json").display());
    shutdown.await;
    lab.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hardware_api_is_on_loopback_whatever_the_bind_address() {
        for (bind, want) in [
            ("10.77.0.1", "127.0.0.1"),
            ("0.0.0.0", "127.0.0.1"),
            ("127.0.0.2", "127.0.0.1"),
            ("fd00::1", "::1"),
            ("::", "::1"),
        ] {
            let got = hardware_ip(bind.parse().unwrap());
            assert_eq!(got, want.parse::<IpAddr>().unwrap(), "{bind}");
            assert!(got.is_loopback());
        }
    }
}
