//! Firmware images: a signed header, then the payload (S10, docs/formats.md "Firmware
//! images").
//!
//! The header is fixed-size binary ([`HEADER_LEN`] bytes) and comes before the payload, so
//! that the camera decides from the first bytes whether to take the rest:
//! [`Header::parse`] needs only those bytes, [`verify_header`] checks the vendor's
//! signature, [`check_for`] refuses another model or a rollback below the camera's
//! security-version floor, and [`PayloadCheck`] then checks the payload as it streams in,
//! without holding it. [`verify_image`] does all of this for a whole image in memory
//! (`camkey firmware verify`), [`build`] makes one (`camkey firmware build`).
//!
//! Parsing is strict: one encoding per header (lengths in range, zero padding, characters
//! from a fixed set), so re-encoding the parsed fields gives back the signed bytes.
//!
//! # Layout
//! - this file: the format ([`ImageHeader`], [`Header`], the constants), [`build`],
//!   [`verify_header`], [`check_for`], [`verify_image`] and [`generated_payload`];
//! - `stream` (private, re-exported here): [`PayloadCheck`] and [`Intake`], for images
//!   that arrive in pieces.

mod stream;

pub use stream::{Intake, PayloadCheck};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The first bytes of every image.
pub const MAGIC: [u8; 8] = *b"CAMKEYFW";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Longest model name, in bytes.
pub const MAX_MODEL_LEN: usize = 16;
/// Longest version string, in bytes.
pub const MAX_VERSION_LEN: usize = 32;
/// Length of the signed part of the header (everything before the signature).
pub const SIGNED_LEN: usize = 104;
/// Length of the whole header: the signed part and the 64-byte Ed25519 signature.
pub const HEADER_LEN: usize = SIGNED_LEN + 64;
/// Largest payload an image may carry: 64 MiB.
pub const MAX_IMAGE: u64 = 64 * 1024 * 1024;
/// What the signature covers before the header bytes (domain separation: a signature made
/// with the firmware key for anything else can never pass as an image's).
pub const SIGNATURE_CONTEXT: &[u8] = b"camkey/firmware-image/v1";

// Offsets of the fields (docs/formats.md).
const AT_FORMAT: usize = 8;
const AT_MODEL_LEN: usize = 10;
const AT_MODEL: usize = 11;
const AT_VERSION_LEN: usize = AT_MODEL + MAX_MODEL_LEN;
const AT_VERSION: usize = AT_VERSION_LEN + 1;
const AT_SECURITY: usize = AT_VERSION + MAX_VERSION_LEN;
const AT_SIZE: usize = AT_SECURITY + 4;
const AT_HASH: usize = AT_SIZE + 8;
const _: () = assert!(AT_HASH + 32 == SIGNED_LEN);

/// Why an image, or a part of it, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Fewer bytes than the header needs.
    #[error("image truncated: the header needs {needed} bytes, only {got} are there")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The first bytes are not [`MAGIC`].
    #[error("not a camkey firmware image (bad magic)")]
    BadMagic,
    /// A format version this build does not read.
    #[error(
        "unknown firmware image format version {0} (this build reads version {FORMAT_VERSION})"
    )]
    UnknownFormat(u16),
    /// A header field out of its range or not in its canonical form.
    #[error("malformed header: {field} {reason}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The signature does not verify with the firmware public key.
    #[error(
        "bad signature: the header was not signed by this vendor's firmware key, or was altered"
    )]
    BadSignature,
    /// A firmware public key that is not one.
    #[error("bad firmware public key: {0}")]
    BadKey(String),
    /// The image is for another model.
    #[error("wrong model: the image is for {image}, this camera is a {camera}")]
    WrongModel {
        /// The image's model.
        image: String,
        /// The camera's model.
        camera: String,
    },
    /// The image's security version is below the camera's floor.
    #[error("rollback: security version {image} is below the camera's floor {floor}")]
    Rollback {
        /// The image's security version.
        image: u32,
        /// The camera's floor.
        floor: u32,
    },
    /// A payload over [`MAX_IMAGE`].
    #[error("oversize: a payload of {size} bytes is over the limit of {max} bytes")]
    Oversize {
        /// The payload size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The payload ended before the size the header announced.
    #[error("payload truncated: {got} of the {expected} bytes the header announced")]
    PayloadTruncated {
        /// Announced size.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// Bytes after the announced payload.
    #[error("trailing bytes: {extra} bytes after the {expected}-byte payload the header announced")]
    TrailingBytes {
        /// Announced size.
        expected: u64,
        /// Bytes beyond it.
        extra: u64,
    },
    /// The payload is not the one the header was signed for.
    #[error("payload hash mismatch: the payload is not the one the signed header describes")]
    HashMismatch,
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, ImageError>;

/// What the vendor chooses for a new image; [`build`] adds the payload's size and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release<'a> {
    /// The catalogue model the image is for, e.g. `IPC4K15`.
    pub model: &'a str,
    /// The firmware version, e.g. `5.7.4` or `9.9.9-test`.
    pub version: &'a str,
    /// The security version: cameras refuse images below their floor.
    pub security_version: u32,
}

/// The signed fields of an image header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageHeader {
    /// The model the image is for: 1 to [`MAX_MODEL_LEN`] of `A-Z`, `0-9`, `-`.
    pub model: String,
    /// The firmware version: `MAJOR.MINOR.PATCH` with an optional `-…`/`+…` suffix,
    /// at most [`MAX_VERSION_LEN`] bytes.
    pub version: String,
    /// The security version.
    pub security_version: u32,
    /// The payload's size in bytes, at most [`MAX_IMAGE`].
    pub payload_size: u64,
    /// The payload's SHA-256.
    pub payload_sha256: [u8; 32],
}

