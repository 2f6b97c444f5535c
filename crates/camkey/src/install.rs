//! `camkey init` and `camkey recover`: the installer's and the owner's commands, thin over
//! `camkey-client` (which checks each camera's certificate chain and serial before anything
//! is sent). This file reads passwords (a file, or a prompt without echo), builds the
//! requests, prints results, and turns failures into the exit codes of [`exit_code`]
//! (README, "Exit codes").

use crate::args::{InitArgs, RecoverArgs};
use anyhow::{Context, Result};
use camkey_client::{CameraClient, DeviceCa, Error};
use camkey_proto::api::{InitRequest, QuestionAnswer};
use std::io::IsTerminal;
use std::path::Path;

/// Exit code: not a genuine camera, or not the expected serial (nothing was sent).
pub(crate) const NOT_GENUINE: i32 = 4;
/// Exit code: the camera's init window has closed (power-cycle it).
pub(crate) const WINDOW_CLOSED: i32 = 5;
/// Exit code: the model needs its label's setup code, or the one given is wrong.
pub(crate) const SETUP_CODE: i32 = 6;
/// Exit code: the camera refused the password (too short, too weak, ...).
pub(crate) const WEAK_PASSWORD: i32 = 7;
/// Exit code: the camera is already initialized.
pub(crate) const ALREADY_INITIALIZED: i32 = 8;

/// A refusal decided here, before anything is sent, with its exit code.
#[derive(Debug)]
pub(crate) struct Stop(pub(crate) i32, pub(crate) String);

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for Stop {}

/// The exit code for a failure.
pub(crate) fn exit_code(e: &anyhow::Error) -> i32 {
    if let Some(Stop(code, _)) = e.downcast_ref::<Stop>() {
        return *code;
    }
    match e.downcast_ref::<Error>() {
        Some(e) => client_exit_code(e),
        None => 1,
    }
}

fn client_exit_code(e: &Error) -> i32 {
    if e.is_identity() {
        return NOT_GENUINE;
    }
    match e.api_code() {
        Some("init_window_closed") => WINDOW_CLOSED,
        Some("setup_code_required" | "setup_code_wrong") => SETUP_CODE,
        Some(c) if c.starts_with("password_") => WEAK_PASSWORD,
        Some("already_initialized") => ALREADY_INITIALIZED,
        _ => 1,
    }
}

/// A hint for people, after the error.
fn hint(e: &Error) -> &'static str {
    match client_exit_code(e) {
        NOT_GENUINE => " (not sent anything: check the address and the label's serial)",
        WINDOW_CLOSED => " (power-cycle the camera to open it again for 30 minutes)",
        SETUP_CODE => " (give the setup code printed on the camera's label with --setup-code)",
        _ => "",
    }
}

/// A secret read without echo from the terminal, or a line of standard input in scripts.
pub(crate) fn read_line(prompt: &str, secret: bool) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let term = console::Term::stderr();
        term.write_str(prompt)?;
        let line = if secret {
            term.read_secure_line()?
        } else {
            term.read_line()?
        };
        Ok(line.trim().to_string())
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

/// A password file's first line (not empty).
pub(crate) fn first_line(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let line = text.lines().next().unwrap_or("").to_string();
    anyhow::ensure!(
        !line.is_empty(),
        "{}: no password on its first line",
        path.display()
    );
    Ok(line)
}

/// The new password: the file's first line, or asked for twice.
fn new_password(file: Option<&Path>) -> Result<String> {
    if let Some(path) = file {
        return first_line(path);
    }
    let first = read_line("New admin password: ", true)?;
    if std::io::stdin().is_terminal() {
        let again = read_line("The same again: ", true)?;
        anyhow::ensure!(first == again, "the two passwords differ");
    }
    anyhow::ensure!(!first.is_empty(), "no password given");
    Ok(first)
}

fn ca(path: &Path) -> Result<DeviceCa> {
    Ok(DeviceCa::from_file(path)?)
}

fn questions(file: Option<&Path>) -> Result<Vec<QuestionAnswer>> {
    let Some(path) = file else {
        return Ok(Vec::new());
    };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: expected a JSON list of {{\"question\", \"answer\"}}",
            path.display()
        )
    })
}

