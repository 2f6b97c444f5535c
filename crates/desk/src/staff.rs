//! Staff accounts of the support desk: Argon2id password hashes, two roles (agent and
//! admin), sessions, and an audit entry for every sign-in.
//!
//! A session token is 256 random bits; the database keeps only its SHA-256, so a copy of
//! the database signs nobody in. The same token is the API's bearer token and the portal's
//! cookie; each session also has a CSRF token that every portal form must carry. How often
//! one may try is [`crate::signin`]'s business.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use camkey_store::audit::AuditEntry;
use camkey_store::staff::NewSession;
use camkey_store::{AuditStore, SqliteStore, StaffStore, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::OnceLock;

/// How long a session lasts (ms).
pub const SESSION_MS: i64 = 8 * 3_600_000;
/// Shortest staff password.
pub const MIN_PASSWORD: usize = 12;
/// Longest staff password.
pub const MAX_PASSWORD: usize = 256;

pub use camkey_store::Role;

/// A signed-in staff member (a live session's owner, role and CSRF token).
pub type Staff = camkey_store::Session;

/// Why a staff operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// A username that is not 1 to 40 of `a-z 0-9 . _ -`.
    #[error("a username is 1 to 40 lower-case letters, digits, '.', '_' or '-'")]
    BadUsername,
    /// A password too short or too long.
    #[error("a staff password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")]
    BadPassword,
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

fn argon2() -> Argon2<'static> {
    // OWASP's minimum for Argon2id: m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (Argon2id, PHC string).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// Verifies a password against a PHC string; a malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_token()))
}

/// 256 random bits, hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    data_encoding::HEXLOWER.encode(&b)
}

/// A readable random password (about 120 bits).
pub fn random_password() -> String {
    let mut b = [0u8; 15];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let s = data_encoding::BASE32_NOPAD.encode(&b).to_lowercase();
    s.as_bytes()
        .chunks(6)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
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
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&password.chars().count()) {
        return Err(StaffError::BadPassword);
    }
    let pw = password.to_string();
    let hash = blocking(move || hash_password(&pw)).await;
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
    let hash = row.unwrap_or_else(|| dummy_hash().to_string());
    let pw = password.to_string();
    let ok = blocking(move || verify_password(&pw, &hash)).await && known;
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
    add_staff(&store, username, password, role, false, now).await?;
    audit(
        &store,
        now,
        "cli",
        "staff_added",
        format!("{username} as {}", role.name()),
    )
    .await?;
    Ok(())
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
            Err(StaffError::BadPassword)
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
        assert_eq!(random_password().len(), 24 + 3);
    }
}
