//! Firmware images from arbitrary bytes, as a camera's serial console gets them: the
//! header parser, the signature check, the model and rollback checks and the streaming
//! payload check give a result or an error, never a panic, and nothing unsigned passes.
#![no_main]

use camkey_firmware::image::{self, Header, PayloadCheck};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
    if let Ok((header, at)) = Header::parse(data) {
        // What parses re-encodes to the same bytes.
        let bytes = header.to_bytes().expect("a parsed header encodes");
        assert_eq!(&bytes[..], &data[..at]);
        let signed = image::verify_header(&header, &key).is_ok();
        let _ = image::check_for(&header, "IPC4K15", 3);
        let mut check = PayloadCheck::new(&header);
        for chunk in data[at..].chunks(777) {
            if check.update(chunk).is_err() {
                break;
            }
        }
        let _ = check.finish();
        assert!(!signed, "no fuzzer finds a signature of the firmware key");
    }
    let _ = image::verify_image(data, &key);
});
