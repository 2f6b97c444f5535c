//! The lab's vendor: the sample order file, the support desk's orders and staff account,
//! and the signer started as a process of its own.

use crate::plan::LabPlan;
use crate::{LabError, LabOptions};
use camkey_camera::mail::{SmtpSettings, TlsMode};
use camkey_factory::{VendorKeys, VendorProfile};
use std::net::SocketAddr;
use std::path::Path;

/// The signer's socket in the lab's vendor directory.
pub const SIGNER_SOCKET: &str = "signer.sock";
/// The lab's sample order file (in the lab directory).
pub const ORDERS_FILE: &str = "orders.csv";
/// The customer on every lab order.
pub const LAB_CUSTOMER: &str = "customer@example.com";

/// Writes the lab's sample order file: every lab camera, two to an order, bought recently.
/// 0600: it names customers and their addresses.
pub(crate) fn write_orders(dir: &Path, plan: &LabPlan) -> Result<(), LabError> {
    let mut csv = format!("{}\n", camkey_proto::orders::HEADER);
    for (i, cam) in plan.cameras.iter().enumerate() {
        csv.push_str(&format!(
            "LAB-{},{},Lab Customer,{LAB_CUSTOMER},2026-06-01\n",
            1001 + i / 2,
            cam.serial
        ));
    }
    Ok(camkey_factory::write_file(
        &dir.join(ORDERS_FILE),
        csv.as_bytes(),
        0o600,
    )?)
}

/// The lab's staff account file (in the vendor directory): kept so that a resumed lab
/// signs in with the same password.
pub const STAFF_FILE: &str = "staff.json";
/// The lab's staff account.
pub const LAB_STAFF: &str = "agent";

/// The lab's support desk: the sample orders in the front end's database, and a staff
/// account (an agent) whose password is generated once and kept in [`STAFF_FILE`].
pub(crate) async fn prepare_desk(
    dir: &Path,
    vendor_dir: &Path,
) -> Result<(String, String), LabError> {
    let err = |e: &dyn std::fmt::Display| LabError::Vendor(e.to_string());
    let store = camkey_store::SqliteStore::open(&vendor_dir.join("vendor.db"))
        .await
        .map_err(|e| err(&e))?;
    let orders = dir.join(ORDERS_FILE);
    let bytes = std::fs::read(&orders).map_err(|e| LabError::Io(orders.clone(), e))?;
    camkey_desk::orders::import(&store, &bytes)
        .await
        .map_err(|e| err(&e))?;
    let password = crate::kept_password(vendor_dir, STAFF_FILE, LAB_STAFF, || {
        camkey_desk::staff::random_password(LAB_STAFF)
    })
    .map_err(|e| err(&e))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    camkey_desk::staff::add_staff(
        &store,
        LAB_STAFF,
        &password,
        camkey_desk::staff::Role::Agent,
        true,
        now,
    )
    .await
    .map_err(|e| err(&e))?;
    Ok((LAB_STAFF.into(), password))
}

/// Starts the signer process and waits until its socket answers.
pub(crate) async fn start_signer(
    opts: &LabOptions,
    keys: &VendorKeys,
    smtp: &SmtpSettings,
    profile: &VendorProfile,
) -> Result<tokio::process::Child, LabError> {
    let dir = keys.dir();
    let socket = dir.join(SIGNER_SOCKET);
    if socket.as_os_str().len() > 100 {
        return Err(LabError::Option(format!(
            "the lab directory's path is too long for the signer's socket ({}); use a shorter --dir",
            socket.display()
        )));
    }
    let mut cmd = tokio::process::Command::new(&opts.exe);
    cmd.args(["vendor", "signer", "--orders"])
        .arg(opts.dir.join(ORDERS_FILE))
        .arg("--master-key")
        .arg(keys.path(camkey_factory::files::MASTER_KEY))
        .arg("--db")
        .arg(dir.join("signer.db"))
        .arg("--socket")
        .arg(&socket)
        .args([
            "--smtp",
            &SocketAddr::new(smtp.server.parse().unwrap_or(opts.bind), smtp.port).to_string(),
        ])
        .args(["--sender", &profile.reset_address, "--exit-with-stdin"])
        .stdin(std::process::Stdio::piped())
        .kill_on_drop(true);
    if smtp.tls == TlsMode::None {
        cmd.arg("--smtp-plain");
    }
    let mut child = cmd.spawn().map_err(|e| LabError::Io(opts.exe.clone(), e))?;
    let client = camkey_signer::SignerClient::new(&socket);
    for _ in 0..200 {
        if client
            .call(&camkey_signer::protocol::Request::Health)
            .await
            .is_ok()
        {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LabError::Option(format!(
                "the signer stopped at start ({status}); see the log above"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    Err(LabError::Option(
        "the signer did not start within 10 s".into(),
    ))
}
