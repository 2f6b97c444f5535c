//! YMODEM batch transfers, as `sb` and `rb` of lrzsz speak them: how firmware images reach
//! a camera over its serial console (docs/design.md §1 step 4), and what `camkey flash`
//! sends (docs/formats.md "YMODEM").
//!
//! The variant is YMODEM batch with CRC-16: the receiver asks with `C`; block 0 (128
//! bytes) carries the file name, a NUL, and the size in decimal (then, from lrzsz, the
//! modification time and mode in octal, which we ignore); the data follows in 1024-byte
//! (`STX`) and 128-byte (`SOH`) blocks numbered from 1 modulo 256, the last one padded
//! with `0x1A`; `EOT` ends the file (our receiver answers the first `EOT` with `NAK` and
//! the second with `ACK`, which lrzsz's `sb` expects; lrzsz's `rb` acknowledges the first
//! and our sender takes either); an empty block 0 ends the batch. Two `CAN` cancel.
//!
//! Both sides are sans-IO state machines: the caller feeds them the peer's bytes and
//! calls `on_timeout` when nothing arrived for [`Receiver::timeout`] or
//! [`Sender::timeout`]; each answers with an [`Output`]: bytes to send, then events. No
//! clock, no I/O, nothing unbounded: block sizes are fixed, names and announced sizes are
//! checked against [`Limits`] before any data is taken, no byte beyond the announced size
//! is accepted, and every retry count is bounded.
//!
//! # Layout
//! - [`frame`]: control bytes, CRC-16/XMODEM, block encoding and the stream [`Decoder`].
//! - [`receiver`]: the [`Receiver`] (the camera's side, or `rb`'s).
//! - [`sender`]: the [`Sender`] (`camkey flash`'s side, or `sb`'s).

pub mod frame;
pub mod receiver;
pub mod sender;

pub use frame::{Decoder, Frame};
pub use receiver::{ReceiveEvent, Receiver};
pub use sender::{SendEvent, Sender};

use std::time::Duration;

/// Longest file name either side accepts, in bytes (block 0 has room for it and the size).
pub const MAX_NAME_LEN: usize = 100;
/// How long a receiver waits between its `C` requests for a file header.
pub const START_INTERVAL: Duration = Duration::from_secs(3);
/// How long either side waits for the next byte, or an answer, before it repeats itself.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The bounds of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file size a receiver accepts (from block 0, before any data).
    pub max_file_size: u64,
    /// Longest file name, at most [`MAX_NAME_LEN`].
    pub max_name_len: usize,
    /// Failed tries in a row (timeouts, `NAK`s, corrupt blocks) before giving up.
    pub max_retries: u32,
    /// How many times a side waits for the other to start before giving up (the receiver
    /// asks every [`START_INTERVAL`]: 40 tries is two minutes for someone to start `sb`).
    pub start_tries: u32,
}

impl Default for Limits {
    /// Room for the largest firmware image; lrzsz's 10 retries.
    fn default() -> Self {
        Limits {
            max_file_size: crate::image::MAX_IMAGE + crate::image::HEADER_LEN as u64,
            max_name_len: MAX_NAME_LEN,
            max_retries: 10,
            start_tries: 40,
        }
    }
}

/// What went wrong with a transfer, in words a technician can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YmodemError {
    /// Block 0 does not hold a name and a size we can read.
    #[error("bad file header (block 0): {0}")]
    BadHeader(String),
    /// A file larger than the limit was announced.
    #[error("file too big: {size} bytes announced, the limit is {max}")]
    TooBig {
        /// Announced size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The caller refused the file.
    #[error("file refused: {0}")]
    Refused(String),
    /// A block neither expected nor a repeat of the last one.
    #[error("blocks out of sequence: expected block {expected}, got block {got}")]
    OutOfSequence {
        /// The expected block number.
        expected: u8,
        /// The one that came.
        got: u8,
    },
    /// More data than block 0 announced.
    #[error("the sender sent more than the {announced} bytes it announced")]
    Overrun {
        /// Announced size.
        announced: u64,
    },
    /// The sender ended the file early.
    #[error("the sender ended the file after {received} of the {announced} bytes it announced")]
    ShortFile {
        /// Announced size.
        announced: u64,
        /// Bytes received.
        received: u64,
    },
    /// Too many failed tries in a row.
    #[error("gave up after {tries} failed tries {waiting} (is the line cut or too noisy?)")]
    GaveUp {
        /// Tries made.
        tries: u32,
        /// What we were waiting for.
        waiting: String,
    },
    /// The other side cancelled.
    #[error("the other side cancelled the transfer")]
    Cancelled,
    /// We cancelled.
    #[error("transfer cancelled here: {0}")]
    CancelledHere(String),
}

