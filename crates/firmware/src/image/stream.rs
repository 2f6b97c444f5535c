//! Images that arrive in pieces: the payload checked as it streams in
//! ([`PayloadCheck`]), and a camera's whole check of an image coming over its serial
//! console ([`Intake`]), which refuses at the header, before any payload.

use super::{HEADER_LEN, Header, ImageError, Result, check_for, truncated, verify_header};
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

/// Checks a payload as it arrives, chunk by chunk, against the size and hash of its
/// (verified) header, holding none of it.
#[derive(Debug, Clone)]
pub struct PayloadCheck {
    expected_size: u64,
    expected_hash: [u8; 32],
    received: u64,
    overrun: u64,
    hasher: Sha256,
}

impl PayloadCheck {
    /// A check for the payload `header` describes.
    pub fn new(header: &Header) -> Self {
        PayloadCheck {
            expected_size: header.fields.payload_size,
            expected_hash: header.fields.payload_sha256,
            received: 0,
            overrun: 0,
            hasher: Sha256::new(),
        }
    }

    /// Takes the next chunk; refuses bytes beyond the announced size at once.
    pub fn update(&mut self, chunk: &[u8]) -> Result<()> {
        let room = self.expected_size - self.received;
        let take = (chunk.len() as u64).min(room);
        // `take` is at most `chunk.len()`, so it fits in a usize.
        let (inside, beyond) = chunk.split_at(take as usize);
        self.hasher.update(inside);
        self.received += take;
        self.overrun += beyond.len() as u64;
        if self.overrun > 0 {
            return Err(ImageError::TrailingBytes {
                expected: self.expected_size,
                extra: self.overrun,
            });
        }
        Ok(())
    }

    /// Bytes of payload taken so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Ok only if exactly the announced size arrived and its SHA-256 is the header's.
    pub fn finish(self) -> Result<()> {
        if self.overrun > 0 {
            return Err(ImageError::TrailingBytes {
                expected: self.expected_size,
                extra: self.overrun,
            });
        }
        if self.received < self.expected_size {
            return Err(ImageError::PayloadTruncated {
                expected: self.expected_size,
                got: self.received,
            });
        }
        let hash: [u8; 32] = self.hasher.finalize().into();
        if hash != self.expected_hash {
            return Err(ImageError::HashMismatch);
        }
        Ok(())
    }
}

/// A camera's whole check of an image arriving in pieces (over YMODEM): the header is
/// parsed, verified and checked against the camera's model and floor as soon as its
/// [`HEADER_LEN`] bytes are in (a wrong magic or format as soon as those bytes are), then
/// the payload streams through a [`PayloadCheck`]. The first error sticks: every later
/// call returns it, so a caller cannot go on by mistake.
#[derive(Debug, Clone)]
pub struct Intake {
    key: VerifyingKey,
    model: String,
    floor: u32,
    head: Vec<u8>,
    header: Option<(Header, PayloadCheck)>,
    failed: Option<ImageError>,
}

impl Intake {
    /// An intake for a camera of `model` whose security-version floor is `floor`, trusting
    /// the firmware public key `key`.
    pub fn new(key: VerifyingKey, model: &str, floor: u32) -> Self {
        Intake {
            key,
            model: model.to_string(),
            floor,
            head: Vec::with_capacity(HEADER_LEN),
            header: None,
            failed: None,
        }
    }

    /// Takes the next bytes of the image.
    pub fn push(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.take(bytes);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    fn take(&mut self, mut bytes: &[u8]) -> Result<()> {
        if self.header.is_none() {
            let want = (HEADER_LEN - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..want]);
            bytes = &bytes[want..];
            let (header, _) = match Header::parse(&self.head) {
                Err(ImageError::Truncated { .. }) if self.head.len() < HEADER_LEN => return Ok(()),
                other => other?,
            };
            verify_header(&header, &self.key)?;
            check_for(&header, &self.model, self.floor)?;
            let check = PayloadCheck::new(&header);
            self.header = Some((header, check));
        }
        match &mut self.header {
            Some((_, check)) => check.update(bytes),
            None => Ok(()),
        }
    }

    /// The header, once it has arrived and passed every check.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref().map(|(header, _)| header)
    }

    /// Ok with the header if the whole image arrived and passed every check.
    pub fn finish(self) -> Result<Header> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        match self.header {
            None => Err(truncated(self.head.len())),
            Some((header, check)) => check.finish().map(|()| header),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Release, build, generated_payload};
    use super::*;
    use ed25519_dalek::SigningKey;

    fn image(payload: &[u8]) -> (SigningKey, Vec<u8>) {
        let key = SigningKey::from_bytes(&[5; 32]);
        let release = Release {
            model: "IPC4K15",
            version: "1.2.3",
            security_version: 3,
        };
        let image = build(&key, &release, payload).unwrap();
        (key, image)
    }

    #[test]
    fn streaming_check_matches_whole_check() {
        let payload = generated_payload("IPC4K15", "1.2.3", 100_000).unwrap();
        let (_, image) = image(&payload);
        let (header, at) = Header::parse(&image).unwrap();
        let mut check = PayloadCheck::new(&header);
        for chunk in image[at..].chunks(1000) {
            check.update(chunk).unwrap();
        }
        assert_eq!(check.received(), 100_000);
        check.clone().finish().unwrap();
        assert!(matches!(
            check.update(b"x"),
            Err(ImageError::TrailingBytes { extra: 1, .. })
        ));
        assert!(check.finish().is_err());
    }

    #[test]
    fn intake_refuses_at_the_header_and_checks_the_rest() {
        let payload = generated_payload("IPC4K15", "1.2.3", 10_000).unwrap();
        let (key, image) = image(&payload);
        let vk = key.verifying_key();
        for chunk in [1, 7, 168, 1000, 20_000] {
            let mut intake = Intake::new(vk, "IPC4K15", 3);
            for (i, piece) in image.chunks(chunk).enumerate() {
                intake.push(piece).unwrap();
                assert_eq!(intake.header().is_some(), (i + 1) * chunk >= HEADER_LEN);
            }
            assert_eq!(intake.finish().unwrap().fields.payload_size, 10_000);
        }
        // Another model: refused with the header's last byte, before any payload.
        let mut intake = Intake::new(vk, "IPC4T8", 0);
        intake.push(&image[..HEADER_LEN - 1]).unwrap();
        assert!(matches!(
            intake.push(&image[HEADER_LEN - 1..HEADER_LEN]),
            Err(ImageError::WrongModel { .. })
        ));
        // The error sticks.
        assert!(intake.push(&image[HEADER_LEN..]).is_err());
        assert!(intake.finish().is_err());
        // A rollback, a bad magic from the first byte, a short image.
        let mut intake = Intake::new(vk, "IPC4K15", 4);
        assert!(matches!(
            intake.push(&image),
            Err(ImageError::Rollback { .. })
        ));
        let mut intake = Intake::new(vk, "IPC4K15", 0);
        assert_eq!(intake.push(b"M"), Err(ImageError::BadMagic));
        let mut intake = Intake::new(vk, "IPC4K15", 0);
        intake.push(&image[..image.len() - 1]).unwrap();
        assert!(matches!(
            intake.finish(),
            Err(ImageError::PayloadTruncated { .. })
        ));
    }
}
