//! WS-Discovery datagrams from anyone on the LAN: the camera's Probe reader and the
//! client's ProbeMatches/Hello/Bye reader must never panic, and what parses must answer
//! and read back consistently.
#![no_main]

use camkey_onvif::discovery::parse::{Announcement, parse_announcement, parse_probe};
use camkey_onvif::discovery::render::{AppSequence, probe_matches};
use camkey_onvif::discovery::{Advert, CameraFacts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_announcement(data);
    if let Some(p) = parse_probe(data) {
        let advert = Advert::for_camera(&CameraFacts {
            serial: "IPC4K15-000001".into(),
            model: "IPC4K15".into(),
            initialized: false,
            http_base: Some("http://10.0.0.2".into()),
            https_base: "https://10.0.0.2".into(),
        });
        let _ = p.matches(&advert);
        // The answer to any probe that parses reads back with its id.
        let seq = AppSequence { instance_id: 1, message_number: 1 };
        let answer = probe_matches(&advert, p.soap, p.wsd, "urn:uuid:a", &p.message_id, seq);
        match parse_announcement(answer.as_bytes()) {
            Some(Announcement::ProbeMatches { relates_to, .. }) => assert_eq!(relates_to, p.message_id),
            other => panic!("answer does not read back: {other:?}"),
        }
    }
});
