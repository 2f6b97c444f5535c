//! Reading discovery messages: Probe (the camera) and ProbeMatches, Hello and Bye (the
//! client). Elements are matched by full QName (namespace and local name), never by
//! prefix; type QNames in `Types` are resolved with the namespace declarations in scope
//! of the `Types` element (on the Envelope, the Probe, or `Types` itself). Anything
//! malformed, unexpected or over the XML bounds gives `None`.

use super::advert::Advert;
use super::scopes::{MatchBy, all_match};
use super::{NS_ONVIF_DEVICE, NS_ONVIF_NETWORK, Soap, Wsd};
use crate::ns;
use crate::soap;
use crate::xml::{Element, Limits};

/// A probe as the camera reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// SOAP version (the answer uses the same).
    pub soap: Soap,
    /// WS-Discovery version (the answer uses the same).
    pub wsd: Wsd,
    /// `MessageID`, verbatim (may be `uuid:…` without `urn:`).
    pub message_id: String,
    /// Requested types as (namespace, local name).
    pub types: Vec<(String, String)>,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// How scopes are compared.
    pub match_by: MatchBy,
}

/// The types a camkey camera is.
pub const CAMERA_TYPES: [(&str, &str); 2] = [
    (NS_ONVIF_DEVICE, "Device"),
    (NS_ONVIF_NETWORK, "NetworkVideoTransmitter"),
];

impl Probe {
    /// Whether a camera with this advert answers: every requested type is one of
    /// [`CAMERA_TYPES`] (none requested: any) and every scope matches.
    pub fn matches(&self, advert: &Advert) -> bool {
        self.types
            .iter()
            .all(|(ns, local)| CAMERA_TYPES.iter().any(|(n, l)| n == ns && l == local))
            && all_match(self.match_by, &self.scopes, &advert.scopes)
    }
}

/// One advertised endpoint in a ProbeMatches or Hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Endpoint address.
    pub endpoint: String,
    /// Types as (namespace, local name).
    pub types: Vec<(String, String)>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// XAddrs.
    pub xaddrs: Vec<String>,
    /// Metadata version (0 when absent).
    pub metadata_version: u32,
}

/// A message the client reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// Answers to the probe whose id is `relates_to`.
    ProbeMatches {
        /// The probe's `MessageID`.
        relates_to: String,
        /// The endpoints.
        matches: Vec<Match>,
    },
    /// A device arrived or changed.
    Hello(Match),
    /// A device left (its endpoint address).
    Bye(String),
}

/// Types one probe may ask for, at most.
pub const MAX_TYPES: usize = 16;
/// Scopes one probe may ask for, or one answer may carry, at most.
pub const MAX_SCOPES: usize = 64;
/// XAddrs one answer may carry, at most.
pub const MAX_XADDRS: usize = 16;
/// Endpoints one ProbeMatches may carry, at most.
pub const MAX_MATCHES: usize = 64;
/// Longest message id or endpoint address accepted.
pub const MAX_ID: usize = 256;

/// The XML bounds discovery messages are read with: tighter than SOAP calls' (a probe
/// is a handful of elements a few levels deep).
pub fn limits() -> Limits {
    Limits {
        max_size: 32 * 1024,
        max_depth: 12,
        max_elements: 512,
        max_attributes: 32,
        max_text: 8 * 1024,
        max_name: 256,
        max_namespaces: 32,
    }
}

/// The first header block `local` in either WS-Addressing namespace, trimmed.
fn addressing<'a>(header: &'a Element, local: &str) -> Option<&'a str> {
    header
        .children
        .iter()
        .find(|c| c.local == local && (c.ns == ns::WSA || c.ns == ns::WSA10))
        .map(Element::text)
}

fn id(s: &str) -> Option<String> {
    (!s.is_empty() && s.len() <= MAX_ID && !s.contains(char::is_whitespace)).then(|| s.to_string())
}

