//! Mail intake: finding a camera's challenge in an e-mail an owner sent to the vendor's
//! automated reset address (`docs/protocol.md`, "The flow", step 2).
//!
//! This module is pure: the bytes of one message in; the challenge string it asks about and
//! the address to answer out. The SMTP listener hands it each message, and the reset
//! [`service`](crate::service) then treats the string exactly like one typed on the reset
//! page: the signer mails the code only to the address sealed inside the challenge, never
//! to [`Extracted::reply_to`] (the author, who gets a fixed text at most). So a wrong guess here costs at most a refused request, never
//! a code sent astray, and any string that passes [`challenge::parse`] is safe to act on.
//!
//! # Where the string is looked for
//!
//! With [`mail_parser`] (MIME, base64, quoted-printable, charsets, encoded words), in this
//! order: the Subject, then every text and HTML part in document order (forwarded
//! `message/rfc822` parts included). An HTML part is read twice: its source, so a link
//! whose `href` holds `#CK1...` counts even when the visible text does not, and its text
//! with the tags and entities removed. A text holding a `%XX` escape is also read
//! percent-decoded, for reset links whose fragment a client escaped.
//!
//! # How mangled strings are put back together
//!
//! From each `ck1` (any case), the letters and digits that follow are joined, skipping
//! what mail clients put inside a long word: white space and line breaks, `>` quote
//! markers at the start of a line, hyphens and dashes, soft hyphens and zero-width
//! characters, and `=` soft line breaks left undecoded. The first other character ends the
//! candidate. A join usually runs on into the words after the string ("...Q7XZ Thanks"),
//! so when the whole candidate fails its check symbols, shorter ones are tried: first
//! where a separator was skipped (the string's end is almost always one), then every
//! length down to [`MIN_TRIMMED_CHARS`]. The 20-bit check in [`challenge::parse`] decides;
//! the first candidate that parses wins.
//!
//! # Bounds
//!
//! Mail comes from anyone. A message over [`MAX_MAIL_BYTES`] is refused before parsing;
//! one with over [`MAX_PARTS`] MIME parts or nested deeper than [`MAX_DEPTH`] is refused
//! after. At most [`MAX_TEXT_PER_PART`] bytes of each part are read, at most
//! [`MAX_CANDIDATES`] occurrences of `ck1` are examined in all, and at most
//! [`MAX_PARSE_ATTEMPTS`] trial parses are made, so a hostile message costs a bounded,
//! small amount of work. Nothing here panics.

use camkey_proto::challenge::{self, MAX_TEXT, PREFIX};
use camkey_proto::crockford;
use camkey_proto::policy::check_email;
use mail_parser::decoders::html::html_to_text;
use mail_parser::{Address, Message, MessageParser, MessagePart, PartType};
use std::collections::HashSet;

/// Largest message accepted, in bytes (1 MiB).
pub const MAX_MAIL_BYTES: usize = 1 << 20;
/// Most MIME parts accepted in one message, nested messages included.
pub const MAX_PARTS: usize = 50;
/// Deepest MIME nesting accepted (the top-level part is at depth 0).
pub const MAX_DEPTH: usize = 10;
/// Bytes of text read from each part (and from the Subject).
pub const MAX_TEXT_PER_PART: usize = 64 * 1024;
/// Occurrences of `ck1` examined in one message, in all parts together.
pub const MAX_CANDIDATES: usize = 32;
/// Shortest length an over-long candidate is trimmed to. The shortest challenge a camera
/// makes (a 4-character serial, factory-default address) has 78 characters.
pub const MIN_TRIMMED_CHARS: usize = 60;
/// Trial parses in one message, in all candidates together.
pub const MAX_PARSE_ATTEMPTS: usize = 2048;
/// Separator characters skipped in a row before a candidate ends (a quoted line break is
/// a handful: `\r\n> > `).
const MAX_GAP: usize = 64;
/// How far past an `=` to look for the line break that makes it a soft break.
const SOFT_BREAK_LOOKAHEAD: usize = 8;

/// What a reset mail asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The first challenge string in the mail that passes its check symbols, in its
    /// compact form (upper case, no separators): ready for
    /// [`challenge::open_with_master`]. `None` when the mail holds none.
    pub challenge: Option<String>,
    /// The address to answer: the author's, that is the one address of From (never
    /// Reply-To: the DMARC check verifies From, so only From may be answered), or the
    /// envelope sender when the mail has no From at all; if plausible (see
    /// [`check_email`]), at most 254 bytes. `None` when there is no such address (also
    /// for a From with several addresses): do not answer.
    pub reply_to: Option<String>,
}

