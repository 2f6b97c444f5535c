//! SOAP envelopes: reading one request, writing responses and faults.
//!
//! [`parse`] reads a SOAP 1.1 or 1.2 envelope with [`crate::xml`]'s limits, telling the
//! version by the Envelope's namespace (never by a prefix), and hands back its header and
//! the single element of its Body. [`render`] writes an envelope with the prefixes of
//! [`crate::ns::DECLARED`] declared, so response bodies can use `tds:`, `trt:`, `tt:` and
//! the rest freely. [`Fault`] is an ONVIF fault (ONVIF Core 5.11: a SOAP code, a chain of
//! `ter:` subcodes, a reason) rendered for either version with the HTTP status that goes
//! with it.

use thiserror::Error;

use crate::ns;
use crate::xml::{self, Element, Limits, XmlError, escape};

/// The SOAP version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoapVersion {
    /// SOAP 1.1 (`text/xml`).
    V11,
    /// SOAP 1.2 (`application/soap+xml`), what ONVIF specifies.
    V12,
}

impl SoapVersion {
    /// The envelope namespace of this version.
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::V11 => ns::SOAP11,
            SoapVersion::V12 => ns::SOAP12,
        }
    }

    /// The version whose envelope namespace is `uri`.
    pub fn from_namespace(uri: &str) -> Option<Self> {
        match uri {
            ns::SOAP11 => Some(SoapVersion::V11),
            ns::SOAP12 => Some(SoapVersion::V12),
            _ => None,
        }
    }

    /// A best guess from a request's `Content-Type`, for answering a request that could
    /// not be parsed: `text/xml` is 1.1, anything else 1.2.
    pub fn from_content_type(value: &str) -> Self {
        let media = value.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("text/xml") {
            SoapVersion::V11
        } else {
            SoapVersion::V12
        }
    }
}

/// The `Content-Type` of a message in `version`.
pub fn content_type(version: SoapVersion) -> &'static str {
    match version {
        SoapVersion::V11 => "text/xml; charset=utf-8",
        SoapVersion::V12 => "application/soap+xml; charset=utf-8",
    }
}

/// A parsed request envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Its SOAP version.
    pub version: SoapVersion,
    /// The `Header` element, if any.
    pub header: Option<Element>,
    /// The single child element of `Body`: the operation.
    pub body: Element,
}

impl Envelope {
    /// The first header block that asks to be understood (`mustUnderstand` true) and whose
    /// namespace is not in `understood`: `(namespace, local name)`. The caller answers it
    /// with [`Fault::must_understand`].
    pub fn not_understood(&self, understood: &[&str]) -> Option<(String, String)> {
        let header = self.header.as_ref()?;
        let env = self.version.namespace();
        header
            .children
            .iter()
            .find(|block| {
                let must = block.attr(Some(env), "mustUnderstand").map(str::trim);
                matches!(must, Some("1" | "true")) && !understood.contains(&block.ns.as_str())
            })
            .map(|b| (b.ns.clone(), b.local.clone()))
    }
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SoapError {
    /// The XML itself was refused.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The root is not a SOAP Envelope of a known version.
    #[error("not a SOAP 1.1 or 1.2 envelope")]
    VersionMismatch,
    /// The Envelope has no Body, or other content than Header and Body in that order.
    #[error("the envelope needs a Body (after an optional Header) and nothing else")]
    BadEnvelope,
    /// The Body does not hold exactly one element.
    #[error("the Body must hold exactly one element")]
    BadBody,
}

impl SoapError {
    /// The fault that answers this error.
    pub fn fault(&self) -> Fault {
        match self {
            SoapError::Xml(e) => {
                Fault::sender(Subcode::WellFormed, format!("Malformed request: {e}"))
            }
            SoapError::VersionMismatch => Fault {
                code: FaultCode::VersionMismatch,
                subcodes: Vec::new(),
                reason: "Unknown SOAP envelope version".into(),
            },
            SoapError::BadEnvelope | SoapError::BadBody => {
                Fault::sender(Subcode::Tag, format!("Malformed request: {self}"))
            }
        }
    }
}

/// Parses a request envelope within `limits`.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Envelope, SoapError> {
    let root = xml::parse(input, limits)?;
    if root.local != "Envelope" {
        return Err(SoapError::VersionMismatch);
    }
    let version = SoapVersion::from_namespace(&root.ns).ok_or(SoapError::VersionMismatch)?;
    let env = version.namespace();
    let mut children = root.children.into_iter();
    let mut header = None;
    let mut next = children.next();
    if next.as_ref().is_some_and(|e| e.is(env, "Header")) {
        header = next;
        next = children.next();
    }
    let body = match next {
        Some(b) if b.is(env, "Body") => b,
        _ => return Err(SoapError::BadEnvelope),
    };
    if children.next().is_some() {
        return Err(SoapError::BadEnvelope);
    }
    if !body.text().is_empty() || body.children.len() != 1 {
        return Err(SoapError::BadBody);
    }
    let body = body.children.into_iter().next().ok_or(SoapError::BadBody)?;
    Ok(Envelope {
        version,
        header,
        body,
    })
}

