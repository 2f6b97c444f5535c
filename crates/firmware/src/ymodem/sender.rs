//! The sending side of a YMODEM batch of one file: `camkey flash`'s, towards a camera's
//! serial console (or any `rb`).
//!
//! The sender waits for the receiver's `C`, sends block 0 (name and size), waits for its
//! `ACK` and the next `C`, sends the data in 1024-byte blocks (128-byte ones for the last
//! 896 bytes or fewer, as lrzsz does), resends a block on `NAK` or timeout, sends `EOT`
//! until it is acknowledged, then ends the batch with an empty block 0. After sending a
//! frame it ignores the rest of what it was fed with it: a stale `ACK` must not acknowledge
//! the next block.

use super::frame::{ACK, CAN, CANCEL_SEQUENCE, CRC_REQUEST, EOT, LONG_BLOCK, NAK, PAD, block};
use super::{Limits, MAX_NAME_LEN, Output, TIMEOUT, YmodemError, check_name};
use std::time::Duration;

/// What the sender tells its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendEvent {
    /// The receiver acknowledged data up to `acked` of `total` bytes.
    Progress {
        /// Bytes acknowledged.
        acked: u64,
        /// The file's size.
        total: u64,
    },
    /// The receiver acknowledged the end of the file: it has all of it.
    FileDelivered,
    /// The receiver acknowledged the end of the batch.
    BatchComplete,
    /// The receiver cancelled (two `CAN`).
    Cancelled,
    /// The transfer failed; the sender sent a cancel and is finished.
    Failed(YmodemError),
}

type Out = Output<SendEvent>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitStart,
    AwaitHeaderAck,
    AwaitDataStart,
    AwaitBlockAck,
    AwaitEotAck,
    AwaitEndStart,
    AwaitEndAck,
    Finished,
}

/// A YMODEM sender of one file (sans-IO).
#[derive(Debug, Clone)]
pub struct Sender {
    name: String,
    data: Vec<u8>,
    limits: Limits,
    state: State,
    errors: u32,
    last_can: bool,
    /// Start of the block in flight, and its length of data.
    offset: usize,
    len: usize,
    number: u8,
    delivered: bool,
}

impl Sender {
    /// A sender of `data` under `name`, within `limits`.
    pub fn new(name: &str, data: Vec<u8>, limits: Limits) -> Result<Sender, YmodemError> {
        check_name(name, &limits)?;
        let size = data.len() as u64;
        if size > limits.max_file_size {
            return Err(YmodemError::TooBig {
                size,
                max: limits.max_file_size,
            });
        }
        Ok(Sender {
            name: name.to_string(),
            data,
            limits,
            state: State::AwaitStart,
            errors: 0,
            last_can: false,
            offset: 0,
            len: 0,
            number: 0,
            delivered: false,
        })
    }

    /// How long to wait for the receiver before calling [`Sender::on_timeout`].
    pub fn timeout(&self) -> Duration {
        TIMEOUT
    }

    /// Whether the transfer is over (completed, cancelled or failed).
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// Whether the receiver acknowledged the whole file (even if the batch did not end
    /// cleanly afterwards).
    pub fn file_delivered(&self) -> bool {
        self.delivered
    }

    /// Bytes of the file the receiver acknowledged.
    pub fn acked(&self) -> u64 {
        self.offset as u64
    }