/// Why a message was refused without being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// Over [`MAX_MAIL_BYTES`].
    #[error("the message is larger than {MAX_MAIL_BYTES} bytes")]
    TooLarge,
    /// Over [`MAX_PARTS`] MIME parts, or nested deeper than [`MAX_DEPTH`].
    #[error(
        "the message has more than {MAX_PARTS} MIME parts or nests them more than {MAX_DEPTH} deep"
    )]
    TooComplex,
}

/// Finds the challenge a reset mail asks about, and the address to answer.
///
/// `raw` is the message as received (headers and body); `envelope_from` the SMTP
/// envelope sender, used when the message names no plausible address (pass `""` when
/// there is none; `<>`, the bounce sender, never counts).
///
/// Bytes that are not a mail at all (no header) are no error: they hold no challenge.
pub fn extract(raw: &[u8], envelope_from: &str) -> Result<Extracted, IntakeError> {
    if raw.len() > MAX_MAIL_BYTES {
        return Err(IntakeError::TooLarge);
    }
    let Some(message) = MessageParser::default().parse(raw) else {
        return Ok(Extracted {
            challenge: None,
            reply_to: plausible(envelope_from),
        });
    };
    let parts = readable_parts(&message)?;

    let mut finder = Finder::default();
    let mut found = message.subject().and_then(|s| finder.search(s));
    for part in parts {
        if found.is_some() || finder.exhausted() {
            break;
        }
        found = match &part.body {
            PartType::Text(text) => finder.search(text),
            PartType::Html(html) => {
                let html = head(html, MAX_TEXT_PER_PART);
                finder
                    .search(html)
                    .or_else(|| finder.search(&html_to_text(html)))
            }
            _ => None,
        };
    }

    // Only the author (From:) is ever answered: it is what the DMARC check verifies.
    // Reply-To is never used (a forger would name a victim there), nor is a From: with
    // several addresses (only one of them could have been checked).
    let reply_to = match message.from() {
        Some(from) => sole_plausible(from),
        None => plausible(envelope_from),
    };
    Ok(Extracted {
        challenge: found,
        reply_to,
    })
}

/// The text and HTML parts of a message and of the messages nested in it, in document
/// order (each message's own parts first); refuses too many parts or too deep a nesting.
fn readable_parts<'a, 'x>(
    message: &'a Message<'x>,
) -> Result<Vec<&'a MessagePart<'x>>, IntakeError> {
    let mut readable = Vec::new();
    let mut total = 0usize;
    // Messages to look into, with the depth of their top-level part.
    let mut messages: Vec<(&'a Message<'x>, usize)> = vec![(message, 0)];
    let mut next = 0;
    while let Some(&(msg, base)) = messages.get(next) {
        next += 1;
        total = total.saturating_add(msg.parts.len());
        if total > MAX_PARTS {
            return Err(IntakeError::TooComplex);
        }
        // Depth of each part, walking the multipart tree from the top-level part; a part
        // reached twice (which a well-formed parse never gives) is walked once.
        let mut depth: Vec<Option<usize>> = vec![None; msg.parts.len()];
        let mut stack = vec![(0usize, base)];
        while let Some((id, d)) = stack.pop() {
            if d > MAX_DEPTH {
                return Err(IntakeError::TooComplex);
            }
            let (Some(slot), Some(part)) = (depth.get_mut(id), msg.parts.get(id)) else {
                continue;
            };
            if slot.is_some() {
                continue;
            }
            *slot = Some(d);
            if let PartType::Multipart(children) = &part.body {
                stack.extend(children.iter().map(|&c| (c as usize, d + 1)));
            }
        }
        for (part, d) in msg.parts.iter().zip(&depth) {
            match &part.body {
                PartType::Text(_) | PartType::Html(_) => readable.push(part),
                PartType::Message(inner) => messages.push((inner, d.unwrap_or(base) + 1)),
                PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Multipart(_) => {}
            }
        }
    }
    Ok(readable)
}

/// The one address of an address header, if it has exactly one and it is plausible.
fn sole_plausible(header: &Address<'_>) -> Option<String> {
    let mut addresses = header.iter().filter_map(|a| a.address());
    match (addresses.next(), addresses.next()) {
        (Some(a), None) => plausible(a),
        _ => None,
    }
}

