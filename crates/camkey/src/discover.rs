//! `camkey discover`: one WS-Discovery probe on one interface, and the cameras that
//! answered (the client is `camkey_onvif::discovery::client`). With `--ca`, each camera's
//! HTTPS XAddr is checked by a TLS handshake with `camkey-client`'s verifier (the chain to
//! the device CA and the serial it announced): `verified` or `not genuine` (`unchecked`
//! without `--ca`, or without an HTTPS address). Exit codes: 0 when at least one camera
//! answered, 3 when none did, 1 when the probe could not be sent.

use crate::args::DiscoverArgs;
use anyhow::Result;
use camkey_onvif::discovery::{Found, ProbeOptions, discover};
use std::time::Duration;

/// The exit code when no camera answered.
pub(crate) const NONE_FOUND: i32 = 3;

pub(crate) async fn run(a: DiscoverArgs, json: bool) -> Result<()> {
    let mut opts = ProbeOptions::new(a.interface);
    opts.timeout = Duration::from_millis(a.timeout);
    opts.scopes = a.scopes.clone();
    let found = discover(&opts).await?;
    let certs = certificates(&a, &found).await?;
    if json {
        let list: Vec<_> = found
            .iter()
            .zip(&certs)
            .map(|(f, c)| {
                let mut v = to_json(f);
                v["certificate"] = (*c).into();
                v
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else if !found.is_empty() {
        let width = |get: fn(&Found) -> &str, title: &str| {
            found
                .iter()
                .map(|f| get(f).len())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        };
        let (ws, wm) = (width(serial, "SERIAL"), width(model, "MODEL"));
        println!(
            "{:<ws$}  {:<wm$}  {:<13}  {:<15}  {:<11}  XADDRS",
            "SERIAL", "MODEL", "STATE", "ADDRESS", "CERTIFICATE"
        );
        for (f, c) in found.iter().zip(&certs) {
            println!(
                "{:<ws$}  {:<wm$}  {:<13}  {:<15}  {:<11}  {}",
                serial(f),
                model(f),
                state(f),
                f.from.ip(),
                c.replace('_', " "),
                f.xaddrs.join(" ")
            );
        }
    } else {
        eprintln!(
            "no camera answered on {} within {} ms",
            a.interface, a.timeout
        );
    }
    if found.is_empty() {
        std::process::exit(NONE_FOUND);
    }
    Ok(())
}

/// Each camera's certificate: `verified`, `not_genuine` or `unchecked`.
#[cfg(feature = "installer")]
async fn certificates(a: &DiscoverArgs, found: &[Found]) -> Result<Vec<&'static str>> {
    let Some(path) = &a.ca else {
        return Ok(vec!["unchecked"; found.len()]);
    };
    let ca = camkey_client::DeviceCa::from_file(path)?;
    let checks = found.iter().map(|f| {
        let ca = ca.clone();
        async move {
            let Some(url) = f.xaddrs.iter().find(|x| x.starts_with("https://")) else {
                return "unchecked";
            };
            let serial = f.info.serial.as_deref();
            match camkey_client::check_identity(url, &ca, serial, Duration::from_secs(5)).await {
                Ok(_) if serial.is_some() => "verified",
                Ok(_) => "unchecked",
                Err(e) if e.is_identity() => "not_genuine",
                Err(_) => "unchecked",
            }
        }
    });
    let mut out = Vec::with_capacity(found.len());
    for c in checks {
        out.push(c.await);
    }
    Ok(out)
}

#[cfg(not(feature = "installer"))]
async fn certificates(_: &DiscoverArgs, found: &[Found]) -> Result<Vec<&'static str>> {
    Ok(vec!["unchecked"; found.len()])
}

fn serial(f: &Found) -> &str {
    f.info.serial.as_deref().unwrap_or("-")
}

fn model(f: &Found) -> &str {
    f.info.model.as_deref().unwrap_or("-")
}

fn state(f: &Found) -> &'static str {
    f.info.state.map_or("-", |s| s.as_str())
}

fn to_json(f: &Found) -> serde_json::Value {
    serde_json::json!({
        "serial": f.info.serial,
        "model": f.info.model,
        "name": f.info.name,
        "state": f.info.state.map(|s| s.as_str()),
        "address": f.from.ip().to_string(),
        "endpoint": f.endpoint,
        "xaddrs": f.xaddrs,
        "scopes": f.scopes,
        "metadata_version": f.metadata_version,
    })
}
