//! Reading operation arguments: the shared checks of [`crate::device`] and
//! [`crate::media`]. Every refusal is a `ter:InvalidArgVal` fault naming the argument (never
//! echoing its value), so a bad argument changes nothing.

use crate::soap::{Fault, Subcode};
use crate::xml::Element;

/// Longest `ReferenceToken` (ONVIF: 64 characters).
pub const MAX_TOKEN: usize = 64;

/// A missing or bad argument.
pub(crate) fn invalid(name: &str) -> Fault {
    Fault::invalid_arg(format!("Invalid or missing argument: {name}"))
}

/// The trimmed text of the required child `{ns}local`.
pub(crate) fn required<'a>(el: &'a Element, ns: &str, local: &str) -> Result<&'a str, Fault> {
    el.child_text(ns, local).ok_or_else(|| invalid(local))
}

/// An `xs:boolean`.
pub(crate) fn boolean(text: &str, name: &str) -> Result<bool, Fault> {
    match text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(name)),
    }
}

/// An `xs:int` within `lo..=hi`.
pub(crate) fn int(text: &str, name: &str, lo: i64, hi: i64) -> Result<i64, Fault> {
    let text = text.trim();
    if text.len() > 12 {
        return Err(invalid(name));
    }
    match text.parse::<i64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(invalid(name)),
    }
}

/// A `ReferenceToken`: 1 to [`MAX_TOKEN`] characters, no control characters.
pub(crate) fn token(text: &str, name: &str) -> Result<String, Fault> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TOKEN || text.chars().any(char::is_control) {
        return Err(invalid(name));
    }
    Ok(text.to_string())
}

/// A string of at most `max` bytes without control characters (the subcode says which
/// bound was broken, as the device service specification asks).
pub(crate) fn bounded(
    text: &str,
    name: &str,
    max: usize,
    too_long: Option<Subcode>,
) -> Result<String, Fault> {
    if text.len() > max {
        return Err(match too_long {
            Some(sub) => {
                Fault::sender(Subcode::OperationProhibited, format!("{name} too long")).with(sub)
            }
            None => invalid(name),
        });
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(name));
    }
    Ok(text.to_string())
}

/// Refuses more than `max` repetitions of an argument.
pub(crate) fn at_most<T>(items: Vec<T>, name: &str, max: usize) -> Result<Vec<T>, Fault> {
    if items.len() > max {
        return Err(Fault::invalid_arg(format!(
            "Too many {name} (at most {max})"
        )));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_ints_and_tokens() {
        assert_eq!(boolean(" true ", "x"), Ok(true));
        assert_eq!(boolean("0", "x"), Ok(false));
        assert!(boolean("yes", "x").is_err());
        assert_eq!(int("42", "x", 0, 100), Ok(42));
        assert!(int("101", "x", 0, 100).is_err());
        assert!(int("99999999999999999999", "x", 0, 100).is_err());
        assert_eq!(token(" Profile_1 ", "t"), Ok("Profile_1".into()));
        assert!(token("", "t").is_err());
        assert!(token(&"x".repeat(65), "t").is_err());
        assert!(token("a\u{0}b", "t").is_err());
        let long = bounded("abcd", "Password", 3, Some(Subcode::PasswordTooLong)).unwrap_err();
        assert_eq!(
            long.subcodes,
            vec![Subcode::OperationProhibited, Subcode::PasswordTooLong]
        );
        assert!(invalid("Name").reason.contains("Name"));
        assert!(at_most(vec![1, 2, 3], "users", 2).is_err());
    }
}
