//! `camkey discover`: one WS-Discovery probe on one interface, and the cameras that
//! answered (the client is `camkey_onvif::discovery::client`). Exit codes: 0 when at
//! least one camera answered, 3 when none did, 1 when the probe could not be sent.

use crate::args::DiscoverArgs;
use anyhow::Result;
use camkey_onvif::discovery::{Found, ProbeOptions, discover};
use std::time::Duration;

/// The exit code when no camera answered.
pub(crate) const NONE_FOUND: i32 = 3;

pub(crate) async fn run(a: DiscoverArgs, json: bool) -> Result<()> {
    let mut opts = ProbeOptions::new(a.interface);
    opts.timeout = Duration::from_millis(a.timeout);
    opts.scopes = a.scopes;
    let found = discover(&opts).await?;
    if json {
        let list: Vec<_> = found.iter().map(to_json).collect();
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
            "{:<ws$}  {:<wm$}  {:<13}  {:<15}  XADDRS",
            "SERIAL", "MODEL", "STATE", "ADDRESS"
        );
        for f in &found {
            println!(
                "{:<ws$}  {:<wm$}  {:<13}  {:<15}  {}",
                serial(f),
                model(f),
                state(f),
                f.from.ip(),
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
