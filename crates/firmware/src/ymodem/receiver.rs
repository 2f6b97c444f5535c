//! The receiving side of a YMODEM batch: the camera's, when a technician runs `sb` or
//! `camkey flash` at the other end of its serial console.
//!
//! The receiver asks for a file with `C`, and announces what block 0 says
//! ([`ReceiveEvent::FileAnnounced`]) before it acknowledges it: the caller looks at the
//! name and size and calls [`Receiver::accept`] or [`Receiver::refuse`]. Data then comes
//! out as [`ReceiveEvent::Data`] chunks, padding removed, never beyond the announced size;
//! [`ReceiveEvent::FileComplete`] means exactly that size arrived. A caller that finds the
//! data bad midway (a firmware image whose header fails its checks) calls
//! [`Receiver::cancel`].

use super::frame::{ACK, CANCEL_SEQUENCE, CRC_REQUEST, Decoder, Frame, MAX_FRAME, NAK};
use super::{Limits, Output, START_INTERVAL, TIMEOUT, YmodemError, check_name};
use std::time::Duration;

/// What the receiver tells its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiveEvent {
    /// Block 0 announced a file: answer with [`Receiver::accept`] or [`Receiver::refuse`].
    FileAnnounced {
        /// The file name.
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The next bytes of the file (at most 1024, padding removed).
    Data(Vec<u8>),
    /// The whole file arrived: exactly the announced size.
    FileComplete {
        /// The file name.
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The sender ended the batch (empty block 0).
    BatchComplete,
    /// The sender cancelled (two `CAN`).
    Cancelled,
    /// The transfer failed; the receiver sent a cancel and is finished.
    Failed(YmodemError),
}

type Out = Output<ReceiveEvent>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Asking for block 0 with `C`; `first` before the first file.
    AwaitHeader {
        first: bool,
    },
    /// Block 0 announced a file; the caller decides.
    AwaitDecision {
        name: String,
        size: u64,
    },
    Receiving {
        name: String,
        size: u64,
        received: u64,
        next: u8,
        eot_seen: bool,
    },
    Finished,
}

/// A YMODEM receiver (sans-IO).
#[derive(Debug, Clone)]
pub struct Receiver {
    limits: Limits,
    decoder: Decoder,
    state: State,
    errors: u32,
    /// Bytes that came while the caller decides on a file (bounded).
    held: Vec<u8>,
}

impl Receiver {
    /// A receiver within `limits`; call [`Receiver::start`] first.
    pub fn new(limits: Limits) -> Self {
        Receiver {
            limits,
            decoder: Decoder::new(),
            state: State::AwaitHeader { first: true },
            errors: 0,
            held: Vec::new(),
        }
    }

    /// The first bytes to send: the request for block 0 with CRC (`C`).
    pub fn start(&mut self) -> Vec<u8> {
        vec![CRC_REQUEST]
    }

    /// How long to wait for bytes before calling [`Receiver::on_timeout`].
    pub fn timeout(&self) -> Duration {
        match self.state {
            State::AwaitHeader { .. } => START_INTERVAL,
            _ => TIMEOUT,
        }
    }

