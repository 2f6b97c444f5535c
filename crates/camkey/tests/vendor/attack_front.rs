//! The front end attacked as the hardening issue's attacker did, through the real
//! `camkey vendor serve` (and its signer): per-client limits behind a TLS proxy, and staff
//! sign-in lockout. Clients bind their own loopback source address (127.0.0.x); the
//! "proxy" is a client on 127.0.0.1 that writes `X-Forwarded-For` / `Forwarded` as a real
//! proxy appends them.

use super::*;
use std::net::IpAddr;

/// A client whose connections come from `from`.
fn client_from(from: [u8; 4]) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(IpAddr::from(from))
        .build()
        .unwrap()
}

/// `POST /api/reset-requests` from `c` with these extra headers.
async fn reset(
    v: &Vendor,
    c: &reqwest::Client,
    headers: &[(&str, &str)],
    challenge: &str,
) -> (u16, String) {
    let mut r = c
        .post(format!("http://{}/api/reset-requests", v.http))
        .json(&json!({ "challenge": challenge }));
    for (k, val) in headers {
        r = r.header(*k, *val);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let b: Value = r.json().await.unwrap();
    (status, b["outcome"].as_str().unwrap_or("").to_string())
}

/// A challenge that reads but is not genuine (another vendor's key): it reaches the
/// signer, so it counts against the requester's budget.
fn forged() -> String {
    let other = MasterKey::from_bytes(1, [7; 32]).device_key("IPC4K15-V0900");
    Challenge::new(
        &other,
        "IPC4K15-V0900",
        1,
        false,
        Recovery::Owner("x@evil.example".into()),
    )
    .seal(&other)
    .unwrap()
}

/// Sends readable requests until the budget is spent; how many were let through.
async fn spend(v: &Vendor, c: &reqwest::Client, headers: &[(&str, &str)], text: &str) -> usize {
    for i in 0..30 {
        let (st, outcome) = reset(v, c, headers, text).await;
        if st == 429 {
            assert_eq!(outcome, "limit");
            return i;
        }
        assert_eq!((st, outcome.as_str()), (400, "not_genuine"));
    }
    panic!("no limit after 30 requests");
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_forged_forwarded_for_cannot_spend_another_clients_budget() {
    let port = free_port();
    let (_mailbox, _smtp) = inbox(port).await;
    let v = Vendor::start_with(port, &["--trusted-proxy", "127.0.0.1"]);
    let proxy = client_from([127, 0, 0, 1]);
    let forged = forged();
    let per = camkey_reset::ResetLimits::default().per_requester as usize;

    // The attacker (198.51.100.66) writes the victim's address left-most; the proxy
    // appends the address it saw. The attacker spends only its own budget.
    let xff = [("x-forwarded-for", "203.0.113.7, 198.51.100.66")];
    assert_eq!(spend(&v, &proxy, &xff, &forged).await, per);
    // The victim, behind the same proxy, still has all of its own.
    let victim = [("x-forwarded-for", "203.0.113.7")];
    assert_eq!(spend(&v, &proxy, &victim, &forged).await, per);

    // Many clients behind the proxy: each has a budget of its own (not one shared by all).
    for host in 1..=6 {
        let addr = format!("198.51.100.{host}");
        assert_eq!(
            spend(&v, &proxy, &[("x-forwarded-for", &addr)], &forged).await,
            per
        );
    }
    // RFC 7239 likewise: right-most non-proxy entry, quoted IPv6 with a port; an IPv6
    // client counts by its /64, so changing the low bits buys nothing.
    let fwd =
        |last: &str| format!("for=203.0.113.9;proto=https, for=\"[2001:db8:0:1::{last}]:4711\"");
    for i in 0..per {
        let h = fwd(&format!("{:x}", i + 1));
        let (st, _) = reset(&v, &proxy, &[("forwarded", &h)], &forged).await;
        assert_eq!(st, 400);
    }
    let h = fwd("ffff");
    assert_eq!(
        reset(&v, &proxy, &[("forwarded", &h)], &forged).await.0,
        429
    );
    let other64 = "for=\"[2001:db8:0:2::1]\"";
    assert_eq!(
        reset(&v, &proxy, &[("forwarded", other64)], &forged)
            .await
            .0,
        400
    );

    // A peer that is no trusted proxy: its headers are ignored, it is counted as itself
    // whatever it claims.
    let direct = client_from([127, 0, 0, 2]);
    for i in 0..per {
        let claim = format!("192.0.2.{i}");
        let (st, _) = reset(&v, &direct, &[("x-forwarded-for", &claim)], &forged).await;
        assert_eq!(st, 400);
    }
    let (st, _) = reset(&v, &direct, &[("x-forwarded-for", "192.0.2.200")], &forged).await;
    assert_eq!(st, 429);
    // ...and its claims spent nobody else's budget.
    let fresh = [("x-forwarded-for", "192.0.2.1")];
    assert_eq!(reset(&v, &proxy, &fresh, &forged).await.0, 400);

    // Unreadable requests do not use up a budget: 50 of them, then all 10 genuine tries.
    let junk_sender = [("x-forwarded-for", "192.0.2.77")];
    for _ in 0..50 {
        let (st, outcome) = reset(&v, &proxy, &junk_sender, "CK1GARBAGE").await;
        assert_eq!((st, outcome.as_str()), (400, "unreadable"));
    }
    assert_eq!(spend(&v, &proxy, &junk_sender, &forged).await, per);
    // Malformed JSON bodies neither.
    let junk_body = [("x-forwarded-for", "192.0.2.78")];
    for _ in 0..20 {
        let r = proxy
            .post(format!("http://{}/api/reset-requests", v.http))
            .header("x-forwarded-for", "192.0.2.78")
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
    }
    assert_eq!(spend(&v, &proxy, &junk_body, &forged).await, per);
}

/// `POST /api/staff/login` from `c`: (status, Retry-After).
async fn staff_login(
    v: &Vendor,
    c: &reqwest::Client,
    user: &str,
    password: &str,
) -> (u16, Option<u64>) {
    let r = c
        .post(format!("http://{}/api/staff/login", v.http))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|h| h.to_str().ok()?.parse().ok());
    (r.status().as_u16(), retry)
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_wrong_passwords_from_many_sources_do_not_lock_the_agent_out() {
    let port = free_port();
    let (_mailbox, _smtp) = inbox(port).await;
    let v = Vendor::start(port);
    let db = v.dir.path().join("vendor.db");
    let (code, _, err) = run_with_stdin(
        &[
            "vendor",
            "staff",
            "add",
            "--db",
            db.to_str().unwrap(),
            "ann",
            "--role",
            "agent",
            "--password-stdin",
        ],
        "tulip-harbor-quietly-42\n",
    );
    assert_eq!(code, 0, "{err}");
    // Attackers on 127.0.0.2..=127.0.0.4 fail ann's password until refused.
    let mut failures = 0;
    for host in 2..=4u8 {
        let c = client_from([127, 0, 0, host]);
        for _ in 0..12 {
            match staff_login(&v, &c, "ann", "guess guess guess").await {
                (401, _) => failures += 1,
                (429, Some(_)) => break,
                other => panic!("{other:?}"),
            }
        }
    }
    // The first pair locked after 10; the name, slowed after 10 from anywhere, lets a
    // try through now and then (1 s, 2 s, ... apart).
    assert!((10..=16).contains(&failures), "{failures}");
    let first = client_from([127, 0, 0, 2]);
    let (st, retry) = staff_login(&v, &first, "ann", "tulip-harbor-quietly-42").await;
    assert_eq!(st, 429, "the attacker's own source stays locked");
    assert!(retry.unwrap() > 60);
    // The real agent, elsewhere, waits at most 30 s (here about a second) and gets in.
    let agent = client_from([127, 0, 0, 9]);
    let start = Instant::now();
    loop {
        match staff_login(&v, &agent, "ann", "tulip-harbor-quietly-42").await {
            (200, _) => break,
            (429, Some(secs)) => {
                assert!(secs <= 30, "{secs}");
                tokio::time::sleep(Duration::from_secs(secs)).await;
            }
            other => panic!("{other:?}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the agent never got in"
        );
    }
}