/// One camera: identity and state first, then the init. Returns its serial and model.
async fn init_one(
    url: &str,
    ca: &DeviceCa,
    serial: Option<&str>,
    req: &InitRequest,
) -> Result<(String, String)> {
    let client = CameraClient::new(url, ca, serial)?;
    let info = client.device().await.map_err(with_hint)?;
    if info.initialized {
        return Err(Stop(
            ALREADY_INITIALIZED,
            format!("{} is already initialized", info.serial),
        )
        .into());
    }
    if !info.init_window_open {
        return Err(Stop(
            WINDOW_CLOSED,
            format!(
                "{}: the init window has closed: power-cycle the camera to open it again",
                info.serial
            ),
        )
        .into());
    }
    if info.setup_code_required && req.setup_code.is_none() {
        return Err(Stop(
            SETUP_CODE,
            format!(
                "the {} needs the setup code printed on its label: give it with --setup-code",
                info.model
            ),
        )
        .into());
    }
    client.init(req).await.map_err(with_hint)?;
    Ok((info.serial, info.model))
}

/// A client error with its exit code and what to do next.
fn with_hint(e: Error) -> anyhow::Error {
    Stop(client_exit_code(&e), format!("{e}{}", hint(&e))).into()
}

pub(crate) async fn init(a: InitArgs, json: bool) -> Result<()> {
    let ca = ca(&a.ca)?;
    let questions = questions(a.questions.as_deref())?;
    if a.all_uninitialized {
        return crate::init_all::run(&a, &ca, questions, json).await;
    }
    let url = a.url.as_deref().context("give the camera's address")?;
    // Identity first: a wrong camera is refused before the password is even asked for.
    let client = CameraClient::new(url, &ca, a.serial.as_deref())?;
    client.device().await.map_err(with_hint)?;
    let req = request(&a, new_password(a.password_file.as_deref())?, questions);
    let (serial, model) = init_one(url, &ca, a.serial.as_deref(), &req).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({"serial": serial, "model": model, "initialized": true,
                "certificate": "verified", "onvif": a.onvif})
        );
    } else {
        println!("{serial} ({model}): certificate verified, initialized");
    }
    Ok(())
}

/// The init request for these arguments.
pub(crate) fn request(a: &InitArgs, password: String, q: Vec<QuestionAnswer>) -> InitRequest {
    InitRequest {
        password,
        recovery_email: a.recovery_email.clone(),
        security_questions: q,
        setup_code: a.setup_code.clone(),
        network: None,
        time: None,
        onvif: a.onvif,
    }
}

/// The new password for `--all-uninitialized` (asked once, the same for each camera).
pub(crate) fn password_for_all(a: &InitArgs) -> Result<String> {
    new_password(a.password_file.as_deref())
}

/// Initializes one discovered camera (for `--all-uninitialized`): the exit code on failure.
pub(crate) async fn init_found(
    url: &str,
    ca: &DeviceCa,
    serial: &str,
    req: &InitRequest,
) -> std::result::Result<String, (i32, String)> {
    match init_one(url, ca, Some(serial), req).await {
        Ok((_, model)) => Ok(model),
        Err(e) => Err((exit_code(&e), format!("{e:#}"))),
    }
}

/// The QR code drawn with Unicode half blocks (two modules a character), dark on light.
pub(crate) fn qr_text(data: &str) -> Result<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(data.as_bytes()).context("drawing the QR code")?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

pub(crate) async fn recover(a: RecoverArgs, json: bool) -> Result<()> {
    let ca = ca(&a.ca)?;
    let client = CameraClient::new(&a.url, &ca, a.serial.as_deref())?;
    let info = client.device().await.map_err(with_hint)?;
    anyhow::ensure!(
        info.initialized,
        "{} is not initialized: it has no password to recover (use camkey init)",
        info.serial
    );
    let qr = if a.new_challenge {
        client.recovery_qr_new().await?
    } else {
        client.recovery_qr().await?
    };
    let days = qr.expires_in / 86_400;
    if !json {
        let shown = qr.url.as_deref().unwrap_or(&qr.text);
        println!("{}", qr_text(shown)?);
        println!(
            "{} ({}): password recovery challenge",
            info.serial, info.model
        );
        println!("Scan the code, or copy this string:\n\n{}\n", qr.text);
        match (&qr.reset_address, &qr.url) {
            (Some(addr), Some(url)) => println!(
                "Mail it to {addr} (subject or body), or open {url}:\nthe vendor sends a security code to the camera's recovery address."
            ),
            (Some(addr), None) => println!("Mail it to {addr}: the vendor sends a security code."),
            _ => println!("Send it to the vendor's reset service: it sends a security code."),
        }
        println!("The challenge is good for {days} day(s).\n");
    }
    let code = match a.code.clone() {
        Some(c) => c,
        None => read_line("Security code: ", false)?,
    };
    let password = new_password(a.password_file.as_deref())?;
    client.recovery_qr_submit(code.trim(), &password).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({"serial": info.serial, "challenge": qr.text, "url": qr.url,
                "reset_address": qr.reset_address, "recovered": true})
        );
    } else {
        println!(
            "{}: password recovered; sign in with the new password",
            info.serial
        );
    }
    Ok(())
}
