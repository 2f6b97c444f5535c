//! Crockford base32 for codes people read off a label or a mail and type back: no I, L, O
//! or U, case-insensitive, with hyphens between groups that the decoder ignores.

use data_encoding::{Encoding, Specification};
use std::sync::OnceLock;

fn encoding() -> &'static Encoding {
    static ENC: OnceLock<Encoding> = OnceLock::new();
    ENC.get_or_init(|| {
        let mut spec = Specification::new();
        spec.symbols.push_str("0123456789ABCDEFGHJKMNPQRSTVWXYZ");
        // Crockford's reading rules: lower case, and the letters people confuse with digits.
        spec.translate.from.push_str("abcdefghjkmnpqrstvwxyzOoIiLl");
        spec.translate.to.push_str("ABCDEFGHJKMNPQRSTVWXYZ001111");
        spec.check_trailing_bits = false;
        spec.encoding().expect("valid Crockford specification")
    })
}

/// Encodes bytes, grouped in blocks of `group` characters joined by `-`.
pub fn encode_grouped(bytes: &[u8], group: usize) -> String {
    let plain = encoding().encode(bytes);
    let mut out = String::with_capacity(plain.len() + plain.len() / group.max(1));
    for (i, c) in plain.chars().enumerate() {
        if i > 0 && group > 0 && i % group == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// Decodes a code typed by a person: hyphens and spaces are ignored, case does not matter,
/// `O` reads as `0` and `I`/`L` as `1`. Returns `None` for anything else.
pub fn decode_typed(text: &str, max_len: usize) -> Option<Vec<u8>> {
    if text.len() > max_len {
        return None;
    }
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .collect();
    encoding().decode(cleaned.as_bytes()).ok()
}

/// Normalizes a typed code to its canonical grouped form (for display and comparison).
pub fn canonical(text: &str, max_len: usize, group: usize) -> Option<String> {
    decode_typed(text, max_len).map(|b| encode_grouped(&b, group))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vector() {
        assert_eq!(
            encode_grouped(&[0xff, 0x00, 0x5a, 0x11, 0x22], 4),
            "ZW05-M492"
        );
        assert_eq!(
            decode_typed("zw05-m492", 64).unwrap(),
            vec![0xff, 0x00, 0x5a, 0x11, 0x22]
        );
        assert_eq!(
            decode_typed("ZWO5 M492", 64).unwrap(),
            vec![0xff, 0x00, 0x5a, 0x11, 0x22]
        );
        assert!(decode_typed("ZW05-M49U", 64).is_none());
        assert!(decode_typed("ZW05-M492", 4).is_none());
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..40), group in 1usize..8) {
            let text = encode_grouped(&bytes, group);
            prop_assert_eq!(decode_typed(&text.to_lowercase(), 1000).unwrap(), bytes);
        }

        #[test]
        fn never_panics(text in ".{0,80}") {
            let _ = decode_typed(&text, 64);
        }
    }
}
