//! `camkey`: one binary for every part of camkey. [`args`] defines the command line; this
//! file parses it, sets up logging and hands over to the crates (staff and order import are
//! library functions of `camkey-desk`; `camkey discover` is in [`discover`]); errors become
//! messages and exit codes: 0 success, 1 failure, 2 bad usage (and 3: `discover` found
//! nothing; 4 to 8: `init` and `recover`, in [`install`]). `camkey init` and `recover` are
//! in [`install`] and [`init_all`], over `camkey-client`.
//!
//! Cargo features decide which parts are in: the default build has everything; the
//! camera-only build (`--no-default-features`) has only `camkey camera` (and `discover`
//! without `--ca`): the `installer` feature brings `camkey-client`.
//!
//! # Layout
//!
//! - [`args`]: the command line (clap).
//! - [`discover`]: `camkey discover`, with the certificate column.
//! - [`install`]: `camkey init` (one camera) and `camkey recover`, and the exit codes 4 to 8.
//! - [`init_all`]: `camkey init --all-uninitialized`: discovery, progress bar, summary.
//! - [`nvr`]: `camkey nvr` (run an NVR) and `camkey nvr setup-code`.

mod args;
mod discover;
#[cfg(feature = "installer")]
mod init_all;
#[cfg(feature = "installer")]
mod install;
#[cfg(feature = "nvr")]
mod nvr;

use anyhow::{Context, Result};
use args::*;
use clap::Parser;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "vendor")]
fn host_port(s: &str, what: &str) -> Result<(String, u16)> {
    s.rsplit_once(':')
        .and_then(|(h, p)| {
            Some((
                h.trim_matches(['[', ']']).to_string(),
                p.parse::<u16>().ok()?,
            ))
        })
        .with_context(|| format!("{what} must be HOST:PORT"))
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    if let Err(e) = run(cli) {
        #[cfg(feature = "installer")]
        let code = install::exit_code(&e);
        #[cfg(not(feature = "installer"))]
        let code = 1;
        if json {
            println!(
                "{}",
                serde_json::json!({"error": format!("{e:#}"), "exit_code": code})
            );
        } else {
            eprintln!("camkey: {e:#}");
        }
        std::process::exit(code);
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Camera(a) => camera(a),
        Command::Discover(a) => runtime()?.block_on(discover::run(a, cli.json)),
        #[cfg(feature = "installer")]
        Command::Init(a) => runtime()?.block_on(install::init(a, cli.json)),
        #[cfg(feature = "installer")]
        Command::Recover(a) => runtime()?.block_on(install::recover(a, cli.json)),
        #[cfg(feature = "nvr")]
        Command::Nvr(a) => runtime()?.block_on(nvr::run(a, cli.json)),
        #[cfg(feature = "factory")]
        Command::Keygen(a) => keygen(a, cli.json),
        #[cfg(feature = "factory")]
        Command::Provision(a) => provision(a, cli.json),
        #[cfg(feature = "lab")]
        Command::Lab(a) => lab(a),
        #[cfg(feature = "vendor")]
        Command::Vendor(VendorCommand::Signer(a)) => signer(a),
        #[cfg(feature = "vendor")]
        Command::Vendor(VendorCommand::Serve(a)) => vendor_serve(a),
        #[cfg(feature = "vendor")]
        Command::Vendor(VendorCommand::Orders(OrdersCommand::Import(a))) => {
            orders_import(a, cli.json)
        }
        #[cfg(feature = "vendor")]
        Command::Vendor(VendorCommand::Staff(StaffCommand::Add(a))) => staff_add(a, cli.json),
    }
}

#[cfg(feature = "vendor")]
fn orders_import(a: OrdersImportArgs, json: bool) -> Result<()> {
    let lines = camkey_desk::orders::read_file(&a.file)?;
    runtime()?.block_on(camkey_desk::orders::import_to(
        &a.db,
        a.signer_db.as_deref(),
        &lines,
    ))?;
    if json {
        println!("{}", serde_json::json!({"imported": lines.len()}));
    } else {
        println!(
            "{} order line(s) imported from {}",
            lines.len(),
            a.file.display()
        );
    }
    Ok(())
}

#[cfg(feature = "vendor")]
fn staff_add(a: StaffAddArgs, json: bool) -> Result<()> {
    let role = camkey_desk::staff::Role::parse(&a.role).context("--role is agent or admin")?;
    let (password, generated) = if a.password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (camkey_desk::staff::random_password(&a.username), true)
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    runtime()?.block_on(camkey_desk::staff::add_from_cli(
        &a.db,
        &a.username,
        &password,
        role,
        now,
    ))?;
    match (json, generated) {
        (true, true) => println!(
            "{}",
            serde_json::json!({"username": a.username, "role": role.name(), "password": password})
        ),
        (true, false) => println!(
            "{}",
            serde_json::json!({"username": a.username, "role": role.name()})
        ),
        (false, true) => println!(
            "staff member {} ({}) added; password: {password}",
            a.username,
            role.name()
        ),
        (false, false) => println!("staff member {} ({}) added", a.username, role.name()),
    }
    Ok(())
}

