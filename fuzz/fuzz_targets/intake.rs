//! Reset mails from anyone on the Internet: finding a challenge must never panic, and
//! whatever it returns must parse as a challenge.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(found) = camkey_reset::intake::extract(data, "someone@example.org")
        && let Some(c) = found.challenge
    {
        assert!(camkey_proto::challenge::parse(&c).is_ok());
    }
});
