//! YMODEM frames: the control bytes, CRC-16/XMODEM, block encoding, and a [`Decoder`] that
//! finds frames in an arbitrary byte stream (noise, cut frames, anything) and never panics.
//!
//! A block is `SOH` (128 data bytes) or `STX` (1024), the block number, its complement,
//! the data, and the CRC-16/XMODEM of the data, big-endian. The decoder skips bytes that
//! cannot start a frame, reports a complete block whose number and complement disagree or
//! whose CRC is wrong as [`Frame::Corrupt`], and holds at most one frame's bytes.

/// Start of a 128-byte block.
pub const SOH: u8 = 0x01;
/// Start of a 1024-byte block.
pub const STX: u8 = 0x02;
/// End of a file.
pub const EOT: u8 = 0x04;
/// Positive acknowledgement.
pub const ACK: u8 = 0x06;
/// Negative acknowledgement: send that again.
pub const NAK: u8 = 0x15;
/// Cancel (two in a row cancel the transfer).
pub const CAN: u8 = 0x18;
/// The receiver's request for a block with CRC-16 (`C`).
pub const CRC_REQUEST: u8 = b'C';
/// Padding of the last data block (CP/M end of file, `^Z`).
pub const PAD: u8 = 0x1A;
/// Data bytes of a short block.
pub const SHORT_BLOCK: usize = 128;
/// Data bytes of a long block.
pub const LONG_BLOCK: usize = 1024;
/// Bytes of the longest frame: `STX`, number, complement, 1024 data bytes, CRC.
pub const MAX_FRAME: usize = 3 + LONG_BLOCK + 2;

/// What a cancel looks like on the line: eight `CAN` (any two cancel), then eight
/// backspaces to clear them from a terminal, as lrzsz sends.
pub const CANCEL_SEQUENCE: [u8; 16] = [
    CAN, CAN, CAN, CAN, CAN, CAN, CAN, CAN, 8, 8, 8, 8, 8, 8, 8, 8,
];

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A block frame: `data` (at most [`LONG_BLOCK`] bytes) padded with `pad` to 128 bytes if
/// it fits, else to 1024. `None` if `data` is longer than 1024 bytes.
pub fn block(number: u8, data: &[u8], pad: u8) -> Option<Vec<u8>> {
    let len = match data.len() {
        n if n <= SHORT_BLOCK => SHORT_BLOCK,
        n if n <= LONG_BLOCK => LONG_BLOCK,
        _ => return None,
    };
    let mut frame = Vec::with_capacity(len + 5);
    frame.push(if len == SHORT_BLOCK { SOH } else { STX });
    frame.push(number);
    frame.push(!number);
    frame.extend_from_slice(data);
    frame.resize(3 + len, pad);
    let crc = crc16(&frame[3..]);
    frame.extend_from_slice(&crc.to_be_bytes());
    Some(frame)
}

/// A frame found in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A block with a good CRC: its number and its 128 or 1024 data bytes.
    Block {
        /// Block number (modulo 256).
        number: u8,
        /// The data, padding included.
        data: Vec<u8>,
    },
    /// End of file.
    Eot,
    /// Two `CAN` in a row outside a block.
    Cancel,
    /// A complete block whose number and complement disagree or whose CRC is wrong.
    Corrupt,
}

/// Finds frames in a byte stream, one byte at a time.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    need: usize,
    last_can: bool,
}

impl Decoder {
    /// A decoder between frames.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// Takes one byte; returns a frame when this byte completes one.
    pub fn push(&mut self, byte: u8) -> Option<Frame> {
        if self.need == 0 {
            let was_can = std::mem::replace(&mut self.last_can, byte == CAN);
            return match byte {
                SOH | STX => {
                    self.need = 3 + if byte == SOH { SHORT_BLOCK } else { LONG_BLOCK } + 2;
                    self.buf.clear();
                    self.buf.push(byte);
                    None
                }
                EOT => Some(Frame::Eot),
                CAN if was_can => {
                    self.last_can = false;
                    Some(Frame::Cancel)
                }
                // Anything else between frames is line noise.
                _ => None,
            };
        }
        self.buf.push(byte);
        if self.buf.len() < self.need {
            return None;
        }
        self.need = 0;
        let frame = std::mem::take(&mut self.buf);
        let (number, complement) = (frame[1], frame[2]);
        let (data, crc) = frame[3..].split_at(frame.len() - 5);
        if number != !complement || crc16(data).to_be_bytes() != crc {
            return Some(Frame::Corrupt);
        }
        Some(Frame::Block {
            number,
            data: data.to_vec(),
        })
    }

    /// Whether a frame has begun and is not complete.
    pub fn in_frame(&self) -> bool {
        self.need != 0
    }

    /// Forgets a partial frame (after a timeout or an error: the line is purged).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.need = 0;
        self.last_can = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc16_xmodem_check_value() {
        // The catalogued check value of CRC-16/XMODEM.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn blocks_round_trip() {
        for (len, size) in [(0, 128), (5, 128), (128, 128), (129, 1024), (1024, 1024)] {
            let data = vec![0x5a; len];
            let frame = block(9, &data, PAD).unwrap();
            assert_eq!(frame.len(), size + 5);
            let mut d = Decoder::new();
            let frames: Vec<Frame> = frame.iter().filter_map(|&b| d.push(b)).collect();
            let mut expected = data.clone();
            expected.resize(size, PAD);
            assert_eq!(
                frames,
                [Frame::Block {
                    number: 9,
                    data: expected
                }]
            );
        }
        assert!(block(0, &[0; 1025], PAD).is_none());
    }

    #[test]
    fn noise_eot_and_cancel() {
        let mut d = Decoder::new();
        let mut stream = b"noise".to_vec();
        stream.push(EOT);
        stream.extend_from_slice(&[CAN, b'x', CAN, CAN]);
        let frames: Vec<Frame> = stream.iter().filter_map(|&b| d.push(b)).collect();
        assert_eq!(frames, [Frame::Eot, Frame::Cancel]);
    }

    #[test]
    fn damaged_blocks_are_corrupt() {
        let good = block(3, b"data", PAD).unwrap();
        for at in 1..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            let mut d = Decoder::new();
            let frames: Vec<Frame> = bad.iter().filter_map(|&b| d.push(b)).collect();
            assert_eq!(frames, [Frame::Corrupt], "flip at {at}");
        }
    }

    proptest! {
        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4000)) {
            let mut d = Decoder::new();
            for b in bytes {
                if let Some(Frame::Block { data, .. }) = d.push(b) {
                    prop_assert!(data.len() == SHORT_BLOCK || data.len() == LONG_BLOCK);
                }
                prop_assert!(d.buf.len() <= MAX_FRAME);
            }
        }
    }
}
