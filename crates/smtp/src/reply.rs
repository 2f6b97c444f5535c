//! Reply lines (RFC 5321 §4.2), always well-formed.
//!
//! A reply is a three-digit code, then `-` on every line but the last and a space on the
//! last, an optional enhanced status code (RFC 2034), text, CRLF. Texts come partly from
//! clients (a parameter's name) and from sinks, so every line is sanitized here, in one
//! place: no control characters, no CR or LF, bounded length. smtp-proto's `Response`
//! writes single lines and trusts its text; this type owns the guarantee instead.

use crate::sink::Verdict;
use tracing::warn;

/// Longest text of one reply line, in bytes (the whole line stays far below the 512 of
/// RFC 5321 §4.5.3.1.5).
const MAX_TEXT: usize = 400;

/// One reply, possibly multi-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    code: u16,
    enhanced: Option<String>,
    lines: Vec<String>,
}

impl Reply {
    /// A one-line reply with an enhanced status code such as `"2.0.0"`.
    pub(crate) fn new(code: u16, enhanced: &str, text: impl AsRef<str>) -> Self {
        Self::lines(code, Some(enhanced), [text])
    }

    /// A one-line reply without an enhanced status code (greeting, HELO, 354).
    pub(crate) fn plain(code: u16, text: impl AsRef<str>) -> Self {
        Self::lines(code, None, [text])
    }

    /// A reply of several lines (at least one: an empty list gives one empty line).
    pub(crate) fn lines<I, S>(code: u16, enhanced: Option<&str>, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let code = if (200..=599).contains(&code) {
            code
        } else {
            451
        };
        let mut lines: Vec<String> = lines.into_iter().map(|l| sanitize(l.as_ref())).collect();
        if lines.is_empty() {
            lines.push(String::new());
        }
        Reply {
            code,
            enhanced: enhanced.map(|e| enhanced_for(code, e)),
            lines,
        }
    }

    /// The reply for a sink's rejection (an acceptance has no reply of its own: the
    /// caller knows what it accepted).
    pub(crate) fn from_rejection(code: u16, enhanced: &str, text: &str) -> Self {
        if (400..=599).contains(&code) {
            Reply::new(code, enhanced, text)
        } else {
            warn!(
                code,
                "sink rejected with a code that is not 4xx or 5xx; replying 451"
            );
            Reply::new(451, "4.3.0", text)
        }
    }

    /// The reply for a verdict, with `accepted` for [`Verdict::Accept`].
    pub(crate) fn verdict(verdict: &Verdict, accepted: impl FnOnce() -> Reply) -> Self {
        match verdict {
            Verdict::Accept => accepted(),
            Verdict::Reject {
                code,
                enhanced,
                text,
            } => Reply::from_rejection(*code, enhanced, text),
        }
    }

    /// The three-digit code.
    pub(crate) fn code(&self) -> u16 {
        self.code
    }

    /// Appends the reply's wire form to `out`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            out.extend_from_slice(self.code.to_string().as_bytes());
            out.push(if i == last { b' ' } else { b'-' });
            if let Some(e) = &self.enhanced {
                out.extend_from_slice(e.as_bytes());
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The wire form.
    #[cfg(test)]
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

/// Replaces control characters and cuts the text to [`MAX_TEXT`] bytes.
fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TEXT));
    for c in text.chars() {
        let c = if c.is_control() { '?' } else { c };
        if out.len() + c.len_utf8() > MAX_TEXT {
            break;
        }
        out.push(c);
    }
    out
}

/// `enhanced` if it is a valid RFC 3463 code of `code`'s class, else `class.0.0`.
fn enhanced_for(code: u16, enhanced: &str) -> String {
    let class = code / 100;
    let mut parts = enhanced.split('.');
    let valid = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(c), Some(s), Some(d), None) => {
            c == class.to_string()
                && [s, d]
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        }
        _ => false,
    };
    if valid {
        enhanced.to_string()
    } else {
        format!("{class}.0.0")
    }
}

