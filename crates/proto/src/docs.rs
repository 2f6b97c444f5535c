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

#[cfg(test)]
mod protocol {
    use crate::challenge::{self, Challenge, Recovery};
    use crate::code;
    use crate::keys::MasterKey;

    const PROTOCOL: &str = include_str!("../../../docs/protocol.md");

    /// The challenge of the vector in docs/protocol.md.
    pub fn vector(recovery: Recovery) -> (MasterKey, Challenge) {
        let master = MasterKey::from_bytes(1, [0x42; 32]);
        let c = Challenge {
            key_version: 1,
            serial: "IPC4K15-000001".into(),
            nonce: [7; 12],
            created_unix: 1_790_000_000,
            clock_trusted: true,
            counter: 1,
            recovery,
        };
        (master, c)
    }

    #[test]
    fn challenge_and_code_vectors_in_docs() {
        let (master, c) = vector(Recovery::Owner("owner@example.com".into()));
        let key = master.device_key(&c.serial);
        let text = c.seal(&key).unwrap();
        let (_, d) = vector(Recovery::FactoryDefault);
        let text_default = d.seal(&key).unwrap();
        let now = code::issue(&key, &c, 1_790_000_000_000, 1_790_000_000_000)
            .unwrap()
            .text();
        let later = code::issue(&key, &c, 1_790_259_200_000, 1_790_000_000_000)
            .unwrap()
            .text();
        println!("{text}\n{text_default}\n{now}\n{later}");
        for v in [&text, &text_default, &now, &later] {
            assert!(
                PROTOCOL.contains(v.as_str()),
                "docs/protocol.md lacks or has a stale vector: {v}"
            );
        }
        assert_eq!(challenge::open_with_master(&[master], &text).unwrap(), c);
    }
}