fn list(text: &str, max: usize) -> Option<Vec<String>> {
    let v: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    (v.len() <= max).then_some(v)
}

fn types(parent: &Element, wsd: Wsd) -> Option<Vec<(String, String)>> {
    let Some(t) = parent.child(wsd.ns(), "Types") else {
        return Some(Vec::new());
    };
    let names = list(t.text(), MAX_TYPES)?;
    names.iter().map(|q| t.resolve_qname(q)).collect()
}

/// Reads a Probe (`None`: not a well-formed probe).
pub fn parse_probe(bytes: &[u8]) -> Option<Probe> {
    let env = soap::parse(bytes, &limits()).ok()?;
    let body = &env.body;
    let wsd = Wsd::from_ns(&body.ns)?;
    if body.local != "Probe" {
        return None;
    }
    let header = env.header.as_ref()?;
    if let Some(action) = addressing(header, "Action")
        && action != wsd.action("Probe")
    {
        return None;
    }
    let message_id = id(addressing(header, "MessageID")?)?;
    let types = types(body, wsd)?;
    let (scopes, match_by) = match body.child(wsd.ns(), "Scopes") {
        Some(s) => (
            list(s.text(), MAX_SCOPES)?,
            MatchBy::from_uri(s.attr(None, "MatchBy")),
        ),
        None => (Vec::new(), MatchBy::Rfc3986),
    };
    Some(Probe {
        soap: env.version,
        wsd,
        message_id,
        types,
        scopes,
        match_by,
    })
}

fn endpoint(parent: &Element) -> Option<String> {
    let epr = parent
        .children
        .iter()
        .find(|c| c.local == "EndpointReference" && (c.ns == ns::WSA || c.ns == ns::WSA10))?;
    id(addressing(epr, "Address")?)
}

fn one_match(m: &Element, wsd: Wsd) -> Option<Match> {
    let text = |local| m.child_text(wsd.ns(), local).unwrap_or("");
    Some(Match {
        endpoint: endpoint(m)?,
        types: types(m, wsd)?,
        scopes: list(text("Scopes"), MAX_SCOPES)?,
        xaddrs: list(text("XAddrs"), MAX_XADDRS)?,
        metadata_version: text("MetadataVersion").parse().unwrap_or(0),
    })
}

