//! The command line: every subcommand and its options (clap). Only parsing: what each
//! subcommand does is in `main.rs` and the crates it calls.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
#[derive(Parser)]
#[command(
    name = "camkey",
    version,
    about = "The credential lifecycle of IP cameras: no master password, no back door."
)]
pub(crate) struct Cli {
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run one camera from its factory directory.
    Camera(CameraArgs),
    /// Find cameras on one interface with WS-Discovery (exit 3: none answered).
    Discover(DiscoverArgs),
    /// Initialize a camera after checking it is genuine and the expected one (exit codes:
    /// README).
    #[cfg(feature = "installer")]
    Init(InitArgs),
    /// Recover a camera's password with its QR challenge and the vendor's security code.
    #[cfg(feature = "installer")]
    Recover(RecoverArgs),
    /// Make a vendor key set: master key, device CA, firmware signing key.
    #[cfg(feature = "factory")]
    Keygen(KeygenArgs),
    /// Write a camera's read-only factory data.
    #[cfg(feature = "factory")]
    Provision(ProvisionArgs),
    /// Run an NVR that adopts the cameras on its PoE ports (or act on a running one).
    #[cfg(feature = "nvr")]
    Nvr(NvrArgs),
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
pub(crate) enum VendorCommand {
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
pub(crate) enum OrdersCommand {
    /// Imports an order file (CSV, docs/design.md §4): every row or none.
    Import(OrdersImportArgs),
}

#[cfg(feature = "vendor")]
#[derive(clap::Args)]
pub(crate) struct OrdersImportArgs {
    /// The order file.
    pub(crate) file: PathBuf,
    /// The front end's database file.
    #[arg(long)]
    pub(crate) db: PathBuf,
    /// Also add the rows to the signer's own copy of the orders (its database file).
    #[arg(long)]
    pub(crate) signer_db: Option<PathBuf>,
}

#[cfg(feature = "vendor")]
#[derive(Subcommand)]
pub(crate) enum StaffCommand {
    /// Adds a staff member; the password is read from standard input (--password-stdin)
    /// or generated and printed.
    Add(StaffAddArgs),
}

#[cfg(feature = "vendor")]
#[derive(clap::Args)]
pub(crate) struct StaffAddArgs {
    /// The front end's database file.
    #[arg(long)]
    pub(crate) db: PathBuf,
    /// Username (lower-case letters, digits, '.', '_', '-').
    pub(crate) username: String,
    /// Role.
    #[arg(long, value_parser = ["agent", "admin"])]
    pub(crate) role: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub(crate) password_stdin: bool,
}

#[cfg(feature = "vendor")]
#[derive(clap::Args)]
pub(crate) struct SignerArgs {
    /// A master key file (repeat for every key version still in cameras).
    #[arg(long = "master-key", required = true)]
    pub(crate) master_keys: Vec<PathBuf>,
    /// The signer's database file.
    #[arg(long)]
    pub(crate) db: PathBuf,
    /// The socket to listen on (only the signer's user can open it).
    #[arg(long)]
    pub(crate) socket: PathBuf,
    /// Also let this group (a numeric gid) open the socket (mode 0660): the front end
    /// then runs as a user of its own, in that group, who cannot read the master key.
    #[arg(long, value_name = "GID")]
    pub(crate) socket_gid: Option<u32>,
    /// The SMTP relay for code mails, HOST:PORT.
    #[arg(long)]
    pub(crate) smtp: String,
    /// Send without TLS (a relay on loopback, or the lab).
    #[arg(long)]
    pub(crate) smtp_plain: bool,
    /// Sender address of code mails.
    #[arg(long)]
    pub(crate) sender: String,
    /// New codes per camera per day.
    #[arg(long, default_value_t = 5)]
    pub(crate) codes_per_day: i64,
    /// The signer's own copy of the orders (CSV, docs/design.md §4), for support releases.
    #[arg(long)]
    pub(crate) orders: Option<PathBuf>,
    /// Stop when standard input closes (for a parent that supervises the signer).
    #[arg(long)]
    pub(crate) exit_with_stdin: bool,
}

#[cfg(feature = "vendor")]
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// The front end's database file (SQLite).
    #[arg(long)]
    pub(crate) db: PathBuf,
    /// The signer's socket.
    #[arg(long)]
    pub(crate) signer: PathBuf,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub(crate) http: SocketAddr,
    /// The support desk's address.
    #[arg(long, default_value = "support@camkey.example")]
    pub(crate) support_address: String,
    /// SMTP listen address of the automated reset mailbox (none: no mail intake).
    #[arg(long)]
    pub(crate) smtp: Option<SocketAddr>,
    /// The automated reset address.
    #[arg(long, default_value = "reset@camkey.example")]
    pub(crate) reset_address: String,
    /// Relay for replies, HOST:PORT (none: replies stay queued).
    #[arg(long)]
    pub(crate) relay: Option<String>,
    /// Send replies without TLS (a relay on loopback, or the lab).
    #[arg(long)]
    pub(crate) relay_plain: bool,
    /// Sender address of replies.
    #[arg(long, default_value = "reset@camkey.example")]
    pub(crate) sender: String,
    /// The public base URL of this service, for links in the desk's mails (default: from
    /// --http).
    #[arg(long)]
    pub(crate) public_url: Option<String>,
    /// Check that reset-mail senders' domains are DMARC-aligned before answering them.
    #[arg(long, value_enum, default_value_t = DmarcMode::On)]
    pub(crate) dmarc: DmarcMode,
    /// DNS resolver for the DMARC check, IP:PORT (default: the system's).
    #[arg(long)]
    pub(crate) dns: Option<SocketAddr>,
    /// A front MTA trusted to name the original client with XFORWARD (e.g. Postfix on
    /// 127.0.0.1 with `smtp_send_xforward_command = yes`); repeatable.
    #[arg(long = "xforward-from")]
    pub(crate) xforward_from: Vec<std::net::IpAddr>,
    /// A TLS-terminating proxy (address or CIDR network) whose Forwarded or
    /// X-Forwarded-For names the client: the right-most address that is not a trusted
    /// proxy counts for the per-client limits; repeatable (none: the TCP peer is the client).
    #[arg(long = "trusted-proxy")]
    pub(crate) trusted_proxy: Vec<camkey_web::client::ProxyNet>,
}

#[cfg(feature = "vendor")]
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum DmarcMode {
    /// Answer only senders whose domain passes DMARC alignment (production).
    On,
    /// Answer every sender (tests, or a mailbox behind a filter that already checks).
    Off,
}

#[derive(clap::Args)]
pub(crate) struct CameraArgs {
    /// The camera's read-only factory directory.
    #[arg(long)]
    pub(crate) factory: PathBuf,
    /// The camera's writable data directory (its flash).
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// HTTPS listen address.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub(crate) https: SocketAddr,
    /// Plain-HTTP listen address (redirects only); "none" to disable.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) http: String,
    /// The camera's own HTTPS address for redirects (default: from --https).
    #[arg(long)]
    pub(crate) public_url: Option<String>,
    /// Minutes after start-up during which network initialization is open.
    #[arg(long, default_value_t = 30)]
    pub(crate) init_window_minutes: u64,
    /// GPIO chip of the reset button, e.g. /dev/gpiochip0 (none: no button is watched).
    #[arg(long, requires = "button_line")]
    pub(crate) button_chip: Option<PathBuf>,
    /// Line offset of the reset button on that chip.
    #[arg(long, requires = "button_chip")]
    pub(crate) button_line: Option<u32>,
    /// The button drives the line high when pressed (default: low, with a pull-up).
    #[arg(long)]
    pub(crate) button_active_high: bool,
    /// Debounce period of the button line, in milliseconds.
    #[arg(long, default_value_t = 30)]
    pub(crate) button_debounce_ms: u64,
    /// Answer WS-Discovery on the interface with this IPv4 address (none: no discovery).
    #[arg(long)]
    pub(crate) discovery: Option<std::net::Ipv4Addr>,
}

#[derive(clap::Args)]
pub(crate) struct DiscoverArgs {
    /// The one interface to probe on, by its IPv4 address (`--bind` is the same).
    #[arg(long, visible_alias = "bind", default_value = "127.0.0.1")]
    pub(crate) interface: std::net::Ipv4Addr,
    /// How long to wait for answers, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub(crate) timeout: u64,
    /// Only cameras with this scope (RFC 3986 prefix rule); repeatable, all must match.
    #[arg(long = "scope")]
    pub(crate) scopes: Vec<String>,
    /// The device CA (PEM): check each camera's certificate and serial.
    #[cfg(feature = "installer")]
    #[arg(long)]
    pub(crate) ca: Option<PathBuf>,
}

#[cfg(feature = "installer")]
#[derive(clap::Args)]
pub(crate) struct InitArgs {
    /// The camera's address (its web page or API base); not with --all-uninitialized.
    #[arg(required_unless_present = "all_uninitialized")]
    pub(crate) url: Option<String>,
    /// The device CA (PEM, lab.json's `device_ca`).
    #[arg(long)]
    pub(crate) ca: PathBuf,
    /// The serial the camera must have (from its label).
    #[arg(long)]
    pub(crate) serial: Option<String>,
    /// Read the new admin password from this file (first line); else prompt.
    #[arg(long)]
    pub(crate) password_file: Option<PathBuf>,
    /// The owner's recovery address (left out: the factory default stays).
    #[arg(long)]
    pub(crate) recovery_email: Option<String>,
    /// The setup code from the camera's label, for models that need it.
    #[arg(long)]
    pub(crate) setup_code: Option<String>,
    /// Security questions: a JSON list of {"question", "answer"}.
    #[arg(long)]
    pub(crate) questions: Option<PathBuf>,
    /// Let ONVIF clients sign in as admin with this password.
    #[arg(long)]
    pub(crate) onvif: bool,
    /// Discover on --interface and initialize every uninitialized genuine camera (the same
    /// password for each).
    #[arg(long, conflicts_with_all = ["url", "serial"])]
    pub(crate) all_uninitialized: bool,
    /// The interface to discover on, by its IPv4 address (with --all-uninitialized;
    /// `--bind` is the same).
    #[arg(long, visible_alias = "bind", default_value = "127.0.0.1")]
    pub(crate) interface: std::net::Ipv4Addr,
    /// How long discovery waits, in milliseconds (with --all-uninitialized).
    #[arg(long, default_value_t = 2000)]
    pub(crate) timeout: u64,
}

#[cfg(feature = "installer")]
#[derive(clap::Args)]
pub(crate) struct RecoverArgs {
    /// The camera's address (its web page or API base).
    pub(crate) url: String,
    /// The device CA (PEM, lab.json's `device_ca`).
    #[arg(long)]
    pub(crate) ca: PathBuf,
    /// The serial the camera must have (from its label).
    #[arg(long)]
    pub(crate) serial: Option<String>,
    /// The vendor's security code (else prompted for after the challenge is shown).
    #[arg(long)]
    pub(crate) code: Option<String>,
    /// Read the new admin password from this file (first line); else prompt.
    #[arg(long)]
    pub(crate) password_file: Option<PathBuf>,
    /// Replace the live challenge with a new one first.
    #[arg(long)]
    pub(crate) new_challenge: bool,
}

#[cfg(feature = "factory")]
#[derive(clap::Args)]
pub(crate) struct KeygenArgs {
    /// Directory to write the key set into.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Version of the new master key.
    #[arg(long, default_value_t = 1)]
    pub(crate) key_version: u32,
    /// The vendor's automated reset address.
    #[arg(long)]
    pub(crate) reset_address: Option<String>,
    /// The vendor's reset page.
    #[arg(long)]
    pub(crate) reset_page_url: Option<String>,
    /// The support desk's address (cameras' default recovery address).
    #[arg(long)]
    pub(crate) support_address: Option<String>,
}

#[cfg(feature = "factory")]
#[derive(clap::Args)]
pub(crate) struct ProvisionArgs {
    /// The master key file (the device CA and firmware key sit beside it).
    #[arg(long)]
    pub(crate) master_key: PathBuf,
    /// Model, from the catalogue.
    #[arg(long)]
    pub(crate) model: String,
    /// Serial number.
    #[arg(long)]
    pub(crate) serial: String,
    /// The camera's factory directory to write.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Extra DNS names or IP addresses for the device certificate.
    #[arg(long = "name")]
    pub(crate) names: Vec<String>,
}

#[cfg(feature = "lab")]
#[derive(clap::Args)]
pub(crate) struct LabArgs {
    /// The lab directory (created; resumed when it exists).
    #[arg(long, default_value = "lab")]
    pub(crate) dir: PathBuf,
    /// Divides every hardware delay (boot, button hold).
    #[arg(long, default_value_t = 10)]
    pub(crate) time_scale: u32,
    /// Cameras added to the catalogue set.
    #[arg(long, default_value_t = 0)]
    pub(crate) cameras: u32,
    /// Cameras on the NVR's PoE ports 1..=N (an IPC4K15 each), adopted by the NVR.
    #[arg(long, default_value_t = 1)]
    pub(crate) nvr_cameras: u32,
    /// Send every outbound mail to this SMTP server (smtp://HOST:PORT).
    #[arg(long)]
    pub(crate) relay: Option<String>,
    /// Address every lab listener binds to.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) bind: std::net::IpAddr,
}

#[cfg(feature = "nvr")]
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct NvrArgs {
    #[command(subcommand)]
    pub(crate) command: Option<NvrCommand>,
    #[command(flatten)]
    pub(crate) run: NvrRunArgs,
}

#[cfg(feature = "nvr")]
#[derive(Subcommand)]
pub(crate) enum NvrCommand {
    /// Give a running NVR the setup code printed on the label of the camera on PORT (an
    /// empty CODE removes it).
    SetupCode(NvrSetupCodeArgs),
}

#[cfg(feature = "nvr")]
#[derive(clap::Args)]
pub(crate) struct NvrRunArgs {
    /// The NVR's data directory (created; resumed when it exists).
    #[arg(long, default_value = "nvr")]
    pub(crate) dir: PathBuf,
    /// Address of its page and API.
    #[arg(long, default_value = "127.0.0.1:8480")]
    pub(crate) listen: SocketAddr,
    /// The vendor's device CA certificate (PEM): cameras must chain to it.
    #[arg(long)]
    pub(crate) ca: Option<PathBuf>,
    /// Number of PoE ports.
    #[arg(long, default_value_t = 4)]
    pub(crate) ports: u8,
    /// A camera's address on a port, as its DHCP lease says: `N=HOST:PORT` (repeatable).
    #[arg(long = "port", value_name = "N=ADDR")]
    pub(crate) leases: Vec<String>,
    /// The admin's user name, when the account is made.
    #[arg(long, default_value = "admin")]
    pub(crate) admin: String,
    /// The admin's password at first start (first line of the file); without it one is
    /// generated and printed once.
    #[arg(long)]
    pub(crate) admin_password_file: Option<PathBuf>,
    /// The owner's recovery address given to each camera, at first start.
    #[arg(long)]
    pub(crate) recovery_email: Option<String>,
    /// Seconds between two looks at every port.
    #[arg(long, default_value_t = 10)]
    pub(crate) period: u64,
}

#[cfg(feature = "nvr")]
#[derive(clap::Args)]
pub(crate) struct NvrSetupCodeArgs {
    /// The NVR's page address.
    #[arg(long, env = "CAMKEY_NVR_URL", default_value = "http://127.0.0.1:8480/")]
    pub(crate) url: String,
    /// The admin's user name.
    #[arg(long, default_value = "admin")]
    pub(crate) admin: String,
    /// The admin's password (first line of the file); without it, asked for.
    #[arg(long)]
    pub(crate) password_file: Option<PathBuf>,
    /// The PoE port.
    pub(crate) port: u8,
    /// The setup code from the camera's label.
    pub(crate) code: String,
}
