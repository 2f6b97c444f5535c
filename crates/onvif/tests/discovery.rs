//! WS-Discovery on loopback (multicast with IP_MULTICAST_IF = 127.0.0.1): responders and
//! the client, each test on a port of its own so tests (and labs) running beside it do
//! not hear each other.

#![allow(clippy::unwrap_used)]

use camkey_onvif::discovery::parse::{Announcement, parse_announcement};
use camkey_onvif::discovery::{
    Advert, CameraFacts, ProbeOptions, Responder, ResponderConfig, discover, net,
};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn free_port() -> u16 {
    let s = std::net::UdpSocket::bind((LO, 0)).unwrap();
    s.local_addr().unwrap().port()
}

fn advert(n: u32, initialized: bool) -> Advert {
    Advert::for_camera(&CameraFacts {
        serial: format!("CKT-{n:04}"),
        model: if n.is_multiple_of(2) {
            "CK-200"
        } else {
            "CK-100"
        }
        .into(),
        initialized,
        http_base: Some(format!("http://127.0.0.1:{}", 8000 + n)),
        https_base: format!("https://127.0.0.1:{}", 9000 + n),
    })
}

fn config(port: u16) -> ResponderConfig {
    let mut c = ResponderConfig::new(LO, 1);
    c.port = port;
    c.max_delay = Duration::from_millis(20);
    c
}

fn options(port: u16) -> ProbeOptions {
    let mut o = ProbeOptions::new(LO);
    o.port = port;
    o.timeout = Duration::from_millis(800);
    o
}

fn always() -> Arc<dyn Fn() -> bool + Send + Sync> {
    Arc::new(|| true)
}

#[tokio::test]
async fn the_client_finds_every_responder_and_filters_by_scope() {
    let port = free_port();
    let mut rs = Vec::new();
    for n in 0..5 {
        rs.push(
            Responder::start(config(port), advert(n, n == 4), always())
                .await
                .unwrap(),
        );
    }
    let found = discover(&options(port)).await.unwrap();
    let serials: Vec<_> = found
        .iter()
        .map(|f| f.info.serial.clone().unwrap())
        .collect();
    assert_eq!(
        serials,
        ["CKT-0000", "CKT-0001", "CKT-0002", "CKT-0003", "CKT-0004"]
    );
    let f = &found[0];
    assert_eq!(f.info.model.as_deref(), Some("CK-200"));
    assert_eq!(
        f.xaddrs,
        [
            "http://127.0.0.1:8000/onvif/device_service",
            "https://127.0.0.1:9000/onvif/device_service"
        ]
    );
    assert_eq!(f.from.ip(), std::net::IpAddr::V4(LO));

    let mut o = options(port);
    o.scopes = vec!["onvif://www.onvif.org/hardware/CK-100".into()];
    let odd: Vec<_> = discover(&o).await.unwrap();
    assert_eq!(odd.len(), 2);
    o.scopes = vec![
        "onvif://www.onvif.org/Profile/Streaming".into(),
        "onvif://camkey/state/initialized".into(),
    ];
    let init = discover(&o).await.unwrap();
    assert_eq!(init.len(), 1);
    assert_eq!(init[0].info.serial.as_deref(), Some("CKT-0004"));
    o.scopes = vec!["onvif://www.onvif.org/Profile/G".into()];
    assert!(discover(&o).await.unwrap().is_empty());
    for r in rs {
        r.stop().await;
    }
}

