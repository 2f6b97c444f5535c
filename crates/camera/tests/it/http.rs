//! The HTTP surface under hostile input (S6, S9, S10): plain HTTP, cross-site requests,
//! malformed and oversized bodies. Each refusal is a clear 4xx and changes nothing.

use crate::common::*;
use serde_json::json;
use std::io::{Read, Write};

/// A raw plain-HTTP exchange (reqwest would normalize what we want to send).
fn plain(port: u16, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_redirects_to_the_cameras_own_address_only() {
    let cam = TestCamera::start("IPC4K15").await;
    let port = cam.http_port;
    let base = cam.base();
    let resp = tokio::task::spawn_blocking(move || {
        plain(
            port,
            "GET /login?x=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap();
    assert!(resp.starts_with("HTTP/1.1 301"), "{resp}");
    assert!(
        resp.contains(&format!("location: {base}/login?x=1")),
        "{resp}"
    );
    assert!(!resp.contains("evil.example"));
    // A scheme-relative path cannot turn into another host.
    let resp = tokio::task::spawn_blocking(move || {
        plain(
            port,
            "GET //evil.example/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap();
    assert!(resp.contains(&format!("location: {base}/\r\n")), "{resp}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_refuses_anything_that_carries_a_password() {
    let cam = TestCamera::start("IPC4K15").await;
    let port = cam.http_port;
    let body = r#"{"password":"tulip-harbor-quietly-42"}"#;
    let req = format!(
        "POST /api/init HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let resp = tokio::task::spawn_blocking(move || plain(port, &req))
        .await
        .unwrap();
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    assert!(resp.contains("https_required"));
    assert!(!cam.core().initialized());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_carries_security_headers() {
    let cam = TestCamera::start("IPC4K15").await;
    for path in ["/", "/setup", "/api/device", "/nope", "/api/audit"] {
        let r = cam
            .client()
            .get(format!("{}{path}", cam.base()))
            .send()
            .await
            .unwrap();
        let h = r.headers();
        for name in [
            "content-security-policy",
            "x-frame-options",
            "x-content-type-options",
            "referrer-policy",
            "strict-transport-security",
        ] {
            assert!(h.contains_key(name), "{path} lacks {name}");
        }
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_site_requests_are_refused() {
    let cam = TestCamera::start("IPC4K15").await;
    let c = cam.client();
    let r = c
        .post(cam.api("/init"))
        .header("origin", "https://evil.example")
        .json(&json!({"password": GOOD_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code(&body), "cross_site_request");
    // A form post from another site (the classic CSRF) with a session cookie.
    let r = c
        .post(format!("{}/setup", cam.base()))
        .header("sec-fetch-site", "cross-site")
        .form(&[("password", GOOD_PASSWORD), ("password2", GOOD_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(!cam.core().initialized());
    // The camera's own origin passes.
    let r = c
        .post(cam.api("/init"))
        .header("origin", cam.base())
        .json(&json!({"password": GOOD_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // After sign-in, a cookie-carrying POST without Origin is refused (browsers always send it).
    let token = cam.token().await;
    let r = c
        .post(cam.api("/password"))
        .header("cookie", format!("camkey_session={token}"))
        .json(&json!({"old_password": GOOD_PASSWORD, "new_password": OTHER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        cam.login(GOOD_PASSWORD).await.0,
        200,
        "the password did not change"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_get_clear_errors_and_change_nothing() {
    let cam = TestCamera::start("IPC4K15").await;
    let c = cam.client();
    let send = |body: Vec<u8>, ctype: &'static str| {
        let c = c.clone();
        let url = cam.api("/init");
        async move {
            let r = c
                .post(url)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            (st, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let cases: Vec<(Vec<u8>, &str, u16, &str)> = vec![
        (
            b"{not json".to_vec(),
            "application/json",
            400,
            "malformed_json",
        ),
        (
            b"{\"password\": \"\xff\xfe\xfd-tulip-harbor\"}".to_vec(),
            "application/json",
            400,
            "malformed_json",
        ),
        (
            br#"{"password": 12}"#.to_vec(),
            "application/json",
            422,
            "invalid_request",
        ),
        (
            br#"{"password": "tulip-harbor-quietly-42", "admin": true}"#.to_vec(),
            "application/json",
            422,
            "invalid_request",
        ),
        (
            br#"{"password": "tulip-harbor-quietly-42"}"#.to_vec(),
            "text/plain",
            415,
            "unsupported_media_type",
        ),
        (Vec::new(), "application/json", 400, "malformed_json"),
    ];
    for (body, ctype, status, want) in cases {
        let (st, b) = send(body, ctype).await;
        assert_eq!((st, code(&b)), (status, want), "{b}");
    }
    assert!(!cam.core().initialized());
    assert_eq!(cam.state_generation(), 0);
    // A 10 MB password, at init and at sign-in.
    let ten_mb = |fields: &str| {
        let body = format!(
            r#"{{{fields}"password":"{}"}}"#,
            "a".repeat(10 * 1024 * 1024)
        )
        .into_bytes();
        (body.len(), body)
    };
    let (len, body) = ten_mb("");
    let head = format!(
        "POST /api/init HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    );
    let resp = cam.raw_https(head, body).await;
    assert!(
        resp.starts_with("HTTP/1.1 413"),
        "{}",
        &resp[..resp.len().min(300)]
    );
    assert!(resp.contains("\"too_large\""));
    assert!(!cam.core().initialized());
    assert_eq!(cam.state_generation(), 0);
    cam.init().await;
    let gen_before = cam.state_generation();
    let (len, body) = ten_mb(r#""username":"admin","#);
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    );
    let resp = cam.raw_https(head, body).await;
    assert!(
        resp.starts_with("HTTP/1.1 413"),
        "{}",
        &resp[..resp.len().min(300)]
    );
    assert_eq!(cam.state_generation(), gen_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn html_pages_say_what_to_do_next() {
    let cam = TestCamera::start("IPC4K15").await;
    let c = cam.client();
    let r = c.get(format!("{}/audit", cam.base())).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Set up this camera first") && html.contains("href=\"/setup\""),
        "{html}"
    );
    let r = c.get(format!("{}/setup", cam.base())).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("Admin password") && html.contains("Recovery e-mail"));
    assert!(
        !html.contains(&cam.core().factory().setup_code),
        "the setup code is on the label only"
    );
}