/// Whether `bytes` is a sequence of well-formed reply lines forming complete replies:
/// shared by the unit tests and the property tests.
#[cfg(test)]
pub(crate) fn well_formed(bytes: &[u8]) -> Result<usize, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    if text.is_empty() {
        return Ok(0);
    }
    let Some(body) = text.strip_suffix("\r\n") else {
        return Err(format!("does not end with CRLF: {text:?}"));
    };
    let mut replies = 0;
    let mut open: Option<&str> = None;
    for line in body.split("\r\n") {
        if line.len() + 2 > 512 || line.contains(['\r', '\n']) || line.chars().any(char::is_control)
        {
            return Err(format!("bad line {line:?}"));
        }
        let (code, rest) = line.split_at_checked(3).ok_or(format!("short {line:?}"))?;
        let first = code.as_bytes().first().copied().unwrap_or(0);
        if !(b'2'..=b'5').contains(&first) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("bad code in {line:?}"));
        }
        if let Some(open) = open
            && open != code
        {
            return Err(format!("code changes inside a reply: {line:?}"));
        }
        match rest.as_bytes().first() {
            Some(b'-') => open = Some(code),
            Some(b' ') | None => {
                open = None;
                replies += 1;
            }
            _ => return Err(format!("bad separator in {line:?}")),
        }
    }
    match open {
        None => Ok(replies),
        Some(_) => Err("unfinished multi-line reply".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line() {
        assert_eq!(
            Reply::new(250, "2.0.0", "OK").to_bytes(),
            b"250 2.0.0 OK\r\n"
        );
        assert_eq!(
            Reply::plain(354, "go ahead").to_bytes(),
            b"354 go ahead\r\n"
        );
    }

    #[test]
    fn multi_line_uses_dashes_but_on_the_last() {
        let r = Reply::lines(250, None, ["mx", "PIPELINING", "SIZE 10"]);
        assert_eq!(r.to_bytes(), b"250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
        assert_eq!(well_formed(&r.to_bytes()), Ok(1));
    }

    #[test]
    fn hostile_text_cannot_forge_a_line() {
        let r = Reply::from_rejection(550, "5.1.1", "no\r\n250 2.0.0 yes\0");
        let bytes = r.to_bytes();
        assert_eq!(bytes, b"550 5.1.1 no??250 2.0.0 yes?\r\n");
        assert_eq!(well_formed(&bytes), Ok(1));
        let long = Reply::new(550, "5.0.0", "é".repeat(1000)).to_bytes();
        assert!(long.len() < 512);
        assert_eq!(well_formed(&long), Ok(1));
    }

    #[test]
    fn sink_codes_are_checked() {
        assert_eq!(Reply::from_rejection(250, "2.0.0", "x").code(), 451);
        assert_eq!(Reply::from_rejection(99, "2.0.0", "x").code(), 451);
        assert_eq!(
            Reply::from_rejection(550, "4.1.1", "x").to_bytes(),
            b"550 5.0.0 x\r\n"
        );
        assert_eq!(
            Reply::from_rejection(450, "4.2.1", "busy").to_bytes(),
            b"450 4.2.1 busy\r\n"
        );
        assert_eq!(
            Reply::from_rejection(550, "5.1.1.1", "x").to_bytes(),
            b"550 5.0.0 x\r\n"
        );
        assert_eq!(
            Reply::from_rejection(550, "5.1234.1", "x").to_bytes(),
            b"550 5.0.0 x\r\n"
        );
    }

    #[test]
    fn checker_catches_bad_replies() {
        assert!(well_formed(b"250 ok").is_err());
        assert!(well_formed(b"250-ok\r\n").is_err());
        assert!(well_formed(b"250-ok\r\n251 ok\r\n").is_err());
        assert!(well_formed(b"25 ok\r\n").is_err());
        assert!(well_formed(b"650 ok\r\n").is_err());
        assert!(well_formed(b"250 o\rk\r\n").is_err());
        assert_eq!(well_formed(b"250-a\r\n250 b\r\n221 bye\r\n"), Ok(2));
    }
}
