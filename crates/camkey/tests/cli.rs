//! The `camkey` binary end to end: factory commands, exit codes, and the lab started,
//! stopped with SIGINT and resumed on the same directory.
#![allow(clippy::unwrap_used)]

#[path = "cli/attack_file_modes.rs"]
mod attack_file_modes;
#[path = "cli/install.rs"]
mod install;
#[path = "cli/lab_nvr.rs"]
mod lab_nvr;
#[path = "cli/lab_recover.rs"]
mod lab_recover;

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn camkey() -> Command {
    Command::new(env!("CARGO_BIN_EXE_camkey"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = camkey().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn keygen_and_provision_with_json_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let vendor = tmp.path().join("vendor");
    let v = vendor.to_str().unwrap();
    let (code, out, err) = run(&["--json", "keygen", "--dir", v, "--key-version", "3"]);
    assert_eq!(code, 0, "{err}");
    let k: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(k["key_version"], 3);
    assert_eq!(k["firmware_public_key"].as_str().unwrap().len(), 64);
    // A master key is never overwritten.
    let (code, _, err) = run(&["keygen", "--dir", v]);
    assert_eq!(code, 1);
    assert!(err.contains("refusing to replace a master key"), "{err}");

    let master = vendor.join("master.key");
    let cam = tmp.path().join("cam");
    let args = [
        "--json",
        "provision",
        "--master-key",
        master.to_str().unwrap(),
        "--model",
        "IPC4K15D",
        "--serial",
        "IPC4K15D-000042",
        "--dir",
        cam.to_str().unwrap(),
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let p: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (p["serial"].as_str(), p["key_version"].as_u64()),
        (Some("IPC4K15D-000042"), Some(3))
    );
    assert_eq!(p["setup_code"].as_str().unwrap().len(), 9);
    // Factory data is read-only, and written once.
    let mode = std::fs::metadata(cam.join("factory.json"))
        .unwrap()
        .permissions();
    assert!(mode.readonly());
    let (code, out, _) = run(&args);
    assert_eq!(code, 1);
    let e: Value = serde_json::from_str(&out).unwrap();
    assert!(
        e["error"].as_str().unwrap().contains("written once"),
        "{out}"
    );
    // Bad input: clear message, exit 1; bad usage: exit 2.
    let (code, _, err) = run(&[
        "provision",
        "--master-key",
        master.to_str().unwrap(),
        "--model",
        "NOPE",
        "--serial",
        "NOPE-1",
        "--dir",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown model"), "{err}");
    let (code, _, _) = run(&["provision", "--model", "IPC4K15"]);
    assert_eq!(code, 2);
}

struct Lab {
    child: Child,
}

impl Lab {
    // The child is waited for in `stop`, or killed and waited for in `Drop`.
    #[allow(clippy::zombie_processes)]
    fn start(dir: &Path, extra: &[&str]) -> (Lab, Value) {
        Lab::start_with(camkey(), dir, extra)
    }

    #[allow(clippy::zombie_processes)]
    fn start_with(mut camkey: Command, dir: &Path, extra: &[&str]) -> (Lab, Value) {
        let _ = std::fs::remove_file(dir.join("lab.json"));
        let child = camkey
            .args(["lab", "--dir", dir.to_str().unwrap(), "--time-scale", "60"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read_to_string(dir.join("lab.json"))
                && let Ok(v) = serde_json::from_str::<Value>(&text)
            {
                return (Lab { child }, v);
            }
            assert!(Instant::now() < end, "no lab.json within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(mut self) -> i32 {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("the lab did not stop on SIGINT");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(ca: &str) -> reqwest::blocking::Client {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut std::fs::read(ca).unwrap().as_slice()) {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::blocking::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
}

fn wait_device(c: &reqwest::blocking::Client, api: &str) -> Value {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = c.get(format!("{api}/device")).send()
            && r.status() == 200
        {
            return r.json().unwrap();
        }
        assert!(Instant::now() < end, "camera API never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every message in the lab inbox, oldest first.
fn messages(http: &reqwest::blocking::Client, inbox: &str) -> Vec<Value> {
    let msgs: Value = http
        .get(format!("{inbox}/api/messages"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    msgs.as_array().unwrap().clone()
}

/// Waits (up to 30 s) for a message in the lab inbox that `pred` accepts.
fn wait_for_mail(
    http: &reqwest::blocking::Client,
    inbox: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(m) = messages(http, inbox).into_iter().find(|m| pred(m)) {
            return m;
        }
        assert!(Instant::now() < end, "no {what} in the lab inbox");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The code on a mail's `Code:` line.
fn code_line(mail: &Value) -> Option<String> {
    mail["text"]
        .as_str()?
        .lines()
        .find_map(|l| l.strip_prefix("Code: "))
        .map(|c| c.trim().to_string())
}

/// Initializes a lab camera with the owner's recovery address.
fn init_camera(http: &reqwest::blocking::Client, api: &str) {
    let r = http
        .post(format!("{api}/init"))
        .json(
            &json!({"password": "tulip-harbor-quietly-42", "recovery_email": "owner@example.com"}),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn lab_runs_every_model_and_resumes_the_same_cameras_state_and_ports() {
    let tmp = tempfile::tempdir().unwrap();
    let (lab, m1) = Lab::start(tmp.path(), &[]);
    let cams = m1["cameras"].as_array().unwrap();
    let models: Vec<&str> = cams.iter().map(|c| c["model"].as_str().unwrap()).collect();
    for want in ["IPC4K15", "IPC4K15D", "IPC4T8", "IPC4PTZ25"] {
        assert!(models.contains(&want), "{models:?}");
    }
    for c in cams {
        assert!(c["url"].as_str().unwrap().starts_with("https://127.0.0.1:"));
        for k in ["hardware", "onvif", "serial_console", "poe_port"] {
            assert!(c.get(k).is_some(), "{k}");
        }
        let url = c["url"].as_str().unwrap();
        assert_eq!(
            c["onvif"].as_str().unwrap(),
            format!("{url}onvif/device_service")
        );
    }
    assert!(Path::new(m1["device_ca"].as_str().unwrap()).exists());
    let http = client(m1["device_ca"].as_str().unwrap());
    let api = cams[0]["api"].as_str().unwrap().to_string();
    assert_eq!(wait_device(&http, &api)["initialized"], false);
    init_camera(&http, &api);
    // Out of the box, a lab camera mails its recovery code to the lab's inbox.
    let r = http.get(format!("{api}/recovery")).send().unwrap();
    let methods: Value = r.json().unwrap();
    assert_eq!(methods["methods"], json!(["email", "qr"]));
    let r = http
        .post(format!("{api}/recovery/email"))
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let inbox = m1["inbox"]["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let mail = wait_for_mail(&http, &inbox, "recovery code", |_| true);
    assert_eq!(mail["to"], json!(["owner@example.com"]));
    assert!(code_line(&mail).is_some(), "{mail}");
    assert!(
        mail["from"]
            .as_str()
            .unwrap()
            .ends_with("@cameras.camkey.lab")
    );
    // The QR path through the lab's vendor: the camera's QR code opens the vendor's reset
    // page; the reset service asks the signer; the signer mails the code to the inbox.
    let qr: Value = http
        .get(format!("{api}/recovery/qr"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let reset_url = qr["url"].as_str().unwrap();
    let vendor = m1["vendor"]["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    assert!(
        reset_url.starts_with(&format!("{vendor}/reset#CK1")),
        "{reset_url}"
    );
    let page = http.get(format!("{vendor}/reset")).send().unwrap();
    assert_eq!(page.status(), 200);
    let r = http
        .post(format!("{vendor}/api/reset-requests"))
        .json(&json!({"challenge": reset_url}))
        .send()
        .unwrap();
    let answer: Value = r.json().unwrap();
    assert_eq!(answer["outcome"], "code_sent", "{answer}");
    let reset = m1["vendor"]["reset_address"].clone();
    let code = code_line(&wait_for_mail(&http, &inbox, "security code", |m| {
        m["from"] == reset
    }))
    .unwrap();
    let r = http
        .post(format!("{api}/recovery/qr"))
        .json(&json!({"code": code.trim(), "new_password": "marble-lantern-violin-88"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    let home = http
        .get(m1["url"].as_str().unwrap())
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(home.contains(cams[0]["serial"].as_str().unwrap()));
    assert_eq!(lab.stop(), 0);

    let (lab, m2) = Lab::start(tmp.path(), &["--cameras", "1"]);
    let cams2 = m2["cameras"].as_array().unwrap();
    assert_eq!(cams2.len(), cams.len() + 1, "--cameras adds to the set");
    for (a, b) in cams.iter().zip(cams2) {
        for k in ["serial", "url", "api", "setup_code"] {
            assert_eq!(a[k], b[k], "{k} changed on resume");
        }
    }
    assert_eq!(m1["url"], m2["url"]);
    assert_eq!(
        wait_device(&http, &api)["initialized"],
        true,
        "state survived the restart"
    );
    let r = http
        .post(format!("{api}/login"))
        .json(&json!({"username": "admin", "password": "marble-lantern-violin-88"}))
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the recovered password survived the restart"
    );
    // The lab's support-desk account: in lab.json, the same after a restart, and it signs in.
    let staff = &m2["vendor"]["staff"];
    assert_eq!(staff["username"], "agent");
    assert_eq!(
        staff, &m1["vendor"]["staff"],
        "the staff account changed on resume"
    );
    let r = http
        .post(format!("{vendor}/api/staff/login"))
        .json(&json!({"username": staff["username"], "password": staff["password"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "the lab's staff account signs in");
    assert_eq!(lab.stop(), 0);
    let sock = tmp.path().join("vendor/signer.sock");
    assert!(!sock.exists(), "the signer process stopped with the lab");
}

#[test]
fn lab_refuses_bad_options_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    let (code, _, err) = run(&["lab", "--dir", d, "--relay", "mail.example:25"]);
    assert_eq!(code, 1);
    assert!(err.contains("smtp://HOST:PORT"), "{err}");
    let (code, _, err) = run(&["lab", "--dir", d, "--time-scale", "0"]);
    assert_eq!(code, 1);
    assert!(err.contains("--time-scale"), "{err}");
    let (code, _, _) = run(&["lab", "--dir", d, "--bind", "not-an-ip"]);
    assert_eq!(code, 2);
}

#[test]
fn lab_reset_by_mail_to_the_automated_address() {
    let tmp = tempfile::tempdir().unwrap();
    let (lab, m) = Lab::start(tmp.path(), &[]);
    let http = client(m["device_ca"].as_str().unwrap());
    let cam = m["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["model"] == "IPC4K15D")
        .unwrap()
        .clone();
    let api = cam["api"].as_str().unwrap();
    wait_device(&http, api);
    init_camera(&http, api);
    let qr: Value = http
        .get(format!("{api}/recovery/qr"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let url = qr["url"].as_str().unwrap();
    // The owner mails the link, as a mail client would: quoted and wrapped.
    let wrapped: String = url
        .as_bytes()
        .chunks(40)
        .map(|c| format!("> {}\n", String::from_utf8_lossy(c)))
        .collect();
    let inbox = m["inbox"]["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let reset = m["vendor"]["reset_address"].as_str().unwrap();
    let r = http
        .post(format!("{inbox}/compose"))
        .form(&[
            ("from", "someone@example.org"),
            ("to", reset),
            ("subject", "please reset"),
            ("body", &format!("Hello,\n\n{wrapped}\nThanks")),
        ])
        .send()
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    // The code goes to the camera's owner; the requester gets the fixed text, no code.
    let code_mail = wait_for_mail(&http, &inbox, "security code", |x| {
        x["to"] == json!(["owner@example.com"]) && x["from"] == json!(reset)
    });
    let reply = wait_for_mail(&http, &inbox, "reply", |x| {
        x["to"] == json!(["someone@example.org"])
    });
    let code = code_line(&code_mail).unwrap();
    let reply_text = reply["text"].as_str().unwrap();
    assert!(
        reply_text.contains("o***@***") && !reply_text.contains(&code),
        "{reply_text}"
    );
    assert!(
        !reply_text.contains("CK1"),
        "the reply never echoes the mail"
    );
    // Nothing for the reset address stayed in the inbox: it went on to the vendor.
    assert!(
        !messages(&http, &inbox)
            .iter()
            .any(|x| x["to"] == json!([reset]))
    );
    let r = http
        .post(format!("{api}/recovery/qr"))
        .json(&json!({"code": code, "new_password": "marble-lantern-violin-88"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    assert_eq!(lab.stop(), 0);
}

/// The simulated hardware's state word.
fn hw_state(http: &reqwest::blocking::Client, hw: &str) -> String {
    let v: Value = http.get(hw).send().unwrap().json().unwrap();
    v["state"].as_str().unwrap().to_string()
}

/// Waits (up to 30 s) until the hardware reports `state`; the states seen on the way.
fn wait_hw(http: &reqwest::blocking::Client, hw: &str, state: &str) -> Vec<String> {
    let end = Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let s = hw_state(http, hw);
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        if s == state {
            return seen;
        }
        assert!(Instant::now() < end, "never {state}: saw {seen:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn hw_post(http: &reqwest::blocking::Client, url: &str, body: Value) -> (u16, Value) {
    let r = http.post(url).json(&body).send().unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

#[test]
fn lab_hardware_boots_power_cycles_and_resets_by_button() {
    let tmp = tempfile::tempdir().unwrap();
    let (lab, m) = Lab::start(tmp.path(), &[]);
    let http = client(m["device_ca"].as_str().unwrap());
    let cams = m["cameras"].as_array().unwrap();
    let cam = &cams[0];
    assert_eq!(cam["model"], "IPC4K15");
    let hw = cam["hardware"].as_str().unwrap();
    let api = cam["api"].as_str().unwrap();
    // Booting first (3 minutes / 60), with the web page and API down, then running.
    let v: Value = http.get(hw).send().unwrap().json().unwrap();
    assert_eq!(v["power"], true);
    assert_eq!(v["state"], "booting", "{v}");
    assert!(http.get(format!("{api}/device")).send().is_err());
    wait_hw(&http, hw, "running");
    let dev = wait_device(&http, api);
    assert_eq!(dev["reset_button"]["present"], true);
    init_camera(&http, api);

    // Models without a button: 404. Bad requests: a clear error.
    let turret = cams.iter().find(|c| c["model"] == "IPC4T8").unwrap();
    let (st, body) = hw_post(
        &http,
        &format!("{}/button", turret["hardware"].as_str().unwrap()),
        json!({"pressed": true}),
    );
    assert_eq!(st, 404);
    assert_eq!(body["error"]["code"], "no_button");
    let (st, body) = hw_post(&http, &format!("{hw}/button"), json!({"pressed": "yes"}));
    assert_eq!(st, 400, "{body}");
    assert!(body["error"]["message"].as_str().is_some());
    let r = http.post(format!("{hw}/power")).body("on").send().unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        hw_state(&http, hw),
        "running",
        "bad requests changed nothing"
    );

    // Power cycle: off means nothing answers; on means a boot; the flash survives.
    let (st, v) = hw_post(&http, &format!("{hw}/power"), json!({"on": false}));
    assert_eq!(st, 200);
    assert_eq!(v["power"], false);
    wait_hw(&http, hw, "off");
    assert!(http.get(format!("{api}/device")).send().is_err());
    hw_post(&http, &format!("{hw}/power"), json!({"on": true}));
    let seen = wait_hw(&http, hw, "running");
    assert!(seen.contains(&"booting".to_string()), "{seen:?}");
    assert_eq!(wait_device(&http, api)["initialized"], true);

    // A short press does nothing; a hold of the model's time (15 s / 60) resets.
    hw_post(&http, &format!("{hw}/button"), json!({"pressed": true}));
    std::thread::sleep(Duration::from_millis(60));
    hw_post(&http, &format!("{hw}/button"), json!({"pressed": false}));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(hw_state(&http, hw), "running");
    assert_eq!(wait_device(&http, api)["initialized"], true);
    hw_post(&http, &format!("{hw}/button"), json!({"pressed": true}));
    let seen = wait_hw(&http, hw, "booting");
    hw_post(&http, &format!("{hw}/button"), json!({"pressed": false}));
    assert!(
        seen.contains(&"resetting".to_string()) || seen.last() == Some(&"booting".to_string()),
        "{seen:?}"
    );
    wait_hw(&http, hw, "running");
    assert_eq!(wait_device(&http, api)["initialized"], false);
    // The reset's audit entry survives: the new owner sees it.
    init_camera(&http, api);
    let token: Value = http
        .post(format!("{api}/login"))
        .json(&json!({"username": "admin", "password": "tulip-harbor-quietly-42"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let audit: Value = http
        .get(format!("{api}/audit"))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .unwrap()
        .json()
        .unwrap();
    let text = audit.to_string();
    assert!(text.contains("factory reset by button at "), "{text}");
    assert_eq!(lab.stop(), 0);
}

#[test]
fn camera_refuses_a_missing_button_chip_and_damaged_state_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let keys = t.join("keys");
    assert_eq!(run(&["keygen", "--dir", keys.to_str().unwrap()]).0, 0);
    let master = keys.join("master.key");
    let provision = |model: &str, dir: &str| {
        let (code, _, err) = run(&[
            "provision",
            "--master-key",
            master.to_str().unwrap(),
            "--model",
            model,
            "--serial",
            &format!("{model}-C0001"),
            "--dir",
            t.join(dir).to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
    };
    provision("IPC4K15", "bullet");
    provision("IPC4T8", "turret");
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string()
    };
    let camera = |factory: &str, data: &str, extra: &[&str]| {
        let https = port();
        let mut args = vec![
            "camera",
            "--factory",
            factory,
            "--data",
            data,
            "--https",
            &https,
            "--http",
            "none",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let bullet = t.join("bullet");
    let turret = t.join("turret");
    let flash = t.join("flash");
    let (code, _, err) = camera(
        bullet.to_str().unwrap(),
        flash.to_str().unwrap(),
        &["--button-chip", "/dev/gpiochip-none", "--button-line", "3"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("/dev/gpiochip-none line 3"), "{err}");
    let (code, _, err) = camera(
        turret.to_str().unwrap(),
        flash.to_str().unwrap(),
        &["--button-chip", "/dev/gpiochip0", "--button-line", "3"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("has no reset button"), "{err}");
    let (code, _, _) = camera(
        bullet.to_str().unwrap(),
        flash.to_str().unwrap(),
        &["--button-line", "3"],
    );
    assert_eq!(code, 2, "a line without a chip is bad usage");
    // A damaged state file: the camera says so and exits instead of staying dark.
    std::fs::create_dir_all(&flash).unwrap();
    std::fs::write(flash.join("state.json"), b"{\"version\": 1, \"garbage\"").unwrap();
    let (code, _, err) = camera(bullet.to_str().unwrap(), flash.to_str().unwrap(), &[]);
    assert_eq!(code, 1);
    assert!(err.contains("could not start"), "{err}");
}

/// The hardware API powers cameras off and holds their buttons: it listens on loopback
/// only, whatever `--bind` says (docs/security.md, attack 12).
#[test]
fn attack_lab_hardware_api_is_loopback_only_whatever_bind_says() {
    let tmp = tempfile::tempdir().unwrap();
    let (lab, m) = Lab::start(tmp.path(), &["--bind", "127.0.0.2"]);
    assert!(m["url"].as_str().unwrap().starts_with("http://127.0.0.2:"));
    let http = client(m["device_ca"].as_str().unwrap());
    for c in m["cameras"].as_array().unwrap() {
        assert!(c["url"].as_str().unwrap().starts_with("https://127.0.0.2:"));
        let hw = c["hardware"].as_str().unwrap();
        assert!(hw.starts_with("http://127.0.0.1:"), "{hw}");
        let port: u16 = hw.rsplit(':').next().unwrap().parse().unwrap();
        // Nothing answers on the lab's bind address at that port...
        assert!(std::net::TcpStream::connect(("127.0.0.2", port)).is_err());
        // ...and on loopback the API does.
        let v: Value = http.get(hw).send().unwrap().json().unwrap();
        assert_eq!(v["power"], true, "{v}");
    }
    assert_eq!(lab.stop(), 0);
}
