//! The DATA phase: dot-unstuffing, the end marker and the size bound (RFC 5321 §4.5.2,
//! §4.1.1.4).
//!
//! The message ends at `<CRLF>.<CRLF>` and only there: a bare LF or bare CR before or after
//! the dot ends nothing, so a message cannot smuggle a second one past a server that reads
//! line ends differently (SMTP smuggling, 2023). A line starting with a dot loses that dot.
//! The CRLF before the final dot belongs to the message.
//!
//! The decoder keeps at most `limit` bytes: once a message grows past it, what was kept is
//! freed and the rest is only counted until the end marker, so a huge message costs time,
//! never memory. smtp-proto's `DataReceiver` appends to an unbounded buffer and undoes
//! bytes after the fact, which makes an exact bound awkward; this small state machine
//! replaces it.

use memchr::memchr;

/// Where the decoder is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (after CRLF, or at the start of DATA).
    LineStart,
    /// Inside a line.
    Inside,
    /// Just after a CR (emitted).
    Cr,
    /// After a dot at the start of a line (not emitted: either stuffing or the end).
    Dot,
    /// After `.` CR at the start of a line (neither emitted yet).
    DotCr,
}

/// Decodes one message of the DATA phase.
#[derive(Debug)]
pub(crate) struct DataDecoder {
    state: State,
    kept: Vec<u8>,
    size: usize,
    limit: usize,
}

/// A message that was too big: only its size is left.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooBig {
    /// Bytes of the message after unstuffing (saturating).
    pub(crate) size: usize,
}