/// `addr` (surrounding white space and one pair of angle brackets removed) if it passes
/// [`check_email`], which also keeps it within 254 bytes.
fn plausible(addr: &str) -> Option<String> {
    let addr = addr.trim();
    let addr = addr
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(addr)
        .trim();
    check_email(addr).then(|| addr.to_string())
}

/// The search over one message, with its budgets.
#[derive(Default)]
struct Finder {
    /// Occurrences of `ck1` examined.
    candidates: usize,
    /// Trial parses made.
    attempts: usize,
    /// Candidates already tried (the same string often appears twice: text and HTML).
    tried: HashSet<String>,
}

/// One candidate: `CK1` and the letters and digits joined after it.
struct Candidate {
    /// Upper case, ASCII letters and digits only.
    text: String,
    /// Lengths of `text` at which separators were skipped: where the string may end.
    breaks: Vec<usize>,
}

impl Finder {
    fn exhausted(&self) -> bool {
        self.candidates >= MAX_CANDIDATES || self.attempts >= MAX_PARSE_ATTEMPTS
    }

    /// Looks in one text (its first [`MAX_TEXT_PER_PART`] bytes), then in its
    /// percent-decoded reading if it has one.
    fn search(&mut self, text: &str) -> Option<String> {
        let text = head(text, MAX_TEXT_PER_PART);
        self.search_one(text)
            .or_else(|| self.search_one(&percent_decoded(text)?))
    }

    fn search_one(&mut self, text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let starts = bytes
            .windows(PREFIX.len())
            .enumerate()
            .filter(|(_, w)| w.eq_ignore_ascii_case(PREFIX.as_bytes()))
            .map(|(i, _)| i);
        for start in starts {
            if self.exhausted() {
                return None;
            }
            self.candidates += 1;
            // `start` is at an ASCII `c`, so on a character boundary.
            let Some(rest) = text.get(start + PREFIX.len()..) else {
                continue;
            };
            let candidate = gather(rest);
            if !self.tried.insert(candidate.text.clone()) {
                continue;
            }
            if let Some(found) = self.validate(&candidate) {
                return Some(found);
            }
        }
        None
    }

    /// The longest prefix of the candidate that parses as a challenge, trying the whole,
    /// then the lengths where it may end, then every length down to [`MIN_TRIMMED_CHARS`].
    fn validate(&mut self, candidate: &Candidate) -> Option<String> {
        let text = candidate.text.as_str();
        // No challenge runs past a character outside the Crockford alphabet (a `U`).
        let longest = text
            .char_indices()
            .skip(PREFIX.len())
            .find(|&(_, c)| !crockford::is_symbol(c))
            .map_or(text.len(), |(i, _)| i);
        let mut tried = vec![false; longest + 1];
        let trimmed = candidate
            .breaks
            .iter()
            .rev()
            .copied()
            .chain((MIN_TRIMMED_CHARS..longest).rev())
            .filter(|&len| len >= MIN_TRIMMED_CHARS && len < longest);
        for len in std::iter::once(longest).chain(trimmed) {
            match tried.get_mut(len) {
                Some(seen) if !*seen => *seen = true,
                _ => continue,
            }
            if self.attempts >= MAX_PARSE_ATTEMPTS {
                return None;
            }
            self.attempts += 1;
            let Some(attempt) = text.get(..len) else {
                continue;
            };
            if challenge::parse(attempt).is_ok() {
                return Some(attempt.to_string());
            }
        }
        None
    }
}

/// Joins the letters and digits after a `ck1` (`rest` starts just after it), skipping
/// separators, up to the first other character or [`MAX_TEXT`] characters.
fn gather(rest: &str) -> Candidate {
    let mut text = String::from(PREFIX);
    let mut breaks = Vec::new();
    let mut gap = 0usize;
    let mut line_start = false;
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() {
            if text.len() >= MAX_TEXT {
                break;
            }
            if gap > 0 {
                breaks.push(text.len());
            }
            text.push(c.to_ascii_uppercase());
            gap = 0;
            line_start = false;
            continue;
        }
        let skip = match c {
            '\n' => {
                line_start = true;
                true
            }
            '>' => line_start,
            '=' => soft_break_follows(chars.clone()),
            c => c.is_whitespace() || is_hyphen(c) || is_invisible(c),
        };
        gap += 1;
        if !skip || gap > MAX_GAP {
            break;
        }
    }
    Candidate { text, breaks }
}