/// Renders an envelope in `version` around `body_xml` (and `header_xml`, if any), with
/// `env` bound to the envelope namespace and the prefixes of [`ns::DECLARED`] declared.
/// Both parts are inserted as they are: they must be well-formed XML.
pub fn render(version: SoapVersion, header_xml: Option<&str>, body_xml: &str) -> String {
    let mut out = String::with_capacity(body_xml.len() + 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<env:Envelope xmlns:env=\"");
    out.push_str(version.namespace());
    out.push('"');
    for (prefix, uri) in ns::DECLARED {
        out.push_str(" xmlns:");
        out.push_str(prefix);
        out.push_str("=\"");
        out.push_str(uri);
        out.push('"');
    }
    out.push('>');
    if let Some(header) = header_xml {
        out.push_str("<env:Header>");
        out.push_str(header);
        out.push_str("</env:Header>");
    }
    out.push_str("<env:Body>");
    out.push_str(body_xml);
    out.push_str("</env:Body></env:Envelope>\n");
    out
}

/// The SOAP fault code (SOAP 1.2 names; SOAP 1.1 writes Sender as `Client` and Receiver as
/// `Server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    /// The envelope is not of a version the receiver speaks.
    VersionMismatch,
    /// A mandatory header block was not understood.
    MustUnderstand,
    /// The request is at fault.
    Sender,
    /// The receiver failed.
    Receiver,
}

/// ONVIF fault subcodes (`ter:` namespace, ONVIF Core 5.11 and the device and media
/// service specifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Subcode {
    WellFormed,
    Tag,
    InvalidArgs,
    InvalidArgVal,
    NotAuthorized,
    ActionNotSupported,
    Action,
    OperationProhibited,
    UsernameClash,
    UsernameMissing,
    UsernameTooShort,
    UsernameTooLong,
    PasswordTooLong,
    /// The password is too weak.
    Password,
    TooManyUsers,
    FixedUser,
    AnonymousNotAllowed,
    InvalidDateTime,
    InvalidTimeZone,
    NtpServerUndefined,
    NoProfile,
    NoSuchService,
    InvalidStreamSetup,
    NoSource,
    NoConfig,
    NotFound,
}

