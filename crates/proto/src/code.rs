//! Security codes (S3): what the vendor mails for a challenge, and what the camera checks.
//!
//! A code is 100 bits written as 20 Crockford base32 symbols in five groups
//! (`XXXX-XXXX-XXXX-XXXX-XXXX`), case-insensitive:
//!
//! | bits | field |
//! |---|---|
//! | 2 | format (0) |
//! | 20 | generation time, Unix minutes modulo 2^20 (~2 years; the camera picks the latest match) |
//! | 14 | delay: whole minutes between the vendor first seeing the challenge and generating the code (≤ 11 days) |
//! | 64 | MAC: HMAC-SHA256 under the device key's `camkey/code-mac/v1` sub-key over the serial, the challenge nonce and the 36 bits above, truncated |
//!
//! The camera accepts a code only for one of its live challenges (the MAC binds device and
//! challenge), and only if the time the challenge spent **outside the vendor's hands** —
//! camera elapsed time since it made the challenge, minus the delay — is at most 24 hours;
//! where its wall clock is trustworthy, also only if the code was generated at most
//! 24 hours ago (and not in the future). The wall clock can only shorten a validity.

use crate::challenge::Challenge;
use crate::crockford;
use crate::keys::DeviceKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Symbols in a code.
pub const CODE_CHARS: usize = 20;
/// A code is good for this long outside the vendor's hands.
pub const VALIDITY_MS: u64 = 24 * 3_600_000;
/// Largest delay a code can carry, in minutes.
pub const MAX_DELAY_MIN: u64 = (1 << 14) - 1;
/// Clock skew tolerated for a code "from the future", on a trusted wall clock.
pub const SKEW_MS: i64 = 5 * 60_000;
const GEN_MODULUS: i64 = 1 << 20;
const MAC_LABEL: &[u8] = b"camkey/code-mac/v1";

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not 20 symbols of the alphabet.
    #[error("a security code is 20 letters and digits, like ABCD-EFGH-JKMN-PQRS-TVWX")]
    Unreadable,
    /// The MAC matches no live challenge of this camera.
    #[error("this security code is not valid for this camera")]
    Wrong,
    /// Too long outside the vendor's hands, or generated too long ago.
    #[error("this security code has expired: codes are valid 24 hours after they are made")]
    Expired,
    /// (Vendor) the challenge was first seen too long ago to issue a code for it.
    #[error("the challenge is too old for a code; make a new QR code on the camera")]
    TooLate,
}

/// A parsed security code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityCode {
    /// Generation time, Unix minutes modulo 2^20.
    pub generated_min: u32,
    /// Delay in minutes.
    pub delay_min: u16,
    mac: [u8; 8],
}

fn fields(generated_min: u32, delay_min: u16) -> u64 {
    (u64::from(generated_min) << 14) | u64::from(delay_min)
}

fn mac(
    key: &DeviceKey,
    serial: &str,
    nonce: &[u8; 12],
    generated_min: u32,
    delay_min: u16,
) -> [u8; 8] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key.subkey(MAC_LABEL))
        .expect("HMAC takes any key length");
    m.update(b"camkey code v1");
    m.update(&[serial.len() as u8]);
    m.update(serial.as_bytes());
    m.update(nonce);
    m.update(&fields(generated_min, delay_min).to_be_bytes()[3..]);
    let full = m.finalize().into_bytes();
    let mut out = [0u8; 8];
    out.copy_from_slice(&full[..8]);
    out
}

impl SecurityCode {
    /// The code's text, grouped.
    pub fn text(&self) -> String {
        let value = (u128::from(fields(self.generated_min, self.delay_min)) << 64)
            | u128::from(u64::from_be_bytes(self.mac));
        crockford::group(&crockford::encode_bits(value, CODE_CHARS), 4)
    }

    /// Whether the MAC is the one `key` makes for this challenge (constant time).
    pub fn verify_mac(&self, key: &DeviceKey, serial: &str, nonce: &[u8; 12]) -> bool {
        mac(key, serial, nonce, self.generated_min, self.delay_min)
            .ct_eq(&self.mac)
            .into()
    }

