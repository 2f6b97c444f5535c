//! Keeps `docs/formats.md` honest: its test vectors are computed here and must appear in
//! the document verbatim.

#[cfg(test)]
mod tests {
    use crate::crockford;
    use crate::keys::MasterKey;

    const FORMATS: &str = include_str!("../../../docs/formats.md");

    #[test]
    fn device_key_vector_in_docs() {
        let key = MasterKey::from_bytes(1, [0x42; 32]).device_key("IPC4K15-000001");
        assert!(FORMATS.contains(&format!("master key  {}", "42".repeat(32))));
        assert!(FORMATS.contains("serial      IPC4K15-000001"));
        assert!(
            FORMATS.contains(&format!("device key  {}", key.to_hex())),
            "docs/formats.md has a stale device-key vector"
        );
    }

    #[test]
    fn crockford_vector_in_docs() {
        let bytes = [0xff, 0x00, 0x5a, 0x11, 0x22];
        let text = crockford::encode_grouped(&bytes, 4);
        assert!(FORMATS.contains(&format!("bytes `ff 00 5a 11 22` ↔ `{text}`")));
        for typed in ["zw05 m492", "ZWO5-M492"] {
            assert!(FORMATS.contains(typed));
            assert_eq!(crockford::decode_typed(typed, 64).unwrap(), bytes);
        }
    }
}
