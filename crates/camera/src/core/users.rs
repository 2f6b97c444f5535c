//! The account table as an Administrator manages it (ONVIF GetUsers, CreateUsers,
//! SetUser, DeleteUsers; `GET /api/users`), and the role rule every change of settings
//! follows: only an enabled Administrator account may make it.
//!
//! One table serves the web page and ONVIF (S6). Each change is all or nothing, with an
//! audit entry per account. `admin` always exists and stays an Administrator. New accounts
//! have ONVIF access on (they are made by ONVIF clients, for ONVIF clients), so their
//! password is kept sealed ([`super::onvif`]).

use super::onvif::shown_name;
use super::*;
use serde::{Deserialize, Serialize};

/// Most accounts on a camera, admin included.
pub const MAX_ACCOUNTS: usize = 16;
/// Longest user name, in characters.
pub const USERNAME_MAX_CHARS: usize = 32;

/// An account as listed (no secrets).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserView {
    /// Account name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Whether it may sign in (after a recovery, only admin until the owner sets a new
    /// password for the others).
    pub enabled: bool,
    /// Whether ONVIF clients may sign in with it.
    pub onvif: bool,
}

/// An account to create, or the change of one (`password` empty: keep it).
#[derive(Clone, Deserialize, PartialEq, Eq)]
pub struct NewUser {
    /// Account name.
    pub name: String,
    /// Its password, in clear (checked by the policy, then hashed and sealed).
    pub password: String,
    /// Its role.
    pub role: Role,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("password", &"(hidden)")
            .field("role", &self.role)
            .finish()
    }
}

/// Whether `name` is a valid user name: 1 to [`USERNAME_MAX_CHARS`] ASCII letters, digits,
/// dots, dashes and underscores.
pub fn valid_user_name(name: &str) -> bool {
    (1..=USERNAME_MAX_CHARS).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Administrator => "Administrator",
        Role::Operator => "Operator",
        Role::User => "User",
    }
}

impl Core {
    /// Every account, admin first.
    pub fn users(&self) -> Vec<UserView> {
        self.lock()
            .state
            .accounts
            .iter()
            .map(|a| UserView {
                name: a.name.clone(),
                role: a.role,
                enabled: a.enabled,
                onvif: a.onvif.is_some(),
            })
            .collect()
    }

    /// The role of an enabled account (`None`: no such account, or disabled).
    pub fn role(&self, user: &str) -> Option<Role> {
        self.lock()
            .state
            .account(user)
            .filter(|a| a.enabled)
            .map(|a| a.role)
    }

    /// Refuses unless `by` is an enabled Administrator of an initialized camera.
    pub(super) fn require_admin(&self, st: &UserState, by: &str) -> Result<(), CoreError> {
        if !st.initialized() {
            return Err(CoreError::NotInitialized);
        }
        match st.account(by) {
            Some(a) if a.enabled && a.role == Role::Administrator => Ok(()),
            _ => Err(CoreError::Forbidden),
        }
    }

    fn check_user_password(&self, name: &str, password: &str) -> Result<(), CoreError> {
        let id = Identity {
            username: name,
            serial: &self.factory.serial,
            model: &self.factory.model,
        };
        Ok(policy::check_password(password, id)?)
    }

    /// Checks new accounts against the table in `st`.
    fn check_new(&self, st: &UserState, users: &[NewUser]) -> Result<(), CoreError> {
        for (i, u) in users.iter().enumerate() {
            if !valid_user_name(&u.name) {
                return Err(CoreError::UserNameInvalid);
            }
            let taken = st.accounts.iter().any(|a| same_name(&a.name, &u.name))
                || users[..i].iter().any(|o| same_name(&o.name, &u.name));
            if taken {
                return Err(CoreError::UserExists(u.name.clone()));
            }
        }
        if st.accounts.len() + users.len() > MAX_ACCOUNTS {
            return Err(CoreError::TooManyUsers);
        }
        Ok(())
    }

    /// Creates accounts, all or none (ONVIF CreateUsers): valid, unique names (not even
    /// differing in case from another), passwords of the camera's policy, at most
    /// [`MAX_ACCOUNTS`] in all. Each is enabled, with ONVIF access on.
    pub async fn create_users(
        &self,
        by: &str,
        users: Vec<NewUser>,
        source: Source,
    ) -> Result<(), CoreError> {
        {
            let g = self.lock();
            self.require_admin(&g.state, by)?;
            self.check_new(&g.state, &users)?;
        }
        for u in &users {
            self.check_user_password(&u.name, &u.password)?;
        }
        let mut made = Vec::new();
        for u in &users {
            let hash = self.hasher.hash(u.password.clone()).await;
            made.push(Account {
                name: u.name.clone(),
                password_hash: hash,
                role: u.role,
                enabled: true,
                onvif: Some(self.seal_onvif(&u.name, &u.password)),
            });
        }
        let mut g = self.lock();
        // Checked again: the table may have changed while the passwords were hashed.
        self.require_admin(&g.state, by)?;
        self.check_new(&g.state, &users)?;
        let mut next = g.state.clone();
        for a in made {
            let e = self.entry(
                &next,
                "user_created",
                Some(by),
                Some(source),
                format!(
                    "account {} created ({}, ONVIF access on)",
                    a.name,
                    role_name(a.role)
                ),
            );
            next.push_audit(e);
            next.accounts.push(a);
        }
        self.commit(&mut g, next)?;
        Ok(())
    }

