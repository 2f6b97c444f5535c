//! S4 end to end: per-source lock-out, cross-source delays, survival across power cycles,
//! all on the injected elapsed clock.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn five_wrong_passwords_lock_one_source_for_five_minutes_even_across_reboots() {
    let mut cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    for _ in 0..5 {
        assert_eq!(cam.login("wrong-password-guess").await.0, 401);
    }
    // Even the right password waits now, from this source.
    let r = cam
        .client()
        .post(cam.api("/login"))
        .json(&serde_json::json!({"username": "admin", "password": GOOD_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "300");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code(&body), "locked_out");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("5 minutes")
    );

    // Another host on the LAN is not locked out: the owner can still sign in.
    let other = cam.client_from("127.0.0.2");
    let r = other
        .post(cam.api("/login"))
        .json(&serde_json::json!({"username": "admin", "password": GOOD_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A power cycle lifts nothing (the lock is on flash, on the persisted elapsed clock).
    cam.power_cycle().await;
    assert_eq!(cam.login(GOOD_PASSWORD).await.0, 429);
    // Moving the wall clock lifts nothing either.
    cam.clock.set_wall(4_000_000_000_000);
    assert_eq!(cam.login(GOOD_PASSWORD).await.0, 429);
    cam.clock.advance(5 * 60_000);
    assert_eq!(cam.login(GOOD_PASSWORD).await.0, 200);

    let (_, audit) = cam.get("/audit", Some(&cam.token().await)).await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "locked_out")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_sources_get_growing_delays_never_a_permanent_lock() {
    let cam = TestCamera::start("IPC4K15").await;
    cam.init().await;
    for i in 0..10 {
        let c = cam.client_from(&format!("127.0.1.{}", i + 1));
        let r = c
            .post(cam.api("/login"))
            .json(&serde_json::json!({"username": "admin", "password": "wrong-password-guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let owner = cam.client_from("127.0.2.1");
    let try_login = || async {
        owner
            .post(cam.api("/login"))
            .json(&serde_json::json!({"username": "admin", "password": GOOD_PASSWORD}))
            .send()
            .await
            .unwrap()
    };
    let r = try_login().await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait <= 60, "a delay, not a lock: {wait}");
    cam.clock.advance(wait * 1000);
    assert_eq!(try_login().await.status(), 200);
}
