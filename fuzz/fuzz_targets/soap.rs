//! SOAP envelopes, ONVIF requests and credentials from arbitrary bytes: every input gets a
//! result or an error, never a panic.
#![no_main]

use camkey_onvif::auth::{digest, token};
use camkey_onvif::device::DeviceRequest;
use camkey_onvif::media::MediaRequest;
use camkey_onvif::soap;
use camkey_onvif::xml::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = soap::parse(data, &Limits::default()) {
        let _ = DeviceRequest::parse(&envelope.body);
        let _ = MediaRequest::parse(&envelope.body);
        if let Some(header) = &envelope.header
            && let Ok(Some(t)) = token::UsernameToken::from_header(header)
        {
            let _ = t.created_ms();
            let _ = t.verify("password");
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = digest::parse_authorization(text);
        let _ = token::parse_created(text);
    }
});