impl DataDecoder {
    /// A decoder that keeps messages of at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        DataDecoder {
            state: State::LineStart,
            kept: Vec::new(),
            size: 0,
            limit,
        }
    }

    /// Consumes `input` up to and including the end marker. `true` when the message
    /// ended (the bytes after the marker stay in `input`); `false` when `input` ran out.
    pub(crate) fn feed(&mut self, input: &mut &[u8]) -> bool {
        let mut rest = *input;
        while !rest.is_empty() {
            if self.state == State::Inside {
                match memchr(b'\r', rest) {
                    Some(i) => {
                        self.emit(&rest[..=i]);
                        rest = &rest[i + 1..];
                        self.state = State::Cr;
                    }
                    None => {
                        self.emit(rest);
                        rest = &rest[rest.len()..];
                    }
                }
                continue;
            }
            let b = rest[0];
            rest = &rest[1..];
            self.state = match (self.state, b) {
                (State::DotCr, b'\n') => {
                    *input = rest;
                    self.state = State::LineStart;
                    return true;
                }
                (State::LineStart, b'.') => State::Dot,
                (State::Dot, b'\r') => State::DotCr,
                (State::Cr, b'\n') => {
                    self.emit(b"\n");
                    State::LineStart
                }
                (State::DotCr, b'\r') => {
                    self.emit(b"\r\r");
                    State::Cr
                }
                (State::DotCr, other) => {
                    self.emit(&[b'\r', other]);
                    State::Inside
                }
                (_, b'\r') => {
                    self.emit(b"\r");
                    State::Cr
                }
                (_, other) => {
                    self.emit(&[other]);
                    State::Inside
                }
            };
        }
        *input = rest;
        false
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len());
        if self.size <= self.limit {
            self.kept.extend_from_slice(bytes);
        } else if self.kept.capacity() > 0 {
            self.kept = Vec::new();
        }
    }

    /// The message, or its size if it was over the limit.
    pub(crate) fn finish(self) -> Result<Vec<u8>, TooBig> {
        if self.size <= self.limit {
            Ok(self.kept)
        } else {
            Err(TooBig { size: self.size })
        }
    }

    /// Bytes held in memory now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.kept.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A decoded message, and what followed its end marker.
    type Decoded = (Result<Vec<u8>, TooBig>, Vec<u8>);

    /// Feeds `pieces` in order.
    fn decode(limit: usize, pieces: &[&[u8]]) -> Option<Decoded> {
        let mut d = DataDecoder::new(limit);
        for (i, piece) in pieces.iter().enumerate() {
            let mut input = *piece;
            if d.feed(&mut input) {
                let mut after = input.to_vec();
                for p in &pieces[i + 1..] {
                    after.extend_from_slice(p);
                }
                return Some((d.finish(), after));
            }
            assert!(input.is_empty());
        }
        None
    }

    fn ok(limit: usize, pieces: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let (msg, after) = decode(limit, pieces).expect("message ends");
        (msg.expect("within limit"), after)
    }

    #[test]
    fn end_marker_and_unstuffing() {
        assert_eq!(ok(100, &[b".\r\n"]), (vec![], vec![]));
        assert_eq!(
            ok(100, &[b"hi\r\n..\r\n.a\r\n\r\n.\r\nQUIT\r\n"]),
            (b"hi\r\n.\r\na\r\n\r\n".to_vec(), b"QUIT\r\n".to_vec())
        );
        assert_eq!(
            ok(100, &[b"a\r", b"\n", b".", b"\r", b"\n"]),
            (b"a\r\n".to_vec(), vec![])
        );
        assert_eq!(ok(100, &[b".\rx\r\n.\r\n"]), (b"\rx\r\n".to_vec(), vec![]));
        assert_eq!(ok(100, &[b".\r\r\n.\r\n"]), (b"\r\r\n".to_vec(), vec![]));
        assert_eq!(ok(100, &[b"a.\r\n.\r\n"]), (b"a.\r\n".to_vec(), vec![]));
    }

    #[test]
    fn bare_line_ends_do_not_end_the_message() {
        for smuggle in [
            &b"a\n.\nMAIL FROM:<x@y>\r\n.\r\n"[..],
            b"a\r.\rMAIL FROM:<x@y>\r\n.\r\n",
            b"a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n",
            b"a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n",
        ] {
            let (msg, after) = ok(1000, &[smuggle]);
            assert!(
                msg.windows(4).any(|w| w == b"MAIL"),
                "{:?}",
                String::from_utf8_lossy(smuggle)
            );
            assert!(after.is_empty());
        }
    }

    #[test]
    fn limit_is_exact_and_memory_stays_bounded() {
        let exact = ok(4, &[b"ab\r\n.\r\n"]).0;
        assert_eq!(exact, b"ab\r\n");
        let (over, _) = decode(3, &[b"ab\r\n.\r\n"]).expect("ends");
        assert_eq!(over, Err(TooBig { size: 4 }));

        let mut d = DataDecoder::new(1000);
        let chunk = [b'x'; 8192];
        for _ in 0..1000 {
            let mut input = &chunk[..];
            assert!(!d.feed(&mut input));
            assert!(d.held() <= 2048, "held {}", d.held());
        }
        let mut end = &b"\r\n.\r\n"[..];
        assert!(d.feed(&mut end));
        assert_eq!(
            d.finish(),
            Err(TooBig {
                size: 8192 * 1000 + 2
            })
        );
    }

    /// Dot-stuffs `msg` (ending with CRLF) the way a client does.
    fn stuff(msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut line_start = true;
        for (i, &b) in msg.iter().enumerate() {
            if line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            line_start = b == b'\n' && i > 0 && msg[i - 1] == b'\r';
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    proptest! {
        #[test]
        fn stuffing_round_trips_in_any_pieces(
            lines in proptest::collection::vec("[.a\r\n]{0,6}", 0..12),
            cut in 1usize..7,
        ) {
            let mut msg = Vec::new();
            for l in &lines {
                msg.extend_from_slice(l.as_bytes());
                msg.extend_from_slice(b"\r\n");
            }
            let wire = stuff(&msg);
            let pieces: Vec<&[u8]> = wire.chunks(cut).collect();
            let (got, after) = decode(usize::MAX, &pieces).expect("ends");
            prop_assert_eq!(got.expect("no limit"), msg);
            prop_assert!(after.is_empty());
        }
    }
}