impl Subcode {
    /// The local name of the subcode in the `ter` namespace.
    pub fn local(self) -> &'static str {
        match self {
            Subcode::WellFormed => "WellFormed",
            Subcode::Tag => "Tag",
            Subcode::InvalidArgs => "InvalidArgs",
            Subcode::InvalidArgVal => "InvalidArgVal",
            Subcode::NotAuthorized => "NotAuthorized",
            Subcode::ActionNotSupported => "ActionNotSupported",
            Subcode::Action => "Action",
            Subcode::OperationProhibited => "OperationProhibited",
            Subcode::UsernameClash => "UsernameClash",
            Subcode::UsernameMissing => "UsernameMissing",
            Subcode::UsernameTooShort => "UsernameTooShort",
            Subcode::UsernameTooLong => "UsernameTooLong",
            Subcode::PasswordTooLong => "PasswordTooLong",
            Subcode::Password => "Password",
            Subcode::TooManyUsers => "TooManyUsers",
            Subcode::FixedUser => "FixedUser",
            Subcode::AnonymousNotAllowed => "AnonymousNotAllowed",
            Subcode::InvalidDateTime => "InvalidDateTime",
            Subcode::InvalidTimeZone => "InvalidTimeZone",
            Subcode::NtpServerUndefined => "NtpServerUndefined",
            Subcode::NoProfile => "NoProfile",
            Subcode::NoSuchService => "NoSuchService",
            Subcode::InvalidStreamSetup => "InvalidStreamSetup",
            Subcode::NoSource => "NoSource",
            Subcode::NoConfig => "NoConfig",
            Subcode::NotFound => "NotFound",
        }
    }
}

/// An ONVIF fault: code, subcodes outermost first, and a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The SOAP code.
    pub code: FaultCode,
    /// `ter:` subcodes, outermost first (e.g. `[InvalidArgVal, NoProfile]`).
    pub subcodes: Vec<Subcode>,
    /// The reason text (English).
    pub reason: String,
}

impl Fault {
    /// A Sender fault with one subcode.
    pub fn sender(subcode: Subcode, reason: impl Into<String>) -> Self {
        Fault {
            code: FaultCode::Sender,
            subcodes: vec![subcode],
            reason: reason.into(),
        }
    }

    /// A Receiver fault with one subcode.
    pub fn receiver(subcode: Subcode, reason: impl Into<String>) -> Self {
        Fault {
            code: FaultCode::Receiver,
            subcodes: vec![subcode],
            reason: reason.into(),
        }
    }

    /// Adds a more specific subcode under the last one.
    pub fn with(mut self, subcode: Subcode) -> Self {
        self.subcodes.push(subcode);
        self
    }

    /// `env:Sender` / `ter:NotAuthorized`: missing or wrong credentials, or too little
    /// access.
    pub fn not_authorized(reason: impl Into<String>) -> Self {
        Fault::sender(Subcode::NotAuthorized, reason)
    }

    /// `env:Sender` / `ter:InvalidArgVal`: an argument is missing or out of range.
    pub fn invalid_arg(reason: impl Into<String>) -> Self {
        Fault::sender(Subcode::InvalidArgVal, reason)
    }

    /// `env:Receiver` / `ter:ActionNotSupported`: an operation camkey does not implement.
    pub fn action_not_supported(reason: impl Into<String>) -> Self {
        Fault::receiver(Subcode::ActionNotSupported, reason)
    }

    /// `env:MustUnderstand` for a header block that was not understood.
    pub fn must_understand(local: &str) -> Self {
        Fault {
            code: FaultCode::MustUnderstand,
            subcodes: Vec::new(),
            reason: format!("Header block {local} not understood"),
        }
    }

    /// Whether this is an authorization fault.
    pub fn is_not_authorized(&self) -> bool {
        self.subcodes.first() == Some(&Subcode::NotAuthorized)
    }

    /// The HTTP status of this fault in `version`: SOAP 1.2's HTTP binding answers Sender
    /// faults with 400 (as ONVIF Core does for `ter:NotAuthorized`), everything else
    /// with 500; SOAP 1.1 answers every fault with 500.
    pub fn http_status(&self, version: SoapVersion) -> u16 {
        match (version, self.code) {
            (SoapVersion::V12, FaultCode::Sender) => 400,
            _ => 500,
        }
    }

