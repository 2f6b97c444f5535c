//! The camera's refusals: every one becomes `{"error": {"code", "message"}}` with the right
//! status (and `Retry-After` on 429) as a [`camkey_web::error::WebError`], or the same words
//! on an HTML page. Messages say what to do next, in plain words; internal causes are
//! logged, not shown.

use crate::core::CoreError;
use crate::limits::RetryAfter;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::http::StatusCode;

/// An error answer: the shared web error, in the camera's words.
pub type ApiError = camkey_web::error::WebError;

/// 403: the camera must be initialized first.
pub fn not_initialized() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_initialized",
        "This camera is not initialized yet: initialize this camera first. Open its web page and follow the setup guide (or run `camkey init`) to choose an admin password.",
    )
}

/// 401: no live session.
pub fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Sign in first: your session has ended or was never started.",
    )
}

/// 403: the signed-in account's role does not allow this.
pub fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Only an Administrator can do this. Sign in as admin (or another account with the Administrator role) to change the camera's settings.",
    )
}

/// 403: a request from another site.
pub fn cross_site() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "cross_site_request",
        "This request came from another web site and was refused. Open the camera's own page and try again.",
    )
}

/// 404.
pub fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is nothing at this address on the camera.",
    )
}

/// 500 with the cause logged, not shown.
pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
    tracing::error!("internal error: {cause}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "The camera could not complete this. Nothing was changed; try again, and if it keeps failing, restart the camera.",
    )
}

/// "in 5 minutes", "in 40 seconds".
pub fn wait_words(secs: u64) -> String {
    if secs >= 2 * 3600 {
        format!("in {} hours", secs.div_ceil(3600))
    } else if secs >= 120 {
        format!("in {} minutes", secs.div_ceil(60))
    } else if secs > 60 {
        "in 2 minutes".into()
    } else {
        format!("in {secs} seconds")
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        use StatusCode as S;
        match e {
            CoreError::NotInitialized => not_initialized(),
            CoreError::AlreadyInitialized => ApiError::new(
                S::CONFLICT,
                "already_initialized",
                "This camera is already initialized. Sign in with its admin password; if you forgot it, use \"Forgot password?\" on the sign-in page.",
            ),
            CoreError::InitWindowClosed => ApiError::new(
                S::FORBIDDEN,
                "init_window_closed",
                "Setup over the network closes 30 minutes after the camera starts, so that strangers cannot take it over. Power the camera off and on (unplug and replug its network cable), then finish setup within 30 minutes.",
            ),
            CoreError::SetupCodeRequired => ApiError::new(
                S::FORBIDDEN,
                "setup_code_required",
                "This model needs the setup code printed on its label (8 letters and digits, like ABCD-2345). Enter it to continue.",
            ),
            CoreError::SetupCodeWrong => ApiError::new(
                S::FORBIDDEN,
                "setup_code_wrong",
                "The setup code does not match this camera's label. Read it again from the label on the camera or its box; the letters O and I count as 0 and 1.",
            ),
            CoreError::Password(p) => ApiError::new(S::BAD_REQUEST, p.code(), p.to_string()),
            CoreError::Answers(a) => {
                ApiError::new(S::BAD_REQUEST, "security_questions", a.to_string())
            }
            CoreError::BadEmail => ApiError::new(
                S::BAD_REQUEST,
                "recovery_email_invalid",
                "The recovery e-mail address is not valid. Enter an address like name@example.com, or leave it empty to keep the vendor's support desk.",
            ),
            CoreError::BadSetting(m) => ApiError::new(S::BAD_REQUEST, "setting_invalid", m),
            CoreError::BadCredentials { locked } => with_lock(
                ApiError::new(
                    S::UNAUTHORIZED,
                    "bad_credentials",
                    "The user name or password is wrong. Check Caps Lock and try again.",
                ),
                locked,
            ),
            CoreError::WrongPassword { locked } => with_lock(
                ApiError::new(
                    S::FORBIDDEN,
                    "wrong_password",
                    "The current password is wrong. Type it again; nothing was changed.",
                ),
                locked,
            ),
            CoreError::RateLimited(r) => ApiError {
                retry_after: Some(r.secs()),
                ..ApiError::new(
                    S::TOO_MANY_REQUESTS,
                    if r.locked { "locked_out" } else { "slow_down" },
                    if r.locked {
                        format!(
                            "Too many wrong attempts from your browser or address. Try again {}.",
                            wait_words(r.secs())
                        )
                    } else {
                        format!(
                            "Too many wrong attempts on this account from browsers and apps that have not signed in here before. Try again {}. A browser or app that signed in to this camera before is not held up; if you forgot the password, the codes on the Forgot password page are not held up either.",
                            wait_words(r.secs())
                        )
                    },
                )
            },
            CoreError::Store(e) => internal(&e),
            CoreError::MethodUnavailable(m) => ApiError::new(S::CONFLICT, "method_unavailable", m),
            CoreError::WrongAnswers { locked } => with_lock(
                ApiError::new(
                    S::UNAUTHORIZED,
                    "wrong_answers",
                    "At least one answer is not right. Answer every question again; case and spacing do not matter.",
                ),
                locked,
            ),
            CoreError::CodeUnreadable(e) => ApiError::new(
                S::BAD_REQUEST,
                "code_unreadable",
                format!("Check the code: {e}."),
            ),
            CoreError::CodeWrong { locked } => with_lock(
                ApiError::new(
                    S::UNAUTHORIZED,
                    "code_wrong",
                    "This code is not valid for this camera. Check it against the mail (the newest mail's code is the one to use) and type it again.",
                ),
                locked,
            ),
            CoreError::CodeExpired => ApiError::new(
                S::FORBIDDEN,
                "code_expired",
                "This code has expired. Ask for a new one: send the QR code again (or ask for another e-mailed code).",
            ),
            CoreError::TooSoon(r) => ApiError {
                retry_after: Some(r.secs()),
                ..ApiError::new(
                    S::TOO_MANY_REQUESTS,
                    "too_soon",
                    format!(
                        "A new one can be made {}. The one you have is still valid: use it, or send it again.",
                        wait_words(r.secs())
                    ),
                )
            },
            CoreError::UserNameInvalid => {
                ApiError::new(S::BAD_REQUEST, "user_name_invalid", e.to_string())
            }
            CoreError::UserExists(_) => ApiError::new(S::CONFLICT, "user_exists", e.to_string()),
            CoreError::UnknownUser(_) => ApiError::new(S::NOT_FOUND, "unknown_user", e.to_string()),
            CoreError::TooManyUsers => ApiError::new(S::CONFLICT, "too_many_users", e.to_string()),
            CoreError::AdminFixed => ApiError::new(S::CONFLICT, "admin_fixed", e.to_string()),
            CoreError::Forbidden => forbidden(),
            CoreError::PasswordRequired => {
                ApiError::new(S::BAD_REQUEST, "password_required", e.to_string())
            }
            CoreError::Mail(e) => ApiError::new(
                S::BAD_GATEWAY,
                "mail_failed",
                format!(
                    "The camera could not send the mail ({e}). This may pass: try again in a minute, check the camera's mail settings, or choose another way."
                ),
            ),
        }
    }
}

