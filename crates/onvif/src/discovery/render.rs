//! Rendering the discovery messages camkey sends: ProbeMatches, Hello and Bye (camera)
//! and Probe (client). Text is built directly (every value is escaped); the shapes are
//! in docs/discovery.md.

use super::advert::Advert;
use super::{Soap, Wsd};

/// The types every camkey camera advertises, as rendered (prefixes declared on the
/// Envelope).
pub const TYPES_TEXT: &str = "dn:NetworkVideoTransmitter tds:Device";

/// `AppSequence`: the responder's restart counter and message counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppSequence {
    /// Goes up every time the responder starts (WS-Discovery §7).
    pub instance_id: u64,
    /// Goes up with every message sent in this instance.
    pub message_number: u64,
}

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    crate::xml::escape(s).into_owned()
}

fn head(soap: Soap, wsd: Wsd) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<s:Envelope xmlns:s=\"{}\" xmlns:a=\"{}\" xmlns:d=\"{}\" \
xmlns:dn=\"{}\" xmlns:tds=\"{}\"><s:Header>",
        soap.namespace(),
        wsd.addressing_ns(),
        wsd.ns(),
        super::NS_ONVIF_NETWORK,
        super::NS_ONVIF_DEVICE,
    )
}

fn header_fields(
    wsd: Wsd,
    message_id: &str,
    relates_to: Option<&str>,
    to: &str,
    action: &str,
    seq: Option<AppSequence>,
) -> String {
    let mut h = format!("<a:MessageID>{}</a:MessageID>", escape(message_id));
    if let Some(r) = relates_to {
        h.push_str(&format!("<a:RelatesTo>{}</a:RelatesTo>", escape(r)));
    }
    h.push_str(&format!(
        "<a:To>{}</a:To><a:Action>{}</a:Action>",
        escape(to),
        wsd.action(action)
    ));
    if let Some(s) = seq {
        h.push_str(&format!(
            "<d:AppSequence InstanceId=\"{}\" MessageNumber=\"{}\"/>",
            s.instance_id, s.message_number
        ));
    }
    h
}

fn advert_body(a: &Advert, with_xaddrs: bool) -> String {
    let mut b = format!(
        "<a:EndpointReference><a:Address>{}</a:Address></a:EndpointReference>",
        escape(&a.endpoint)
    );
    b.push_str(&format!("<d:Types>{TYPES_TEXT}</d:Types>"));
    b.push_str(&format!(
        "<d:Scopes>{}</d:Scopes>",
        escape(&a.scopes.join(" "))
    ));
    if with_xaddrs {
        b.push_str(&format!(
            "<d:XAddrs>{}</d:XAddrs>",
            escape(&a.xaddrs.join(" "))
        ));
    }
    b.push_str(&format!(
        "<d:MetadataVersion>{}</d:MetadataVersion>",
        a.metadata_version
    ));
    b
}

/// The answer to a probe with id `relates_to`, in the probe's SOAP and WS-Discovery
/// versions, sent back to its source.
pub fn probe_matches(
    a: &Advert,
    soap: Soap,
    wsd: Wsd,
    message_id: &str,
    relates_to: &str,
    seq: AppSequence,
) -> String {
    let mut m = head(soap, wsd);
    m.push_str(&header_fields(
        wsd,
        message_id,
        Some(relates_to),
        wsd.anonymous(),
        "ProbeMatches",
        Some(seq),
    ));
    m.push_str("</s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>");
    m.push_str(&advert_body(a, true));
    m.push_str("</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>");
    m
}

/// Hello: the camera announces itself (multicast, at start and when its scopes change).
pub fn hello(a: &Advert, message_id: &str, seq: AppSequence) -> String {
    let wsd = Wsd::V2005;
    let mut m = head(Soap::V12, wsd);
    m.push_str(&header_fields(
        wsd,
        message_id,
        None,
        wsd.multicast_to(),
        "Hello",
        Some(seq),
    ));
    m.push_str("</s:Header><s:Body><d:Hello>");
    m.push_str(&advert_body(a, true));
    m.push_str("</d:Hello></s:Body></s:Envelope>");
    m
}

