//! Attacks on the signer's rules through the real `camkey vendor` processes (docs/security.md,
//! items 5, 10 and 11): what a LAN attacker who collected a camera's challenges, or a
//! previous buyer with the order, can make the vendor do.

use super::*;
use std::net::{IpAddr, Ipv4Addr};

/// A client whose requests come from `127.0.0.{n}`.
fn from(n: u8) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .build()
        .unwrap()
}

async fn reset_from(v: &Vendor, n: u8, text: &str) -> (u16, Value) {
    let r = from(n)
        .post(format!("http://{}/api/reset-requests", v.http))
        .json(&json!({ "challenge": text }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Challenge number `counter` of camera `serial`, as that camera seals it.
fn numbered(v: &Vendor, serial: &str, counter: u32, recovery: Recovery) -> (Challenge, String) {
    let key = v.master.device_key(serial);
    let c = Challenge::new(&key, serial, 1_790_000_000, false, recovery).with_counter(counter);
    let text = c.seal(&key).unwrap();
    (c, text)
}

/// Item 5: an attacker on the LAN collected eight of the camera's challenges over the
/// days (each "new QR code" it could make, each one it saw) and replays them to the reset
/// service from many addresses, oldest first so each is the newest when it arrives, then
/// all again. The owner's newest challenge still gets its code the same day; the old
/// ones, once two newer were seen, get nothing and count for nothing.
#[tokio::test(flavor = "multi_thread")]
async fn replayed_old_challenges_cannot_use_up_the_owners_codes() {
    let port = free_port();
    let (mailbox, _smtp) = inbox(port).await;
    let v = Vendor::start(port);
    let serial = "IPC4K15-V0300";
    let hoard: Vec<String> = (1..=8)
        .map(|n| numbered(&v, serial, n, owner()).1)
        .collect();
    let mut source = 10u8;
    for text in &hoard {
        source += 1;
        let (st, b) = reset_from(&v, source, text).await;
        assert_eq!((st, b["outcome"].as_str()), (200, Some("code_sent")), "{b}");
    }
    // Before the fix, the sixth had already used up the day's five codes.
    mailbox.wait_for(8, Duration::from_secs(30)).await.unwrap();
    for text in hoard.iter().rev().skip(2) {
        source += 1;
        let (st, b) = reset_from(&v, source, text).await;
        assert_eq!((st, b["outcome"].as_str()), (400, Some("too_old")), "{b}");
        assert!(b["message"].as_str().unwrap().contains("newer"), "{b}");
    }
    // The owner makes a new QR code and sends it: the code comes.
    let (c, newest) = numbered(&v, serial, 9, owner());
    let (st, b) = reset_from(&v, 200, &newest).await;
    assert_eq!((st, b["outcome"].as_str()), (200, Some("code_sent")), "{b}");
    let mails = mailbox.wait_for(9, Duration::from_secs(30)).await.unwrap();
    let last = mails.last().unwrap();
    assert_eq!(last.envelope.rcpt_to, vec!["owner@example.com"]);
    assert!(
        code::parse(&code_of(last)).unwrap().verify_mac(
            &v.master.device_key(serial),
            serial,
            &c.nonce
        ),
        "the owner's newest challenge got its code"
    );
    // Everything older than the two newest (9 and 8) is ignored from now on.
    for text in &hoard[..7] {
        source += 1;
        let (_, b) = reset_from(&v, source, text).await;
        assert_eq!(b["outcome"], "too_old", "{b}");
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(mailbox.len(), 9, "nothing more was mailed");
}

/// Item 10: the buyer on the order (Carol, ORD-1, V0100) sold the camera; its new owner
/// set their own recovery address. Carol copies the QR string off the LAN and asks the
/// support desk for a code: no case, no code, and the form tells what is left. A front end
/// that asks the signer directly is refused too. Item 11: the answers give the owner's
/// address as `o***@***`, nothing of its domain.
#[tokio::test(flavor = "multi_thread")]
async fn no_support_release_around_the_owners_own_address() {
    use camkey_signer::protocol::{ErrorCode, Request, Response};
    let port = free_port();
    let (mailbox, _smtp) = inbox(port).await;
    let v = Vendor::start(port);
    let (_, own) = numbered(
        &v,
        "IPC4K15-V0100",
        5,
        Recovery::Owner("new-owner@example.net".into()),
    );
    let form = |challenge: &str, kind: &str| {
        json!({"name": "Carol", "email": "carol@example.com", "order_number": "ORD-1",
            "serial": "IPC4K15-V0100", "kind": kind, "challenge": challenge})
    };
    let (st, b) = call(
        &v,
        reqwest::Method::POST,
        "/api/support-requests",
        None,
        Some(form(&own, "password_reset")),
    )
    .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (409, Some("own_address"))
    );
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("reset button") && msg.contains("compartment on the bottom"),
        "{msg}"
    );
    assert!(
        !msg.contains("new-owner") && !msg.contains("example.net"),
        "{msg}"
    );
    // The page says the same.
    let page = from(3)
        .post(format!("http://{}/support", v.http))
        .form(&[
            ("name", "Carol"),
            ("email", "carol@example.com"),
            ("order_number", "ORD-1"),
            ("kind", "password_reset"),
            ("challenge", own.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 409);
    let html = page.text().await.unwrap();
    assert!(html.contains("compartment on the bottom"), "{html}");
    // A model with no button (the turret): factory service is what is left.
    let (_, ptz) = numbered(
        &v,
        "IPC4T8-V0001",
        1,
        Recovery::Owner("new-owner@example.net".into()),
    );
    let (st, b) = call(
        &v,
        reqwest::Method::POST,
        "/api/support-requests",
        None,
        Some(form(&ptz, "password_reset")),
    )
    .await;
    assert_eq!(st, 409, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("factory service"),
        "{b}"
    );
    // A factory-service request with that challenge is still taken.
    let (st, b) = call(
        &v,
        reqwest::Method::POST,
        "/api/support-requests",
        None,
        Some(form(&ptz, "factory_service")),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    // A compromised front end asking the signer straight away: refused, typed.
    let signer = camkey_signer::SignerClient::new(v.sock());
    let r = signer
        .call(&Request::Release {
            challenge: own.clone(),
            order_number: "ORD-1".into(),
            case: "1".into(),
            agent: "mallory".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        r,
        Response::Error {
            code: ErrorCode::OwnerAddress
        }
    );
    // The owner's own way still works: the code goes to their address, the answer hides
    // it and says what is left if that mailbox is dead.
    let (st, b) = reset_from(&v, 4, &own).await;
    assert_eq!((st, b["hint"].as_str()), (200, Some("n***@***")), "{b}");
    let msg = b["message"].as_str().unwrap();
    assert!(
        msg.contains("reset button") && msg.contains("factory service"),
        "{msg}"
    );
    let mails = mailbox.wait_for(1, Duration::from_secs(20)).await.unwrap();
    assert_eq!(mails[0].envelope.rcpt_to, vec!["new-owner@example.net"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mailbox.len(), 1, "nothing went to the order's address");
}
