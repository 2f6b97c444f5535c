//! Password and security-answer policy (S8, S3b), the same for every part: the camera
//! enforces it, the NVR generates passwords that pass it, the CLI checks before sending.
//!
//! Strength is estimated with `zxcvbn` (a well-kept port of Dropbox's estimator); the
//! camera's own identity (serial, model, username) counts as known words and is refused
//! outright when it appears in the password.

use zxcvbn::Score;

/// Shortest password accepted, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest password accepted, in characters (S8 asks for at least 64).
pub const PASSWORD_MAX_CHARS: usize = 128;
/// Longest security answer accepted, in characters.
pub const ANSWER_MAX_CHARS: usize = 128;
/// Longest security question accepted, in characters.
pub const QUESTION_MAX_CHARS: usize = 200;
/// At most this many security questions.
pub const MAX_QUESTIONS: usize = 3;

/// Words that identify the device and must not appear in its password.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// Account name, e.g. `admin`.
    pub username: &'a str,
    /// Camera serial number.
    pub serial: &'a str,
    /// Camera model.
    pub model: &'a str,
}

/// Why a password was refused. The messages are shown to owners as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`PASSWORD_MIN_CHARS`] characters.
    #[error("The password is too short: use at least {PASSWORD_MIN_CHARS} characters.")]
    TooShort,
    /// More than [`PASSWORD_MAX_CHARS`] characters.
    #[error("The password is too long: use at most {PASSWORD_MAX_CHARS} characters.")]
    TooLong,
    /// Control characters cannot be typed reliably on every keyboard.
    #[error("The password contains control characters; use letters, digits, spaces and symbols.")]
    ControlCharacters,
    /// The password holds the camera's serial, model or the username.
    #[error("The password contains the camera's {0}; choose something unrelated to the camera.")]
    ContainsIdentity(&'static str),
    /// zxcvbn found it guessable.
    #[error("The password is too easy to guess{reason}. {hint}")]
    Weak {
        /// `": <warning>"` from the estimator, or empty.
        reason: String,
        /// What to do instead.
        hint: String,
    },
}

impl PasswordError {
    /// A short machine-readable code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordError::TooShort => "password_too_short",
            PasswordError::TooLong => "password_too_long",
            PasswordError::ControlCharacters => "password_invalid",
            PasswordError::ContainsIdentity(_) => "password_contains_identity",
            PasswordError::Weak { .. } => "password_weak",
        }
    }
}

/// Checks a new password against the policy.
pub fn check_password(password: &str, id: Identity<'_>) -> Result<(), PasswordError> {
    // Count before anything else so a huge input costs no more than its length once.
    let chars = password.chars().take(PASSWORD_MAX_CHARS + 1).count();
    if chars > PASSWORD_MAX_CHARS {
        return Err(PasswordError::TooLong);
    }
    if chars < PASSWORD_MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordError::ControlCharacters);
    }
    let lower = password.to_lowercase();
    for (what, word) in [
        ("serial number", id.serial),
        ("model name", id.model),
        ("user name", id.username),
    ] {
        if word.len() >= 3 && lower.contains(&word.to_lowercase()) {
            return Err(PasswordError::ContainsIdentity(what));
        }
    }
    let entropy = zxcvbn::zxcvbn(
        password,
        &[id.username, id.serial, id.model, "camkey", "camera"],
    );
    if entropy.score() < Score::Three {
        let feedback = entropy.feedback();
        let reason = feedback
            .and_then(|f| f.warning())
            .map(|w| format!(": {}", w.to_string().trim_end_matches('.').to_lowercase()))
            .unwrap_or_default();
        let hint = feedback
            .and_then(|f| f.suggestions().first())
            .map(|s| s.to_string())
            .unwrap_or_else(|| "Add another word or two; uncommon words are better.".into());
        return Err(PasswordError::Weak { reason, hint });
    }
    Ok(())
}

/// Why a security question or answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Too many questions.
    #[error("Choose at most {MAX_QUESTIONS} security questions.")]
    TooManyQuestions,
    /// Question empty or too long.
    #[error("Each security question needs 5 to {QUESTION_MAX_CHARS} characters.")]
    BadQuestion,
    /// The same question twice.
    #[error("Each security question may be asked only once.")]
    RepeatedQuestion,
    /// Answer too long.
    #[error("Answers are at most {ANSWER_MAX_CHARS} characters.")]
    TooLong,
    /// Answer anyone could guess.
    #[error(
        "The answer to \"{0}\" is too easy to guess; give an answer only you would know (at least 4 letters or digits)."
    )]
    Trivial(String),
}