    /// Takes the receiver's bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Out {
        let mut out = Out::default();
        for (i, &byte) in bytes.iter().enumerate() {
            if self.state == State::Finished {
                break;
            }
            let was_can = std::mem::replace(&mut self.last_can, byte == CAN);
            if byte == CAN && was_can {
                self.state = State::Finished;
                out.events.push(SendEvent::Cancelled);
                break;
            }
            let sent = out.send.len();
            if let Err(error) = self.on_byte(byte, &mut out) {
                out.append(self.fail(error));
                break;
            }
            if out.send.len() > sent {
                // We answered: what else came with this byte is stale, but a cancel in it
                // (the receiver acknowledged a block, then found the data bad) still holds.
                let rest = &bytes[i + 1..];
                if rest.windows(2).any(|w| w == [CAN, CAN]) {
                    self.state = State::Finished;
                    out.send.clear();
                    out.events.push(SendEvent::Cancelled);
                } else {
                    self.last_can = rest.last() == Some(&CAN);
                }
                break;
            }
        }
        out
    }

    /// Nothing came for [`Sender::timeout`]: send again, or give up.
    pub fn on_timeout(&mut self) -> Out {
        let mut out = Out::default();
        let (tries, waiting) = match self.state {
            State::Finished => return out,
            State::AwaitStart => (
                self.limits.start_tries,
                "waiting for the receiver to start (no C)".to_string(),
            ),
            State::AwaitHeaderAck => (
                self.limits.max_retries,
                "waiting for the ACK of the file header".into(),
            ),
            State::AwaitDataStart => (
                self.limits.max_retries,
                "waiting for the receiver to ask for the data".into(),
            ),
            State::AwaitBlockAck => (
                self.limits.max_retries,
                format!(
                    "waiting for the ACK of block {} (byte {} of {})",
                    self.number,
                    self.offset,
                    self.data.len()
                ),
            ),
            State::AwaitEotAck => (
                self.limits.max_retries,
                "waiting for the ACK of the end of file".into(),
            ),
            State::AwaitEndStart | State::AwaitEndAck => (
                self.limits.max_retries,
                "waiting for the ACK of the end of the batch".into(),
            ),
        };
        self.errors += 1;
        if self.errors > tries {
            if self.delivered {
                // The file is there; a receiver that went quiet after it (lrzsz's `rb`
                // may exit) gets no cancel, which a console could take for input.
                self.state = State::Finished;
                let waiting = format!("{waiting} (the file itself was delivered)");
                out.events
                    .push(SendEvent::Failed(YmodemError::GaveUp { tries, waiting }));
                return out;
            }
            return self.fail(YmodemError::GaveUp { tries, waiting });
        }
        match self.state {
            State::AwaitStart | State::Finished => {}
            State::AwaitHeaderAck => out.send = self.header_frame(),
            // As lrzsz: a receiver that does not ask again gets the data anyway.
            State::AwaitDataStart => self.send_block(0, &mut out),
            State::AwaitBlockAck => self.send_block(self.offset, &mut out),
            State::AwaitEotAck => out.send.push(EOT),
            State::AwaitEndStart | State::AwaitEndAck => {
                self.state = State::AwaitEndAck;
                out.send = end_frame();
            }
        }
        out
    }

    /// Cancels the transfer from this side.
    pub fn cancel(&mut self, reason: &str) -> Out {
        self.fail(YmodemError::CancelledHere(reason.to_string()))
    }

    fn fail(&mut self, error: YmodemError) -> Out {
        self.state = State::Finished;
        Out {
            send: CANCEL_SEQUENCE.to_vec(),
            events: vec![SendEvent::Failed(error)],
        }
    }

    fn retry(&mut self, what: &str) -> Result<(), YmodemError> {
        self.errors += 1;
        if self.errors > self.limits.max_retries {
            return Err(YmodemError::GaveUp {
                tries: self.limits.max_retries,
                waiting: format!("sending {what} (the receiver refused it each time)"),
            });
        }
        Ok(())
    }

    fn on_byte(&mut self, byte: u8, out: &mut Out) -> Result<(), YmodemError> {
        match (self.state, byte) {
            (State::AwaitStart, CRC_REQUEST) => {
                self.state = State::AwaitHeaderAck;
                out.send = self.header_frame();
            }
            (State::AwaitHeaderAck, ACK) => {
                self.errors = 0;
                self.state = State::AwaitDataStart;
            }
            (State::AwaitHeaderAck, NAK | CRC_REQUEST) => {
                self.retry("the file header")?;
                out.send = self.header_frame();
            }
            (State::AwaitDataStart, CRC_REQUEST) => self.send_block(0, out),
            (State::AwaitBlockAck, ACK) => {
                self.errors = 0;
                self.offset += self.len;
                out.events.push(SendEvent::Progress {
                    acked: self.offset as u64,
                    total: self.data.len() as u64,
                });
                self.number = self.number.wrapping_add(1);
                self.send_block(self.offset, out);
            }
            (State::AwaitBlockAck, NAK) => {
                self.retry(&format!("block {}", self.number))?;
                self.send_block(self.offset, out);
            }
            // The receiver did not get the first block and asks again.
            (State::AwaitBlockAck, CRC_REQUEST) if self.offset == 0 => {
                self.retry("block 1")?;
                self.send_block(0, out);
            }
            (State::AwaitEotAck, ACK) => {
                self.errors = 0;
                self.delivered = true;
                self.state = State::AwaitEndStart;
                out.events.push(SendEvent::FileDelivered);
            }
            (State::AwaitEotAck, NAK) => {
                // The first EOT is refused on purpose by many receivers.
                self.retry("the end of file")?;
                out.send.push(EOT);
            }
            (State::AwaitEndStart, CRC_REQUEST | NAK) => {
                self.state = State::AwaitEndAck;
                out.send = end_frame();
            }
            (State::AwaitEndAck, ACK) => {
                self.state = State::Finished;
                out.events.push(SendEvent::BatchComplete);
            }
            (State::AwaitEndAck, NAK | CRC_REQUEST) => {
                self.retry("the end of the batch")?;
                out.send = end_frame();
            }
            // Anything else is noise, a repeat, or a request for a mode we do not speak.
            _ => {}
        }
        Ok(())
    }

    /// Sends the data block at `offset` (numbered from `self.number`, which is 1 for
    /// offset 0), or `EOT` when all the data is acknowledged.
    fn send_block(&mut self, offset: usize, out: &mut Out) {
        if offset == 0 {
            self.number = 1;
        }
        let remaining = self.data.len() - offset;
        if remaining == 0 {
            self.state = State::AwaitEotAck;
            out.send.push(EOT);
            return;
        }
        // The last 896 bytes or fewer go in 128-byte blocks: less padding on the line.
        self.len = if remaining > LONG_BLOCK - 128 {
            remaining.min(LONG_BLOCK)
        } else {
            remaining.min(128)
        };
        self.offset = offset;
        self.state = State::AwaitBlockAck;
        let data = &self.data[offset..offset + self.len];
        out.send = block(self.number, data, PAD).unwrap_or_default();
    }

    fn header_frame(&self) -> Vec<u8> {
        header_frame(&self.name, self.data.len() as u64)
    }
}