/// Bye: the camera leaves (multicast, at a graceful stop). Only the endpoint is needed.
pub fn bye(a: &Advert, message_id: &str, seq: AppSequence) -> String {
    let wsd = Wsd::V2005;
    let mut m = head(Soap::V12, wsd);
    m.push_str(&header_fields(
        wsd,
        message_id,
        None,
        wsd.multicast_to(),
        "Bye",
        Some(seq),
    ));
    m.push_str(&format!(
        "</s:Header><s:Body><d:Bye><a:EndpointReference><a:Address>{}</a:Address>\
</a:EndpointReference></d:Bye></s:Body></s:Envelope>",
        escape(&a.endpoint)
    ));
    m
}

/// A Probe for ONVIF devices (`dn:NetworkVideoTransmitter`), with optional scopes
/// (RFC 3986 matching, the default rule).
pub fn probe(message_id: &str, scopes: &[String]) -> String {
    let wsd = Wsd::V2005;
    let mut m = head(Soap::V12, wsd);
    m.push_str(&header_fields(
        wsd,
        message_id,
        None,
        wsd.multicast_to(),
        "Probe",
        None,
    ));
    m.push_str("</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types>");
    if !scopes.is_empty() {
        m.push_str(&format!(
            "<d:Scopes>{}</d:Scopes>",
            escape(&scopes.join(" "))
        ));
    }
    m.push_str("</d:Probe></s:Body></s:Envelope>");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<&>\"'b"), "a&lt;&amp;&gt;&quot;&apos;b");
    }

    #[test]
    fn probe_matches_carries_relates_to_verbatim() {
        let a = Advert {
            endpoint: "urn:uuid:x".into(),
            scopes: vec!["onvif://a/b".into()],
            xaddrs: vec!["http://h/x".into(), "https://h/x".into()],
            metadata_version: 3,
        };
        let seq = AppSequence {
            instance_id: 7,
            message_number: 1,
        };
        let m = probe_matches(&a, Soap::V11, Wsd::V2005, "urn:uuid:m", "uuid:p<", seq);
        assert!(m.contains("<a:RelatesTo>uuid:p&lt;</a:RelatesTo>"));
        assert!(m.contains("xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\""));
        assert!(m.contains("<d:XAddrs>http://h/x https://h/x</d:XAddrs>"));
        assert!(m.contains("<d:MetadataVersion>3</d:MetadataVersion>"));
        assert!(m.contains("InstanceId=\"7\" MessageNumber=\"1\""));
    }
}

#[cfg(test)]
mod vector {
    use super::*;
    use crate::discovery::advert::CameraFacts;
    use crate::discovery::parse::parse_probe;

    const DOC: &str = include_str!("../../../../docs/discovery.md");

    /// The probe and answer of docs/discovery.md, byte for byte.
    #[test]
    fn the_documented_test_vector() {
        let probe = DOC
            .split("<!-- probe -->\n```xml\n")
            .nth(1)
            .and_then(|s| s.split("\n```").next())
            .expect("the probe in docs/discovery.md");
        let p = parse_probe(probe.as_bytes()).expect("the documented probe parses");
        let advert = Advert::for_camera(&CameraFacts {
            serial: "IPC4K15-000001".into(),
            model: "IPC4K15".into(),
            initialized: false,
            http_base: Some("http://10.77.0.1:8080".into()),
            https_base: "https://10.77.0.1:8443".into(),
        });
        assert!(p.matches(&advert));
        let seq = AppSequence {
            instance_id: 1_790_000_000,
            message_number: 1,
        };
        let answer = probe_matches(
            &advert,
            p.soap,
            p.wsd,
            "urn:uuid:00000000-0000-4000-8000-000000000001",
            &p.message_id,
            seq,
        );
        println!("{answer}");
        assert!(DOC.contains(&format!("<!-- answer -->\n```xml\n{answer}\n```")));
    }
}
