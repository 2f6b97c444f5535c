//! Factory documents (a camera reads its own; a damaged flash must not crash it).
#![no_main]

use camkey_proto::factory::FactoryData;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = FactoryData::from_json(data);
});