/// Block 0 for a file: its name, NUL, its size in decimal, then ` 0 0` (modification time
/// and mode in octal, both 0: "unknown", which lrzsz's `rb` leaves alone), NUL-padded.
pub fn header_frame(name: &str, size: u64) -> Vec<u8> {
    let mut data = Vec::with_capacity(128);
    data.extend_from_slice(name.as_bytes());
    data.push(0);
    data.extend_from_slice(format!("{size} 0 0").as_bytes());
    data.push(0);
    // Names are at most MAX_NAME_LEN bytes, so this fits a 128-byte block.
    debug_assert!(name.len() <= MAX_NAME_LEN);
    block(0, &data, 0).unwrap_or_default()
}

/// The empty block 0 that ends a batch.
pub fn end_frame() -> Vec<u8> {
    block(0, &[], 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::frame::{Decoder, Frame};
    use super::*;

    fn frames(bytes: &[u8]) -> Vec<Frame> {
        let mut d = Decoder::new();
        bytes.iter().filter_map(|&b| d.push(b)).collect()
    }

    #[test]
    fn sends_header_blocks_eot_and_end() {
        let mut s = Sender::new("fw.img", vec![7; 1500], Limits::default()).unwrap();
        let out = s.feed(b"C");
        let mut expected = b"fw.img\x001500 0 0\x00".to_vec();
        expected.resize(128, 0);
        assert_eq!(
            frames(&out.send),
            [Frame::Block {
                number: 0,
                data: expected
            }]
        );
        assert!(s.feed(&[ACK]).send.is_empty());
        let out = s.feed(b"C");
        let [Frame::Block { number: 1, data }] = &frames(&out.send)[..] else {
            panic!()
        };
        assert_eq!(data.len(), 1024);
        // A NAK gets the same block again.
        assert_eq!(s.feed(&[NAK]).send, out.send);
        // 476 bytes left: four 128-byte blocks, the last padded.
        let mut numbers = Vec::new();
        let mut out = s.feed(&[ACK]);
        while let [Frame::Block { number, data }] = &frames(&out.send)[..] {
            assert_eq!(data.len(), 128);
            numbers.push(*number);
            out = s.feed(&[ACK]);
        }
        assert_eq!(numbers, [2, 3, 4, 5]);
        assert_eq!(out.send, [EOT]);
        assert_eq!(s.acked(), 1500);
        assert_eq!(s.feed(&[NAK]).send, [EOT]);
        let out = s.feed(&[ACK, CRC_REQUEST]);
        assert_eq!(out.events, [SendEvent::FileDelivered]);
        assert_eq!(out.send, end_frame());
        assert_eq!(s.feed(&[ACK]).events, [SendEvent::BatchComplete]);
        assert!(s.is_finished() && s.file_delivered());
    }

    #[test]
    fn empty_file_is_just_eot() {
        let mut s = Sender::new("empty", Vec::new(), Limits::default()).unwrap();
        s.feed(b"C");
        s.feed(&[ACK]);
        assert_eq!(s.feed(b"C").send, [EOT]);
    }

    #[test]
    fn stale_ack_does_not_acknowledge_the_next_block() {
        let mut s = Sender::new("f", vec![1; 4096], Limits::default()).unwrap();
        s.feed(b"C");
        s.feed(&[ACK]);
        s.feed(b"C");
        let out = s.feed(&[ACK, ACK, ACK]);
        assert_eq!(s.acked(), 1024, "{out:?}");
    }

    #[test]
    fn silence_ends_in_a_clear_error() {
        let limits = Limits {
            max_retries: 2,
            ..Limits::default()
        };
        let mut s = Sender::new("f", vec![1; 4096], limits).unwrap();
        s.feed(b"C");
        s.feed(&[ACK]);
        s.feed(b"C");
        assert!(!s.on_timeout().send.is_empty());
        assert!(!s.on_timeout().send.is_empty());
        let out = s.on_timeout();
        assert_eq!(out.send, CANCEL_SEQUENCE);
        let [SendEvent::Failed(e)] = &out.events[..] else {
            panic!()
        };
        assert_eq!(
            e.to_string(),
            "gave up after 2 failed tries waiting for the ACK of block 1 (byte 0 of 4096) \
             (is the line cut or too noisy?)"
        );
    }

    #[test]
    fn names_and_sizes_are_bounded() {
        assert!(Sender::new("a/b", vec![], Limits::default()).is_err());
        assert!(Sender::new(&"x".repeat(101), vec![], Limits::default()).is_err());
        let small = Limits {
            max_file_size: 10,
            ..Limits::default()
        };
        assert!(matches!(
            Sender::new("f", vec![0; 11], small),
            Err(YmodemError::TooBig { size: 11, max: 10 })
        ));
    }

    #[test]
    fn cancel_is_heard() {
        let mut s = Sender::new("f", vec![1; 10], Limits::default()).unwrap();
        assert_eq!(s.feed(&[CAN, CAN]).events, [SendEvent::Cancelled]);
        assert!(s.is_finished());
        // After an ACK, in the same read.
        let mut s = Sender::new("f", vec![1; 5000], Limits::default()).unwrap();
        s.feed(b"C");
        s.feed(&[ACK]);
        s.feed(b"C");
        let out = s.feed(&[ACK, CAN, CAN, CAN, 8, 8]);
        assert_eq!(out.events.last(), Some(&SendEvent::Cancelled));
        assert!(out.send.is_empty() && s.is_finished());
        // Split across reads.
        let mut s = Sender::new("f", vec![1; 5000], Limits::default()).unwrap();
        s.feed(b"C");
        s.feed(&[ACK]);
        s.feed(b"C");
        s.feed(&[ACK, CAN]);
        assert_eq!(s.feed(&[CAN]).events, [SendEvent::Cancelled]);
    }
}
