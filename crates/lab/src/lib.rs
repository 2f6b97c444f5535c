//! # camkey-lab
//!
//! The whole system on one machine, on loopback, with embedded defaults: `camkey lab`.
//! A lab directory holds the vendor's keys, one factory directory and one data directory
//! ("flash") per camera, and `lab.json`, the map of every URL (DESIGN §4). Started again on
//! the same directory, the lab resumes the same cameras, state and ports.
//!
//! # Layout
//! - [`LabOptions`]: the command-line options of DESIGN §4.
//! - [`plan`]: what the lab consists of, saved in `lab-plan.json` so it can resume.
//! - [`manifest`]: `lab.json`, written once every listener is bound.
//! - [`run`]: provision what is missing, bind, start, write `lab.json`, wait for the stop.

pub mod manifest;
pub mod plan;

use camkey_camera::core::CoreConfig;
use camkey_camera::{Camera, CameraConfig, Listeners};
use camkey_factory::{ProvisionRequest, VendorKeys, VendorProfile};
use camkey_proto::factory::FACTORY_FILE;
use plan::LabPlan;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of `camkey lab`.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The lab directory.
    pub dir: PathBuf,
    /// Divides every hardware delay (boot, button hold).
    pub time_scale: u32,
    /// Cameras added to the catalogue set.
    pub extra_cameras: u32,
    /// Send every outbound mail to this SMTP server instead of the built-in inbox.
    pub relay: Option<String>,
    /// Address every lab listener binds to.
    pub bind: IpAddr,
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
}

/// The lab's vendor profile: addresses that stay inside the lab.
pub fn lab_profile() -> VendorProfile {
    VendorProfile {
        reset_address: "reset@vendor.camkey.lab".into(),
        reset_page_url: "https://vendor.camkey.lab/reset".into(),
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
    cameras: Vec<Camera>,
    home: tokio::task::JoinHandle<()>,
    home_stop: tokio::sync::oneshot::Sender<()>,
    manifest: manifest::Manifest,
}

impl Lab {
    /// Provisions what is missing, binds every listener, starts every part and writes
    /// `lab.json`.
    pub async fn start(opts: &LabOptions) -> Result<Lab, LabError> {
        check_options(opts)?;
        let dir = &opts.dir;
        std::fs::create_dir_all(dir).map_err(|e| LabError::Io(dir.clone(), e))?;
        let vendor_dir = dir.join("vendor");
        let keys = if vendor_dir.join(camkey_factory::files::MASTER_KEY).exists() {
            VendorKeys::open(&vendor_dir.join(camkey_factory::files::MASTER_KEY))?
        } else {
            VendorKeys::generate(&vendor_dir, 1, &lab_profile())?
        };
        let mut plan = LabPlan::load_or_new(dir, opts)?;

        // Bind everything first (same ports on resume), then record the ports.
        let home_listener = bind(SocketAddr::new(opts.bind, plan.home_port))?;
        plan.home_port = home_listener
            .local_addr()
            .map_err(|e| LabError::Io(dir.clone(), e))?
            .port();
        let mut bound = Vec::new();
        for cam in plan.cameras.iter_mut() {
            let https = bind(SocketAddr::new(opts.bind, cam.https_port))?;
            let http = bind(SocketAddr::new(opts.bind, cam.http_port))?;
            cam.https_port = https
                .local_addr()
                .map_err(|e| LabError::Io(dir.clone(), e))?
                .port();
            cam.http_port = http
                .local_addr()
                .map_err(|e| LabError::Io(dir.clone(), e))?
                .port();
            bound.push((https, http));
        }
        plan.save(dir)?;

        let mut cameras = Vec::new();
        let mut setup_codes = Vec::new();
        for (cam, (https, http)) in plan.cameras.iter().zip(bound) {
            let factory_dir = dir.join(&cam.dir).join("factory");
            if !factory_dir.join(FACTORY_FILE).exists() {
                let req = ProvisionRequest {
                    model: &cam.model,
                    serial: &cam.serial,
                    extra_names: vec![opts.bind.to_string(), "localhost".into()],
                };
                camkey_factory::provision(&keys, &req, &factory_dir)?;
            }
            let config = CameraConfig {
                factory_dir,
                data_dir: dir.join(&cam.dir).join("flash"),
                https_base: https_base(opts.bind, cam.https_port),
                core: CoreConfig::default(),
            };
            let camera = Camera::start(
                config,
                Listeners {
                    https,
                    http: Some(http),
                },
                Arc::new(camkey_camera::clock::SystemClock::default()),
            )
            .await?;
            setup_codes.push(camera.core().factory().setup_code.clone());
            cameras.push(camera);
        }

        let manifest = manifest::Manifest::build(opts, &plan, &keys, &setup_codes);
        let (home_stop, home_rx) = tokio::sync::oneshot::channel();
        home_listener
            .set_nonblocking(true)
            .map_err(|e| LabError::Io(dir.clone(), e))?;
        let listener = tokio::net::TcpListener::from_std(home_listener)
            .map_err(|e| LabError::Io(dir.clone(), e))?;
        let app = manifest::home_app(manifest.clone());
        let home = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = home_rx.await;
                })
                .await;
        });
        manifest.write(dir)?;
        Ok(Lab {
            cameras,
            home,
            home_stop,
            manifest,
        })
    }

    /// What `lab.json` says.
    pub fn manifest(&self) -> &manifest::Manifest {
        &self.manifest
    }

    /// Stops every part.
    pub async fn stop(self) {
        let _ = self.home_stop.send(());
        for c in self.cameras {
            c.stop().await;
        }
        let _ = self.home.await;
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

/// The lab plan of a directory, for tools that look at a lab without running it.
pub fn plan_path(dir: &Path) -> PathBuf {
    dir.join(plan::PLAN_FILE)
}
