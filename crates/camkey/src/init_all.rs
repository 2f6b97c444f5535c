//! `camkey init --all-uninitialized`: discover on one interface, then initialize every
//! uninitialized camera whose certificate verifies (the chain, and the serial it announced
//! in discovery), each with the same password file; a progress bar while it works and a
//! summary table (or JSON) at the end. Exit code 0 when every camera found was
//! initialized, 3 when none was found, 1 when any failed (the summary says why).

use crate::args::InitArgs;
use crate::install::{init_found, password_for_all, request};
use anyhow::Result;
use camkey_client::DeviceCa;
use camkey_onvif::discovery::{ProbeOptions, discover};
use camkey_proto::api::QuestionAnswer;
use std::time::Duration;

/// The discovery scope of an uninitialized camkey camera.
const UNINITIALIZED: &str = "onvif://camkey/state/uninitialized";

struct Outcome {
    serial: String,
    address: String,
    result: std::result::Result<String, (i32, String)>,
}

pub(crate) async fn run(
    a: &InitArgs,
    ca: &DeviceCa,
    questions: Vec<QuestionAnswer>,
    json: bool,
) -> Result<()> {
    let mut opts = ProbeOptions::new(a.interface);
    opts.timeout = Duration::from_millis(a.timeout);
    opts.scopes = vec![UNINITIALIZED.to_string()];
    let found = discover(&opts).await?;
    if found.is_empty() {
        if json {
            println!("[]");
        } else {
            eprintln!("no uninitialized camera answered on {}", a.interface);
        }
        std::process::exit(crate::discover::NONE_FOUND);
    }
    let req = request(a, password_for_all(a)?, questions);
    let bar = indicatif::ProgressBar::new(found.len() as u64);
    if json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut outcomes = Vec::new();
    for f in &found {
        let serial = f.info.serial.clone().unwrap_or_default();
        bar.set_message(serial.clone());
        let https = f.xaddrs.iter().find(|x| x.starts_with("https://"));
        let result = match (https, serial.is_empty()) {
            (Some(url), false) => init_found(url, ca, &serial, &req).await,
            (None, _) => Err((1, "no HTTPS address in its discovery answer".into())),
            (_, true) => Err((1, "no serial in its discovery answer".into())),
        };
        outcomes.push(Outcome {
            serial: if serial.is_empty() {
                "-".into()
            } else {
                serial
            },
            address: f.from.ip().to_string(),
            result,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    print_summary(&outcomes, json);
    if outcomes.iter().any(|o| o.result.is_err()) {
        std::process::exit(1);
    }
    Ok(())
}

fn result_word(code: i32) -> &'static str {
    match code {
        crate::install::NOT_GENUINE => "not_genuine",
        crate::install::WINDOW_CLOSED => "window_closed",
        crate::install::SETUP_CODE => "setup_code",
        crate::install::WEAK_PASSWORD => "weak_password",
        crate::install::ALREADY_INITIALIZED => "already_initialized",
        _ => "failed",
    }
}

fn print_summary(outcomes: &[Outcome], json: bool) {
    if json {
        let list: Vec<_> = outcomes
            .iter()
            .map(|o| match &o.result {
                Ok(model) => serde_json::json!({"serial": o.serial, "model": model,
                    "address": o.address, "result": "initialized"}),
                Err((code, msg)) => serde_json::json!({"serial": o.serial,
                    "address": o.address, "result": result_word(*code), "error": msg}),
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return;
    }
    let ws = outcomes
        .iter()
        .map(|o| o.serial.len())
        .chain([6])
        .max()
        .unwrap_or(6);
    println!("{:<ws$}  {:<15}  RESULT", "SERIAL", "ADDRESS");
    for o in outcomes {
        let result = match &o.result {
            Ok(model) => format!("initialized ({model})"),
            Err((code, msg)) => format!("{}: {msg}", result_word(*code)),
        };
        println!("{:<ws$}  {:<15}  {result}", o.serial, o.address);
    }
    let ok = outcomes.iter().filter(|o| o.result.is_ok()).count();
    println!("{ok} of {} initialized", outcomes.len());
}