/// Whether an `=` followed by `after` is a quoted-printable soft line break left undecoded.
fn soft_break_follows(after: std::str::Chars<'_>) -> bool {
    after
        .take(SOFT_BREAK_LOOKAHEAD)
        .find(|c| !matches!(c, ' ' | '\t' | '\r'))
        == Some('\n')
}

/// Hyphens and dashes that word processors and mail clients put in or for `-`.
fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// Characters that do not show: soft hyphen, zero-width space and joiners, word joiner,
/// byte-order mark.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// `text` with its `%XX` escapes decoded (invalid UTF-8 replaced), or `None` if it has none.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let escape = |i: usize| -> Option<u8> {
        if bytes.get(i) != Some(&b'%') {
            return None;
        }
        Some(hex(*bytes.get(i + 1)?)? << 4 | hex(*bytes.get(i + 2)?)?)
    };
    if !(0..bytes.len()).any(|i| escape(i).is_some()) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match escape(i) {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The first `max` bytes of `text`, cut back to a character boundary.
fn head(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use camkey_proto::challenge::{Challenge, Recovery, open_with_master};
    use camkey_proto::keys::MasterKey;
    use proptest::prelude::*;

    const SERIAL: &str = "IPC4K15-000001";

    fn master() -> MasterKey {
        MasterKey::from_bytes(1, [0x42; 32])
    }

    fn sealed(recovery: Recovery) -> String {
        let key = master().device_key(SERIAL);
        Challenge::new(&key, SERIAL, 1_790_000_000, true, recovery)
            .seal(&key)
            .expect("seals")
    }

    /// A fresh, valid challenge string (a new random nonce each time).
    fn challenge() -> String {
        sealed(Recovery::Owner("owner@example.com".into()))
    }

    /// A plain single-part mail with `body`.
    fn mail(subject: &str, body: &str) -> Vec<u8> {
        format!(
            "From: Owner <owner@example.com>\r\nTo: reset@vendor.example\r\n\
             Subject: {subject}\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
        )
        .into_bytes()
    }

    /// Asserts that `raw` yields exactly `expected`, and that it opens to a challenge.
    fn assert_finds(raw: &[u8], expected: &str) {
        let got = extract(raw, "").expect("accepted");
        assert_eq!(got.challenge.as_deref(), Some(expected));
        assert!(open_with_master(&[master()], expected).is_ok());
    }

    /// Splits `s` into lines of `width` characters.
    fn wrap(s: &str, width: usize) -> Vec<String> {
        s.as_bytes()
            .chunks(width)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    }

    fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn subject_only() {
        let c = challenge();
        assert_finds(&mail(&c, "Please reset my camera.\r\n"), &c);
        // Folded across two header lines.
        let (a, b) = c.split_at(60);
        assert_finds(&mail(&format!("Reset {a}\r\n {b}"), "Thanks\r\n"), &c);
    }

    #[test]
    fn plain_body() {
        let c = challenge();
        let body = format!("Hello,\r\n\r\nmy camera shows this:\r\n{c}\r\n\r\nThanks, Ann\r\n");
        assert_finds(&mail("reset", &body), &c);
        // In a sentence, with punctuation right after it.
        assert_finds(&mail("reset", &format!("The code is {c}. Thanks")), &c);
    }

    #[test]
    fn quoted_and_wrapped_at_40_columns() {
        let c = challenge();
        let mut body =
            String::from("Here it is again.\r\n\r\nOn Monday, Ann wrote:\r\n> Code:\r\n");
        for line in wrap(&c, 40) {
            body.push_str(&format!("> {line}\r\n"));
        }
        body.push_str(">\r\n> Thanks\r\n> Ann\r\n");
        assert_finds(&mail("Re: reset", &body), &c);
        // Doubly quoted, with hyphens and spaces a client inserted.
        let mut body = String::new();
        for line in wrap(&c, 37) {
            body.push_str(&format!("> > {}-\r\n", line.replace('Q', " Q")));
        }
        body.push_str("> > Best regards\r\n");
        assert_finds(&mail("Re: Re: reset", &body), &c);
    }

    #[test]
    fn lowercase_and_mixed_case() {
        let c = challenge();
        assert_finds(&mail("reset", &format!("{}\r\n", c.to_lowercase())), &c);
        let mixed: String = c
            .chars()
            .enumerate()
            .map(|(i, ch)| {
                if i % 3 == 0 {
                    ch.to_ascii_lowercase()
                } else {
                    ch
                }
            })
            .collect();
        let got = extract(&mail("reset", &format!("{mixed}\r\n")), "").expect("accepted");
        assert_eq!(got.challenge, Some(c));
    }

    #[test]
    fn reset_url_in_plain_text() {
        let c = challenge();
        let url = challenge::reset_url("https://vendor.example/reset", &c);
        let body = format!("I opened\r\n{url}\r\nbut nothing happened\r\n");
        assert_finds(&mail("help", &body), &c);
        // The URL wrapped by the mail client, with a trailing word glued on.
        let (a, b) = url.split_at(70);
        let body = format!("See {a}\r\n{b}thanks\r\n");
        let got = extract(&mail("help", &body), "").expect("accepted");
        assert_eq!(got.challenge, Some(c));
    }

    #[test]
    fn reset_url_percent_encoded() {
        let c = challenge();
        let (a, b) = c.split_at(50);
        let body = format!("https://vendor.example/reset%23{a}%0D%0A{b}%20\r\n");
        let got = extract(&mail("help", &body), "").expect("accepted");
        assert_eq!(got.challenge, Some(c));
    }

    #[test]
    fn reset_url_in_html_href_only() {
        let c = challenge();
        let raw = format!(
            "From: owner@example.com\r\nSubject: reset\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/html; charset=utf-8\r\n\r\n\
             <html><body><p>Please <a href=\"https://vendor.example/reset#{c}\">reset \
             my camera</a>.</p></body></html>\r\n"
        );
        assert_finds(raw.as_bytes(), &c);
    }

    #[test]
    fn base64_text_part() {
        let c = challenge();
        let encoded = base64(format!("Bonjour, voici le code : {c}\r\nMerci\r\n").as_bytes());
        let body = wrap(&encoded, 76).join("\r\n");
        let raw = format!(
            "From: owner@example.com\r\nSubject: reset\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n"
        );
        assert_finds(raw.as_bytes(), &c);
    }

    #[test]
    fn quoted_printable_soft_breaks_inside_the_string() {
        let c = challenge();
        let mut body = String::from("Caf=C3=A9 camera, code=3D");
        for piece in wrap(&c, 30) {
            body.push_str(&piece);
            body.push_str("=\r\n");
        }
        body.push_str("\r\nThanks\r\n");
        let raw = format!(
            "From: owner@example.com\r\nSubject: reset\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n{body}"
        );
        assert_finds(raw.as_bytes(), &c);
        // The same soft breaks left undecoded (a quoted copy of the raw source).
        let undecoded = mail("reset", &body);
        assert_finds(&undecoded, &c);
    }

    #[test]
    fn multipart_alternative_html_carries_it() {
        let c = challenge();
        let (a, b) = c.split_at(40);
        let raw = format!(
            "From: owner@example.com\r\nSubject: reset\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
             --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             Please see the link in the HTML version.\r\n\
             --b1\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n\
             <p>Code: <b>{a}<wbr>&shy;{b}</b></p>\r\n\
             --b1--\r\n"
        );
        assert_finds(raw.as_bytes(), &c);
    }

    #[test]
    fn factory_default_challenge_is_found() {
        let c = sealed(Recovery::FactoryDefault);
        assert_finds(&mail("reset", &format!("{c}\r\nthanks\r\n")), &c);
    }

    #[test]
    fn one_changed_character_gives_no_challenge() {
        let c = challenge();
        let mut typo = c.clone().into_bytes();
        let i = typo.len() / 2;
        typo[i] = if typo[i] == b'Z' { b'Y' } else { b'Z' };
        let typo = String::from_utf8(typo).expect("ascii");
        let got = extract(&mail("reset", &format!("{typo}\r\n")), "").expect("accepted");
        assert_eq!(got.challenge, None);
        assert_eq!(got.reply_to.as_deref(), Some("owner@example.com"));
    }

    #[test]
    fn no_challenge_at_all() {
        let got = extract(
            &mail("Track1 reset?", "My deck1 camera is locked. CK1 help!\r\n"),
            "",
        )
        .expect("accepted");
        assert_eq!(got.challenge, None);
        assert_eq!(got.reply_to.as_deref(), Some("owner@example.com"));
    }

    #[test]
    fn garbage_and_non_utf8() {
        let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let got = extract(&junk, "bounce@example.com").expect("accepted");
        assert_eq!(got.challenge, None);
        assert_eq!(extract(&[], "").expect("accepted"), Extracted::default());
        assert_eq!(
            extract(&[0xff, 0xfe, 0x00], "")
                .expect("accepted")
                .challenge,
            None
        );
        // A Latin-1 body that is not valid UTF-8 still gives up its challenge.
        let c = challenge();
        let mut raw = b"From: owner@example.com\r\nSubject: r\xe9initialiser\r\n\
            Content-Type: text/plain; charset=iso-8859-1\r\n\r\nCam\xe9ra : "
            .to_vec();
        raw.extend_from_slice(c.as_bytes());
        raw.extend_from_slice(b"\r\n\xff\xfe\r\n");
        assert_finds(&raw, &c);
        // Undeclared charset, invalid bytes glued to the string.
        let mut raw = b"Subject: x\r\n\r\n\xc3(".to_vec();
        raw.extend_from_slice(c.as_bytes());
        raw.extend_from_slice(b"\xc3\x28\r\n");
        assert_finds(&raw, &c);
    }

    #[test]
    fn too_large() {
        let mut raw = mail("reset", &challenge());
        raw.resize(2 * MAX_MAIL_BYTES, b'a');
        assert_eq!(extract(&raw, ""), Err(IntakeError::TooLarge));
        let mut raw = mail("reset", "x");
        raw.resize(MAX_MAIL_BYTES, b'a');
        assert!(extract(&raw, "").is_ok());
    }

    fn nested(levels: usize, c: &str) -> Vec<u8> {
        let mut raw = String::from("From: owner@example.com\r\nSubject: nest\r\n");
        for i in 0..levels {
            raw.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"n{i}\"\r\n\r\n--n{i}\r\n"
            ));
        }
        raw.push_str(&format!("Content-Type: text/plain\r\n\r\n{c}\r\n"));
        for i in (0..levels).rev() {
            raw.push_str(&format!("--n{i}--\r\n"));
        }
        raw.into_bytes()
    }

    #[test]
    fn too_complex() {
        let c = challenge();
        assert_finds(&nested(3, &c), &c);
        assert_finds(&nested(MAX_DEPTH, &c), &c);
        assert_eq!(
            extract(&nested(MAX_DEPTH + 1, &c), ""),
            Err(IntakeError::TooComplex)
        );
        assert_eq!(extract(&nested(200, &c), ""), Err(IntakeError::TooComplex));
        // Too many parts side by side.
        let mut raw = String::from(
            "From: owner@example.com\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n",
        );
        for _ in 0..MAX_PARTS {
            raw.push_str("--m\r\nContent-Type: text/plain\r\n\r\nhello\r\n");
        }
        raw.push_str("--m--\r\n");
        assert_eq!(extract(raw.as_bytes(), ""), Err(IntakeError::TooComplex));
    }

    #[test]
    fn forwarded_message_part() {
        let c = challenge();
        let raw = format!(
            "From: owner@example.com\r\nSubject: Fwd\r\n\
             Content-Type: multipart/mixed; boundary=\"f\"\r\n\r\n\
             --f\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n\
             --f\r\nContent-Type: message/rfc822\r\n\r\n\
             From: camera@example.com\r\nSubject: your code\r\n\r\n{c}\r\n\
             --f--\r\n"
        );
        assert_finds(raw.as_bytes(), &c);
    }

    #[test]
    fn only_the_author_is_answered_never_reply_to() {
        let with = |headers: &str, envelope: &str| {
            let raw = format!("{headers}Subject: x\r\n\r\nbody\r\n");
            extract(raw.as_bytes(), envelope)
                .expect("accepted")
                .reply_to
        };
        // Reply-To names someone else (a forger's victim): ignored, From is answered.
        assert_eq!(
            with(
                "From: Ann <ann@example.com>\r\nReply-To: Victim <victim@home.example>\r\n",
                "bounce@mta.example"
            )
            .as_deref(),
            Some("ann@example.com")
        );
        // A From that is not plausible: nobody (not Reply-To, not the envelope).
        assert_eq!(
            with(
                "From: nobody@localhost\r\nReply-To: ann@example.com\r\n",
                "env@example.net"
            ),
            None
        );
        // A From with several addresses: only one could have been checked, so nobody.
        assert_eq!(
            with("From: ann@example.com, victim@example.org\r\n", ""),
            None
        );
        assert_eq!(
            with("From: team: ann@example.com, bob@example.org;\r\n", ""),
            None
        );
        // No From: the envelope sender, brackets or not.
        assert_eq!(
            with("To: reset@vendor.example\r\n", "<env@example.net>").as_deref(),
            Some("env@example.net")
        );
        assert_eq!(
            with("To: reset@vendor.example\r\n", "env@example.net").as_deref(),
            Some("env@example.net")
        );
        // Nothing plausible: no answer (the bounce sender `<>` never counts).
        assert_eq!(with("To: reset@vendor.example\r\n", "<>"), None);
        assert_eq!(with("From: undisclosed-recipients:;\r\n", ""), None);
        let long = format!("{}@example.com", "a".repeat(300));
        assert_eq!(with(&format!("From: {long}\r\n"), &long), None);
    }

    #[test]
    fn bounded_by_the_candidate_budget() {
        let c = challenge();
        // A few decoys first: still found.
        let decoys = "ck1 is a word here, ".repeat(5);
        assert_finds(&mail("reset", &format!("{decoys}{c}\r\n")), &c);
        // More decoys than the budget: the search gives up.
        let decoys = "ck1, ".repeat(MAX_CANDIDATES);
        let got = extract(&mail("reset", &format!("{decoys}{c}\r\n")), "").expect("accepted");
        assert_eq!(got.challenge, None);
        // Long glued runs of symbols cost at most the parse budget.
        let run = "ck1".repeat(300);
        let body = format!("{}\r\n", [run.as_str(); 100].join(" ! "));
        assert_eq!(
            extract(&mail("reset", &body), "")
                .expect("accepted")
                .challenge,
            None
        );
    }

    /// Pieces random mails are made of.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,40}",
            "[a-zA-Z0-9 \r\n>=%-]{0,40}",
            Just("ck1".to_string()),
            Just("CK1".to_string()),
            Just("\r\n".to_string()),
            Just("=\r\n".to_string()),
            Just("> ".to_string()),
            Just("\r\n--b\r\n".to_string()),
            Just("\r\n--b--\r\n".to_string()),
            Just("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n".to_string()),
            Just("Content-Type: text/html\r\n\r\n<a href=\"x#".to_string()),
            Just("Content-Transfer-Encoding: base64\r\n\r\n".to_string()),
            Just("Content-Transfer-Encoding: quoted-printable\r\n\r\n".to_string()),
            Just("Content-Type: message/rfc822\r\n\r\n".to_string()),
            Just("&shy;&#x43;<wbr>%4".to_string()),
            Just("\u{00AD}\u{200B}\u{2010}".to_string()),
        ]
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..4096), env in "\\PC{0,40}") {
            let _ = extract(&raw, &env);
        }

        #[test]
        fn random_mails_never_panic(
            header in "[A-Za-z-]{1,12}: \\PC{0,60}",
            pieces in proptest::collection::vec(piece(), 0..40),
            with_challenge in any::<bool>(),
        ) {
            let mut pieces = pieces;
            if with_challenge {
                pieces.insert(pieces.len() / 2, challenge());
            }
            let body = pieces.concat();
            let raw = format!("From: a@example.com\r\n{header}\r\n{body}");
            let _ = extract(raw.as_bytes(), "");
            let _ = extract(&raw.as_bytes()[..raw.len() / 2], "");
        }

        #[test]
        fn harmless_mangling_is_undone(
            cuts in proptest::collection::vec((3usize..120, 0usize..6), 0..12),
            lower in any::<bool>(),
            quote in any::<bool>(),
        ) {
            let c = challenge();
            let mut s = if lower { c.to_lowercase() } else { c.clone() };
            let mut cuts = cuts;
            cuts.sort_unstable();
            for &(at, kind) in cuts.iter().rev() {
                let at = at.min(s.len());
                let sep = match kind {
                    0 => " ",
                    1 => "-",
                    2 => "\u{00AD}",
                    3 => "\r\n",
                    4 => "=\r\n",
                    _ => "\r\n> ",
                };
                s.insert_str(at, sep);
            }
            let body = if quote {
                s.lines().map(|l| format!("> {l}\r\n")).collect::<String>() + "> Thanks\r\n"
            } else {
                format!("{s}\r\nThanks\r\n")
            };
            let got = extract(&mail("reset", &body), "").expect("accepted");
            prop_assert_eq!(got.challenge, Some(c));
        }
    }
}