    /// The 24-hour rule. `challenge_age_ms`: camera elapsed time since it made the
    /// challenge; `trusted_wall_ms`: the camera's wall clock, only if trustworthy.
    pub fn check_time(
        &self,
        challenge_age_ms: u64,
        trusted_wall_ms: Option<i64>,
    ) -> Result<(), CodeError> {
        let outside = challenge_age_ms.saturating_sub(u64::from(self.delay_min) * 60_000);
        if outside > VALIDITY_MS {
            return Err(CodeError::Expired);
        }
        if let Some(now) = trusted_wall_ms {
            let now_min = (now + SKEW_MS).div_euclid(60_000);
            let back = (now_min - i64::from(self.generated_min)).rem_euclid(GEN_MODULUS);
            let generated_ms = (now_min - back) * 60_000;
            if now - generated_ms > VALIDITY_MS as i64 {
                return Err(CodeError::Expired);
            }
        }
        Ok(())
    }
}

/// Parses a typed code (format only; the MAC is checked against live challenges).
pub fn parse(text: &str) -> Result<SecurityCode, CodeError> {
    let text = text.trim();
    let value = crockford::decode_bits(text, CODE_CHARS).ok_or(CodeError::Unreadable)?;
    if value >> 98 != 0 {
        return Err(CodeError::Unreadable); // another format
    }
    let head = (value >> 64) as u64;
    Ok(SecurityCode {
        generated_min: ((head >> 14) & 0xF_FFFF) as u32,
        delay_min: (head & 0x3FFF) as u16,
        mac: (value as u64).to_be_bytes(),
    })
}

/// (Vendor) Issues the code for an opened challenge. `generated_ms` is now on the vendor's
/// clock; `first_seen_ms` when the vendor first saw this challenge (the same for a code
/// made at once; earlier for a code a support agent releases later).
pub fn issue(
    key: &DeviceKey,
    challenge: &Challenge,
    generated_ms: i64,
    first_seen_ms: i64,
) -> Result<SecurityCode, CodeError> {
    issue_for(
        key,
        &challenge.serial,
        &challenge.nonce,
        generated_ms,
        first_seen_ms,
    )
}

