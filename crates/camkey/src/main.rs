//! `camkey`: one binary for every part of camkey. This file only parses arguments, sets up
//! logging and hands over to the crates; errors become messages and exit codes:
//! 0 success, 1 failure, 2 bad usage.
//!
//! Cargo features decide which parts are in: the default build has everything; the
//! camera-only build (`--no-default-features`) has only `camkey camera`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "camkey",
    version,
    about = "The credential lifecycle of IP cameras: no master password, no back door."
)]
struct Cli {
    /// Print results as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one camera from its factory directory.
    Camera(CameraArgs),
    /// Make a vendor key set: master key, device CA, firmware signing key.
    #[cfg(feature = "factory")]
    Keygen(KeygenArgs),
    /// Write a camera's read-only factory data.
    #[cfg(feature = "factory")]
    Provision(ProvisionArgs),
    /// Run the whole system on loopback.
    #[cfg(feature = "lab")]
    Lab(LabArgs),
    /// The vendor's services: the signer and the reset service.
    #[cfg(feature = "vendor")]
    #[command(subcommand)]
    Vendor(VendorCommand),
}

#[cfg(feature = "vendor")]
#[derive(Subcommand)]
enum VendorCommand {
    /// The signer: holds the master key, opens challenges, mails codes (a separate process).
    Signer(SignerArgs),
    /// The Internet-facing reset service (web page and API); talks to the signer.
    Serve(ServeArgs),
    /// The support desk's orders.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// The support desk's staff.
    #[command(subcommand)]
    Staff(StaffCommand),
}

#[cfg(feature = "vendor")]
#[derive(Subcommand)]
enum OrdersCommand {
    /// Imports an order file (CSV, DESIGN §4): every row or none.
    Import(OrdersImportArgs),
}

#[cfg(feature = "vendor")]
#[derive(clap::Args)]
struct OrdersImportArgs {
    /// The order file.
    file: PathBuf,
    /// The front end's database file.
    #[arg(long)]
    db: PathBuf,
    /// Also add the rows to the signer's own copy of the orders (its database file).
    #[arg(long)]
    signer_db: Option<PathBuf>,
}

#[cfg(feature = "vendor")]
#[derive(Subcommand)]
enum StaffCommand {
    /// Adds a staff member; the password is read from standard input (--password-stdin)
    /// or generated and printed.
    Add(StaffAddArgs),
}