    /// Whether the batch is over (completed, cancelled or failed).
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// Takes the sender's bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Out {
        let mut out = Out::default();
        for (i, &byte) in bytes.iter().enumerate() {
            match self.state {
                State::Finished => break,
                State::AwaitDecision { .. } => {
                    let room = (2 * MAX_FRAME).saturating_sub(self.held.len());
                    let rest = &bytes[i..];
                    self.held.extend_from_slice(&rest[..rest.len().min(room)]);
                    break;
                }
                _ => {}
            }
            let Some(frame) = self.decoder.push(byte) else {
                continue;
            };
            if frame == Frame::Eot && i + 1 < bytes.len() {
                // A sender's EOT comes alone (it waits for the answer); one with more
                // bytes behind it is a damaged block's first byte (lrzsz waits for
                // silence after an EOT for the same reason).
                continue;
            }
            let purge = frame == Frame::Corrupt;
            self.on_frame(frame, &mut out);
            if purge {
                // As lrzsz: after a bad block, what follows in this read is garbage (data
                // too: a CAN CAN in it is no cancel; cancels are heard between frames).
                self.decoder.reset();
                break;
            }
        }
        out
    }

    /// Nothing arrived for [`Receiver::timeout`]: ask again, or give up.
    pub fn on_timeout(&mut self) -> Out {
        let mut out = Out::default();
        match &self.state {
            State::AwaitHeader { first } => {
                let (tries, waiting) = if *first {
                    (
                        self.limits.start_tries,
                        "waiting for the sender to start (is sb running?)",
                    )
                } else {
                    (
                        self.limits.max_retries,
                        "waiting for the next file header or the end of the batch",
                    )
                };
                self.decoder.reset();
                if self.count_error(tries) {
                    let waiting = waiting.to_string();
                    return self.fail(YmodemError::GaveUp { tries, waiting });
                }
                out.send.push(CRC_REQUEST);
            }
            State::Receiving { size, received, .. } => {
                let waiting = format!("waiting for data ({received} of {size} bytes received)");
                self.decoder.reset();
                if self.count_error(self.limits.max_retries) {
                    let tries = self.limits.max_retries;
                    return self.fail(YmodemError::GaveUp { tries, waiting });
                }
                out.send.push(NAK);
            }
            State::AwaitDecision { .. } | State::Finished => {}
        }
        out
    }

    /// Accepts the announced file: acknowledges block 0 and asks for the data.
    pub fn accept(&mut self) -> Out {
        let State::AwaitDecision { name, size } = &self.state else {
            return Out::default();
        };
        self.state = State::Receiving {
            name: name.clone(),
            size: *size,
            received: 0,
            next: 1,
            eot_seen: false,
        };
        self.errors = 0;
        let mut out = Out {
            send: vec![ACK, CRC_REQUEST],
            events: Vec::new(),
        };
        let held = std::mem::take(&mut self.held);
        out.append(self.feed(&held));
        out
    }

    /// Refuses the announced file: cancels the transfer.
    pub fn refuse(&mut self, reason: &str) -> Out {
        self.fail(YmodemError::Refused(reason.to_string()))
    }

    /// Cancels the transfer from this side (say, the data turned out bad).
    pub fn cancel(&mut self, reason: &str) -> Out {
        self.fail(YmodemError::CancelledHere(reason.to_string()))
    }

    fn fail(&mut self, error: YmodemError) -> Out {
        self.state = State::Finished;
        self.held.clear();
        Out {
            send: CANCEL_SEQUENCE.to_vec(),
            events: vec![ReceiveEvent::Failed(error)],
        }
    }

    /// Counts a failed try; true when there were more than `max` in a row.
    fn count_error(&mut self, max: u32) -> bool {
        self.errors += 1;
        self.errors > max
    }

    fn on_frame(&mut self, frame: Frame, out: &mut Out) {
        if frame == Frame::Cancel {
            self.state = State::Finished;
            out.events.push(ReceiveEvent::Cancelled);
            return;
        }
        let result = match &self.state {
            State::AwaitHeader { first } => self.on_header_frame(*first, frame, out),
            State::Receiving { .. } => self.on_data_frame(frame, out),
            State::AwaitDecision { .. } | State::Finished => Ok(()),
        };
        if let Err(error) = result {
            out.append(self.fail(error));
        }
    }

    fn on_header_frame(
        &mut self,
        first: bool,
        frame: Frame,
        out: &mut Out,
    ) -> Result<(), YmodemError> {
        match frame {
            Frame::Block { number: 0, data } => match parse_header(&data, &self.limits)? {
                None => {
                    out.send.push(ACK);
                    out.events.push(ReceiveEvent::BatchComplete);
                    self.state = State::Finished;
                }
                Some((name, size)) => {
                    self.state = State::AwaitDecision {
                        name: name.clone(),
                        size,
                    };
                    out.events.push(ReceiveEvent::FileAnnounced { name, size });
                }
            },
            Frame::Eot if !first => {
                // The sender missed our ACK of its EOT: acknowledge again.
                out.send.extend_from_slice(&[ACK, CRC_REQUEST]);
            }
            _ => {
                if self.count_error(self.limits.max_retries) {
                    return Err(YmodemError::GaveUp {
                        tries: self.limits.max_retries,
                        waiting: "waiting for a good file header (block 0)".into(),
                    });
                }
                out.send.push(CRC_REQUEST);
            }
        }
        Ok(())
    }

    fn on_data_frame(&mut self, frame: Frame, out: &mut Out) -> Result<(), YmodemError> {
        let max_retries = self.limits.max_retries;
        let State::Receiving {
            name,
            size,
            received,
            next,
            eot_seen,
        } = &mut self.state
        else {
            return Ok(());
        };
        match frame {
            Frame::Block { number, data } if number == *next => {
                let room = *size - *received;
                if room == 0 {
                    return Err(YmodemError::Overrun { announced: *size });
                }
                // `take` is at most `data.len()`, so it fits in a usize.
                let take = (data.len() as u64).min(room) as usize;
                *received += take as u64;
                *next = next.wrapping_add(1);
                *eot_seen = false;
                self.errors = 0;
                out.send.push(ACK);
                out.events.push(ReceiveEvent::Data(data[..take].to_vec()));
                return Ok(());
            }
            Frame::Block { number, .. } if number == next.wrapping_sub(1) => {
                // A repeat: the sender missed our ACK. Block 0 again means it also waits
                // for our `C`.
                out.send.push(ACK);
                if number == 0 && *received == 0 {
                    out.send.push(CRC_REQUEST);
                }
            }
            Frame::Block { number, .. } => {
                return Err(YmodemError::OutOfSequence {
                    expected: *next,
                    got: number,
                });
            }
            Frame::Eot if *received < *size => {
                if *eot_seen {
                    return Err(YmodemError::ShortFile {
                        announced: *size,
                        received: *received,
                    });
                }
                // Perhaps line noise: ask for the block again.
                *eot_seen = true;
                out.send.push(NAK);
            }
            Frame::Eot if !*eot_seen => {
                *eot_seen = true;
                out.send.push(NAK);
                return Ok(());
            }
            Frame::Eot => {
                out.send.extend_from_slice(&[ACK, CRC_REQUEST]);
                out.events.push(ReceiveEvent::FileComplete {
                    name: std::mem::take(name),
                    size: *size,
                });
                self.state = State::AwaitHeader { first: false };
                self.errors = 0;
                return Ok(());
            }
            Frame::Corrupt | Frame::Cancel => out.send.push(NAK),
        }
        if self.count_error(max_retries) {
            return Err(YmodemError::GaveUp {
                tries: max_retries,
                waiting: "waiting for a good block".into(),
            });
        }
        Ok(())
    }
}