    /// The fault's `env:Fault` element in `version` (to place in a Body).
    pub fn body_xml(&self, version: SoapVersion) -> String {
        let reason = escape(&self.reason);
        match version {
            SoapVersion::V12 => {
                let code = match self.code {
                    FaultCode::VersionMismatch => "env:VersionMismatch",
                    FaultCode::MustUnderstand => "env:MustUnderstand",
                    FaultCode::Sender => "env:Sender",
                    FaultCode::Receiver => "env:Receiver",
                };
                let mut out = format!("<env:Fault><env:Code><env:Value>{code}</env:Value>");
                for sub in &self.subcodes {
                    out.push_str("<env:Subcode><env:Value>ter:");
                    out.push_str(sub.local());
                    out.push_str("</env:Value>");
                }
                for _ in &self.subcodes {
                    out.push_str("</env:Subcode>");
                }
                out.push_str("</env:Code><env:Reason><env:Text xml:lang=\"en\">");
                out.push_str(&reason);
                out.push_str("</env:Text></env:Reason></env:Fault>");
                out
            }
            SoapVersion::V11 => {
                let code = match self.code {
                    FaultCode::VersionMismatch => "env:VersionMismatch",
                    FaultCode::MustUnderstand => "env:MustUnderstand",
                    FaultCode::Sender => "env:Client",
                    FaultCode::Receiver => "env:Server",
                };
                let mut out =
                    format!("<env:Fault><faultcode>{code}</faultcode><faultstring>{reason}");
                if !self.subcodes.is_empty() {
                    let subs: Vec<String> = self
                        .subcodes
                        .iter()
                        .map(|s| format!("ter:{}", s.local()))
                        .collect();
                    out.push_str(" (");
                    out.push_str(&subs.join(" "));
                    out.push(')');
                }
                out.push_str("</faultstring></env:Fault>");
                out
            }
        }
    }