/// (Vendor) [`issue`] from what identifies a challenge: its serial and nonce. The code is
/// a function of these, the two times and the device key alone, so the vendor never needs
/// to store a code: it stores these (none of them secret) and makes the code again when it
/// mails it.
pub fn issue_for(
    key: &DeviceKey,
    serial: &str,
    nonce: &[u8; 12],
    generated_ms: i64,
    first_seen_ms: i64,
) -> Result<SecurityCode, CodeError> {
    let delay_min = (generated_ms - first_seen_ms).max(0) / 60_000;
    if delay_min as u64 > MAX_DELAY_MIN {
        return Err(CodeError::TooLate);
    }
    let delay_min = delay_min as u16;
    let generated_min = generated_ms.div_euclid(60_000).rem_euclid(GEN_MODULUS) as u32;
    Ok(SecurityCode {
        generated_min,
        delay_min,
        mac: mac(key, serial, nonce, generated_min, delay_min),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::{Challenge, Recovery};
    use crate::keys::MasterKey;
    use proptest::prelude::*;

    const HOUR: u64 = 3_600_000;
    const NOW: i64 = 1_790_000_000_000;

    fn setup() -> (DeviceKey, Challenge) {
        let key = MasterKey::from_bytes(1, [0x42; 32]).device_key("IPC4K15-000001");
        let c = Challenge {
            key_version: 1,
            serial: "IPC4K15-000001".into(),
            nonce: [7; 12],
            created_unix: (NOW / 1000) as u32,
            clock_trusted: true,
            counter: 1,
            recovery: Recovery::Owner("owner@example.com".into()),
        };
        (key, c)
    }

    #[test]
    fn round_trip_text() {
        let (key, c) = setup();
        let code = issue(&key, &c, NOW, NOW).unwrap();
        let text = code.text();
        assert_eq!(text.len(), 24);
        assert_eq!(text.matches('-').count(), 4);
        let back = parse(&text.to_lowercase().replace('-', " ")).unwrap();
        assert_eq!(back, code);
        assert!(back.verify_mac(&key, &c.serial, &c.nonce));
    }

    #[test]
    fn bound_to_device_and_challenge() {
        let (key, c) = setup();
        let code = issue(&key, &c, NOW, NOW).unwrap();
        let other = MasterKey::from_bytes(1, [0x42; 32]).device_key("IPC4K15-000002");
        assert!(!code.verify_mac(&other, "IPC4K15-000002", &c.nonce));
        assert!(!code.verify_mac(&key, &c.serial, &[8; 12]));
        // Any change to the visible fields breaks the MAC.
        let mut forged = code;
        forged.delay_min += 60;
        assert!(!forged.verify_mac(&key, &c.serial, &c.nonce));
    }

    #[test]
    fn twenty_four_hours_outside_the_vendors_hands() {
        let (key, c) = setup();
        let code = issue(&key, &c, NOW, NOW).unwrap();
        assert!(code.check_time(23 * HOUR, None).is_ok());
        assert_eq!(code.check_time(25 * HOUR, None), Err(CodeError::Expired));
        // Released by support 3 days after the vendor first saw the challenge, which the
        // owner sent 1 hour after making it: good until 24 h outside the vendor in all.
        let first_seen = NOW;
        let released = NOW + 72 * HOUR as i64;
        let late = issue(&key, &c, released, first_seen).unwrap();
        assert_eq!(late.delay_min as u64, 72 * 60);
        assert!(late.check_time(HOUR + 72 * HOUR + 22 * HOUR, None).is_ok());
        assert_eq!(
            late.check_time(HOUR + 72 * HOUR + 24 * HOUR, None),
            Err(CodeError::Expired)
        );
        assert_eq!(
            issue(&key, &c, NOW + 12 * 24 * HOUR as i64, NOW),
            Err(CodeError::TooLate)
        );
    }

    #[test]
    fn a_trusted_wall_clock_only_shortens() {
        let (key, c) = setup();
        let code = issue(&key, &c, NOW, NOW).unwrap();
        assert!(code.check_time(HOUR, Some(NOW + HOUR as i64)).is_ok());
        // Moved forward two days: the code looks old: refused.
        assert_eq!(
            code.check_time(HOUR, Some(NOW + 48 * HOUR as i64)),
            Err(CodeError::Expired)
        );
        // Moved back two days: the code is "from the future": refused.
        assert_eq!(
            code.check_time(HOUR, Some(NOW - 48 * HOUR as i64)),
            Err(CodeError::Expired)
        );
        // A wall clock cannot lengthen: elapsed says expired, a fresh-looking wall cannot save it.
        assert_eq!(
            code.check_time(30 * HOUR, Some(NOW)),
            Err(CodeError::Expired)
        );
        // An untrusted clock (a camera in 1970) is ignored.
        assert!(code.check_time(HOUR, None).is_ok());
    }

    #[test]
    fn unreadable_codes() {
        for bad in [
            "",
            "ABCD",
            "ABCD-EFGH-JKMN-PQRS-TVWXY",
            "ABCD-EFGH-JKMN-PQRS-TVWU",
            &"A".repeat(100),
        ] {
            assert_eq!(parse(bad), Err(CodeError::Unreadable), "{bad}");
        }
        // The two format bits must be zero.
        assert_eq!(
            parse("ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ"),
            Err(CodeError::Unreadable)
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,64}") {
            let _ = parse(&s);
        }

        #[test]
        fn issue_parse_round_trip(gen_ms in 0i64..4_102_444_800_000, delay in 0i64..(MAX_DELAY_MIN as i64 * 60_000)) {
            let (key, c) = setup();
            let code = issue(&key, &c, gen_ms + delay, gen_ms).unwrap();
            let back = parse(&code.text()).unwrap();
            prop_assert_eq!(back, code);
            prop_assert!(back.verify_mac(&key, &c.serial, &c.nonce));
            prop_assert!(back.check_time(0, Some(gen_ms + delay)).is_ok());
        }
    }
}
