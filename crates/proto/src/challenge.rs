//! The QR challenge (S2): what a locked-out owner's camera shows, and what the vendor opens.
//!
//! # Text form
//!
//! `CK1` + Crockford base32 of the binary form + 4 check symbols (20 bits of SHA-256 over
//! the binary form), all upper case, no spaces: one "word" that survives copy and paste,
//! mail wrapping (the parser ignores white space and hyphens) and QR alphanumeric mode.
//! A typo fails the check before anything is sent. (`CK1` names the text form; the binary
//! form carries its own version.)
//!
//! # Binary form (version 2)
//!
//! | bytes | field | sealed |
//! |---|---|---|
//! | 1 | format version (2) | clear, authenticated |
//! | 4 | master-key version, big-endian | clear, authenticated |
//! | 1 + n | serial length and serial (ASCII) | clear, authenticated |
//! | 12 | nonce: fresh random, the challenge's identity | clear, authenticated (AEAD nonce) |
//! | rest | ChaCha20-Poly1305 ciphertext and tag of the sealed part | |
//!
//! Sealed part: creation time (u32, Unix seconds by the camera's wall clock), flags
//! (bit 0: the camera's clock was set by a trusted source; bit 1: the recovery address is
//! the factory default), the camera's challenge counter (u32, big-endian: it only grows,
//! so the vendor can tell a newer challenge from an older one), address length (u8) and
//! the recovery address (empty for the factory default), padded with zeros to
//! [`PADDED_ADDRESS`] bytes, or to [`MAX_ADDRESS`] for a longer one. The padding makes
//! every challenge of a serial's length as long as every other, whatever the address and
//! whether it is the factory default: its length tells a LAN observer nothing (S2).
//!
//! The sealing key is the device key's `camkey/challenge-seal/v1` sub-key; the clear header
//! is the AEAD's associated data, so a serial, key version or nonce swapped in transit
//! fails to open, and a LAN observer cannot read the address.

use crate::crockford;
use crate::factory::validate_serial;
use crate::keys::{DeviceKey, MasterKey};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of every challenge string.
pub const PREFIX: &str = "CK1";
/// Format version in the binary form (2: with the counter and the padded address).
pub const VERSION: u8 = 2;
/// Longest challenge text accepted (a serial of 32 and an address of 254 need 535).
pub const MAX_TEXT: usize = 1024;
/// Longest recovery address a challenge can carry; longer than [`PADDED_ADDRESS`], it is
/// padded to this.
pub const MAX_ADDRESS: usize = 254;
/// The sealed address (and the factory default's empty one) is padded to this many bytes.
pub const PADDED_ADDRESS: usize = 48;
/// Sealed bytes before the address: time, flags, counter, address length.
const SEALED_HEAD: usize = 4 + 1 + 4 + 1;
/// Poly1305 tag.
const TAG: usize = 16;
/// A challenge lives this long on the camera's elapsed clock (S3).
pub const LIFETIME_MS: u64 = 7 * 24 * 3_600_000;
/// Check symbols at the end of the text.
const CHECK_CHARS: usize = 4;
const SEAL_LABEL: &[u8] = b"camkey/challenge-seal/v1";
const CHECK_LABEL: &[u8] = b"camkey/challenge-check/v1";
const FLAG_CLOCK_TRUSTED: u8 = 1;
const FLAG_FACTORY_DEFAULT: u8 = 2;

/// Where the camera wants codes sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The owner set this address.
    Owner(String),
    /// The owner never set one: the factory default (the vendor's support desk).
    FactoryDefault,
}

/// A challenge in the clear, as the camera made it and the vendor opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Master-key version of the camera's device key.
    pub key_version: u32,
    /// The camera's serial.
    pub serial: String,
    /// Fresh random nonce: the challenge's identity.
    pub nonce: [u8; 12],
    /// Creation time by the camera's wall clock, Unix seconds (meaningful only when
    /// `clock_trusted`).
    pub created_unix: u32,
    /// Whether the camera's wall clock was set by a trusted source.
    pub clock_trusted: bool,
    /// The camera's challenge counter: every challenge it makes has a higher one (kept
    /// through factory resets), so the vendor can ignore challenges older than the newest.
    pub counter: u32,
    /// Where codes go.
    pub recovery: Recovery,
}