#[tokio::test]
async fn hello_at_start_bye_at_stop_nothing_at_power_cut() {
    let port = free_port();
    let group = Ipv4Addr::new(239, 255, 255, 250);
    let ear = net::multicast_socket(LO, group, port).unwrap();
    let mut buf = vec![0u8; 65536];
    let mut next = async || {
        let (n, _) = tokio::time::timeout(Duration::from_secs(2), ear.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        parse_announcement(&buf[..n])
    };
    let a = advert(7, false);
    let r = Responder::start(config(port), a.clone(), always())
        .await
        .unwrap();
    let Some(Announcement::Hello(h)) = next().await else {
        panic!("no Hello")
    };
    assert_eq!(h.endpoint, a.endpoint);
    assert_eq!(h.metadata_version, 1);

    // A change of state: a new Hello with a higher metadata version.
    r.refresh(advert(7, true)).await;
    let Some(Announcement::Hello(h)) = next().await else {
        panic!("no second Hello")
    };
    assert_eq!(h.metadata_version, 2);
    assert!(
        h.scopes
            .contains(&"onvif://camkey/state/initialized".to_string())
    );
    // Nothing changed: nothing sent.
    r.refresh(advert(7, true)).await;
    r.stop().await;
    assert_eq!(next().await, Some(Announcement::Bye(a.endpoint.clone())));

    let r = Responder::start(config(port), advert(8, false), always())
        .await
        .unwrap();
    assert!(matches!(next().await, Some(Announcement::Hello(_))));
    r.power_cut();
    assert_eq!(next().await, None, "a camera losing power says nothing");
}

#[tokio::test]
async fn non_discoverable_answers_only_directed_probes() {
    let port = free_port();
    let group = Ipv4Addr::new(239, 255, 255, 250);
    let ear = net::multicast_socket(LO, group, port).unwrap();
    let on = Arc::new(AtomicBool::new(false));
    let mode = on.clone();
    let r = Responder::start(
        config(port),
        advert(1, false),
        Arc::new(move || mode.load(Ordering::SeqCst)),
    )
    .await
    .unwrap();
    assert!(discover(&options(port)).await.unwrap().is_empty());
    // A directed (unicast) probe to the camera's own address is answered.
    let mut o = options(port);
    o.group = LO;
    assert_eq!(discover(&o).await.unwrap().len(), 1);

    // No Hello was sent while hidden; turning discovery on sends one.
    on.store(true, Ordering::SeqCst);
    r.refresh(advert(1, false)).await;
    // (The ear also heard the probes: skip them.)
    let mut buf = vec![0u8; 65536];
    let hello = loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(2), ear.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        if let Some(a) = parse_announcement(&buf[..n]) {
            break a;
        }
    };
    assert!(matches!(hello, Announcement::Hello(_)));
    assert_eq!(discover(&options(port)).await.unwrap().len(), 1);
    r.stop().await;
}

#[tokio::test]
async fn repeated_probes_are_answered_once_and_junk_is_ignored() {
    let port = free_port();
    let r = Responder::start(config(port), advert(3, false), always())
        .await
        .unwrap();
    let client = net::client_socket(LO).unwrap();
    let group = Ipv4Addr::new(239, 255, 255, 250);
    for junk in [
        &b"garbage"[..],
        &vec![b'<'; 70_000][..60_000],
        b"<?xml version=\"1.0\"?><a/>",
    ] {
        client.send_to(junk, (group, port)).await.unwrap();
    }
    let probe = camkey_onvif::discovery::render::probe("uuid:same", &[]);
    for _ in 0..3 {
        client
            .send_to(probe.as_bytes(), (group, port))
            .await
            .unwrap();
    }
    let mut buf = vec![0u8; 65536];
    let mut answers = 0;
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(500), client.recv_from(&mut buf)).await
    {
        match parse_announcement(&buf[..n]) {
            Some(Announcement::ProbeMatches { relates_to, .. }) => {
                assert_eq!(relates_to, "uuid:same");
                answers += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(answers, 1);
    r.stop().await;
}

#[tokio::test]
async fn one_source_gets_a_bounded_number_of_answers() {
    let port = free_port();
    let r = Responder::start(config(port), advert(4, false), always())
        .await
        .unwrap();
    let client = net::client_socket(LO).unwrap();
    let group = Ipv4Addr::new(239, 255, 255, 250);
    for i in 0..40 {
        let probe = camkey_onvif::discovery::render::probe(&format!("uuid:flood-{i}"), &[]);
        client
            .send_to(probe.as_bytes(), (group, port))
            .await
            .unwrap();
    }
    let mut buf = vec![0u8; 65536];
    let mut answers = 0;
    while let Ok(Ok(_)) =
        tokio::time::timeout(Duration::from_millis(500), client.recv_from(&mut buf)).await
    {
        answers += 1;
    }
    // The burst (8), plus what refills while the test runs (2 per second).
    assert!((8..=12).contains(&answers), "{answers} answers");
    r.stop().await;
}