/// Reads block 0: `None` for the end of the batch (empty name), else the name and size.
/// The name ends at the first NUL; the size is the decimal number after it, up to a space
/// or NUL; anything after (lrzsz's time and mode, its bytes 126 and 127) is ignored.
pub fn parse_header(data: &[u8], limits: &Limits) -> Result<Option<(String, u64)>, YmodemError> {
    let bad = |why: &str| Err(YmodemError::BadHeader(why.to_string()));
    let Some(name_end) = data.iter().position(|&b| b == 0) else {
        return bad("the file name has no end");
    };
    if name_end == 0 {
        return Ok(None);
    }
    let Ok(name) = std::str::from_utf8(&data[..name_end]) else {
        return bad("the file name is not ASCII");
    };
    check_name(name, limits)?;
    let rest = &data[name_end + 1..];
    let digits: Vec<u8> = rest
        .iter()
        .copied()
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if digits.is_empty() {
        return bad("no file size (this receiver needs it)");
    }
    if digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return bad("the file size is not a decimal number");
    }
    let size: u64 = match std::str::from_utf8(&digits)
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(size) => size,
        None => return bad("the file size is out of range"),
    };
    if size > limits.max_file_size {
        return Err(YmodemError::TooBig {
            size,
            max: limits.max_file_size,
        });
    }
    Ok(Some((name.to_string(), size)))
}

#[cfg(test)]
mod tests {
    use super::super::frame::{CAN, EOT, PAD, block};
    use super::*;

    fn header(text: &[u8]) -> Vec<u8> {
        block(0, text, 0).unwrap()
    }

    #[test]
    fn parses_lrzsz_headers() {
        let l = Limits::default();
        let mut data = b"fw.img\x00300000 14731275432 100644 0 1 300000\x00".to_vec();
        data.resize(128, 0);
        data[126] = 9;
        data[127] = 0x4a;
        assert_eq!(
            parse_header(&data, &l).unwrap(),
            Some(("fw.img".into(), 300000))
        );
        assert_eq!(parse_header(&[0; 128], &l).unwrap(), None);
        for bad in [
            &b"fw.img\x00\x00"[..],
            b"fw.img\x0012x4\x00",
            b"../etc\x001\x00",
            b"a/b\x001\x00",
            b"fw\x0199999999999999999999999\x00",
            b"no end",
        ] {
            assert!(parse_header(bad, &l).is_err(), "{bad:?}");
        }
        let big = parse_header(b"big\x0099999999999\x00", &l).unwrap_err();
        assert!(
            big.to_string()
                .starts_with("file too big: 99999999999 bytes")
        );
    }

    #[test]
    fn asks_until_the_sender_starts_then_gives_up() {
        let limits = Limits {
            start_tries: 3,
            ..Limits::default()
        };
        let mut r = Receiver::new(limits);
        assert_eq!(r.start(), b"C");
        for _ in 0..3 {
            assert_eq!(r.on_timeout().send, b"C");
        }
        let out = r.on_timeout();
        assert_eq!(out.send, CANCEL_SEQUENCE);
        let [ReceiveEvent::Failed(e)] = &out.events[..] else {
            panic!("{out:?}")
        };
        assert!(e.to_string().contains("is sb running?"), "{e}");
        assert!(r.is_finished());
    }

