//! Real clients: Python's smtplib, swaks and Postfix's smtp-source, with and without STARTTLS, with pipelining.

use crate::common::{MAX_MESSAGE, REPLY_WAIT, config, start};
use std::time::Duration;
use tokio::process::Command;

/// Runs a command to completion (at most 30 s); its standard output.
async fn run(cmd: &mut Command) -> String {
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("client finished in time")
        .expect("client started");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

const PYTHON: &str = r#"
import smtplib, ssl, sys
port, mode = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP("127.0.0.1", port, local_hostname="python.test", timeout=10)
s.ehlo()
assert s.has_extn("pipelining") and s.has_extn("8bitmime") and s.has_extn("enhancedstatuscodes")
assert int(s.esmtp_features["size"]) == 65536, s.esmtp_features
if mode == "tls":
    assert s.has_extn("starttls")
    s.starttls(context=ssl._create_unverified_context())
    s.ehlo()
    assert not s.has_extn("starttls"), "STARTTLS offered again inside TLS"
if mode == "utf8":
    refused = s.sendmail("kamera@fabrik.test", ["besitzer@例え.test"],
        "Subject: grüße\r\n\r\nschöne grüße\r\n".encode(), mail_options=["SMTPUTF8"])
else:
    msg = b"Subject: reset\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\n\xc3\xa9 8bit\r\n"
    refused = s.sendmail("camera@vendor.test", ["owner@example.test", "nobody@example.test"],
        msg, mail_options=["BODY=8BITMIME"])
    assert list(refused) == ["nobody@example.test"], refused
s.quit()
print("sent", mode)
"#;

async fn python(mode: &str) {
    let (server, sink) = start(config()).await;
    let port = server.local_addr().port().to_string();
    let out = run(Command::new("python3").args(["-c", PYTHON, &port, mode])).await;
    assert!(out.contains(&format!("sent {mode}")), "{out}");
    let mails = sink.wait_for(1).await;
    let mail = &mails[0];
    assert_eq!(mail.envelope.helo, "python.test");
    assert_eq!(mail.envelope.tls, mode == "tls");
    assert!(mail.envelope.client.ip().is_loopback());
    if mode == "utf8" {
        assert_eq!(mail.envelope.mail_from, "kamera@fabrik.test");
        assert_eq!(mail.envelope.rcpt_to, ["besitzer@例え.test"]);
        assert_eq!(
            mail.message,
            "Subject: grüße\r\n\r\nschöne grüße\r\n".as_bytes()
        );
    } else {
        assert_eq!(mail.envelope.mail_from, "camera@vendor.test");
        assert_eq!(mail.envelope.rcpt_to, ["owner@example.test"]);
        assert_eq!(
            mail.message,
            b"Subject: reset\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\n\xc3\xa9 8bit\r\n"
        );
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn python_smtplib_plain() {
    python("plain").await;
}

#[tokio::test]
async fn python_smtplib_starttls() {
    python("tls").await;
}

#[tokio::test]
async fn python_smtplib_smtputf8() {
    python("utf8").await;
}

/// swaks with `extra` options; the transcript.
async fn swaks(extra: &[&str]) -> String {
    let (server, sink) = start(config()).await;
    let target = server.local_addr().to_string();
    let out = run(Command::new("swaks").args(
        [
            "--server",
            &target,
            "--helo",
            "swaks.test",
            "--from",
            "camera@vendor.test",
            "--to",
            "owner@example.test,second@example.test",
            "--header",
            "Subject: from swaks",
            "--body",
            "hello from swaks\n.leading dot\n",
            "--timeout",
            "10",
        ]
        .iter()
        .chain(extra),
    ))
    .await;
    let mails = sink.wait_for(1).await;
    let mail = &mails[0];
    assert_eq!(mail.envelope.helo, "swaks.test");
    assert_eq!(mail.envelope.mail_from, "camera@vendor.test");
    assert_eq!(
        mail.envelope.rcpt_to,
        ["owner@example.test", "second@example.test"]
    );
    assert_eq!(mail.envelope.tls, extra.contains(&"--tls"));
    let text = String::from_utf8_lossy(&mail.message);
    assert!(text.contains("Subject: from swaks\r\n"), "{text}");
    // swaks dot-stuffs the leading dot (we unstuff it) and adds blank lines at the end.
    assert!(
        text.contains("\r\n\r\nhello from swaks\r\n.leading dot\r\n"),
        "{text:?}"
    );
    tokio::time::timeout(REPLY_WAIT, server.shutdown())
        .await
        .unwrap()
        .unwrap();
    out
}

#[tokio::test]
async fn swaks_plain() {
    let out = swaks(&[]).await;
    assert!(out.contains("<-  250 2.0.0 message accepted"), "{out}");
}

#[tokio::test]
async fn swaks_starttls() {
    let out = swaks(&["--tls"]).await;
    assert!(out.contains("=== TLS started"), "{out}");
    assert!(out.contains("<~  250 2.0.0 message accepted"), "{out}");
}

#[tokio::test]
async fn swaks_pipelining_with_and_without_tls() {
    // swaks batches MAIL, RCPTs and DATA in one write when PIPELINING is offered.
    let out = swaks(&["--pipeline"]).await;
    assert!(out.contains("<-  250 2.0.0 message accepted"), "{out}");
    let out = swaks(&["--pipeline", "--tls"]).await;
    assert!(out.contains("<~  250 2.0.0 message accepted"), "{out}");
}

/// Postfix's `smtp-source` (its SMTP load generator), installed by `scripts/test`.
const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";

#[tokio::test]
async fn postfix_smtp_source_under_load_with_pipelining() {
    let (server, sink) = start(config()).await;
    let target = server.local_addr().to_string();
    // 8 parallel sessions, 100 mails of 4 KiB, several per session, with pipelining (its
    // default when offered), two recipients each.
    run(Command::new(SMTP_SOURCE).args([
        "-s",
        "8",
        "-m",
        "100",
        "-l",
        "4096",
        "-r",
        "2",
        "-M",
        "source.test",
        "-f",
        "load@source.test",
        "-t",
        "sink@camkey.test",
        "-S",
        "load",
        &target,
    ]))
    .await;
    let mails = sink.wait_for(100).await;
    assert_eq!(mails.len(), 100);
    for m in &mails {
        assert_eq!(m.envelope.mail_from, "load@source.test");
        assert_eq!(m.envelope.rcpt_to.len(), 2);
        let text = String::from_utf8_lossy(&m.message);
        assert!(text.contains("Subject: load\r\n"), "{text}");
        assert!(m.message.len() >= 4096, "{}", m.message.len());
    }
    // Messages over the announced SIZE are refused; smtp-source reports the failure.
    let mut big = Command::new(SMTP_SOURCE);
    big.args(["-m", "1", "-l", &(MAX_MESSAGE * 2).to_string(), &target])
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), big.output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success(), "an oversized mail was accepted");
    assert_eq!(sink.mailbox.len(), 100, "nothing more was delivered");
    server.shutdown().await.unwrap();
}
