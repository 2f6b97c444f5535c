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
pub fn encode_grouped(bytes: &[u8], size: usize) -> String {
    group(&encode(bytes), size)
}

/// Encodes bytes without grouping.
pub fn encode(bytes: &[u8]) -> String {
    encoding().encode(bytes)
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

const SYMBOLS: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Encodes the low `5 * chars` bits of `value` as exactly `chars` symbols, most significant
/// first (for fixed-width codes whose bit count is not a multiple of 8).
pub fn encode_bits(value: u128, chars: usize) -> String {
    (0..chars)
        .rev()
        .map(|i| SYMBOLS[((value >> (5 * i)) & 31) as usize] as char)
        .collect()
}

/// Decodes exactly `chars` typed symbols (hyphens and spaces ignored, case-insensitive,
/// `O` as `0`, `I`/`L` as `1`) into a number; `None` for anything else.
pub fn decode_bits(text: &str, chars: usize) -> Option<u128> {
    if text.len() > chars * 3 {
        return None;
    }
    let mut value: u128 = 0;
    let mut n = 0;
    for c in text.chars() {
        let v = match c.to_ascii_uppercase() {
            '-' | ' ' | '\t' => continue,
            'O' => 0,
            'I' | 'L' => 1,
            c => SYMBOLS.iter().position(|&s| s as char == c)? as u128,
        };
        value = (value << 5) | v;
        n += 1;
        if n > chars {
            return None;
        }
    }
    (n == chars).then_some(value)
}

/// Whether `c` reads as a symbol (upper or lower case, `O`, `I` and `L` included).
pub fn is_symbol(c: char) -> bool {
    let u = c.to_ascii_uppercase();
    matches!(u, 'O' | 'I' | 'L') || SYMBOLS.contains(&(u as u8)) && c.is_ascii()
}

/// Groups a string in blocks of `group` characters joined by `-`.
pub fn group(text: &str, group: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / group.max(1));
    for (i, c) in text.chars().enumerate() {
        if i > 0 && group > 0 && i % group == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
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
            let _ = decode_bits(&text, 20);
        }

        #[test]
        fn bits_round_trip(value in any::<u128>(), chars in 1usize..=25) {
            let mask = if chars * 5 >= 128 { u128::MAX } else { (1u128 << (5 * chars)) - 1 };
            let text = encode_bits(value & mask, chars);
            prop_assert_eq!(text.len(), chars);
            prop_assert_eq!(decode_bits(&group(&text.to_lowercase(), 4), chars), Some(value & mask));
        }
    }
}
