//! Challenge strings from anyone on the Internet: parse, and open with a fixed master key.
#![no_main]

use camkey_proto::challenge;
use camkey_proto::keys::MasterKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let masters = [MasterKey::from_bytes(1, [0x42; 32])];
        if let Ok(sealed) = challenge::parse(text) {
            // Opening must never panic, whatever the header claims.
            let _ = sealed.open_with_master(&masters);
        }
    }
});