impl ImageHeader {
    /// The header of `release` for `payload`.
    pub fn for_payload(release: &Release<'_>, payload: &[u8]) -> Self {
        ImageHeader {
            model: release.model.to_string(),
            version: release.version.to_string(),
            security_version: release.security_version,
            payload_size: payload.len() as u64,
            payload_sha256: Sha256::digest(payload).into(),
        }
    }

    /// The signed bytes (the first [`SIGNED_LEN`] bytes of the image), or why these
    /// fields cannot be encoded.
    pub fn encode(&self) -> Result<[u8; SIGNED_LEN]> {
        check_model(&self.model)?;
        check_version(&self.version)?;
        check_size(self.payload_size)?;
        let mut out = [0u8; SIGNED_LEN];
        out[..AT_FORMAT].copy_from_slice(&MAGIC);
        out[AT_FORMAT..AT_MODEL_LEN].copy_from_slice(&FORMAT_VERSION.to_be_bytes());
        out[AT_MODEL_LEN] = self.model.len() as u8;
        out[AT_MODEL..AT_MODEL + self.model.len()].copy_from_slice(self.model.as_bytes());
        out[AT_VERSION_LEN] = self.version.len() as u8;
        out[AT_VERSION..AT_VERSION + self.version.len()].copy_from_slice(self.version.as_bytes());
        out[AT_SECURITY..AT_SIZE].copy_from_slice(&self.security_version.to_be_bytes());
        out[AT_SIZE..AT_HASH].copy_from_slice(&self.payload_size.to_be_bytes());
        out[AT_HASH..SIGNED_LEN].copy_from_slice(&self.payload_sha256);
        Ok(out)
    }

    /// The payload's SHA-256 in lower-case hex.
    pub fn payload_sha256_hex(&self) -> String {
        hex(&self.payload_sha256)
    }
}

/// A parsed image header: its fields and their signature (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The signed fields.
    pub fields: ImageHeader,
    /// The Ed25519 signature over [`SIGNATURE_CONTEXT`] and the signed bytes.
    pub signature: [u8; 64],
}

