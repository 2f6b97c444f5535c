//! The lab's NVR (docs/nvr.md) through the lab as people use it: the cameras on its PoE
//! ports are adopted and no other camera is touched; the revealed password signs into the
//! camera; `camkey nvr setup-code` reaches the running NVR; a camera whose reset button is
//! held is adopted again by itself; powering a port's camera off from the hardware panel
//! switches that PoE port.

use super::{Lab, client, wait_device};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

fn login(http: &reqwest::blocking::Client, nvr: &Value) -> String {
    let r = http
        .post(format!("{}/login", nvr["api"].as_str().unwrap()))
        .json(&json!({"username": nvr["admin"]["username"], "password": nvr["admin"]["password"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn get(http: &reqwest::blocking::Client, nvr: &Value, token: &str, path: &str) -> Value {
    http.get(format!("{}{path}", nvr["api"].as_str().unwrap()))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// Waits (up to 90 s) until the channel on `port` satisfies `pred`.
fn wait_channel(
    http: &reqwest::blocking::Client,
    nvr: &Value,
    token: &str,
    port: u64,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let end = Instant::now() + Duration::from_secs(90);
    loop {
        let list = get(http, nvr, token, "/channels");
        if let Some(ch) = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["port"] == port && pred(c))
        {
            return ch.clone();
        }
        assert!(Instant::now() < end, "port {port} never {what}: {list}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_lab_nvr_adopts_its_ports_only_reveals_and_adopts_again_after_a_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let (lab, m) = Lab::start(tmp.path(), &["--nvr-cameras", "2"]);
    let nvr = m["nvr"].clone();
    assert_eq!(nvr["ports"], 4);
    let cams = m["cameras"].as_array().unwrap();
    let on_nvr: Vec<&Value> = cams.iter().filter(|c| !c["poe_port"].is_null()).collect();
    assert_eq!(
        on_nvr
            .iter()
            .map(|c| c["poe_port"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(on_nvr.iter().all(|c| c["model"] == "IPC4K15"));
    let http = client(m["device_ca"].as_str().unwrap());
    let plain = http.clone();
    let token = login(&plain, &nvr);
    for c in &on_nvr {
        let port = c["poe_port"].as_u64().unwrap();
        let ch = wait_channel(&plain, &nvr, &token, port, "adopted", |c| {
            c["state"] == "adopted"
        });
        assert_eq!(ch["serial"], c["serial"]);
        assert_eq!(
            wait_device(&http, c["api"].as_str().unwrap())["initialized"],
            true
        );
    }
    // The cameras elsewhere on the LAN were never touched.
    for c in cams.iter().filter(|c| c["poe_port"].is_null()) {
        assert_eq!(
            wait_device(&http, c["api"].as_str().unwrap())["initialized"],
            false,
            "{}",
            c["serial"]
        );
    }

    // The revealed password signs into the camera; the admin's password is asked again.
    let first = on_nvr[0];
    let reveal = format!("{}/channels/1/reveal", nvr["api"].as_str().unwrap());
    let r = plain
        .post(&reveal)
        .bearer_auth(&token)
        .json(&json!({"password": "not-the-admins"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let creds: Value = plain
        .post(&reveal)
        .bearer_auth(&token)
        .json(&json!({"password": nvr["admin"]["password"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let password = creds["password"].as_str().unwrap();
    assert_eq!(password.len(), 32);
    assert!(
        password
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch))
    );
    let r = http
        .post(format!("{}/login", first["api"].as_str().unwrap()))
        .json(&json!({"username": creds["username"], "password": password}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    // An installer gives the running NVR a label's setup code from the command line.
    let pw = tmp.path().join("nvr-admin");
    std::fs::write(
        &pw,
        format!("{}\n", nvr["admin"]["password"].as_str().unwrap()),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_camkey"))
        .args([
            "--json",
            "nvr",
            "setup-code",
            "--url",
            nvr["url"].as_str().unwrap(),
        ])
        .args(["--password-file", pw.to_str().unwrap(), "3", "7K3M-Q9TX"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let audit = get(&plain, &nvr, &token, "/audit");
    assert!(
        audit.to_string().contains("set the setup code of port 3"),
        "{audit}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_camkey"))
        .args(["nvr", "setup-code", "--url", nvr["url"].as_str().unwrap()])
        .args(["--password-file", pw.to_str().unwrap(), "9", "7K3M-Q9TX"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("port 9"));

    // Hold the first camera's reset button: it comes back uninitialized, and the NVR adopts
    // it again by itself, with a new password.
    let hw = first["hardware"].as_str().unwrap();
    let press = |pressed: bool| {
        let r = plain
            .post(format!("{hw}/button"))
            .json(&json!({"pressed": pressed}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    press(true);
    std::thread::sleep(Duration::from_millis(600));
    press(false);
    let end = Instant::now() + Duration::from_secs(90);
    loop {
        let audit = get(&plain, &nvr, &token, "/audit");
        let seen = audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "factory_reset_seen" && e["port"] == 1);
        if seen {
            break;
        }
        assert!(Instant::now() < end, "no re-adoption: {audit}");
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_channel(&plain, &nvr, &token, 1, "adopted again", |c| {
        c["state"] == "adopted"
    });
    let r = http
        .post(format!("{}/login", first["api"].as_str().unwrap()))
        .json(&json!({"username": creds["username"], "password": password}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "the old password died with the reset");

    // Powering the second camera off from the hardware API switches its PoE port off.
    let hw2 = on_nvr[1]["hardware"].as_str().unwrap();
    let r = plain
        .post(format!("{hw2}/power"))
        .json(&json!({"on": false}))
        .send()
        .unwrap();
    assert_eq!(r.json::<Value>().unwrap()["power"], false);
    wait_channel(&plain, &nvr, &token, 2, "offline", |c| {
        c["state"] == "offline"
    });
    assert_eq!(lab.stop(), 0);
}