/// Why a challenge string was refused. Messages are for people; they never echo input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Nothing that looks like a challenge.
    #[error("this is not a camkey challenge string (they start with CK1)")]
    NotAChallenge,
    /// Over [`MAX_TEXT`].
    #[error("the challenge string is too long")]
    TooLong,
    /// Characters outside the alphabet, or a broken length.
    #[error("the challenge string holds characters that cannot be in it; copy it again")]
    Unreadable,
    /// The check symbols do not match: a typo or a cut-off copy.
    #[error("the challenge string has a typo or was cut off; copy it again in full")]
    Checksum,
    /// Another format version.
    #[error("the challenge string has a format this service does not know")]
    Version,
    /// Fields that do not parse.
    #[error("the challenge string is damaged")]
    Malformed,
    /// The vendor has no master key of this version.
    #[error("the challenge names a key version this service does not hold")]
    UnknownKeyVersion,
    /// The seal does not open: forged, altered, or for another device.
    #[error("the challenge did not verify: it was altered or is not from a genuine camera")]
    Tampered,
    /// A field cannot be sealed (address too long, bad serial).
    #[error("the challenge cannot be made: {0}")]
    Invalid(&'static str),
}

/// A parsed challenge whose seal is not opened yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Master-key version (clear).
    pub key_version: u32,
    /// Serial (clear).
    pub serial: String,
    /// Nonce (clear).
    pub nonce: [u8; 12],
    header: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn seal_cipher(key: &DeviceKey) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(&key.subkey(SEAL_LABEL)))
}

fn check(binary: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(CHECK_LABEL)
        .chain_update(binary)
        .finalize();
    let bits =
        (u128::from(digest[0]) << 12) | (u128::from(digest[1]) << 4) | (u128::from(digest[2]) >> 4);
    crockford::encode_bits(bits, CHECK_CHARS)
}

fn header(key_version: u32, serial: &str, nonce: &[u8; 12]) -> Vec<u8> {
    let mut h = Vec::with_capacity(18 + serial.len());
    h.push(VERSION);
    h.extend_from_slice(&key_version.to_be_bytes());
    h.push(serial.len() as u8);
    h.extend_from_slice(serial.as_bytes());
    h.extend_from_slice(nonce);
    h
}

/// The padded length of a sealed address of `len` bytes.
fn padded(len: usize) -> usize {
    if len <= PADDED_ADDRESS {
        PADDED_ADDRESS
    } else {
        MAX_ADDRESS
    }
}

impl Challenge {
    /// A new challenge with a fresh random nonce and counter 0; a camera numbers its
    /// challenges with [`Challenge::with_counter`].
    pub fn new(
        key: &DeviceKey,
        serial: &str,
        created_unix: u32,
        clock_trusted: bool,
        recovery: Recovery,
    ) -> Self {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        Challenge {
            key_version: key.version(),
            serial: serial.to_string(),
            nonce,
            created_unix,
            clock_trusted,
            counter: 0,
            recovery,
        }
    }

    /// The same challenge with the camera's counter.
    pub fn with_counter(mut self, counter: u32) -> Self {
        self.counter = counter;
        self
    }

    /// Seals the challenge into its text form.
    pub fn seal(&self, key: &DeviceKey) -> Result<String, ChallengeError> {
        validate_serial(&self.serial).map_err(|_| ChallengeError::Invalid("bad serial"))?;
        let (flags_addr, addr) = match &self.recovery {
            Recovery::Owner(a) if a.len() <= MAX_ADDRESS && !a.is_empty() => (0, a.as_bytes()),
            Recovery::Owner(_) => return Err(ChallengeError::Invalid("recovery address length")),
            Recovery::FactoryDefault => (FLAG_FACTORY_DEFAULT, &[][..]),
        };
        let flags = flags_addr
            | if self.clock_trusted {
                FLAG_CLOCK_TRUSTED
            } else {
                0
            };
        let mut plain = Vec::with_capacity(SEALED_HEAD + padded(addr.len()));
        plain.extend_from_slice(&self.created_unix.to_be_bytes());
        plain.push(flags);
        plain.extend_from_slice(&self.counter.to_be_bytes());
        plain.push(addr.len() as u8);
        plain.extend_from_slice(addr);
        plain.resize(SEALED_HEAD + padded(addr.len()), 0);
        let head = header(self.key_version, &self.serial, &self.nonce);
        let ct = seal_cipher(key)
            .encrypt(
                Nonce::from_slice(&self.nonce),
                Payload {
                    msg: &plain,
                    aad: &head,
                },
            )
            .map_err(|_| ChallengeError::Invalid("sealing failed"))?;
        let mut binary = head;
        binary.extend_from_slice(&ct);
        Ok(format!(
            "{PREFIX}{}{}",
            crockford::encode(&binary),
            check(&binary)
        ))
    }
}