/// A JSON body the API could not read.
pub fn json_rejection(r: JsonRejection) -> ApiError {
    use StatusCode as S;
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            S::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send JSON with the header Content-Type: application/json.",
        ),
        JsonRejection::JsonSyntaxError(_) => ApiError::new(
            S::BAD_REQUEST,
            "malformed_json",
            "The request body is not valid JSON (or not UTF-8). Nothing was changed.",
        ),
        JsonRejection::JsonDataError(e) => ApiError::new(
            S::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!(
                "The request does not have the expected fields: {}",
                short(&e.body_text())
            ),
        ),
        JsonRejection::BytesRejection(_) => too_large(),
        other => ApiError::new(
            other.status(),
            "bad_request",
            "The request could not be read. Nothing was changed.",
        ),
    }
}

/// A form the pages could not read.
pub fn form_rejection(r: FormRejection) -> ApiError {
    match r {
        FormRejection::BytesRejection(_) => too_large(),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_form",
            "The form could not be read. Reload the page and try again.",
        ),
    }
}

/// A wrong secret that also started a lock says so, and when to come back.
fn with_lock(mut e: ApiError, locked: Option<RetryAfter>) -> ApiError {
    if let Some(r) = locked {
        e.message = format!(
            "{} That was too many wrong attempts from your browser or address: try again {}.",
            e.message,
            wait_words(r.secs())
        );
        e.retry_after = Some(r.secs());
    }
    e
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        "The request is too large for the camera. Nothing was changed.",
    )
}

/// Keeps serde's explanation short (it may quote the input).
fn short(s: &str) -> String {
    let s = s.trim_start_matches("Failed to deserialize the JSON body into the target type: ");
    s.chars().take(160).collect()
}