    /// The whole fault envelope in `version`.
    pub fn render(&self, version: SoapVersion) -> String {
        render(version, None, &self.body_xml(version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GET_TIME_12: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap-env:Envelope xmlns:soap-env="http://www.w3.org/2003/05/soap-envelope"><soap-env:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"/></soap-env:Header><soap-env:Body><ns0:GetSystemDateAndTime xmlns:ns0="http://www.onvif.org/ver10/device/wsdl"/></soap-env:Body></soap-env:Envelope>"#;

    fn p(s: &str) -> Result<Envelope, SoapError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn parses_both_versions_with_any_prefix() {
        let e = p(GET_TIME_12).unwrap();
        assert_eq!(e.version, SoapVersion::V12);
        assert!(e.body.is(ns::TDS, "GetSystemDateAndTime"));
        assert!(e.header.unwrap().child(ns::WSSE, "Security").is_some());
        for (prefix, uri, version) in [
            ("s", ns::SOAP11, SoapVersion::V11),
            ("SOAP-ENV", ns::SOAP11, SoapVersion::V11),
            ("qXkzLpWmAb", ns::SOAP12, SoapVersion::V12),
        ] {
            let doc = format!(
                "<{prefix}:Envelope xmlns:{prefix}=\"{uri}\">\n  <{prefix}:Body>\n    <GetHostname xmlns=\"{}\"/>\n  </{prefix}:Body>\n</{prefix}:Envelope>",
                ns::TDS
            );
            let e = p(&doc).unwrap();
            assert_eq!(e.version, version);
            assert!(e.header.is_none());
            assert!(e.body.is(ns::TDS, "GetHostname"));
        }
    }

    #[test]
    fn bad_envelopes_are_refused() {
        let s12 = ns::SOAP12;
        let deep = format!(
            "<e:Envelope xmlns:e=\"{s12}\"><e:Body>{}{}</e:Body></e:Envelope>",
            "<a>".repeat(50),
            "</a>".repeat(50)
        );
        let big = format!(
            "<e:Envelope xmlns:e=\"{s12}\"><e:Body><a>{}</a></e:Body></e:Envelope>",
            "<b/>".repeat(20_000)
        );
        let bomb = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><e:Envelope xmlns:e=\"{s12}\"><e:Body><x>&b;</x></e:Body></e:Envelope>"
        );
        type Check = fn(&SoapError) -> bool;
        let cases: Vec<(String, Check)> = vec![
            ("<a/>".into(), |e| *e == SoapError::VersionMismatch),
            (
                "<e:Envelope xmlns:e=\"urn:other\"><e:Body><x/></e:Body></e:Envelope>".into(),
                |e| *e == SoapError::VersionMismatch,
            ),
            (format!("<e:Envelope xmlns:e=\"{s12}\"/>"), |e| {
                *e == SoapError::BadEnvelope
            }),
            (
                format!("<e:Envelope xmlns:e=\"{s12}\"><e:Header/></e:Envelope>"),
                |e| *e == SoapError::BadEnvelope,
            ),
            (
                format!(
                    "<e:Envelope xmlns:e=\"{s12}\"><e:Body><x/></e:Body><e:Body/></e:Envelope>"
                ),
                |e| *e == SoapError::BadEnvelope,
            ),
            (
                format!("<e:Envelope xmlns:e=\"{s12}\"><e:Body/></e:Envelope>"),
                |e| *e == SoapError::BadBody,
            ),
            (
                format!("<e:Envelope xmlns:e=\"{s12}\"><e:Body><x/><y/></e:Body></e:Envelope>"),
                |e| *e == SoapError::BadBody,
            ),
            (
                format!("<e:Envelope xmlns:e=\"{s12}\"><e:Body>text<x/></e:Body></e:Envelope>"),
                |e| *e == SoapError::BadBody,
            ),
            (format!("<e:Envelope xmlns:e=\"{s12}\"><e:Body><x>"), |e| {
                matches!(e, SoapError::Xml(XmlError::Truncated))
            }),
            (deep, |e| matches!(e, SoapError::Xml(XmlError::TooDeep(_)))),
            (big, |e| matches!(e, SoapError::Xml(XmlError::TooLarge(_)))),
            (bomb, |e| {
                matches!(e, SoapError::Xml(XmlError::Forbidden(_)))
            }),
            (GET_TIME_12[..GET_TIME_12.len() - 5].to_string(), |e| {
                matches!(e, SoapError::Xml(_))
            }),
        ];
        for (doc, check) in cases {
            let err = p(&doc).unwrap_err();
            assert!(check(&err), "{doc:.80}: {err:?}");
            let fault = err.fault();
            assert_ne!(fault.http_status(SoapVersion::V12), 200);
            assert!(
                parse(
                    fault.render(SoapVersion::V12).as_bytes(),
                    &Limits::default()
                )
                .is_ok()
            );
        }
    }

    #[test]
    fn truncations_of_a_real_request_never_parse_or_panic() {
        for cut in 0..GET_TIME_12.len() - 1 {
            if let Some(prefix) = GET_TIME_12.get(..cut) {
                assert!(p(prefix).is_err(), "cut at {cut} parsed");
            }
        }
    }

    #[test]
    fn mandatory_headers_not_understood_are_found() {
        let doc = format!(
            "<e:Envelope xmlns:e=\"{}\"><e:Header><a:Action xmlns:a=\"{}\" e:mustUnderstand=\"1\">x</a:Action><z:Other xmlns:z=\"urn:z\" e:mustUnderstand=\"true\"/></e:Header><e:Body><x/></e:Body></e:Envelope>",
            ns::SOAP12,
            ns::WSA10
        );
        let e = p(&doc).unwrap();
        assert_eq!(
            e.not_understood(&[ns::WSSE, ns::WSA10]),
            Some(("urn:z".to_string(), "Other".to_string()))
        );
        assert_eq!(e.not_understood(&[ns::WSSE, ns::WSA10, "urn:z"]), None);
        assert_eq!(
            Fault::must_understand("Other").http_status(SoapVersion::V12),
            500
        );
    }

    #[test]
    fn faults_render_for_both_versions() {
        let fault = Fault::invalid_arg("bad <name> & more").with(Subcode::NoProfile);
        let v12 = fault.render(SoapVersion::V12);
        let env = parse(v12.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(env.version, SoapVersion::V12);
        let f = &env.body;
        assert!(f.is(ns::SOAP12, "Fault"));
        let code = f.child(ns::SOAP12, "Code").unwrap();
        assert_eq!(code.child_text(ns::SOAP12, "Value"), Some("env:Sender"));
        let sub = code.child(ns::SOAP12, "Subcode").unwrap();
        let value = sub.child(ns::SOAP12, "Value").unwrap();
        assert_eq!(
            value.resolve_qname(value.text()),
            Some((ns::TER.to_string(), "InvalidArgVal".to_string()))
        );
        let inner = sub.child(ns::SOAP12, "Subcode").unwrap();
        assert_eq!(inner.child_text(ns::SOAP12, "Value"), Some("ter:NoProfile"));
        let text = f
            .child(ns::SOAP12, "Reason")
            .and_then(|r| r.child(ns::SOAP12, "Text"))
            .unwrap();
        assert_eq!(text.text(), "bad <name> & more");
        assert_eq!(text.attr(Some(xml::XML_NS), "lang"), Some("en"));
        assert_eq!(fault.http_status(SoapVersion::V12), 400);
        assert_eq!(fault.http_status(SoapVersion::V11), 500);

        let v11 = Fault::not_authorized("Sender not authorized").render(SoapVersion::V11);
        let env = parse(v11.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(env.version, SoapVersion::V11);
        assert_eq!(env.body.child_text("", "faultcode"), Some("env:Client"));
        assert_eq!(
            env.body.child_text("", "faultstring"),
            Some("Sender not authorized (ter:NotAuthorized)")
        );
        let recv = Fault::action_not_supported("no").render(SoapVersion::V11);
        assert!(recv.contains("<faultcode>env:Server</faultcode>"));
        assert!(Fault::not_authorized("x").is_not_authorized());
        assert_eq!(
            Fault::receiver(Subcode::Action, "x").http_status(SoapVersion::V12),
            500
        );
    }

    #[test]
    fn rendered_envelopes_declare_the_usual_prefixes() {
        let out = render(
            SoapVersion::V12,
            Some("<wsa:To>x</wsa:To>"),
            "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP></tds:HostnameInformation></tds:GetHostnameResponse>",
        );
        let env = parse(out.as_bytes(), &Limits::default()).unwrap();
        assert!(env.body.is(ns::TDS, "GetHostnameResponse"));
        assert!(env.header.unwrap().child(ns::WSA, "To").is_some());
        assert_eq!(
            content_type(SoapVersion::V12),
            "application/soap+xml; charset=utf-8"
        );
        assert_eq!(content_type(SoapVersion::V11), "text/xml; charset=utf-8");
        assert_eq!(
            SoapVersion::from_content_type("text/xml; charset=utf-8"),
            SoapVersion::V11
        );
        assert_eq!(
            SoapVersion::from_content_type("application/soap+xml;action=x"),
            SoapVersion::V12
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse(&bytes, &Limits::default());
        }

        #[test]
        fn parse_never_panics_on_mutated_requests(
            edits in proptest::collection::vec((0usize..600, any::<u8>()), 1..8),
        ) {
            let mut bytes = GET_TIME_12.as_bytes().to_vec();
            for (at, b) in edits {
                let at = at % bytes.len();
                bytes[at] = b;
            }
            let _ = parse(&bytes, &Limits::default());
        }

        #[test]
        fn parse_never_panics_on_xmlish_text(s in "[<>/a-z:=\"' &;#x0-9!\\[\\]?-]{0,400}") {
            let _ = parse(s.as_bytes(), &Limits::default());
        }
    }
}