/// Finds and parses a challenge: the bare string, or a URL whose fragment holds it.
pub fn parse(text: &str) -> Result<Sealed, ChallengeError> {
    if text.len() > MAX_TEXT {
        return Err(ChallengeError::TooLong);
    }
    let text = text.rsplit_once('#').map(|(_, f)| f).unwrap_or(text);
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let upper = cleaned.to_ascii_uppercase();
    let Some(body) = upper.strip_prefix(PREFIX) else {
        return Err(ChallengeError::NotAChallenge);
    };
    if body.len() <= CHECK_CHARS || !body.is_ascii() {
        return Err(ChallengeError::Unreadable);
    }
    if !body.chars().all(crockford::is_symbol) {
        return Err(ChallengeError::Unreadable);
    }
    let (data, sum) = body.split_at(body.len() - CHECK_CHARS);
    // Every symbol is valid, so a failed decode is a length that cannot be: a cut-off copy.
    let binary = crockford::decode_typed(data, MAX_TEXT).ok_or(ChallengeError::Checksum)?;
    let expected = crockford::decode_bits(&check(&binary), CHECK_CHARS);
    if expected.is_none() || crockford::decode_bits(sum, CHECK_CHARS) != expected {
        return Err(ChallengeError::Checksum);
    }
    let (&version, rest) = binary.split_first().ok_or(ChallengeError::Malformed)?;
    if version != VERSION {
        return Err(ChallengeError::Version);
    }
    if rest.len() < 5 {
        return Err(ChallengeError::Malformed);
    }
    let key_version = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let serial_len = rest[4] as usize;
    let rest = &rest[5..];
    let sealed_len = rest.len().saturating_sub(serial_len + 12);
    if rest.len() < serial_len + 12
        || (sealed_len != SEALED_HEAD + PADDED_ADDRESS + TAG
            && sealed_len != SEALED_HEAD + MAX_ADDRESS + TAG)
    {
        return Err(ChallengeError::Malformed);
    }
    let serial = std::str::from_utf8(&rest[..serial_len]).map_err(|_| ChallengeError::Malformed)?;
    validate_serial(serial).map_err(|_| ChallengeError::Malformed)?;
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&rest[serial_len..serial_len + 12]);
    let head_len = 1 + 4 + 1 + serial_len + 12;
    Ok(Sealed {
        key_version,
        serial: serial.to_string(),
        nonce,
        header: binary[..head_len].to_vec(),
        ciphertext: binary[head_len..].to_vec(),
    })
}

impl Sealed {
    /// Opens the seal with the camera's device key.
    pub fn open(&self, key: &DeviceKey) -> Result<Challenge, ChallengeError> {
        if key.version() != self.key_version {
            return Err(ChallengeError::Tampered);
        }
        let plain = seal_cipher(key)
            .decrypt(
                Nonce::from_slice(&self.nonce),
                Payload {
                    msg: &self.ciphertext,
                    aad: &self.header,
                },
            )
            .map_err(|_| ChallengeError::Tampered)?;
        if plain.len() < SEALED_HEAD {
            return Err(ChallengeError::Malformed);
        }
        let created_unix = u32::from_be_bytes([plain[0], plain[1], plain[2], plain[3]]);
        let flags = plain[4];
        let counter = u32::from_be_bytes([plain[5], plain[6], plain[7], plain[8]]);
        let addr_len = plain[9] as usize;
        // One encoding only: the padded length that fits the address, zeros after it.
        if plain.len() != SEALED_HEAD + padded(addr_len)
            || plain[SEALED_HEAD + addr_len..].iter().any(|&b| b != 0)
            || flags & !(FLAG_CLOCK_TRUSTED | FLAG_FACTORY_DEFAULT) != 0
        {
            return Err(ChallengeError::Malformed);
        }
        let addr = &plain[SEALED_HEAD..SEALED_HEAD + addr_len];
        let recovery = if flags & FLAG_FACTORY_DEFAULT != 0 {
            if addr_len != 0 {
                return Err(ChallengeError::Malformed);
            }
            Recovery::FactoryDefault
        } else {
            let addr = std::str::from_utf8(addr).map_err(|_| ChallengeError::Malformed)?;
            if addr.is_empty() {
                return Err(ChallengeError::Malformed);
            }
            Recovery::Owner(addr.to_string())
        };
        Ok(Challenge {
            key_version: self.key_version,
            serial: self.serial.clone(),
            nonce: self.nonce,
            created_unix,
            clock_trusted: flags & FLAG_CLOCK_TRUSTED != 0,
            counter,
            recovery,
        })
    }