    /// Changes accounts, all or none (ONVIF SetUser): the role, and the password unless it
    /// is empty. `admin` stays an Administrator. A new password ends the account's
    /// sessions, is sealed again if its ONVIF access is on, and enables an account that a
    /// recovery disabled (the owner chose a password the intruder does not know).
    pub async fn set_users(
        &self,
        by: &str,
        users: Vec<NewUser>,
        source: Source,
    ) -> Result<(), CoreError> {
        let check = |st: &UserState| -> Result<(), CoreError> {
            self.require_admin(st, by)?;
            for (i, u) in users.iter().enumerate() {
                if st.account(&u.name).is_none() || users[..i].iter().any(|o| o.name == u.name) {
                    return Err(CoreError::UnknownUser(shown_name(&u.name)));
                }
                if u.name == ADMIN && u.role != Role::Administrator {
                    return Err(CoreError::AdminFixed);
                }
            }
            Ok(())
        };
        check(&self.lock().state)?;
        for u in users.iter().filter(|u| !u.password.is_empty()) {
            self.check_user_password(&u.name, &u.password)?;
        }
        let mut hashes = Vec::new();
        for u in &users {
            hashes.push(if u.password.is_empty() {
                None
            } else {
                Some(self.hasher.hash(u.password.clone()).await)
            });
        }
        let mut g = self.lock();
        check(&g.state)?;
        let mut next = g.state.clone();
        let mut ended = Vec::new();
        for (u, hash) in users.iter().zip(hashes) {
            let sealed = self.reseal_onvif(&next, &u.name, &u.password);
            let Some(a) = next.account_mut(&u.name) else {
                return Err(CoreError::UnknownUser(shown_name(&u.name)));
            };
            let mut detail = format!("account {}: role {}", u.name, role_name(u.role));
            a.role = u.role;
            if let Some(h) = hash {
                a.password_hash = h;
                a.onvif = sealed;
                if !a.enabled {
                    a.enabled = true;
                    detail.push_str("; enabled again");
                }
                detail.push_str("; password changed, its sessions ended");
                ended.push(u.name.clone());
                next.forget_onvif_clients(&u.name);
            }
            let e = self.entry(&next, "user_changed", Some(by), Some(source), detail);
            next.push_audit(e);
        }
        self.commit(&mut g, next)?;
        for u in ended {
            g.sessions.revoke_user(&u);
        }
        Ok(())
    }

    /// Deletes accounts, all or none (ONVIF DeleteUsers); never `admin`. Their sessions
    /// end and their ONVIF clients are forgotten.
    pub fn delete_users(
        &self,
        by: &str,
        names: &[String],
        source: Source,
    ) -> Result<(), CoreError> {
        let mut g = self.lock();
        self.require_admin(&g.state, by)?;
        for (i, n) in names.iter().enumerate() {
            if n == ADMIN {
                return Err(CoreError::AdminFixed);
            }
            if g.state.account(n).is_none() || names[..i].contains(n) {
                return Err(CoreError::UnknownUser(shown_name(n)));
            }
        }
        let mut next = g.state.clone();
        for n in names {
            next.accounts.retain(|a| &a.name != n);
            next.forget_onvif_clients(n);
            let e = self.entry(
                &next,
                "user_deleted",
                Some(by),
                Some(source),
                format!("account {n} deleted"),
            );
            next.push_audit(e);
        }
        self.commit(&mut g, next)?;
        for n in names {
            g.sessions.revoke_user(n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        assert!(valid_user_name("nvr"));
        assert!(valid_user_name("home-assistant_2.x"));
        assert!(valid_user_name(&"a".repeat(32)));
        assert!(!valid_user_name(&"a".repeat(33)));
        assert!(!valid_user_name(""));
        assert!(!valid_user_name("a b"));
        assert!(!valid_user_name("a|b"));
        assert!(!valid_user_name("ünï"));
        assert!(!valid_user_name("a\u{0}"));
        assert!(same_name("Admin", "admin"));
    }

    #[test]
    fn new_user_debug_hides_the_password() {
        let u = NewUser {
            name: "nvr".into(),
            password: "secret-words-here".into(),
            role: Role::User,
        };
        assert!(!format!("{u:?}").contains("secret"));
    }
}
