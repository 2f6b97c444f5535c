//! The installer's and the owner's commands against the lab, as people run them: `camkey
//! init` with lab.json's device CA and the label's serial, then `camkey recover` showing
//! the challenge, the owner sending it to the lab vendor's reset API, the security code
//! arriving in the lab inbox and typed at the prompt.

use super::{Lab, client, code_line, wait_device, wait_for_mail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

#[test]
fn lab_init_then_recover_with_the_vendors_code_from_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let (lab, m) = Lab::start(tmp.path(), &[]);
    let ca = m["device_ca"].as_str().unwrap().to_string();
    let http = client(&ca);
    let cam = m["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["model"] == "IPC4K15")
        .unwrap()
        .clone();
    let (api, serial) = (
        cam["api"].as_str().unwrap(),
        cam["serial"].as_str().unwrap(),
    );
    wait_device(&http, api);
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, "tulip-harbor-quietly-42\n").unwrap();
    let new = tmp.path().join("new");
    std::fs::write(&new, "marble-lantern-violin-88\n").unwrap();
    let url = cam["url"].as_str().unwrap();

    // A label that says another serial: refused, nothing sent.
    let out = Command::new(env!("CARGO_BIN_EXE_camkey"))
        .args(["init", url, "--ca", &ca, "--serial", "IPC4K15-NOPE"])
        .args(["--password-file", pw.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(wait_device(&http, api)["initialized"], false);
    let out = Command::new(env!("CARGO_BIN_EXE_camkey"))
        .args(["init", url, "--ca", &ca, "--serial", serial])
        .args(["--password-file", pw.to_str().unwrap()])
        .args(["--recovery-email", "owner@example.com"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_camkey"))
        .args(["recover", url, "--ca", &ca, "--serial", serial])
        .args(["--password-file", new.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The string to copy is the line after "copy this string:".
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut shown = Vec::new();
    let challenge = loop {
        let line = lines.next().expect("recover ended early").unwrap();
        shown.push(line.clone());
        if line.contains("copy this string") {
            let _ = lines.next();
            break lines.next().unwrap().unwrap();
        }
    };
    assert!(shown.iter().any(|l| l.contains('▀') || l.contains('▄')));
    // The owner sends it to the vendor; the code goes to the owner's address.
    let vendor = m["vendor"]["url"].as_str().unwrap().trim_end_matches('/');
    let r = http
        .post(format!("{vendor}/api/reset-requests"))
        .json(&json!({ "challenge": challenge }))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let inbox = m["inbox"]["url"].as_str().unwrap().trim_end_matches('/');
    let mail = wait_for_mail(&http, inbox, "security code", |x: &Value| {
        x["to"] == json!(["owner@example.com"]) && code_line(x).is_some()
    });
    let code = code_line(&mail).unwrap();
    writeln!(child.stdin.take().unwrap(), "{code}").unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("password recovered")),
        "{rest:?}"
    );
    let r = http
        .post(format!("{api}/login"))
        .json(&json!({"username": "admin", "password": "marble-lantern-violin-88"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(lab.stop(), 0);
}