#[cfg(feature = "vendor")]
fn signer(a: SignerArgs) -> Result<()> {
    let mut masters = Vec::new();
    for path in &a.master_keys {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        masters.push(
            camkey_proto::keys::MasterKey::from_json(&bytes)
                .with_context(|| path.display().to_string())?,
        );
    }
    let (host, port) = a
        .smtp
        .rsplit_once(':')
        .and_then(|(h, p)| {
            Some((
                h.trim_matches(['[', ']']).to_string(),
                p.parse::<u16>().ok()?,
            ))
        })
        .context("--smtp must be HOST:PORT")?;
    let orders = match &a.orders {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Some(camkey_proto::orders::parse(&bytes).with_context(|| path.display().to_string())?)
        }
        None => None,
    };
    let config = camkey_signer::SignerConfig {
        orders,
        masters,
        db: a.db,
        socket: a.socket,
        socket_gid: a.socket_gid,
        relay: camkey_outbox::Relay {
            host,
            port,
            plain: a.smtp_plain,
            sender: a.sender,
        },
        caps: camkey_signer::Caps {
            codes_per_device_per_day: a.codes_per_day,
            ..Default::default()
        },
    };
    let exit_with_stdin = a.exit_with_stdin;
    runtime()?.block_on(async move {
        let stop = async move {
            if exit_with_stdin {
                tokio::select! {
                    _ = shutdown_signal() => {},
                    _ = stdin_closed() => {},
                }
            } else {
                shutdown_signal().await
            }
        };
        camkey_signer::run(
            config,
            Arc::new(camkey_proto::clock::SystemClock::default()),
            stop,
        )
        .await
    })?;
    Ok(())
}

/// Resolves when standard input reaches its end (the supervising parent is gone).
#[cfg(feature = "vendor")]
async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

#[cfg(feature = "vendor")]
fn vendor_serve(a: ServeArgs) -> Result<()> {
    let http =
        std::net::TcpListener::bind(a.http).with_context(|| format!("binding {}", a.http))?;
    http.set_nonblocking(true)?;
    let smtp = match a.smtp {
        Some(addr) => {
            let l = std::net::TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
            l.set_nonblocking(true)?;
            Some(l)
        }
        None => None,
    };
    let relay = match &a.relay {
        Some(r) => {
            let (host, port) = host_port(r, "--relay")?;
            Some(camkey_outbox::Relay {
                host,
                port,
                plain: a.relay_plain,
                sender: a.sender.clone(),
            })
        }
        None => None,
    };
    let config = camkey_front::VendorConfig {
        db: a.db,
        signer: a.signer,
        support_address: a.support_address,
        reset_address: a.reset_address,
        relay,
        public_url: a
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", a.http)),
        xforward_from: a.xforward_from.clone(),
        trusted_proxies: a.trusted_proxy.clone(),
        dmarc: match (a.dmarc, a.dns) {
            (DmarcMode::Off, _) => camkey_front::Dmarc::Off,
            (DmarcMode::On, None) => camkey_front::Dmarc::System,
            (DmarcMode::On, Some(dns)) => camkey_front::Dmarc::Resolver(dns),
        },
        limits: camkey_front::Limits::default(),
    };
    runtime()?.block_on(async move {
        let listeners = camkey_front::Listeners {
            http: tokio::net::TcpListener::from_std(http)?,
            smtp: smtp.map(tokio::net::TcpListener::from_std).transpose()?,
        };
        tracing::info!("vendor reset service on http://{}/", a.http);
        camkey_front::serve(
            config,
            listeners,
            Arc::new(camkey_proto::clock::SystemClock::default()),
            shutdown_signal(),
        )
        .await?;
        anyhow::Ok(())
    })
}

