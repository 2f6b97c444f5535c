//! WS-Discovery from a real camera on loopback (multicast with IP_MULTICAST_IF =
//! 127.0.0.1, the standard port, so labs running beside the test may be heard too:
//! everything is told apart by the camera's endpoint address or serial).

use crate::common::*;
use camkey_onvif::discovery::parse::{Announcement, parse_announcement};
use camkey_onvif::discovery::{
    MULTICAST_V4, PORT, ProbeOptions, discover, endpoint_for_serial, net,
};
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::net::UdpSocket;

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A camera whose serial no other process's camera has (test runs may overlap on one
/// host, and all of them hear loopback multicast).
async fn unique_camera(model: &str, tag: &str) -> TestCamera {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let serial = format!("{model}-{tag}{}-{nanos}", std::process::id());
    TestCamera::start_serial(model, &serial, Default::default()).await
}

/// The next Hello or Bye of `endpoint` within a few seconds (others are skipped).
async fn next_for(ear: &UdpSocket, endpoint: &str) -> Option<Announcement> {
    let mut buf = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (n, _) = tokio::time::timeout_at(deadline, ear.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        match parse_announcement(&buf[..n]) {
            Some(Announcement::Hello(h)) if h.endpoint == endpoint => {
                return Some(Announcement::Hello(h));
            }
            Some(Announcement::Bye(e)) if e == endpoint => return Some(Announcement::Bye(e)),
            _ => {}
        }
    }
}

async fn find(serial: &str, extra: Option<&str>) -> Vec<camkey_onvif::discovery::Found> {
    let mut o = ProbeOptions::new(LO);
    o.timeout = Duration::from_secs(2);
    o.expect = Some(1);
    o.scopes = vec![format!("onvif://camkey/serial/{serial}")];
    o.scopes.extend(extra.map(str::to_string));
    discover(&o).await.unwrap()
}

#[tokio::test]
async fn a_camera_says_hello_answers_probes_follows_its_state_and_says_bye() {
    let ear = net::multicast_socket(LO, MULTICAST_V4, PORT).unwrap();
    let mut cam = unique_camera("IPC4K15D", "D").await;
    let serial = cam.core().factory().serial.clone();
    let endpoint = endpoint_for_serial(&serial);
    cam.discovery = Some(LO);
    cam.power_cycle().await;

    let Some(Announcement::Hello(h)) = next_for(&ear, &endpoint).await else {
        panic!("no Hello at start")
    };
    assert_eq!(h.metadata_version, 1);
    assert!(
        h.scopes
            .contains(&"onvif://camkey/state/uninitialized".to_string())
    );

    let found = find(&serial, None).await;
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(f.endpoint, endpoint);
    assert_eq!(f.info.model.as_deref(), Some("IPC4K15D"));
    assert_eq!(f.info.serial.as_deref(), Some(serial.as_str()));
    // The camera's own addresses (never a Host header), plain HTTP first.
    assert_eq!(
        f.xaddrs,
        [
            format!("http://127.0.0.1:{}/onvif/device_service", cam.http_port),
            format!("https://127.0.0.1:{}/onvif/device_service", cam.https_port),
        ]
    );
    assert!(
        find(&serial, Some("onvif://camkey/state/initialized"))
            .await
            .is_empty()
    );

    // Initialized: the scopes change, the metadata version goes up, a Hello goes out.
    cam.init().await;
    let Some(Announcement::Hello(h)) = next_for(&ear, &endpoint).await else {
        panic!("no Hello after initialization")
    };
    assert_eq!(h.metadata_version, 2);
    assert!(
        h.scopes
            .contains(&"onvif://camkey/state/initialized".to_string())
    );
    assert_eq!(
        find(&serial, Some("onvif://camkey/state/initialized"))
            .await
            .len(),
        1
    );

    // A graceful stop says Bye; the same camera comes back with the same address.
    cam.power_cycle().await;
    assert_eq!(
        next_for(&ear, &endpoint).await,
        Some(Announcement::Bye(endpoint.clone()))
    );
    assert!(matches!(
        next_for(&ear, &endpoint).await,
        Some(Announcement::Hello(_))
    ));

    // A power cut says nothing.
    cam.camera.take().unwrap().power_cut().await;
    assert_eq!(next_for(&ear, &endpoint).await, None);
    assert!(find(&serial, None).await.is_empty());
}

#[tokio::test]
async fn a_hidden_camera_says_bye_answers_no_multicast_probe_and_comes_back() {
    let ear = net::multicast_socket(LO, MULTICAST_V4, PORT).unwrap();
    let mut cam = unique_camera("IPC4PTZ25", "H").await;
    cam.init().await;
    let serial = cam.core().factory().serial.clone();
    let endpoint = endpoint_for_serial(&serial);
    cam.discovery = Some(LO);
    cam.power_cycle().await;
    assert!(matches!(
        next_for(&ear, &endpoint).await,
        Some(Announcement::Hello(_))
    ));
    let me: std::net::IpAddr = "127.0.0.1".parse().unwrap();

    cam.core().set_discoverable(false, "admin", me).unwrap();
    assert_eq!(
        next_for(&ear, &endpoint).await,
        Some(Announcement::Bye(endpoint.clone()))
    );
    assert!(find(&serial, None).await.is_empty());
    // Kept across a reboot: no Hello at start.
    cam.power_cycle().await;
    assert_eq!(next_for(&ear, &endpoint).await, None);

    cam.core().set_discoverable(true, "admin", me).unwrap();
    assert!(matches!(
        next_for(&ear, &endpoint).await,
        Some(Announcement::Hello(_))
    ));
    assert_eq!(find(&serial, None).await.len(), 1);
}
