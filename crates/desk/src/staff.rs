//! Staff accounts of the support desk: two roles (agent and admin), sessions, and an
//! audit entry for every sign-in. Passwords pass the camera's policy
//! ([`camkey_proto::policy`]) and are hashed by `camkey_passwords` (Argon2id, with its
//! dummy hash for unknown names).
//!
//! A session token is 256 random bits; the database keeps only its SHA-256, so a copy of
//! the database signs nobody in. The same token is the API's bearer token and the portal's
//! cookie; each session also has a CSRF token that every portal form must carry. How often
//! one may try is [`crate::signin`]'s business.

use camkey_proto::policy::{self, Identity, PasswordError};
use camkey_store::audit::AuditEntry;
use camkey_store::staff::NewSession;
use camkey_store::{AuditStore, SqliteStore, StaffStore, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;

/// How long a session lasts (ms).
pub const SESSION_MS: i64 = 8 * 3_600_000;

pub use camkey_store::Role;

/// A signed-in staff member (a live session's owner, role and CSRF token).
pub type Staff = camkey_store::Session;

/// Why a staff operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// A username that is not 1 to 40 of `a-z 0-9 . _ -`.
    #[error("a username is 1 to 40 lower-case letters, digits, '.', '_' or '-'")]
    BadUsername,
    /// A password the policy refuses (the camera's: [`check_password`]).
    #[error(transparent)]
    BadPassword(PasswordError),
    /// The username is taken.
    #[error("there is already a staff member with that username")]
    Exists,
    /// Wrong username or password.
    #[error("wrong username or password")]
    Denied,
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a staff password against the camera's policy ([`camkey_proto::policy`]): 8 to
/// 128 characters, no control characters, not holding the user name, and not guessable.
pub fn check_password(username: &str, password: &str) -> Result<(), PasswordError> {
    policy::check_password(
        password,
        Identity {
            username,
            serial: "",
            model: "",
        },
    )
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    data_encoding::HEXLOWER.encode(&b)
}

/// A readable random password (about 120 bits) for `username`, that passes
/// [`check_password`] (drawn again in the rare case it would not, e.g. holding the name).
pub fn random_password(username: &str) -> String {
    loop {
        let mut b = [0u8; 15];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let s = data_encoding::BASE32_NOPAD.encode(&b).to_lowercase();
        let password = s
            .as_bytes()
            .chunks(6)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-");
        if check_password(username, &password).is_ok() {
            return password;
        }
    }
}

/// SHA-256 of a token, hex: what the database keeps.
pub fn token_hash(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

/// Whether a username is acceptable.
pub fn valid_username(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Adds a staff member (`replace`: or sets the password and role of an existing one).
pub async fn add_staff<S: StaffStore + ?Sized>(
    store: &S,
    username: &str,
    password: &str,
    role: Role,
    replace: bool,
    now: i64,
) -> Result<(), StaffError> {
    if !valid_username(username) {
        return Err(StaffError::BadUsername);
    }
    check_password(username, password).map_err(StaffError::BadPassword)?;
    let pw = password.to_string();
    let hash = blocking(move || camkey_passwords::hash(&pw)).await;
    if !store.add_staff(username, &hash, role, replace, now).await? {
        return Err(StaffError::Exists);
    }
    Ok(())
}

async fn audit<S: AuditStore + ?Sized>(
    store: &S,
    at: i64,
    actor: &str,
    action: &str,
    detail: String,
) -> Result<(), StoreError> {
    store
        .audit(AuditEntry {
            at,
            actor: actor.into(),
            action: action.into(),
            case: None,
            detail,
        })
        .await
}

/// Signs a staff member in; returns the session token. `source` is the client's
/// [source key](camkey_web::client::source_key), for the audit log. The limits on tries are
/// the caller's ([`crate::signin`]).
pub async fn login<S: StaffStore + AuditStore + ?Sized>(
    store: &S,
    username: &str,
    password: &str,
    source: &str,
    now: i64,
) -> Result<String, StaffError> {
    let username: String = username.chars().take(60).collect();
    let row = store.password_hash(&username).await?;
    let known = row.is_some();
    let hash = row.unwrap_or_else(|| camkey_passwords::dummy_hash().to_string());
    let pw = password.to_string();
    let ok = blocking(move || camkey_passwords::verify(&pw, &hash)).await && known;
    let actor = if valid_username(&username) {
        username.as_str()
    } else {
        "?"
    };
    if !ok {
        audit(store, now, actor, "login_failed", format!("from {source}")).await?;
        return Err(StaffError::Denied);
    }
    let token = random_token();
    store
        .create_session(NewSession {
            token_hash: token_hash(&token),
            username: username.clone(),
            csrf: random_token(),
            created: now,
            expires: now + SESSION_MS,
        })
        .await?;
    audit(store, now, actor, "login", format!("from {source}")).await?;
    Ok(token)
}

/// The staff member a session token belongs to, if it is live.
pub async fn session<S: StaffStore + ?Sized>(
    store: &S,
    token: &str,
    now: i64,
) -> Result<Option<Staff>, StoreError> {
    store.session(&token_hash(token), now).await
}

/// Ends a session.
pub async fn logout<S: StaffStore + AuditStore + ?Sized>(
    store: &S,
    token: &str,
    now: i64,
) -> Result<(), StoreError> {
    if let Some(s) = session(store, token, now).await? {
        store.delete_session(&token_hash(token)).await?;
        audit(store, now, &s.username, "logout", String::new()).await?;
    }
    Ok(())
}

/// Adds a new staff member on behalf of `actor` (a staff username, or `cli`), with the
/// `staff_added` audit entry.
pub async fn add_audited<S: StaffStore + AuditStore + ?Sized>(
    store: &S,
    actor: &str,
    username: &str,
    password: &str,
    role: Role,
    now: i64,
) -> Result<(), StaffError> {
    add_staff(store, username, password, role, false, now).await?;
    audit(
        store,
        now,
        actor,
        "staff_added",
        format!("{username} as {}", role.name()),
    )
    .await?;
    Ok(())
}

/// Adds a staff member from the command line (how the first admin is made), with an audit
/// entry by `cli`. `now` is in Unix milliseconds.
pub async fn add_from_cli(
    db: &Path,
    username: &str,
    password: &str,
    role: Role,
    now: i64,
) -> Result<(), StaffError> {
    let store = SqliteStore::open(db).await?;
    add_audited(&store, "cli", username, password, role, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn staff_sign_in_sessions_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("v.db")).await.unwrap();
        assert!(matches!(
            add_staff(
                &s,
                "Bad Name",
                "long enough password",
                Role::Agent,
                false,
                0
            )
            .await,
            Err(StaffError::BadUsername)
        ));
        assert!(matches!(
            add_staff(&s, "ann", "short", Role::Agent, false, 0).await,
            Err(StaffError::BadPassword(PasswordError::TooShort))
        ));
        add_staff(&s, "ann", "long enough password", Role::Agent, false, 0)
            .await
            .unwrap();
        assert!(matches!(
            add_staff(&s, "ann", "another long password", Role::Admin, false, 0).await,
            Err(StaffError::Exists)
        ));
        let hash: String = sqlx::query_scalar("SELECT hash FROM staff")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let t = login(&s, "ann", "long enough password", "10.0.0.1", 1000)
            .await
            .unwrap();
        let who = session(&s, &t, 2000).await.unwrap().unwrap();
        assert_eq!((who.username.as_str(), who.role), ("ann", Role::Agent));
        assert!(session(&s, &t, 1000 + SESSION_MS).await.unwrap().is_none());
        assert!(session(&s, "nope", 2000).await.unwrap().is_none());
        assert!(matches!(
            login(&s, "ann", "wrong password!", "10.0.0.2", 3000).await,
            Err(StaffError::Denied)
        ));
        assert!(matches!(
            login(&s, "nobody", "long enough password", "10.0.0.2", 3000).await,
            Err(StaffError::Denied)
        ));
        logout(&s, &t, 4000).await.unwrap();
        assert!(session(&s, &t, 4000).await.unwrap().is_none());
        assert_eq!(random_password("ann").len(), 24 + 3);
    }

    /// Staff passwords pass the camera's policy (`camkey_proto::policy`), and what is
    /// refused is not stored.
    #[tokio::test]
    async fn staff_passwords_pass_the_cameras_policy() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("v.db")).await.unwrap();
        for (password, refused) in [
            ("password1234", "password_weak"),
            ("aaaaaaaaaaaaaaaa", "password_weak"),
            ("my name is carol-the-agent", "password_contains_identity"),
            ("tulip\u{7}harbor-quietly", "password_invalid"),
        ] {
            match add_staff(&s, "carol", password, Role::Agent, false, 0).await {
                Err(StaffError::BadPassword(e)) => assert_eq!(e.code(), refused, "{password}"),
                other => panic!("{password}: {other:?}"),
            }
        }
        assert!(matches!(
            add_staff(&s, "carol", &"x".repeat(129), Role::Agent, false, 0).await,
            Err(StaffError::BadPassword(PasswordError::TooLong))
        ));
        let staff: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM staff")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(staff, 0);
        // The camera's own examples of a good password are good for staff too.
        add_staff(
            &s,
            "carol",
            "tulip-harbor-quietly-42",
            Role::Agent,
            false,
            0,
        )
        .await
        .unwrap();
        // Generated passwords pass, whatever the name (short names included).
        for name in ["a", "ab", "abc", "a2b", "agent", "x7-q"] {
            for _ in 0..20 {
                let p = random_password(name);
                assert_eq!(check_password(name, &p), Ok(()), "{name}: {p}");
            }
        }
    }
}
