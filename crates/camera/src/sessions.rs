//! Sign-in sessions, in RAM only: a power cut signs everyone out, as it should.
//!
//! Tokens are 256 random bits; the table keeps only their SHA-256, so a memory dump of the
//! table gives no usable token. Sessions end after [`IDLE_MS`] without use, after
//! [`ABSOLUTE_MS`] in all, on sign-out, and all of an account's sessions end when its
//! password changes.

use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// A session unused this long ends.
pub const IDLE_MS: u64 = 30 * 60_000;
/// No session outlives this.
pub const ABSOLUTE_MS: u64 = 12 * 3_600_000;
/// Most sessions at once; the least recently used goes first.
pub const MAX_SESSIONS: usize = 64;

#[derive(Debug, Clone)]
struct Session {
    user: String,
    created: u64,
    last: u64,
}

/// The session table.
#[derive(Debug, Default)]
pub struct Sessions {
    map: HashMap<[u8; 32], Session>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// Opens a session for `user`; returns its token.
    pub fn open(&mut self, user: &str, now: u64) -> String {
        self.map
            .retain(|_, s| now < s.last + IDLE_MS && now < s.created + ABSOLUTE_MS);
        if self.map.len() >= MAX_SESSIONS
            && let Some(k) = self.map.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| *k)
        {
            self.map.remove(&k);
        }
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let token = data_encoding::BASE64URL_NOPAD.encode(&raw);
        self.map.insert(
            digest(&token),
            Session {
                user: user.to_string(),
                created: now,
                last: now,
            },
        );
        token
    }

    /// The user of a live session, refreshing its idle timer.
    pub fn touch(&mut self, token: &str, now: u64) -> Option<String> {
        if token.len() > 128 {
            return None;
        }
        let key = digest(token);
        let live = match self.map.get_mut(&key) {
            Some(s) if now < s.last + IDLE_MS && now < s.created + ABSOLUTE_MS => {
                s.last = now;
                return Some(s.user.clone());
            }
            Some(_) => false,
            None => return None,
        };
        if !live {
            self.map.remove(&key);
        }
        None
    }

    /// Ends one session.
    pub fn close(&mut self, token: &str) {
        self.map.remove(&digest(token));
    }

    /// Ends every session of `user`.
    pub fn revoke_user(&mut self, user: &str) {
        self.map.retain(|_, s| s.user != user);
    }

    /// Ends every session.
    pub fn revoke_all(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        let mut s = Sessions::default();
        let t = s.open("admin", 0);
        assert_eq!(s.touch(&t, 1_000).as_deref(), Some("admin"));
        assert_eq!(s.touch(&t, 1_000 + IDLE_MS), None);
        let t = s.open("admin", 0);
        for i in 1..30 {
            assert!(s.touch(&t, i * (IDLE_MS / 2)).is_some() || i * (IDLE_MS / 2) >= ABSOLUTE_MS);
        }
        assert_eq!(s.touch(&t, ABSOLUTE_MS), None);
        let t = s.open("admin", 0);
        s.revoke_user("admin");
        assert_eq!(s.touch(&t, 1), None);
        assert_eq!(s.touch("forged", 1), None);
        for i in 0..200 {
            s.open("admin", i);
        }
        assert!(s.map.len() <= MAX_SESSIONS);
    }
}