#[cfg(feature = "vendor")]
#[derive(clap::Args)]
struct StaffAddArgs {
    /// The front end's database file.
    #[arg(long)]
    db: PathBuf,
    /// Username (lower-case letters, digits, '.', '_', '-').
    username: String,
    /// Role.
    #[arg(long, value_parser = ["agent", "admin"])]
    role: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

#[cfg(feature = "vendor")]
#[derive(clap::Args)]
struct SignerArgs {
    /// A master key file (repeat for every key version still in cameras).
    #[arg(long = "master-key", required = true)]
    master_keys: Vec<PathBuf>,
    /// The signer's database file.
    #[arg(long)]
    db: PathBuf,
    /// The socket to listen on (only the signer's user can open it).
    #[arg(long)]
    socket: PathBuf,
    /// Also let this group (a numeric gid) open the socket (mode 0660): the front end
    /// then runs as a user of its own, in that group, who cannot read the master key.
    #[arg(long, value_name = "GID")]
    socket_gid: Option<u32>,
    /// The SMTP relay for code mails, HOST:PORT.
    #[arg(long)]
    smtp: String,
    /// Send without TLS (a relay on loopback, or the lab).
    #[arg(long)]
    smtp_plain: bool,
    /// Sender address of code mails.
    #[arg(long)]
    sender: String,
    /// New codes per camera per day.
    #[arg(long, default_value_t = 5)]
    codes_per_day: i64,
    /// The signer's own copy of the orders (CSV, DESIGN §4), for support releases.
    #[arg(long)]
    orders: Option<PathBuf>,
    /// Stop when standard input closes (for a parent that supervises the signer).
    #[arg(long)]
    exit_with_stdin: bool,
}

#[cfg(feature = "vendor")]
#[derive(clap::Args)]
struct ServeArgs {
    /// The front end's database file (SQLite).
    #[arg(long)]
    db: PathBuf,
    /// The signer's socket.
    #[arg(long)]
    signer: PathBuf,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8090")]
    http: SocketAddr,
    /// The support desk's address.
    #[arg(long, default_value = "support@camkey.example")]
    support_address: String,
    /// SMTP listen address of the automated reset mailbox (none: no mail intake).
    #[arg(long)]
    smtp: Option<SocketAddr>,
    /// The automated reset address.
    #[arg(long, default_value = "reset@camkey.example")]
    reset_address: String,
    /// Relay for replies, HOST:PORT (none: replies stay queued).
    #[arg(long)]
    relay: Option<String>,
    /// Send replies without TLS (a relay on loopback, or the lab).
    #[arg(long)]
    relay_plain: bool,
    /// Sender address of replies.
    #[arg(long, default_value = "reset@camkey.example")]
    sender: String,
    /// The public base URL of this service, for links in the desk's mails (default: from
    /// --http).
    #[arg(long)]
    public_url: Option<String>,
    /// Check that reset-mail senders' domains are DMARC-aligned before answering them.
    #[arg(long, value_enum, default_value_t = DmarcMode::On)]
    dmarc: DmarcMode,
    /// DNS resolver for the DMARC check, IP:PORT (default: the system's).
    #[arg(long)]
    dns: Option<SocketAddr>,
    /// A front MTA trusted to name the original client with XFORWARD (e.g. Postfix on
    /// 127.0.0.1 with `smtp_send_xforward_command = yes`); repeatable.
    #[arg(long = "xforward-from")]
    xforward_from: Vec<std::net::IpAddr>,
    /// A TLS-terminating proxy (address or CIDR network) whose Forwarded or
    /// X-Forwarded-For names the client: the right-most address that is not a trusted
    /// proxy counts for the per-client limits; repeatable (none: the TCP peer is the client).
    #[arg(long = "trusted-proxy")]
    trusted_proxy: Vec<camkey_vendor::client::ProxyNet>,
}

#[cfg(feature = "vendor")]
#[derive(Clone, Copy, clap::ValueEnum)]
enum DmarcMode {
    /// Answer only senders whose domain passes DMARC alignment (production).
    On,
    /// Answer every sender (tests, or a mailbox behind a filter that already checks).
    Off,
}

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

#[derive(clap::Args)]
struct CameraArgs {
    /// The camera's read-only factory directory.
    #[arg(long)]
    factory: PathBuf,
    /// The camera's writable data directory (its flash).
    #[arg(long)]
    data: PathBuf,
    /// HTTPS listen address.
    #[arg(long, default_value = "127.0.0.1:8443")]
    https: SocketAddr,
    /// Plain-HTTP listen address (redirects only); "none" to disable.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: String,
    /// The camera's own HTTPS address for redirects (default: from --https).
    #[arg(long)]
    public_url: Option<String>,
    /// Minutes after start-up during which network initialization is open.
    #[arg(long, default_value_t = 30)]
    init_window_minutes: u64,
    /// GPIO chip of the reset button, e.g. /dev/gpiochip0 (none: no button is watched).
    #[arg(long, requires = "button_line")]
    button_chip: Option<PathBuf>,
    /// Line offset of the reset button on that chip.
    #[arg(long, requires = "button_chip")]
    button_line: Option<u32>,
    /// The button drives the line high when pressed (default: low, with a pull-up).
    #[arg(long)]
    button_active_high: bool,
    /// Debounce period of the button line, in milliseconds.
    #[arg(long, default_value_t = 30)]
    button_debounce_ms: u64,
}

#[cfg(feature = "factory")]
#[derive(clap::Args)]
struct KeygenArgs {
    /// Directory to write the key set into.
    #[arg(long)]
    dir: PathBuf,
    /// Version of the new master key.
    #[arg(long, default_value_t = 1)]
    key_version: u32,
    /// The vendor's automated reset address.
    #[arg(long)]
    reset_address: Option<String>,
    /// The vendor's reset page.
    #[arg(long)]
    reset_page_url: Option<String>,
    /// The support desk's address (cameras' default recovery address).
    #[arg(long)]
    support_address: Option<String>,
}

#[cfg(feature = "factory")]
#[derive(clap::Args)]
struct ProvisionArgs {
    /// The master key file (the device CA and firmware key sit beside it).
    #[arg(long)]
    master_key: PathBuf,
    /// Model, from the catalogue.
    #[arg(long)]
    model: String,
    /// Serial number.
    #[arg(long)]
    serial: String,
    /// The camera's factory directory to write.
    #[arg(long)]
    dir: PathBuf,
    /// Extra DNS names or IP addresses for the device certificate.
    #[arg(long = "name")]
    names: Vec<String>,
}

#[cfg(feature = "lab")]
#[derive(clap::Args)]
struct LabArgs {
    /// The lab directory (created; resumed when it exists).
    #[arg(long, default_value = "lab")]
    dir: PathBuf,
    /// Divides every hardware delay (boot, button hold).
    #[arg(long, default_value_t = 10)]
    time_scale: u32,
    /// Cameras added to the catalogue set.
    #[arg(long, default_value_t = 0)]
    cameras: u32,
    /// Send every outbound mail to this SMTP server (smtp://HOST:PORT).
    #[arg(long)]
    relay: Option<String>,
    /// Address every lab listener binds to.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
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
        if json {
            println!("{}", serde_json::json!({"error": format!("{e:#}")}));
        } else {
            eprintln!("camkey: {e:#}");
        }
        std::process::exit(1);
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
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    // Parse once before touching either database: a bad row changes nothing anywhere.
    let lines = camkey_proto::orders::parse(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", a.file.display()))?;
    runtime()?.block_on(async {
        let store = camkey_vendor::store::SqliteStore::open(&a.db).await?;
        if let Some(signer_db) = &a.signer_db {
            let signer = camkey_signer::store::SignerStore::open(signer_db).await?;
            signer.add_orders(&lines).await?;
        }
        store.import_orders(&lines).await?;
        anyhow::Ok(())
    })?;
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
    let role = camkey_vendor::staff::Role::parse(&a.role).context("--role is agent or admin")?;
    let (password, generated) = if a.password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (camkey_vendor::staff::random_password(), true)
    };
    runtime()?.block_on(async {
        let store = camkey_vendor::store::SqliteStore::open(&a.db).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        store
            .add_staff(&a.username, &password, role, false, now)
            .await?;
        store
            .audit(
                now,
                "cli",
                "staff_added",
                None,
                &format!("{} as {}", a.username, role.name()),
            )
            .await?;
        anyhow::Ok(())
    })?;
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
        relay: camkey_signer::outbox::Relay {
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
            Some(camkey_signer::outbox::Relay {
                host,
                port,
                plain: a.relay_plain,
                sender: a.sender.clone(),
            })
        }
        None => None,
    };
    let config = camkey_vendor::VendorConfig {
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
            (DmarcMode::Off, _) => camkey_vendor::Dmarc::Off,
            (DmarcMode::On, None) => camkey_vendor::Dmarc::System,
            (DmarcMode::On, Some(dns)) => camkey_vendor::Dmarc::Resolver(dns),
        },
    };
    runtime()?.block_on(async move {
        let listeners = camkey_vendor::Listeners {
            http: tokio::net::TcpListener::from_std(http)?,
            smtp: smtp.map(tokio::net::TcpListener::from_std).transpose()?,
        };
        tracing::info!("vendor reset service on http://{}/", a.http);
        camkey_vendor::serve(
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
        core: camkey_camera::core::CoreConfig {
            init_window_ms: a.init_window_minutes.saturating_mul(60_000),
            ..Default::default()
        },
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
        relay: a.relay,
        bind: a.bind,
        exe: std::env::current_exe().context("finding the camkey executable")?,
    };
    runtime()?.block_on(camkey_lab::run(opts, shutdown_signal()))?;
    Ok(())
}
