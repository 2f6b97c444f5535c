//! Staff accounts and their sessions. Only hashes are kept: the password's Argon2id PHC
//! string and the session token's SHA-256, so a copy of the database signs nobody in.
//! Checking a password is the desk's business, not the store's.

use crate::{BoxFuture, StoreError};

/// A role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works cases, releases codes.
    Agent,
    /// An agent who can also manage staff.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A signed-in staff member: whose a live session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Username.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The session's CSRF token.
    pub csrf: String,
}

/// A new session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the token (hex).
    pub token_hash: String,
    /// Whose.
    pub username: String,
    /// Its CSRF token.
    pub csrf: String,
    /// Unix ms.
    pub created: i64,
    /// Unix ms.
    pub expires: i64,
}

/// Where staff accounts and sessions are kept.
pub trait StaffStore: Send + Sync + 'static {
    /// Adds a staff member with a password hash (`replace`: or sets the hash and role of an
    /// existing one). `false`: the name is taken (and `replace` was not asked).
    fn add_staff(
        &self,
        username: &str,
        hash: &str,
        role: Role,
        replace: bool,
        now: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// The password hash of a staff member.
    fn password_hash(&self, username: &str) -> BoxFuture<'_, Result<Option<String>, StoreError>>;
    /// Every staff member and role, by name.
    fn members(&self) -> BoxFuture<'_, Result<Vec<(String, Role)>, StoreError>>;
    /// Starts a session (and drops the expired ones).
    fn create_session(&self, s: NewSession) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The live session whose token hashes to `token_hash`.
    fn session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> BoxFuture<'_, Result<Option<Session>, StoreError>>;
    /// Ends a session.
    fn delete_session(&self, token_hash: &str) -> BoxFuture<'_, Result<(), StoreError>>;
}
