//! Command-line framing with a bounded buffer.
//!
//! Bytes arrive in arbitrary pieces; commands are lines ending in LF (CRLF on the wire;
//! a bare LF is tolerated here, the parser ignores the CR). A line longer than
//! [`MAX_COMMAND_LINE`] is reported once, when its end finally arrives, and nothing of it
//! beyond the limit is kept: the buffer never grows past 512 bytes whatever the client
//! sends. (The command deadline bounds a line that never ends.)

use crate::MAX_COMMAND_LINE;
use memchr::memchr;

/// A framed command line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A complete line, with its LF (and CR if sent).
    Complete(Vec<u8>),
    /// A line longer than [`MAX_COMMAND_LINE`], now ended and discarded.
    TooLong,
}

/// Accumulates one command line at a time.
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    overflow: bool,
}

impl LineBuffer {
    /// Consumes bytes from `input` up to the end of the next line. `None` when `input`
    /// ran out first (all of it is consumed and the partial line kept, within bounds).
    pub(crate) fn next_line(&mut self, input: &mut &[u8]) -> Option<Line> {
        let (chunk, rest, complete) = match memchr(b'\n', input) {
            Some(i) => (&input[..=i], &input[i + 1..], true),
            None => (*input, &input[input.len()..], false),
        };
        *input = rest;
        if !self.overflow {
            if self.buf.len() + chunk.len() > MAX_COMMAND_LINE {
                self.overflow = true;
                self.buf = Vec::new();
            } else {
                self.buf.extend_from_slice(chunk);
            }
        }
        if !complete {
            return None;
        }
        if std::mem::take(&mut self.overflow) {
            Some(Line::TooLong)
        } else {
            Some(Line::Complete(std::mem::take(&mut self.buf)))
        }
    }

    /// Bytes of the partial line held (for tests of the bound).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(lb: &mut LineBuffer, mut input: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        while let Some(line) = lb.next_line(&mut input) {
            out.push(line);
        }
        assert!(input.is_empty());
        out
    }

    #[test]
    fn lines_across_pieces() {
        let mut lb = LineBuffer::default();
        assert_eq!(feed_all(&mut lb, b"NO"), vec![]);
        assert_eq!(
            feed_all(&mut lb, b"OP\r\nQUIT\r\nRS"),
            vec![
                Line::Complete(b"NOOP\r\n".to_vec()),
                Line::Complete(b"QUIT\r\n".to_vec())
            ]
        );
        assert_eq!(
            feed_all(&mut lb, b"ET\n"),
            vec![Line::Complete(b"RSET\n".to_vec())]
        );
    }

    #[test]
    fn exactly_512_bytes_is_a_line_513_is_too_long() {
        let mut lb = LineBuffer::default();
        let mut ok = vec![b'x'; MAX_COMMAND_LINE - 2];
        ok.extend_from_slice(b"\r\n");
        assert_eq!(feed_all(&mut lb, &ok), vec![Line::Complete(ok.clone())]);
        let mut long = vec![b'x'; MAX_COMMAND_LINE - 1];
        long.extend_from_slice(b"\r\n");
        assert_eq!(feed_all(&mut lb, &long), vec![Line::TooLong]);
    }

    #[test]
    fn a_long_line_is_not_stored_and_the_next_line_is_clean() {
        let mut lb = LineBuffer::default();
        for _ in 0..1000 {
            assert_eq!(feed_all(&mut lb, &[b'a'; 4096]), vec![]);
            assert!(lb.held() <= MAX_COMMAND_LINE);
        }
        assert_eq!(
            feed_all(&mut lb, b"tail\r\nNOOP\r\n"),
            vec![Line::TooLong, Line::Complete(b"NOOP\r\n".to_vec())]
        );
        assert_eq!(lb.held(), 0);
    }
}