    #[test]
    fn refusal_cancels() {
        let mut r = Receiver::new(Limits::default());
        r.start();
        let out = r.feed(&header(b"x.img\x0010\x00"));
        assert_eq!(
            out.events,
            [ReceiveEvent::FileAnnounced {
                name: "x.img".into(),
                size: 10
            }]
        );
        assert!(out.send.is_empty(), "no ACK before the caller decides");
        let out = r.refuse("wrong model");
        assert_eq!(out.send, CANCEL_SEQUENCE);
        assert!(r.is_finished());
    }

    #[test]
    fn takes_exactly_the_announced_size() {
        let mut r = Receiver::new(Limits::default());
        r.start();
        r.feed(&header(b"x\x00130\x00"));
        assert_eq!(r.accept().send, [ACK, CRC_REQUEST]);
        let out = r.feed(&block(1, &[1; 128], PAD).unwrap());
        assert_eq!(out.events, [ReceiveEvent::Data(vec![1; 128])]);
        let out = r.feed(&block(2, &[2; 2], PAD).unwrap());
        assert_eq!(out.events, [ReceiveEvent::Data(vec![2; 2])]);
        // One more block than announced.
        let out = r.feed(&block(3, &[3; 2], PAD).unwrap());
        assert_eq!(
            out.events,
            [ReceiveEvent::Failed(YmodemError::Overrun {
                announced: 130
            })]
        );
    }

    #[test]
    fn early_eot_is_a_short_file() {
        let mut r = Receiver::new(Limits::default());
        r.start();
        r.feed(&header(b"x\x00200\x00"));
        r.accept();
        r.feed(&block(1, &[1; 128], PAD).unwrap());
        assert_eq!(r.feed(&[EOT]).send, [NAK]);
        let out = r.feed(&[EOT]);
        assert_eq!(
            out.events,
            [ReceiveEvent::Failed(YmodemError::ShortFile {
                announced: 200,
                received: 128
            })]
        );
    }

    #[test]
    fn eot_with_bytes_behind_it_is_noise() {
        let mut r = Receiver::new(Limits::default());
        r.start();
        r.feed(&header(b"x\x00300\x00"));
        r.accept();
        r.feed(&block(1, &[1; 128], PAD).unwrap());
        // A block whose first byte became EOT, with 0x04 bytes in its data.
        let mut damaged = block(2, &[EOT; 128], PAD).unwrap();
        damaged[0] = EOT;
        let out = r.feed(&damaged);
        assert!(out.events.is_empty(), "{out:?}");
        assert!(!r.is_finished());
        // Nothing more comes (the sender waits for an answer): the receiver's timeout
        // asks for the block again, and it arrives.
        assert_eq!(r.on_timeout().send, [NAK]);
        let out = r.feed(&block(2, &[EOT; 128], PAD).unwrap());
        assert_eq!(out.events, [ReceiveEvent::Data(vec![EOT; 128])]);
    }

    #[test]
    fn eot_is_nak_then_ack() {
        let mut r = Receiver::new(Limits::default());
        r.start();
        r.feed(&header(b"x\x003\x00"));
        r.accept();
        r.feed(&block(1, b"abc", PAD).unwrap());
        assert_eq!(r.feed(&[EOT]).send, [NAK]);
        let out = r.feed(&[EOT]);
        assert_eq!(out.send, [ACK, CRC_REQUEST]);
        assert_eq!(
            out.events,
            [ReceiveEvent::FileComplete {
                name: "x".into(),
                size: 3
            }]
        );
        let out = r.feed(&header(b""));
        assert_eq!(out.send, [ACK]);
        assert_eq!(out.events, [ReceiveEvent::BatchComplete]);
        assert!(r.is_finished());
    }

    #[test]
    fn out_of_sequence_is_fatal_and_cancel_is_heard() {
        let mut r = Receiver::new(Limits::default());
        r.start();
        r.feed(&header(b"x\x001000\x00"));
        r.accept();
        let out = r.feed(&block(5, b"abc", PAD).unwrap());
        assert!(matches!(
            out.events[..],
            [ReceiveEvent::Failed(YmodemError::OutOfSequence {
                expected: 1,
                got: 5
            })]
        ));
        let mut r = Receiver::new(Limits::default());
        r.start();
        assert_eq!(r.feed(&CANCEL_SEQUENCE).events, [ReceiveEvent::Cancelled]);
        // Data after a corrupt block is dropped, CAN bytes in it too; a cancel heard on
        // its own still holds.
        let mut r = Receiver::new(Limits::default());
        r.start();
        r.feed(&header(b"x\x001000\x00"));
        r.accept();
        let mut bytes = block(1, &[CAN; 100], PAD).unwrap();
        bytes[10] ^= 1;
        bytes.extend_from_slice(&block(1, &[CAN; 100], PAD).unwrap());
        assert_eq!(r.feed(&bytes).send, [NAK]);
        assert!(!r.is_finished());
        assert_eq!(r.feed(&CANCEL_SEQUENCE).events, [ReceiveEvent::Cancelled]);
    }
}
