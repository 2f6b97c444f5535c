//! Security codes typed by anyone on the LAN: parse, check the MAC and the time rule.
#![no_main]

use camkey_proto::code;
use camkey_proto::keys::MasterKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(c) = code::parse(text)
    {
        let key = MasterKey::from_bytes(1, [0x42; 32]).device_key("IPC4K15-000001");
        let _ = c.verify_mac(&key, "IPC4K15-000001", &[7; 12]);
        let _ = c.check_time(u64::from(data.len() as u32) * 1_000_000, Some(1_790_000_000_000));
        // What parses must print back to something that parses to the same code.
        assert_eq!(code::parse(&c.text()), Ok(c));
    }
});