fn camera(a: CameraArgs) -> Result<()> {
    // Hold the ports now, so a busy one is an error here rather than a dark camera.
    let hold = |addr: SocketAddr| {
        camkey_camera::device::Reserved::bind(addr).with_context(|| format!("binding {addr}"))
    };
    let https = hold(a.https)?;
    let http = match a.http.as_str() {
        "none" => None,
        addr => {
            Some(hold(addr.parse().with_context(|| {
                format!("--http {addr}: not an address")
            })?)?)
        }
    };
    let https_base = a
        .public_url
        .unwrap_or_else(|| format!("https://{}", a.https))
        .trim_end_matches('/')
        .to_string();
    let config = camkey_camera::CameraConfig {
        factory_dir: a.factory,
        data_dir: a.data,
        https_base: https_base.clone(),
        http_base: None,
        core: camkey_camera::core::CoreConfig {
            init_window_ms: a.init_window_minutes.saturating_mul(60_000),
            ..Default::default()
        },
        discovery: a.discovery,
    };
    let identity = camkey_camera::load_identity(&config.factory_dir)?;
    let model = identity.factory.model_info();
    runtime()?.block_on(async move {
        let button: Option<Box<dyn camkey_camera::hardware::ButtonLine>> =
            match (&a.button_chip, a.button_line) {
                (Some(chip), Some(line)) => {
                    if !model.reset_button.present {
                        anyhow::bail!("the {} has no reset button to watch", model.name);
                    }
                    Some(Box::new(camkey_camera::gpio::GpioButton::open(
                        &camkey_camera::gpio::GpioButtonConfig {
                            chip: chip.clone(),
                            line,
                            active_low: !a.button_active_high,
                            debounce: Duration::from_millis(a.button_debounce_ms),
                        },
                    )?))
                }
                _ => None,
            };
        let timing = camkey_camera::hardware::ButtonTiming {
            debounce: Duration::from_millis(a.button_debounce_ms),
            ..camkey_camera::hardware::ButtonTiming::for_model(model.reset_hold_secs, 1)
        };
        // On a real camera the boot has happened by the time this runs.
        let device = camkey_camera::device::Device::spawn(
            camkey_camera::device::DeviceConfig {
                camera: config,
                https,
                http,
                boot_time: Duration::ZERO,
                button: button.is_some().then_some(timing),
            },
            Arc::new(camkey_camera::clock::SystemClock::default()),
            button,
            Arc::new(camkey_camera::hardware::LogLed),
            true,
        );
        if let Err(e) = device.started().await {
            device.stop().await;
            anyhow::bail!("the camera could not start: {e}");
        }
        tracing::info!(serial = %identity.factory.serial, model = %model.name, "camera serving on {https_base}/");
        shutdown_signal().await;
        device.stop().await;
        Ok(())
    })
}

#[cfg(feature = "factory")]
fn keygen(a: KeygenArgs, json: bool) -> Result<()> {
    let mut profile = camkey_factory::VendorProfile::default();
    if let Some(v) = a.reset_address {
        profile.reset_address = v;
    }
    if let Some(v) = a.reset_page_url {
        profile.reset_page_url = v;
    }
    if let Some(v) = a.support_address {
        profile.support_address = v;
    }
    let keys = camkey_factory::VendorKeys::generate(&a.dir, a.key_version, &profile)?;
    let master = keys.path(camkey_factory::files::MASTER_KEY);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "master_key": master, "key_version": a.key_version,
                "device_ca": keys.path(camkey_factory::files::DEVICE_CA),
                "firmware_key": keys.path(camkey_factory::files::FIRMWARE_KEY),
                "firmware_public_key": keys.firmware_public_key()?,
            })
        );
    } else {
        println!(
            "vendor keys (master key version {}) written to {}",
            a.key_version,
            a.dir.display()
        );
        println!(
            "keep {} secret: it exists only on the factory line and in the signer",
            master.display()
        );
    }
    Ok(())
}

#[cfg(feature = "factory")]
fn provision(a: ProvisionArgs, json: bool) -> Result<()> {
    let keys = camkey_factory::VendorKeys::open(&a.master_key)?;
    let req = camkey_factory::ProvisionRequest {
        model: &a.model,
        serial: &a.serial,
        extra_names: a.names,
    };
    let data = camkey_factory::provision(&keys, &req, &a.dir)?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "serial": data.serial, "model": data.model, "mac": data.mac,
                "firmware": data.firmware, "key_version": data.device_key.version(),
                "setup_code": data.setup_code, "dir": a.dir,
            })
        );
    } else {
        println!(
            "provisioned {} {} into {}",
            data.model,
            data.serial,
            a.dir.display()
        );
        println!(
            "label: serial {}  MAC {}  setup code {}",
            data.serial, data.mac, data.setup_code
        );
    }
    Ok(())
}

#[cfg(feature = "lab")]
fn lab(a: LabArgs) -> Result<()> {
    let opts = camkey_lab::LabOptions {
        dir: a.dir,
        time_scale: a.time_scale,
        extra_cameras: a.cameras,
        nvr_cameras: a.nvr_cameras,
        relay: a.relay,
        bind: a.bind,
        exe: std::env::current_exe().context("finding the camkey executable")?,
    };
    runtime()?.block_on(camkey_lab::run(opts, shutdown_signal()))?;
    Ok(())
}