/// Normalizes a security answer: Unicode lower case, whitespace collapsed to one space,
/// trimmed; punctuation kept. Owners get the same answer accepted however they type its
/// case and spacing.
pub fn normalize_answer(answer: &str) -> String {
    answer
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

const TRIVIAL_ANSWERS: &[&str] = &[
    "none",
    "n/a",
    "na",
    "null",
    "nothing",
    "unknown",
    "test",
    "1234",
    "12345",
    "123456",
    "password",
    "admin",
    "asdf",
    "qwerty",
    "yes",
    "no",
    "idk",
    "dont know",
    "don't know",
];

/// Checks a list of (question, answer) pairs as the owner entered them.
pub fn check_questions(pairs: &[(String, String)]) -> Result<(), AnswerError> {
    if pairs.len() > MAX_QUESTIONS {
        return Err(AnswerError::TooManyQuestions);
    }
    let mut seen = Vec::new();
    for (q, a) in pairs {
        let qn = normalize_answer(q);
        if qn.chars().count() < 5 || q.chars().count() > QUESTION_MAX_CHARS {
            return Err(AnswerError::BadQuestion);
        }
        if seen.contains(&qn) {
            return Err(AnswerError::RepeatedQuestion);
        }
        seen.push(qn);
        if a.chars().count() > ANSWER_MAX_CHARS {
            return Err(AnswerError::TooLong);
        }
        let an = normalize_answer(a);
        let alnum = an.chars().filter(|c| c.is_alphanumeric()).count();
        let distinct = {
            let mut cs: Vec<char> = an.chars().filter(|c| c.is_alphanumeric()).collect();
            cs.sort_unstable();
            cs.dedup();
            cs.len()
        };
        if alnum < 4 || distinct < 2 || TRIVIAL_ANSWERS.contains(&an.as_str()) {
            return Err(AnswerError::Trivial(q.trim().to_string()));
        }
    }
    Ok(())
}

/// Checks an e-mail address the owner typed: one `@`, a dotted domain, no spaces or
/// control characters, at most 254 bytes (RFC 5321's path limit).
pub fn check_email(addr: &str) -> bool {
    if addr.len() > 254 || addr.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !local.contains(['<', '>', '(', ')', ',', ';', ':', '"', '[', ']', '\\'])
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: Identity<'static> = Identity {
        username: "admin",
        serial: "IPC4K15-000001",
        model: "IPC4K15",
    };

    #[test]
    fn password_rules() {
        assert_eq!(check_password("short", ID), Err(PasswordError::TooShort));
        assert_eq!(
            check_password(&"x".repeat(129), ID),
            Err(PasswordError::TooLong)
        );
        assert!(check_password(&"ab".repeat(5_000_000), ID).is_err());
        assert_eq!(
            check_password("my ipc4k15 is great", ID),
            Err(PasswordError::ContainsIdentity("model name"))
        );
        assert_eq!(
            check_password("xx IPC4K15-000001 yy", ID),
            Err(PasswordError::ContainsIdentity("serial number"))
        );
        assert_eq!(
            check_password("Admin-garden-42", ID),
            Err(PasswordError::ContainsIdentity("user name"))
        );
        assert!(matches!(
            check_password("password1", ID),
            Err(PasswordError::Weak { .. })
        ));
        assert!(matches!(
            check_password("12345678", ID),
            Err(PasswordError::Weak { .. })
        ));
        assert!(check_password("tulip-harbor-quietly-42", ID).is_ok());
        assert!(check_password(&"correct horse battery staple ".repeat(4)[..100], ID).is_ok());
        assert_eq!(
            check_password("tulip\u{7}harbor-quietly", ID),
            Err(PasswordError::ControlCharacters)
        );
    }

    #[test]
    fn weak_password_message_says_why() {
        let e = check_password("password1", ID).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("The password is too easy to guess"),
            "{text}"
        );
    }

    #[test]
    fn answers() {
        assert_eq!(normalize_answer("  Mrs   SMITH\t"), "mrs smith");
        let q = |a: &str| vec![("First pet's name?".to_string(), a.to_string())];
        assert!(check_questions(&q("Rex the Dog")).is_ok());
        assert!(check_questions(&q("none")).is_err());
        assert!(check_questions(&q("aaaaaa")).is_err());
        assert!(check_questions(&q("abc")).is_err());
        let four = (0..4)
            .map(|i| (format!("Question {i}?"), "Bellatrix".into()))
            .collect::<Vec<_>>();
        assert_eq!(check_questions(&four), Err(AnswerError::TooManyQuestions));
        let twice = vec![
            ("Pet name?".into(), "Rexford".into()),
            ("pet  NAME?".into(), "Other1".into()),
        ];
        assert_eq!(check_questions(&twice), Err(AnswerError::RepeatedQuestion));
    }

    #[test]
    fn emails() {
        assert!(check_email("owner@example.com"));
        assert!(!check_email("owner@localhost"));
        assert!(!check_email("owner example.com"));
        assert!(!check_email("a@b@example.com"));
        assert!(!check_email("<x>@example.com"));
        assert!(!check_email("x@example..com"));
        assert!(!check_email(&format!("{}@example.com", "a".repeat(300))));
    }
}