/// What a state machine answers to bytes or a timeout: bytes to send (first), then events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output<E> {
    /// Bytes for the peer, to be written before anything else happens.
    pub send: Vec<u8>,
    /// What happened, in order.
    pub events: Vec<E>,
}

impl<E> Default for Output<E> {
    fn default() -> Self {
        Output {
            send: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl<E> Output<E> {
    fn append(&mut self, mut other: Output<E>) {
        self.send.append(&mut other.send);
        self.events.append(&mut other.events);
    }
}

/// Checks a file name for either side: printable ASCII, no path separators, not `.`
/// or `..`, within the limit.
fn check_name(name: &str, limits: &Limits) -> Result<(), YmodemError> {
    let max = limits.max_name_len.min(MAX_NAME_LEN);
    let bad = |why: String| Err(YmodemError::BadHeader(format!("file name {name:?} {why}")));
    if name.is_empty() || name.len() > max {
        return bad(format!("is not 1 to {max} bytes"));
    }
    if !name
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'/' && b != b'\\')
    {
        return bad("has characters other than printable ASCII, or a path separator".into());
    }
    if name == "." || name == ".." {
        return bad("is not a file name".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::frame::{ACK, CAN, CRC_REQUEST, NAK};
    use super::*;

    /// A small deterministic generator (xorshift64*), so that noisy runs repeat exactly.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// True with probability `p` in a million.
        fn chance(&mut self, ppm: u64) -> bool {
            (self.next() >> 16) % 1_000_000 < ppm
        }
        fn byte(&mut self) -> u8 {
            (self.next() >> 32) as u8
        }
    }

    /// The line between the two sides: what it does to bytes, in parts per million.
    #[derive(Default, Clone, Copy)]
    struct Noise {
        corrupt: u64,
        drop: u64,
        garbage: u64,
        duplicate: u64,
        reply_drop: u64,
        /// The line is cut after this many bytes towards the receiver.
        cut_after: Option<usize>,
    }

    struct Line {
        rng: Rng,
        noise: Noise,
        carried: usize,
    }

    impl Line {
        /// Sender to receiver: flips, drops, inserts noise, repeats whole frames.
        fn forward(&mut self, bytes: &[u8]) -> Vec<u8> {
            let mut chunk = bytes.to_vec();
            if bytes.len() > 100 && self.rng.chance(self.noise.duplicate) {
                chunk.extend_from_slice(bytes);
            }
            let mut out = Vec::new();
            for b in chunk {
                self.carried += 1;
                if self.noise.cut_after.is_some_and(|n| self.carried > n) {
                    continue;
                }
                if self.rng.chance(self.noise.drop) {
                    continue;
                }
                if self.rng.chance(self.noise.garbage) {
                    // Noise on an idle line; never a CAN (two would cancel, by design).
                    out.push(self.rng.byte() & 0x7f | 0x40);
                }
                let flip = if self.rng.chance(self.noise.corrupt) {
                    self.rng.byte() | 1
                } else {
                    0
                };
                out.push(b ^ flip);
            }
            out
        }

        /// Receiver to sender: bytes get lost (a corrupted ACK is a lost one).
        fn back(&mut self, bytes: &[u8]) -> Vec<u8> {
            if self.noise.cut_after.is_some_and(|n| self.carried > n) {
                return Vec::new();
            }
            bytes
                .iter()
                .copied()
                .filter(|_| !self.rng.chance(self.noise.reply_drop))
                .collect()
        }
    }

    struct Run {
        received: Vec<u8>,
        receiver_events: Vec<ReceiveEvent>,
        sender_events: Vec<SendEvent>,
        timeouts: usize,
    }

    /// Runs a sender and a receiver against each other in lock step; when the line is
    /// quiet, the receiver's and the sender's timeouts fire in turn.
    fn transfer(data: &[u8], noise: Noise, seed: u64) -> (Run, Sender, Receiver) {
        let limits = Limits::default();
        let mut sender = Sender::new("firmware.img", data.to_vec(), limits).unwrap();
        let mut receiver = Receiver::new(limits);
        let mut line = Line {
            rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            noise,
            carried: 0,
        };
        let mut run = Run {
            received: Vec::new(),
            receiver_events: Vec::new(),
            sender_events: Vec::new(),
            timeouts: 0,
        };
        let mut to_sender = receiver.start();
        let mut to_receiver = Vec::new();
        for _ in 0..100_000 {
            if sender.is_finished() && receiver.is_finished() {
                break;
            }
            let mut from_receiver = None;
            if !to_receiver.is_empty() {
                let bytes = line.forward(&std::mem::take(&mut to_receiver));
                from_receiver = Some(receiver.feed(&bytes));
            } else if !to_sender.is_empty() {
                let bytes = line.back(&std::mem::take(&mut to_sender));
                let out = sender.feed(&bytes);
                to_receiver = out.send;
                run.sender_events.extend(out.events);
            } else {
                run.timeouts += 1;
                if run.timeouts % 2 == 1 && !receiver.is_finished() {
                    from_receiver = Some(receiver.on_timeout());
                } else {
                    let out = sender.on_timeout();
                    to_receiver = out.send;
                    run.sender_events.extend(out.events);
                }
            }
            if let Some(mut out) = from_receiver {
                let mut i = 0;
                while i < out.events.len() {
                    match &out.events[i] {
                        ReceiveEvent::FileAnnounced { .. } => {
                            let more = receiver.accept();
                            out.send.extend(more.send);
                            out.events.extend(more.events);
                        }
                        ReceiveEvent::Data(d) => run.received.extend_from_slice(d),
                        _ => {}
                    }
                    i += 1;
                }
                to_sender.extend(out.send);
                run.receiver_events.extend(out.events);
            }
        }
        (run, sender, receiver)
    }

    fn data(len: usize) -> Vec<u8> {
        crate::image::generated_payload("IPC4K15", "1.0.0", len as u64).unwrap()
    }

    fn completed(run: &Run, len: usize) -> bool {
        run.receiver_events.contains(&ReceiveEvent::FileComplete {
            name: "firmware.img".into(),
            size: len as u64,
        }) && run.receiver_events.last() == Some(&ReceiveEvent::BatchComplete)
            && run.sender_events.last() == Some(&SendEvent::BatchComplete)
    }

    #[test]
    fn clean_line_every_size() {
        for len in [
            0, 1, 127, 128, 129, 895, 896, 897, 1023, 1024, 1025, 2048, 300_000,
        ] {
            let payload = data(len);
            let (run, sender, _) = transfer(&payload, Noise::default(), 1);
            assert!(
                completed(&run, len),
                "{len}: {:?}",
                run.receiver_events.last()
            );
            assert_eq!(run.received, payload, "{len}");
            assert_eq!(run.timeouts, 0, "{len}");
            assert!(sender.file_delivered());
        }
    }

    #[test]
    fn noisy_line_recovers_by_retrying() {
        let noise = Noise {
            corrupt: 100,
            drop: 50,
            garbage: 100,
            duplicate: 50_000,
            reply_drop: 20_000,
            cut_after: None,
        };
        let payload = data(300_000);
        for seed in 1..=6 {
            let (run, _, _) = transfer(&payload, noise, seed);
            assert!(
                completed(&run, payload.len()),
                "seed {seed}: {:?} / {:?}",
                run.receiver_events.last(),
                run.sender_events.last()
            );
            assert_eq!(run.received, payload, "seed {seed}");
            assert!(run.timeouts > 0, "seed {seed}: the noise did something");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Whatever the line does, a transfer ends, and a file that completes is the file
        /// that was sent: noise may cost a transfer, never corrupt one.
        #[test]
        fn noise_never_corrupts_a_completed_file(
            seed in proptest::prelude::any::<u64>(),
            len in 0usize..6000,
            corrupt in 0u64..5000,
            drop in 0u64..3000,
            garbage in 0u64..3000,
            duplicate in 0u64..500_000,
            reply_drop in 0u64..200_000,
        ) {
            let noise = Noise { corrupt, drop, garbage, duplicate, reply_drop, cut_after: None };
            let payload = data(len);
            let (run, sender, receiver) = transfer(&payload, noise, seed);
            proptest::prop_assert!(sender.is_finished() && receiver.is_finished());
            let complete = run
                .receiver_events
                .iter()
                .any(|e| matches!(e, ReceiveEvent::FileComplete { .. }));
            if complete {
                proptest::prop_assert!(run.received == payload);
            }
            if sender.file_delivered() {
                proptest::prop_assert!(complete);
            }
        }
    }

    #[test]
    fn duplicate_blocks_are_dropped() {
        let noise = Noise {
            duplicate: 1_000_000,
            ..Noise::default()
        };
        let payload = data(50_000);
        let (run, _, _) = transfer(&payload, noise, 3);
        assert!(completed(&run, payload.len()));
        assert_eq!(run.received, payload);
    }

    #[test]
    fn cut_line_ends_in_a_clear_error() {
        let noise = Noise {
            cut_after: Some(100_000),
            ..Noise::default()
        };
        let payload = data(300_000);
        let (run, sender, receiver) = transfer(&payload, noise, 5);
        assert!(sender.is_finished() && receiver.is_finished());
        assert!(!sender.file_delivered());
        let Some(ReceiveEvent::Failed(r)) = run.receiver_events.last() else {
            panic!("{:?}", run.receiver_events.last())
        };
        let Some(SendEvent::Failed(s)) = run.sender_events.last() else {
            panic!("{:?}", run.sender_events.last())
        };
        let got = run.received.len();
        assert!(got < 100_000);
        assert_eq!(
            r.to_string(),
            format!(
                "gave up after 10 failed tries waiting for data ({got} of 300000 bytes \
                 received) (is the line cut or too noisy?)"
            )
        );
        assert!(
            s.to_string()
                .starts_with("gave up after 10 failed tries waiting for the ACK of block"),
            "{s}"
        );
    }

    #[test]
    fn refusal_reaches_the_sender() {
        let mut sender = Sender::new("big.img", vec![0; 5000], Limits::default()).unwrap();
        let mut receiver = Receiver::new(Limits::default());
        let header = sender.feed(&receiver.start()).send;
        let out = receiver.feed(&header);
        assert_eq!(
            out.events,
            [ReceiveEvent::FileAnnounced {
                name: "big.img".into(),
                size: 5000
            }]
        );
        let out = receiver.refuse("larger than this camera takes");
        assert_eq!(sender.feed(&out.send).events, [SendEvent::Cancelled]);
        assert!(sender.is_finished() && receiver.is_finished());
    }

    #[test]
    fn limits_refuse_before_any_data() {
        let small = Limits {
            max_file_size: 1000,
            ..Limits::default()
        };
        let mut sender = Sender::new("f", vec![0; 5000], Limits::default()).unwrap();
        let mut receiver = Receiver::new(small);
        let header = sender.feed(&receiver.start()).send;
        let out = receiver.feed(&header);
        assert_eq!(
            out.events,
            [ReceiveEvent::Failed(YmodemError::TooBig {
                size: 5000,
                max: 1000
            })]
        );
        assert_eq!(sender.feed(&out.send).events, [SendEvent::Cancelled]);
    }

    /// The camera's use: an image over YMODEM, checked as it comes; one for another
    /// model is cancelled with its first block, long before its payload.
    #[test]
    fn image_checked_as_it_arrives() {
        use crate::image::{self, Intake, Release};
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let release = Release {
            model: "IPC4PTZ25",
            version: "5.7.4",
            security_version: 2,
        };
        let image = image::build(&key, &release, &data(200_000)).unwrap();
        for (camera, ok) in [("IPC4PTZ25", true), ("IPC4K15", false)] {
            let mut sender = Sender::new("fw.img", image.clone(), Limits::default()).unwrap();
            let mut receiver = Receiver::new(Limits::default());
            let mut intake = Intake::new(key.verifying_key(), camera, 2);
            let mut to_sender = receiver.start();
            let mut outcome = None;
            let mut blocks = 0;
            for _ in 0..10_000 {
                if sender.is_finished() && receiver.is_finished() {
                    break;
                }
                let s = sender.feed(&std::mem::take(&mut to_sender));
                if s.events.contains(&SendEvent::Cancelled) {
                    break;
                }
                let mut r = receiver.feed(&s.send);
                for event in r.events.clone() {
                    match event {
                        ReceiveEvent::FileAnnounced { .. } => r.send.extend(receiver.accept().send),
                        ReceiveEvent::Data(d) => {
                            blocks += 1;
                            if let Err(e) = intake.push(&d) {
                                r.send.extend(receiver.cancel(&e.to_string()).send);
                                outcome = Some(e.to_string());
                            }
                        }
                        _ => {}
                    }
                }
                to_sender = r.send;
            }
            if ok {
                assert_eq!(outcome, None);
                assert_eq!(intake.finish().unwrap().fields.version, "5.7.4");
            } else {
                assert_eq!(
                    outcome.as_deref(),
                    Some("wrong model: the image is for IPC4PTZ25, this camera is a IPC4K15")
                );
                assert_eq!(blocks, 1, "refused with the first block");
                assert!(sender.is_finished() && !sender.file_delivered());
            }
        }
    }

    #[test]
    fn control_bytes_are_the_standard_ones() {
        assert_eq!((ACK, NAK, CAN, CRC_REQUEST), (0x06, 0x15, 0x18, b'C'));
    }
}