impl Header {
    /// Parses the header at the start of `bytes`, which may hold more (the payload) or
    /// only the header. Returns the header and its length ([`HEADER_LEN`]): the payload
    /// starts there. Refuses early: a wrong magic or format version is reported as soon as
    /// those bytes are present, before the rest of the header.
    pub fn parse(bytes: &[u8]) -> Result<(Header, usize)> {
        let magic_seen = bytes.len().min(MAGIC.len());
        if bytes[..magic_seen] != MAGIC[..magic_seen] {
            return Err(ImageError::BadMagic);
        }
        if bytes.len() < AT_MODEL_LEN {
            return Err(truncated(bytes.len()));
        }
        let format = u16::from_be_bytes([bytes[AT_FORMAT], bytes[AT_FORMAT + 1]]);
        if format != FORMAT_VERSION {
            return Err(ImageError::UnknownFormat(format));
        }
        if bytes.len() < HEADER_LEN {
            return Err(truncated(bytes.len()));
        }
        let model = text_field(
            "model",
            bytes[AT_MODEL_LEN],
            &bytes[AT_MODEL..AT_VERSION_LEN],
        )?;
        check_model(&model)?;
        let version = text_field(
            "version",
            bytes[AT_VERSION_LEN],
            &bytes[AT_VERSION..AT_SECURITY],
        )?;
        check_version(&version)?;
        let security_version = u32::from_be_bytes(array(&bytes[AT_SECURITY..AT_SIZE]));
        let payload_size = u64::from_be_bytes(array(&bytes[AT_SIZE..AT_HASH]));
        check_size(payload_size)?;
        let fields = ImageHeader {
            model,
            version,
            security_version,
            payload_size,
            payload_sha256: array(&bytes[AT_HASH..SIGNED_LEN]),
        };
        let signature = array(&bytes[SIGNED_LEN..HEADER_LEN]);
        Ok((Header { fields, signature }, HEADER_LEN))
    }

    /// The header's bytes, as they appear at the start of the image.
    pub fn to_bytes(&self) -> Result<[u8; HEADER_LEN]> {
        let mut out = [0u8; HEADER_LEN];
        out[..SIGNED_LEN].copy_from_slice(&self.fields.encode()?);
        out[SIGNED_LEN..].copy_from_slice(&self.signature);
        Ok(out)
    }
}

fn truncated(got: usize) -> ImageError {
    ImageError::Truncated {
        needed: HEADER_LEN,
        got,
    }
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// A length-prefixed, zero-padded ASCII field.
fn text_field(field: &'static str, len: u8, area: &[u8]) -> Result<String> {
    let len = usize::from(len);
    if len == 0 || len > area.len() {
        return Err(malformed(
            field,
            format!("has length {len}, not 1 to {}", area.len()),
        ));
    }
    if area[len..].iter().any(|&b| b != 0) {
        return Err(malformed(field, "is not zero-padded".into()));
    }
    match std::str::from_utf8(&area[..len]) {
        Ok(text) => Ok(text.to_string()),
        Err(_) => Err(malformed(field, "is not ASCII".into())),
    }
}

fn malformed(field: &'static str, reason: String) -> ImageError {
    ImageError::Malformed { field, reason }
}

fn check_model(model: &str) -> Result<()> {
    let ok_chars = model
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if model.is_empty() || model.len() > MAX_MODEL_LEN || !ok_chars || model.starts_with('-') {
        return Err(malformed(
            "model",
            format!("{model:?} is not 1 to {MAX_MODEL_LEN} characters of A-Z, 0-9 and -"),
        ));
    }
    Ok(())
}

/// `MAJOR.MINOR.PATCH` (decimal), then optionally `-` or `+` and `A-Z a-z 0-9 . - +`.
fn check_version(version: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(malformed(
            "version",
            format!("{version:?} {why} (expected e.g. 5.7.4 or 9.9.9-test)"),
        ))
    };
    if version.is_empty() || version.len() > MAX_VERSION_LEN {
        return bad(&format!("is not 1 to {MAX_VERSION_LEN} bytes"));
    }
    let (core, suffix) = match version.find(['-', '+']) {
        Some(at) => version.split_at(at),
        None => (version, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad("does not start with three dot-separated numbers");
    }
    let suffix_ok = suffix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'));
    if suffix.len() == 1 {
        return bad("has an empty suffix");
    }
    if !suffix_ok {
        return bad("has a suffix with characters other than A-Z a-z 0-9 . - +");
    }
    Ok(())
}

fn check_size(size: u64) -> Result<()> {
    if size > MAX_IMAGE {
        return Err(ImageError::Oversize {
            size,
            max: MAX_IMAGE,
        });
    }
    Ok(())
}

fn signed_message(signed: &[u8; SIGNED_LEN]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNATURE_CONTEXT.len() + SIGNED_LEN);
    message.extend_from_slice(SIGNATURE_CONTEXT);
    message.extend_from_slice(signed);
    message
}

/// Builds a whole image: the header of `release` for `payload`, signed with the vendor's
/// firmware key, then the payload.
pub fn build(key: &SigningKey, release: &Release<'_>, payload: &[u8]) -> Result<Vec<u8>> {
    check_size(payload.len() as u64)?;
    let fields = ImageHeader::for_payload(release, payload);
    let signed = fields.encode()?;
    let signature = key.sign(&signed_message(&signed)).to_bytes();
    let mut image = Vec::with_capacity(HEADER_LEN + payload.len());
    image.extend_from_slice(&signed);
    image.extend_from_slice(&signature);
    image.extend_from_slice(payload);
    Ok(image)
}

