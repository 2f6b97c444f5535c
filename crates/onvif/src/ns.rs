//! The namespace URIs camkey reads and writes, and the prefixes it renders them with.
//!
//! Incoming messages are matched by URI only ([`crate::xml`] resolves every name); the
//! prefixes here are the ones [`crate::soap::render`] declares on the envelopes camkey
//! writes.

/// SOAP 1.1 envelope.
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// ONVIF device service (`tds`).
pub const TDS: &str = "http://www.onvif.org/ver10/device/wsdl";
/// ONVIF media service (`trt`).
pub const TRT: &str = "http://www.onvif.org/ver10/media/wsdl";
/// ONVIF schema types (`tt`).
pub const TT: &str = "http://www.onvif.org/ver10/schema";
/// ONVIF fault subcodes (`ter`).
pub const TER: &str = "http://www.onvif.org/ver10/error";
/// ONVIF network (WS-Discovery device types, `dn`).
pub const DN: &str = "http://www.onvif.org/ver10/network/wsdl";
/// WS-Security extension (`wsse`).
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility (`wsu`).
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// WS-Addressing as WS-Discovery 2005/04 uses it (`wsa`).
pub const WSA: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
/// WS-Addressing 1.0 (what zeep and newer clients send).
pub const WSA10: &str = "http://www.w3.org/2005/08/addressing";
/// WS-Discovery 2005/04, the version ONVIF uses (`d`).
pub const D: &str = "http://schemas.xmlsoap.org/ws/2005/04/discovery";
/// The UsernameToken profile's password types and the SOAP message security encodings.
pub const WSS_UT_PROFILE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0";
/// The SOAP message security namespace of `EncodingType` values.
pub const WSS_SOAP_MESSAGE_SECURITY: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0";

/// `(prefix, uri)` declared on every envelope [`crate::soap::render`] writes, besides the
/// envelope's own `env`.
pub const DECLARED: [(&str, &str); 9] = [
    ("tds", TDS),
    ("trt", TRT),
    ("tt", TT),
    ("ter", TER),
    ("wsse", WSSE),
    ("wsu", WSU),
    ("wsa", WSA),
    ("d", D),
    ("dn", DN),
];