/// Reads a ProbeMatches, Hello or Bye (`None`: anything else or malformed).
pub fn parse_announcement(bytes: &[u8]) -> Option<Announcement> {
    let env = soap::parse(bytes, &limits()).ok()?;
    let body = &env.body;
    let wsd = Wsd::from_ns(&body.ns)?;
    match body.local.as_str() {
        "ProbeMatches" => {
            let relates_to = id(addressing(env.header.as_ref()?, "RelatesTo")?)?;
            if body.children.len() > MAX_MATCHES {
                return None;
            }
            let matches = body
                .children_named(wsd.ns(), "ProbeMatch")
                .map(|m| one_match(m, wsd))
                .collect::<Option<Vec<_>>>()?;
            Some(Announcement::ProbeMatches {
                relates_to,
                matches,
            })
        }
        "Hello" => Some(Announcement::Hello(one_match(body, wsd)?)),
        "Bye" => Some(Announcement::Bye(endpoint(body)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::advert::{Advert, CameraFacts};

    const WSD_PY: &str = r#"<?xml version="1.0" ?>
<s:Envelope xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tpSEZdmWPW="http://www.onvif.org/ver10/network/wsdl">
	<s:Header>
		<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>
		<a:MessageID>urn:uuid:bc5273d8-d238-4806-bde9-b47ed4794aa5</a:MessageID>
		<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>
	</s:Header>
	<s:Body>
		<d:Probe>
			<d:Types>tpSEZdmWPW:NetworkVideoTransmitter</d:Types>
			<d:Scopes>onvif://www.onvif.org/Profile/Streaming</d:Scopes>
		</d:Probe>
	</s:Body>
</s:Envelope>
"#;

    /// ONVIF Device Manager: default namespaces, `tds` declared on the Envelope, a
    /// `uuid:` message id, empty Scopes.
    const ODM: &str = r#"<?xml version="1.0" encoding="utf-8"?><Envelope xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns="http://www.w3.org/2003/05/soap-envelope"><Header><wsa:MessageID xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">uuid:84ede3de-7dec-11d0-c360-f01234567890</wsa:MessageID><wsa:To xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To><wsa:Action xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action></Header><Body><Probe xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="http://schemas.xmlsoap.org/ws/2005/04/discovery"><Types>tds:Device</Types><Scopes /></Probe></Body></Envelope>"#;

    /// .NET WCF: the type's prefix declared on `Types` itself, inside an unprefixed Probe.
    const WCF: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action><a:MessageID>uuid:2f3c7e2a-1111-4a4a-9c9c-0123456789ab</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header><s:Body><Probe xmlns="http://schemas.xmlsoap.org/ws/2005/04/discovery"><d:Types xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dp0="http://www.onvif.org/ver10/network/wsdl">dp0:NetworkVideoTransmitter</d:Types><Scopes/></Probe></s:Body></s:Envelope>"#;

    /// gSOAP (ZoneMinder's SOAP 1.1 probe): prefixes declared on the Probe element.
    const GSOAP11: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"><SOAP-ENV:Header><wsa:MessageID>urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a</wsa:MessageID><wsa:To SOAP-ENV:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To><wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><wsdd:Probe xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:tdn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><wsdd:Types>tdn:NetworkVideoTransmitter tds:Device</wsdd:Types></wsdd:Probe></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

    /// WS-Discovery 1.1 (2009) with WS-Addressing 1.0, empty Types element.
    const V2009: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:d="http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01"><s:Header><a:Action>http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/Probe</a:Action><a:MessageID>urn:uuid:9d2e4c2c-0000-4000-8000-000000000009</a:MessageID><a:To>urn:docs-oasis-open-org:ws-dd:ns:discovery:2009:01</a:To></s:Header><s:Body><d:Probe><d:Types/></d:Probe></s:Body></s:Envelope>"#;

    fn probe_with(types: &str, scopes: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:x="http://www.onvif.org/ver10/device/wsdl"><s:Header><a:MessageID>uuid:1</a:MessageID><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action></s:Header><s:Body><d:Probe>{types}{scopes}</d:Probe></s:Body></s:Envelope>"#
        )
    }

    pub(crate) fn camera() -> Advert {
        Advert::for_camera(&CameraFacts {
            serial: "CK2-0001".into(),
            model: "CK-200".into(),
            initialized: false,
            http_base: Some("http://10.77.0.1:8080".into()),
            https_base: "https://10.77.0.1:8443".into(),
        })
    }

    #[test]
    fn real_probe_shapes_are_answered() {
        let cam = camera();
        for (name, text, soap, wsd, id, ntypes) in [
            (
                "WSDiscovery",
                WSD_PY,
                Soap::V12,
                Wsd::V2005,
                "urn:uuid:bc5273d8-d238-4806-bde9-b47ed4794aa5",
                1,
            ),
            (
                "ODM",
                ODM,
                Soap::V12,
                Wsd::V2005,
                "uuid:84ede3de-7dec-11d0-c360-f01234567890",
                1,
            ),
            (
                "WCF",
                WCF,
                Soap::V12,
                Wsd::V2005,
                "uuid:2f3c7e2a-1111-4a4a-9c9c-0123456789ab",
                1,
            ),
            (
                "gSOAP 1.1",
                GSOAP11,
                Soap::V11,
                Wsd::V2005,
                "urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a",
                2,
            ),
            (
                "2009",
                V2009,
                Soap::V12,
                Wsd::V2009,
                "urn:uuid:9d2e4c2c-0000-4000-8000-000000000009",
                0,
            ),
        ] {
            let p = parse_probe(text.as_bytes()).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(
                (p.soap, p.wsd, p.message_id.as_str()),
                (soap, wsd, id),
                "{name}"
            );
            assert_eq!(p.types.len(), ntypes, "{name}");
            assert!(p.matches(&cam), "{name}");
        }
    }

    #[test]
    fn types_match_by_namespace_not_prefix() {
        let cam = camera();
        let cases = [
            ("", true),
            ("<d:Types/>", true),
            ("<d:Types>  </d:Types>", true),
            ("<d:Types>x:Device</d:Types>", true),
            (
                "<d:Types xmlns:tds=\"urn:other\">tds:Device</d:Types>",
                false,
            ),
            ("<d:Types>x:NetworkVideoTransmitter</d:Types>", false),
            (
                "<d:Types xmlns:q=\"http://www.onvif.org/ver10/network/wsdl\">q:NetworkVideoTransmitter x:Device</d:Types>",
                true,
            ),
            ("<d:Types>x:Printer</d:Types>", false),
            ("<d:Types>Device</d:Types>", false),
        ];
        for (types, want) in cases {
            let p =
                parse_probe(probe_with(types, "").as_bytes()).unwrap_or_else(|| panic!("{types}"));
            assert_eq!(p.matches(&cam), want, "{types}");
        }
        // An undeclared prefix is a malformed probe: silence.
        assert!(parse_probe(probe_with("<d:Types>nope:Device</d:Types>", "").as_bytes()).is_none());
    }

    #[test]
    fn scope_rules_in_probes() {
        let cam = camera();
        let strcmp = "http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0";
        let rfc = "http://schemas.xmlsoap.org/ws/2005/04/discovery/rfc2396";
        let ldap = "http://schemas.xmlsoap.org/ws/2005/04/discovery/ldap";
        for (scopes, want) in [
            ("<d:Scopes>onvif://www.onvif.org/Profile/Streaming</d:Scopes>".to_string(), true),
            ("<d:Scopes>onvif://www.onvif.org/Profile</d:Scopes>".into(), true),
            ("<d:Scopes>onvif://www.onvif.org/Profile/</d:Scopes>".into(), true),
            ("<d:Scopes>onvif://www.onvif.org/profile</d:Scopes>".into(), false),
            ("<d:Scopes>onvif://www.onvif.org/Profile/G</d:Scopes>".into(), false),
            ("<d:Scopes>\n onvif://camkey/state/uninitialized\tonvif://www.onvif.org/hardware/CK-200 </d:Scopes>".into(), true),
            ("<d:Scopes>onvif://camkey/state/initialized</d:Scopes>".into(), false),
            (format!("<d:Scopes MatchBy=\"{strcmp}\">onvif://www.onvif.org/Profile</d:Scopes>"), false),
            (format!("<d:Scopes MatchBy=\"{strcmp}\">onvif://www.onvif.org/Profile/Streaming</d:Scopes>"), true),
            (format!("<d:Scopes MatchBy=\"{rfc}\">onvif://www.onvif.org/Profile</d:Scopes>"), true),
            (format!("<d:Scopes MatchBy=\"{ldap}\">onvif://www.onvif.org/Profile</d:Scopes>"), false),
            (format!("<d:Scopes MatchBy=\"{ldap}\"/>"), true),
        ] {
            let p = parse_probe(probe_with("", &scopes).as_bytes()).unwrap_or_else(|| panic!("{scopes}"));
            assert_eq!(p.matches(&cam), want, "{scopes}");
        }
    }

    #[test]
    fn not_a_probe_is_silence() {
        let hello = crate::discovery::render::hello(
            &camera(),
            "urn:uuid:h",
            crate::discovery::render::AppSequence {
                instance_id: 1,
                message_number: 1,
            },
        );
        let no_id = WSD_PY.replace(
            "<a:MessageID>urn:uuid:bc5273d8-d238-4806-bde9-b47ed4794aa5</a:MessageID>",
            "",
        );
        let spaced_id = WSD_PY.replace("urn:uuid:bc5273d8", "urn:uuid: bc5273d8");
        let wrong_action = WSD_PY.replace("discovery/Probe<", "discovery/Resolve<");
        let other_ns = WSD_PY.replace("ws/2005/04/discovery\"", "ws/2099/discovery\"");
        let doctype = format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{}", &WSD_PY[22..]);
        let long_id = WSD_PY.replace("bc5273d8", &"a".repeat(300));
        let too_many = probe_with(
            &format!("<d:Types>{}</d:Types>", "x:Device ".repeat(17)),
            "",
        );
        for (name, text) in [
            ("hello", hello.as_str()),
            ("no id", &no_id),
            ("spaced id", &spaced_id),
            ("action", &wrong_action),
            ("namespace", &other_ns),
            ("doctype", &doctype),
            ("long id", &long_id),
            ("too many types", &too_many),
            ("empty", ""),
            ("garbage", "\u{0}\u{1}<<<"),
            ("truncated", &WSD_PY[..WSD_PY.len() / 2]),
        ] {
            assert!(parse_probe(text.as_bytes()).is_none(), "{name}");
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert!(parse_probe(deep.as_bytes()).is_none());
        let in_probe = WSD_PY
            .replace("<d:Scopes>", &format!("{}<d:Scopes>", "<d:X>".repeat(20)))
            .replace(
                "</d:Scopes>",
                &format!("</d:Scopes>{}", "</d:X>".repeat(20)),
            );
        assert!(parse_probe(in_probe.as_bytes()).is_none());
    }

    #[test]
    fn answers_and_announcements_round_trip() {
        use crate::discovery::render::{self, AppSequence};
        let cam = camera();
        let seq = AppSequence {
            instance_id: 5,
            message_number: 2,
        };
        for soap in [Soap::V11, Soap::V12] {
            for wsd in [Wsd::V2005, Wsd::V2009] {
                let m = render::probe_matches(&cam, soap, wsd, "urn:uuid:m", "uuid:p", seq);
                let Some(Announcement::ProbeMatches {
                    relates_to,
                    matches,
                }) = parse_announcement(m.as_bytes())
                else {
                    panic!("{soap:?} {wsd:?}");
                };
                assert_eq!(relates_to, "uuid:p");
                assert_eq!(matches.len(), 1);
                assert_eq!(matches[0].endpoint, cam.endpoint);
                assert_eq!(matches[0].scopes, cam.scopes);
                assert_eq!(matches[0].xaddrs, cam.xaddrs);
                assert_eq!(matches[0].metadata_version, 1);
                assert_eq!(matches[0].types.len(), 2);
            }
        }
        let h = render::hello(&cam, "urn:uuid:h", seq);
        assert!(
            matches!(parse_announcement(h.as_bytes()), Some(Announcement::Hello(m)) if m.endpoint == cam.endpoint)
        );
        let b = render::bye(&cam, "urn:uuid:b", seq);
        assert_eq!(
            parse_announcement(b.as_bytes()),
            Some(Announcement::Bye(cam.endpoint.clone()))
        );
        let p = render::probe(
            "urn:uuid:q",
            &["onvif://www.onvif.org/Profile/Streaming".into()],
        );
        let p = parse_probe(p.as_bytes()).unwrap();
        assert_eq!(p.message_id, "urn:uuid:q");
        assert!(p.matches(&cam));
        assert_eq!(parse_announcement(WSD_PY.as_bytes()), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = parse_probe(&b);
            let _ = parse_announcement(&b);
        }

        #[test]
        fn mutated_probes_never_panic(pos in 0usize..800, byte in proptest::num::u8::ANY, cut in 0usize..900) {
            let mut b = WSD_PY.as_bytes().to_vec();
            let i = pos % b.len();
            b[i] = byte;
            b.truncate(cut.max(1));
            let _ = parse_probe(&b);
            let _ = parse_announcement(&b);
        }
    }
}