    /// Opens the seal with the vendor's master keys (every version it holds).
    pub fn open_with_master(&self, masters: &[MasterKey]) -> Result<Challenge, ChallengeError> {
        let master = masters
            .iter()
            .find(|m| m.version() == self.key_version)
            .ok_or(ChallengeError::UnknownKeyVersion)?;
        self.open(&master.device_key(&self.serial))
    }
}

/// The vendor's side in one call: parse and open a challenge string with the master keys.
pub fn open_with_master(masters: &[MasterKey], text: &str) -> Result<Challenge, ChallengeError> {
    parse(text)?.open_with_master(masters)
}

/// The reset-page URL a QR code holds: the page, with the challenge in its fragment (never
/// sent to any server by the browser).
pub fn reset_url(reset_page_url: &str, text: &str) -> String {
    format!(
        "{}#{text}",
        reset_page_url.split('#').next().unwrap_or(reset_page_url)
    )
}

/// The hint of a recovery address shown to whoever asks (the vendor's replies, the
/// camera's Forgot password page): its first character only, `o***@***`. Nothing of its
/// length or its domain, which alone can tell who owns a camera (S2).
pub fn address_hint(addr: &str) -> String {
    match addr.split_once('@') {
        Some((l, _)) => format!("{}***@***", l.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn master() -> MasterKey {
        MasterKey::from_bytes(1, [0x42; 32])
    }

    fn sample(recovery: Recovery) -> (DeviceKey, Challenge) {
        let key = master().device_key("IPC4K15-000001");
        let c = Challenge {
            key_version: 1,
            serial: "IPC4K15-000001".into(),
            nonce: [7; 12],
            created_unix: 1_790_000_000,
            clock_trusted: true,
            counter: 41,
            recovery,
        };
        (key, c)
    }

    #[test]
    fn round_trip_owner_and_factory_default() {
        for r in [
            Recovery::Owner("owner@example.com".into()),
            Recovery::FactoryDefault,
        ] {
            let (key, c) = sample(r);
            let text = c.seal(&key).unwrap();
            assert!(
                text.starts_with("CK1")
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() && !c.is_ascii_lowercase())
            );
            assert_eq!(open_with_master(&[master()], &text).unwrap(), c);
            // Copy-paste damage that is harmless.
            let mangled = format!("  {}\n{} ", text[..40].to_lowercase(), &text[40..]);
            assert_eq!(open_with_master(&[master()], &mangled).unwrap(), c);
            let url = reset_url("https://vendor.example/reset", &text);
            assert_eq!(open_with_master(&[master()], &url).unwrap(), c);
        }
    }

    #[test]
    fn typical_challenge_is_short_enough_for_a_qr_code_on_a_screen() {
        let (key, c) = sample(Recovery::Owner("firstname.lastname@example.com".into()));
        let text = c.seal(&key).unwrap();
        // 3 + 170 + 4 for a serial of 14 (docs/protocol.md).
        assert_eq!(text.len(), 177);
        // The longest there can be: a serial of 32 and an address of 254.
        let serial = "S".repeat(32);
        let long = format!("{}@{}.example", "a".repeat(64), "b".repeat(180));
        let key = master().device_key(&serial);
        let c = Challenge::new(&key, &serial, 0, false, Recovery::Owner(long)).with_counter(9);
        let text = c.seal(&key).unwrap();
        assert_eq!(text.len(), 535);
        assert!(text.len() <= MAX_TEXT);
        assert_eq!(open_with_master(&[master()], &text).unwrap(), c);
    }

    /// Issue 11, item 11: two cameras whose serials have one length show challenges of
    /// one length, whatever their addresses, the factory default included.
    #[test]
    fn the_length_tells_nothing_of_the_address() {
        let addresses = [
            Recovery::FactoryDefault,
            Recovery::Owner("a@b.co".into()),
            Recovery::Owner("owner@example.com".into()),
            Recovery::Owner(format!("{}@example.com", "x".repeat(36))), // 48 bytes
        ];
        let mut lengths = Vec::new();
        for (i, r) in addresses.into_iter().enumerate() {
            let serial = format!("IPC4K15-00000{i}");
            let key = master().device_key(&serial);
            let c = Challenge::new(&key, &serial, 1_790_000_000, i % 2 == 0, r);
            let text = c.seal(&key).unwrap();
            assert_eq!(open_with_master(&[master()], &text).unwrap(), c);
            lengths.push(text.len());
        }
        assert!(lengths.windows(2).all(|w| w[0] == w[1]), "{lengths:?}");
        // The rare longer address: padded to 254, one length for all of them.
        let long: Vec<usize> = [49, 100, 254]
            .iter()
            .map(|&n| {
                let addr = format!("{}@example.com", "y".repeat(n - 12));
                assert_eq!(addr.len(), n);
                let (key, c) = sample(Recovery::Owner(addr));
                c.seal(&key).unwrap().len()
            })
            .collect();
        assert!(long.windows(2).all(|w| w[0] == w[1]), "{long:?}");
        assert!(long[0] > lengths[0]);
    }

    #[test]
    fn the_counter_is_sealed_and_the_padding_is_canonical() {
        let (key, c) = sample(Recovery::Owner("owner@example.com".into()));
        let text = c.seal(&key).unwrap();
        assert_eq!(open_with_master(&[master()], &text).unwrap().counter, 41);
        // The counter is not in the clear part: nobody can raise it without the key.
        let bin = binary_of(&text);
        assert!(
            !bin[..6 + 14 + 12]
                .windows(4)
                .any(|w| w == 41u32.to_be_bytes())
        );
        // A sealed part with non-zero padding, or padded to the wrong length, is refused
        // even under a valid seal.
        let seal = |plain: &[u8]| {
            let head = header(1, &c.serial, &c.nonce);
            let ct = seal_cipher(&key)
                .encrypt(
                    Nonce::from_slice(&c.nonce),
                    Payload {
                        msg: plain,
                        aad: &head,
                    },
                )
                .unwrap();
            let mut b = head;
            b.extend_from_slice(&ct);
            reencode(&b)
        };
        let mut plain = vec![0u8; SEALED_HEAD + PADDED_ADDRESS];
        plain[9] = 3;
        plain[10..13].copy_from_slice(b"a@b");
        assert!(open_with_master(&[master()], &seal(&plain)).is_ok());
        plain[40] = 1;
        assert_eq!(
            open_with_master(&[master()], &seal(&plain)).unwrap_err(),
            ChallengeError::Malformed
        );
        let mut long = vec![0u8; SEALED_HEAD + MAX_ADDRESS];
        long[9] = 3;
        long[10..13].copy_from_slice(b"a@b");
        assert_eq!(
            open_with_master(&[master()], &seal(&long)).unwrap_err(),
            ChallengeError::Malformed,
            "a short address padded to 254: not the one encoding"
        );
    }

    #[test]
    fn typos_are_caught_by_the_check_symbols() {
        let (key, c) = sample(Recovery::Owner("owner@example.com".into()));
        let text = c.seal(&key).unwrap();
        for i in 3..text.len() {
            let mut b = text.clone().into_bytes();
            b[i] = if b[i] == b'Z' { b'Y' } else { b'Z' };
            let typo = String::from_utf8(b).unwrap();
            assert!(
                matches!(
                    parse(&typo),
                    Err(ChallengeError::Checksum | ChallengeError::Unreadable)
                ),
                "typo at {i} not caught"
            );
        }
        assert_eq!(
            parse(&text[..text.len() - 1]).unwrap_err(),
            ChallengeError::Checksum
        );
    }

    /// Re-encodes a modified binary form with a valid check, as an attacker can.
    fn reencode(binary: &[u8]) -> String {
        format!("{PREFIX}{}{}", crockford::encode(binary), check(binary))
    }

    fn binary_of(text: &str) -> Vec<u8> {
        crockford::decode_typed(&text[3..text.len() - CHECK_CHARS], MAX_TEXT).unwrap()
    }

    #[test]
    fn forged_swapped_or_foreign_challenges_do_not_open() {
        let (key, c) = sample(Recovery::Owner("owner@example.com".into()));
        let text = c.seal(&key).unwrap();
        let bin = binary_of(&text);
        // Every single flipped bit, re-checksummed, fails to open (or to parse).
        for i in 0..bin.len() {
            let mut b = bin.clone();
            b[i] ^= 0x01;
            assert!(
                open_with_master(&[master()], &reencode(&b)).is_err(),
                "bit flip at byte {i} accepted"
            );
        }
        // The serial swapped for another camera's: the seal is bound to it.
        let mut b = binary_of(&text);
        let pos = 6 + "IPC4K15-0000".len();
        b[pos] = b'2';
        assert_eq!(
            open_with_master(&[master()], &reencode(&b)).unwrap_err(),
            ChallengeError::Tampered
        );
        // A challenge sealed by another camera's key, presented under this serial.
        let foreign_key = master().device_key("IPC4K15-000002");
        let forged = c.seal(&foreign_key).unwrap();
        assert_eq!(
            open_with_master(&[master()], &forged).unwrap_err(),
            ChallengeError::Tampered
        );
        // Another master key version.
        assert_eq!(
            open_with_master(&[MasterKey::from_bytes(2, [0x42; 32])], &text).unwrap_err(),
            ChallengeError::UnknownKeyVersion
        );
        let v2 = MasterKey::from_bytes(2, [0x42; 32]);
        let mut b = bin.clone();
        b[4] = 2; // claims version 2
        assert_eq!(
            open_with_master(&[master(), v2], &reencode(&b)).unwrap_err(),
            ChallengeError::Tampered
        );
        // A swapped address: an attacker cannot re-seal without the key.
        let (key2, mut c2) = sample(Recovery::Owner("attacker@evil.example".into()));
        c2.nonce = c.nonce;
        let attacker = c2
            .seal(&MasterKey::from_bytes(1, [0x43; 32]).device_key("IPC4K15-000001"))
            .unwrap();
        assert_eq!(
            open_with_master(&[master()], &attacker).unwrap_err(),
            ChallengeError::Tampered
        );
        assert_ne!(key2.to_hex(), "");
    }

    #[test]
    fn the_address_is_not_readable_in_the_string() {
        let (key, c) = sample(Recovery::Owner("owner@example.com".into()));
        let bin = binary_of(&c.seal(&key).unwrap());
        assert!(!bin.windows(5).any(|w| w == b"owner"));
    }

    #[test]
    fn garbage_gets_clear_errors() {
        assert_eq!(parse("hello").unwrap_err(), ChallengeError::NotAChallenge);
        assert_eq!(parse("CK1").unwrap_err(), ChallengeError::Unreadable);
        assert_eq!(
            parse("CK1UUUUUUUU").unwrap_err(),
            ChallengeError::Unreadable
        );
        assert_eq!(
            parse(&"CK1".repeat(400)).unwrap_err(),
            ChallengeError::TooLong
        );
        let v9 = reencode(&[9, 0, 0, 0, 1]);
        assert_eq!(parse(&v9).unwrap_err(), ChallengeError::Version);
        // The first format (no counter, no padding) is not read any more.
        let v1 = reencode(&[1, 0, 0, 0, 1, 4, b'A', b'B', b'C', b'D']);
        assert_eq!(parse(&v1).unwrap_err(), ChallengeError::Version);
        assert_eq!(
            parse(&reencode(&[VERSION, 0, 0])).unwrap_err(),
            ChallengeError::Malformed
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,600}") {
            let _ = parse(&s);
        }

        #[test]
        fn parse_never_panics_on_checked_binary(bin in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = open_with_master(&[master()], &reencode(&bin));
        }

        #[test]
        fn round_trip_any_fields(created in any::<u32>(), trusted in any::<bool>(), counter in any::<u32>(), addr in "[a-z0-9.]{1,40}@[a-z]{1,20}\\.[a-z]{2,5}", serial in "[A-Z0-9][A-Z0-9-]{3,31}") {
            let key = master().device_key(&serial);
            let c = Challenge::new(&key, &serial, created, trusted, Recovery::Owner(addr)).with_counter(counter);
            let text = c.seal(&key).unwrap();
            prop_assert!(text.len() <= MAX_TEXT);
            prop_assert_eq!(open_with_master(&[master()], &text).unwrap(), c);
        }
    }
}
