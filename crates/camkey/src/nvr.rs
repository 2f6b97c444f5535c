//! `camkey nvr`: runs an NVR (`camkey-nvr`'s service) over a fixed port table, as on an
//! NVR whose cameras have reserved addresses; and `camkey nvr setup-code`, which gives a
//! running NVR the setup code from a camera's label through its API, as the page does.

use crate::args::{NvrArgs, NvrCommand, NvrRunArgs, NvrSetupCodeArgs};
use crate::install::{first_line, read_line};
use anyhow::{Context, Result, bail};
use camkey_nvr::service::{NvrOptions, start};
use camkey_nvr::switch::StaticSwitch;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// `camkey nvr [...]`.
pub(crate) async fn run(a: NvrArgs, json: bool) -> Result<()> {
    match a.command {
        Some(NvrCommand::SetupCode(s)) => setup_code(s, json).await,
        None => serve(a.run, json).await,
    }
}

/// `N=HOST:PORT` of `--port`.
fn lease(s: &str) -> Result<(u8, SocketAddr)> {
    let (port, addr) = s
        .split_once('=')
        .with_context(|| format!("--port {s}: write it as N=HOST:PORT"))?;
    let port = port
        .parse::<u8>()
        .with_context(|| format!("--port {s}: {port} is not a port number"))?;
    let addr = addr
        .parse::<SocketAddr>()
        .with_context(|| format!("--port {s}: {addr} is not HOST:PORT"))?;
    Ok((port, addr))
}

async fn serve(a: NvrRunArgs, json: bool) -> Result<()> {
    let ca =
        a.ca.context("give the vendor's device CA certificate with --ca FILE")?;
    let leases = a
        .leases
        .iter()
        .map(|s| lease(s))
        .collect::<Result<Vec<_>>>()?;
    let switch = StaticSwitch::new(a.ports, leases)?;
    let admin_password = a
        .admin_password_file
        .as_deref()
        .map(first_line)
        .transpose()?;
    let opts = NvrOptions {
        dir: a.dir,
        device_ca: ca,
        admin_username: a.admin.clone(),
        admin_password,
        recovery_email: a.recovery_email,
        period: Duration::from_secs(a.period.max(1)),
    };
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("binding {}", a.listen))?;
    let notice = Arc::new(|n: camkey_nvr::adopt::Notice| {
        tracing::warn!(port = n.port, "{}", n.message);
    });
    let nvr = start(
        &opts,
        Arc::new(switch),
        listener,
        notice,
        Arc::new(camkey_proto::clock::SystemClock::default()),
    )
    .await?;
    let url = format!("http://{}/", nvr.addr());
    if json {
        println!(
            "{}",
            serde_json::json!({"url": url, "api": format!("{url}api"), "admin": a.admin, "generated_password": nvr.generated_password()})
        );
    } else {
        println!("NVR: {url} ({} PoE ports)", a.ports);
        if let Some(p) = nvr.generated_password() {
            println!("admin account: {} / {p} (shown once: keep it)", a.admin);
        }
    }
    crate::shutdown_signal().await;
    nvr.stop().await;
    Ok(())
}

/// An error body of the NVR's API in plain words.
async fn refusal(resp: reqwest::Response) -> String {
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    body["error"]["message"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| format!("the NVR answered {status}"))
}

async fn setup_code(a: NvrSetupCodeArgs, json: bool) -> Result<()> {
    let password = match &a.password_file {
        Some(p) => first_line(p)?,
        None => read_line("NVR admin password: ", true)?,
    };
    let api = format!("{}/api", a.url.trim_end_matches('/'));
    // reqwest asks for a TLS provider even for an http:// address.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()?;
    let resp = http
        .post(format!("{api}/login"))
        .json(&serde_json::json!({"username": a.admin, "password": password}))
        .send()
        .await
        .with_context(|| format!("reaching the NVR at {}", a.url))?;
    if !resp.status().is_success() {
        bail!("signing in to the NVR: {}", refusal(resp).await);
    }
    let token: serde_json::Value = resp.json().await?;
    let token = token["token"].as_str().unwrap_or_default().to_string();
    let resp = http
        .post(format!("{api}/ports/{}/setup-code", a.port))
        .bearer_auth(&token)
        .json(&serde_json::json!({"code": a.code}))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("port {}: {}", a.port, refusal(resp).await);
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"port": a.port, "set": !a.code.is_empty()})
        );
    } else if a.code.is_empty() {
        println!("port {}: setup code removed", a.port);
    } else {
        println!(
            "port {}: setup code set; the NVR adopts the camera on it now",
            a.port
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_parse_or_say_how_to_write_them() {
        assert_eq!(
            lease("2=127.0.0.1:8443").unwrap(),
            (2, "127.0.0.1:8443".parse().unwrap())
        );
        for bad in ["2", "x=127.0.0.1:1", "2=nohost", "300=127.0.0.1:1"] {
            assert!(
                lease(bad).unwrap_err().to_string().contains("--port"),
                "{bad}"
            );
        }
    }
}