/// Checks the header's signature with the firmware public key (strict Ed25519
/// verification: no malleable or small-order signatures).
pub fn verify_header(header: &Header, key: &VerifyingKey) -> Result<()> {
    let signed = header.fields.encode()?;
    let signature = Signature::from_bytes(&header.signature);
    key.verify_strict(&signed_message(&signed), &signature)
        .map_err(|_| ImageError::BadSignature)
}

/// Refuses an image meant for another model than `model`, or whose security version is
/// below `floor` (a rollback). An image at the floor is accepted: reinstalling the same
/// firmware is no rollback.
pub fn check_for(header: &Header, model: &str, floor: u32) -> Result<()> {
    if header.fields.model != model {
        return Err(ImageError::WrongModel {
            image: header.fields.model.clone(),
            camera: model.to_string(),
        });
    }
    if header.fields.security_version < floor {
        return Err(ImageError::Rollback {
            image: header.fields.security_version,
            floor,
        });
    }
    Ok(())
}

/// The firmware public key from its hex form (`firmware.pub`, the factory data's
/// `firmware_public_key`).
pub fn verifying_key_from_hex(text: &str) -> Result<VerifyingKey> {
    let text = text.trim();
    let bad = || ImageError::BadKey(format!("expected 64 hex digits, got {:?}", text));
    if text.len() != 64 || !text.is_ascii() {
        return Err(bad());
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    VerifyingKey::from_bytes(&bytes).map_err(|e| ImageError::BadKey(e.to_string()))
}

/// Verifies a whole image in memory: header, signature, then payload size and hash.
/// Model and floor are the camera's business ([`check_for`]).
pub fn verify_image(bytes: &[u8], key: &VerifyingKey) -> Result<Header> {
    let (header, at) = Header::parse(bytes)?;
    verify_header(&header, key)?;
    let mut check = PayloadCheck::new(&header);
    check.update(&bytes[at..])?;
    check.finish()?;
    Ok(header)
}

/// A deterministic stand-in payload for images built without one (the lab's firmware):
/// a text line naming the model and version, then bytes from SHA-256 in counter mode over
/// the model and version. The same arguments give the same bytes on every machine.
pub fn generated_payload(model: &str, version: &str, size: u64) -> Result<Vec<u8>> {
    check_size(size)?;
    // `size` is at most MAX_IMAGE, which fits in a usize on every target we build.
    let size = size as usize;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(format!("camkey generated firmware {model} {version}\n").as_bytes());
    let mut counter: u64 = 0;
    while out.len() < size {
        let mut block = Sha256::new();
        block.update(b"camkey/generated-payload/v1\0");
        block.update(model.as_bytes());
        block.update([0]);
        block.update(version.as_bytes());
        block.update([0]);
        block.update(counter.to_be_bytes());
        out.extend_from_slice(&block.finalize());
        counter += 1;
    }
    out.truncate(size);
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FORMATS: &str = include_str!("../../../docs/formats.md");

    /// The vector of docs/formats.md: RFC 8032's first test key.
    const VECTOR_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const VECTOR_PAYLOAD: &[u8] = b"camkey test firmware\n";

    fn vector_key() -> SigningKey {
        let bytes = data_encoding::HEXLOWER
            .decode(VECTOR_SECRET.as_bytes())
            .unwrap();
        SigningKey::from_bytes(&bytes.try_into().unwrap())
    }

    fn release() -> Release<'static> {
        Release {
            model: "IPC4K15",
            version: "1.2.3",
            security_version: 3,
        }
    }

    fn image(payload: &[u8]) -> (SigningKey, Vec<u8>) {
        let key = vector_key();
        let image = build(&key, &release(), payload).unwrap();
        (key, image)
    }

    #[test]
    fn build_then_verify() {
        let (key, image) = image(b"hello firmware");
        let header = verify_image(&image, &key.verifying_key()).unwrap();
        assert_eq!(header.fields.model, "IPC4K15");
        assert_eq!(header.fields.version, "1.2.3");
        assert_eq!(header.fields.security_version, 3);
        assert_eq!(header.fields.payload_size, 14);
        assert_eq!(header.to_bytes().unwrap()[..], image[..HEADER_LEN]);
        check_for(&header, "IPC4K15", 3).unwrap();
        check_for(&header, "IPC4K15", 0).unwrap();
    }

    #[test]
    fn header_alone_is_enough_to_refuse() {
        let (key, image) = image(&[7; 5000]);
        let (header, len) = Header::parse(&image[..HEADER_LEN]).unwrap();
        assert_eq!(len, HEADER_LEN);
        verify_header(&header, &key.verifying_key()).unwrap();
        let wrong = check_for(&header, "IPC4T8", 0).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "wrong model: the image is for IPC4K15, this camera is a IPC4T8"
        );
        let rollback = check_for(&header, "IPC4K15", 4).unwrap_err();
        assert_eq!(
            rollback.to_string(),
            "rollback: security version 3 is below the camera's floor 4"
        );
        // A wrong magic or format shows in the first bytes already.
        assert_eq!(Header::parse(b"MZ"), Err(ImageError::BadMagic));
        assert_eq!(
            Header::parse(b"CAMKEYFW\x00\x02"),
            Err(ImageError::UnknownFormat(2))
        );
        assert_eq!(
            Header::parse(&image[..20]),
            Err(ImageError::Truncated {
                needed: HEADER_LEN,
                got: 20
            })
        );
    }

    #[test]
    fn another_key_is_a_bad_signature() {
        let (_, image) = image(b"x");
        let other = SigningKey::from_bytes(&[9; 32]);
        let err = verify_image(&image, &other.verifying_key()).unwrap_err();
        assert_eq!(err, ImageError::BadSignature);
        assert!(err.to_string().starts_with("bad signature"));
    }

    #[test]
    fn signature_is_domain_separated() {
        // A plain signature over the header bytes (no context) must not pass.
        let (key, mut image) = image(b"x");
        let signed: [u8; SIGNED_LEN] = image[..SIGNED_LEN].try_into().unwrap();
        let plain = key.sign(&signed).to_bytes();
        image[SIGNED_LEN..HEADER_LEN].copy_from_slice(&plain);
        assert_eq!(
            verify_image(&image, &key.verifying_key()),
            Err(ImageError::BadSignature)
        );
    }

    #[test]
    fn payload_errors_say_what_is_wrong() {
        let (key, image) = image(b"0123456789");
        let vk = key.verifying_key();
        let mut long = image.clone();
        long.extend_from_slice(b"!!");
        assert_eq!(
            verify_image(&long, &vk).unwrap_err().to_string(),
            "trailing bytes: 2 bytes after the 10-byte payload the header announced"
        );
        assert_eq!(
            verify_image(&image[..image.len() - 3], &vk)
                .unwrap_err()
                .to_string(),
            "payload truncated: 7 of the 10 bytes the header announced"
        );
        let mut flipped = image.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(verify_image(&flipped, &vk), Err(ImageError::HashMismatch));
    }

    #[test]
    fn oversize_is_refused_before_the_payload() {
        let mut fields = ImageHeader::for_payload(&release(), b"");
        fields.payload_size = MAX_IMAGE;
        fields.encode().unwrap();
        fields.payload_size = MAX_IMAGE + 1;
        assert_eq!(
            fields.encode().unwrap_err().to_string(),
            format!(
                "oversize: a payload of {} bytes is over the limit of {MAX_IMAGE} bytes",
                MAX_IMAGE + 1
            )
        );
        // A header claiming it is refused by the parser, signed or not.
        let (_, mut image) = image(b"");
        image[AT_SIZE..AT_HASH].copy_from_slice(&(MAX_IMAGE + 1).to_be_bytes());
        assert!(matches!(
            Header::parse(&image),
            Err(ImageError::Oversize { .. })
        ));
        assert!(generated_payload("IPC4K15", "1.0.0", MAX_IMAGE + 1).is_err());
    }

    #[test]
    fn fields_are_checked() {
        let key = vector_key();
        for (model, version) in [
            ("", "1.0.0"),
            ("ipc4k15", "1.0.0"),
            ("-IPC", "1.0.0"),
            ("IPC4K15IPC4K15IPC", "1.0.0"),
            ("IPC4K15", "1.0"),
            ("IPC4K15", "1.0.0-"),
            ("IPC4K15", "v1.0.0"),
            ("IPC4K15", "1.0.0-a b"),
            ("IPC4K15", "1..0"),
            ("IPC4K15", "1.0.0-0123456789012345678901234567"),
        ] {
            let r = Release {
                model,
                version,
                security_version: 0,
            };
            let err = build(&key, &r, b"").unwrap_err();
            assert!(
                matches!(err, ImageError::Malformed { .. }),
                "{model} {version}: {err}"
            );
        }
        for version in ["5.7.4", "9.9.9-test", "1.0.0+build.7", "10.20.30-rc.1+x"] {
            let r = Release {
                model: "IPC4PTZ25",
                version,
                security_version: u32::MAX,
            };
            build(&key, &r, b"").unwrap();
        }
    }

    #[test]
    fn padding_must_be_zero() {
        let (_, mut image) = image(b"");
        image[AT_MODEL + 10] = b'X';
        assert!(matches!(
            Header::parse(&image),
            Err(ImageError::Malformed { field: "model", .. })
        ));
    }

    #[test]
    fn verifying_key_from_hex_reads_firmware_pub() {
        let key = vector_key();
        let text = data_encoding::HEXLOWER.encode(key.verifying_key().as_bytes());
        assert_eq!(
            verifying_key_from_hex(&format!("{text}\n")).unwrap(),
            key.verifying_key()
        );
        assert!(verifying_key_from_hex("abc").is_err());
        assert!(verifying_key_from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn generated_payload_is_deterministic() {
        let a = generated_payload("IPC4K15", "5.7.4", 4096).unwrap();
        assert_eq!(a, generated_payload("IPC4K15", "5.7.4", 4096).unwrap());
        assert_ne!(a, generated_payload("IPC4K15", "5.7.5", 4096).unwrap());
        assert!(a.starts_with(b"camkey generated firmware IPC4K15 5.7.4\n"));
        assert_eq!(a.len(), 4096);
        assert_eq!(generated_payload("IPC4K15", "5.7.4", 3).unwrap(), b"cam");
    }

    /// Every truncation and every single-byte change of a valid image is refused.
    #[test]
    fn no_truncation_or_byte_flip_is_accepted() {
        let (key, image) = image(b"a short payload of firmware");
        let vk = key.verifying_key();
        for len in 0..image.len() {
            assert!(verify_image(&image[..len], &vk).is_err(), "cut at {len}");
        }
        for at in 0..image.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = image.clone();
                bad[at] ^= flip;
                assert!(verify_image(&bad, &vk).is_err(), "flip {flip:#x} at {at}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn random_damage_is_refused(
            payload in proptest::collection::vec(any::<u8>(), 0..2000),
            at in any::<usize>(),
            flip in 1u8..,
            cut in any::<usize>(),
        ) {
            let (key, image) = image(&payload);
            let vk = key.verifying_key();
            prop_assert!(verify_image(&image, &vk).is_ok());
            let mut bad = image.clone();
            bad[at % image.len()] ^= flip;
            prop_assert!(verify_image(&bad, &vk).is_err());
            let cut = cut % image.len();
            prop_assert!(verify_image(&image[..cut], &vk).is_err());
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Header::parse(&bytes);
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&[0, 1]);
            with_magic.extend_from_slice(&bytes);
            if let Ok((header, _)) = Header::parse(&with_magic) {
                // What parses re-encodes to the same bytes.
                prop_assert_eq!(&header.to_bytes().unwrap()[..], &with_magic[..HEADER_LEN]);
            }
        }
    }

    #[test]
    fn vector_in_docs() {
        let key = vector_key();
        let image = build(&key, &release(), VECTOR_PAYLOAD).unwrap();
        let public = data_encoding::HEXLOWER.encode(key.verifying_key().as_bytes());
        let dump: Vec<String> = image
            .chunks(32)
            .map(|c| data_encoding::HEXLOWER.encode(c))
            .collect();
        let dump = dump.join("\n");
        println!("{public}\n{dump}");
        for line in [
            format!("secret key  {VECTOR_SECRET}"),
            format!("public key  {public}"),
            "model       IPC4K15".to_string(),
            "version     1.2.3".to_string(),
            "security    3".to_string(),
            "payload     \"camkey test firmware\\n\" (21 bytes)".to_string(),
            dump,
        ] {
            assert!(
                FORMATS.contains(&line),
                "docs/formats.md lacks or has a stale firmware image vector: {line}"
            );
        }
        verify_image(&image, &key.verifying_key()).unwrap();
    }
}
