//! The recovery settings the owner makes while signed in: the recovery address (S6), the
//! security questions, the SMTP settings and a test mail. Each change needs the current
//! password and leaves an audit entry.

use super::*;
use crate::mail;
use camkey_proto::api::QuestionAnswer;
use serde::Serialize;

/// `GET /settings`: what the owner has set (no secrets).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SettingsView {
    /// The owner's recovery address, or `None` (factory default).
    pub recovery_email: Option<String>,
    /// The factory default.
    pub default_recovery_email: String,
    /// The questions (not the answers).
    pub questions: Vec<String>,
    /// Whether recovery by questions is on.
    pub questions_enabled: bool,
    /// SMTP settings, without the password.
    pub smtp: Option<SmtpView>,
    /// Whether the last mail went out.
    pub smtp_ok: Option<bool>,
}

/// SMTP settings as shown.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SmtpView {
    /// Server.
    pub server: String,
    /// Port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: mail::TlsMode,
    /// Login.
    pub username: Option<String>,
    /// Whether a password is stored.
    pub password_set: bool,
    /// Sender.
    pub sender: String,
    /// Whether these are the camera's built-in defaults (the lab's mail).
    pub default: bool,
}
impl Core {
    /// `GET /settings`.
    pub fn settings(&self) -> SettingsView {
        let g = self.lock();
        let st = &g.state;
        let smtp = self.smtp(st).map(|s| SmtpView {
            server: s.server,
            port: s.port,
            tls: s.tls,
            username: s.username,
            password_set: s.password.is_some(),
            sender: s.sender,
            default: st.smtp.is_none(),
        });
        SettingsView {
            recovery_email: st.recovery_email.clone(),
            default_recovery_email: self.factory.default_recovery_address.clone(),
            questions: st.questions.iter().map(|q| q.question.clone()).collect(),
            questions_enabled: st.questions_enabled,
            smtp,
            smtp_ok: st.smtp_ok,
        }
    }

    /// Sets (or clears, with `None`) the recovery address. Needs the current password;
    /// notifies the old owner-set address; ends every live challenge (S6).
    pub async fn set_recovery_email(
        &self,
        user: &str,
        current_password: &str,
        addr: Option<&str>,
        source: Source,
    ) -> Result<(), CoreError> {
        let addr = match addr.map(str::trim) {
            None | Some("") => None,
            Some(a) if policy::check_email(a) => Some(a.to_string()),
            Some(_) => return Err(CoreError::BadEmail),
        };
        self.confirm_password(user, current_password, source)
            .await?;
        let mut g = self.lock();
        let mut next = g.state.clone();
        let old = next.recovery_email.clone();
        if old == addr {
            return Ok(());
        }
        next.recovery_email = addr.clone();
        next.challenges.clear();
        next.email_codes.clear();
        let shown = addr
            .as_deref()
            .map(mail::mask)
            .unwrap_or_else(|| "the factory default".into());
        let e = self.entry(
            &next,
            "recovery_email_changed",
            Some(user),
            Some(source),
            format!("recovery address changed to {shown}; live recovery challenges ended"),
        );
        next.push_audit(e);
        if let Some(old) = old {
            let body = format!(
                "The recovery address of your camera {} (serial {}) was changed to {shown} at {} from {source}.\n\n\
                 Recovery codes will no longer come to this address.\n\
                 If you did not make this change, someone has the camera's admin password: \
                 reset the camera with its reset button (see the camera's Help page) or contact the vendor's support.\n",
                self.factory.model,
                self.factory.serial,
                format_wall(self.clock.wall_ms())
            );
            self.queue_owner_notice(
                &mut next,
                old,
                "recovery address changed",
                body,
                "address_change_notice",
            );
        }
        self.commit(&mut g, next)?;
        self.mail_wake.notify_one();
        Ok(())
    }

    /// Replaces the security questions and/or switches the method on or off. Needs the
    /// current password.
    pub async fn set_questions(
        &self,
        user: &str,
        current_password: &str,
        questions: Option<Vec<QuestionAnswer>>,
        enabled: Option<bool>,
        source: Source,
    ) -> Result<(), CoreError> {
        let pairs: Option<Vec<(String, String)>> = questions.map(|qs| {
            qs.into_iter()
                .map(|q| (q.question.trim().to_string(), q.answer))
                .collect()
        });
        if let Some(p) = &pairs {
            policy::check_questions(p)?;
        }
        self.confirm_password(user, current_password, source)
            .await?;
        let mut stored = None;
        if let Some(p) = pairs {
            let mut v = Vec::new();
            for (q, a) in p {
                v.push(StoredQuestion {
                    question: q,
                    answer_hash: self.hasher.hash(policy::normalize_answer(&a)).await,
                });
            }
            stored = Some(v);
        }
        let mut g = self.lock();
        let mut next = g.state.clone();
        if let Some(v) = stored {
            next.questions = v;
        }
        if let Some(on) = enabled {
            next.questions_enabled = on;
        }
        let detail = format!(
            "{} security question(s), recovery by questions {}",
            next.questions.len(),
            if next.questions_enabled { "on" } else { "off" }
        );
        let e = self.entry(&next, "questions_changed", Some(user), Some(source), detail);
        next.push_audit(e);
        self.commit(&mut g, next)?;
        Ok(())
    }

    /// Sets the SMTP settings (`None`: back to the built-in default). Needs the current
    /// password. A blank password keeps the stored one for the same login.
    pub async fn set_smtp(
        &self,
        user: &str,
        current_password: &str,
        settings: Option<SmtpSettings>,
        source: Source,
    ) -> Result<(), CoreError> {
        let mut settings = settings;
        // A blank password keeps the stored one for the same login (the page never shows it).
        if let (Some(new), Some(old)) = (settings.as_mut(), self.lock().state.smtp.clone())
            && new.password.is_none()
            && new.username.is_some()
            && new.username == old.username
        {
            new.password = old.password;
        }
        if let Some(s) = &settings {
            s.validate()
                .map_err(|e| CoreError::BadSetting(e.to_string()))?;
        }
        self.confirm_password(user, current_password, source)
            .await?;
        let mut g = self.lock();
        let mut next = g.state.clone();
        let detail = match &settings {
            Some(s) => {
                format!("mail server set to {}:{} ({:?})", s.server, s.port, s.tls).to_lowercase()
            }
            None => "mail server back to the built-in default".into(),
        };
        next.smtp = settings;
        next.smtp_ok = None;
        let e = self.entry(&next, "smtp_changed", Some(user), Some(source), detail);
        next.push_audit(e);
        self.commit(&mut g, next)?;
        Ok(())
    }

    /// Sends a test mail to the owner's recovery address; returns its masked form.
    pub async fn test_mail(&self, user: &str, source: Source) -> Result<String, CoreError> {
        let to = self
            .lock()
            .state
            .recovery_email
            .clone()
            .ok_or(CoreError::MethodUnavailable(
                "Set a recovery e-mail address first: the test mail goes there.",
            ))?;
        let body = format!(
            "This is a test mail from your camera {} (serial {}), sent by {user} from {source}.\n\nIf you can read it, the camera can e-mail you recovery codes.\n",
            self.factory.model, self.factory.serial
        );
        let mail = Outgoing {
            to: to.clone(),
            subject: format!(
                "Camera {} {}: test mail",
                self.factory.model, self.factory.serial
            ),
            body,
            purpose: "test_mail".into(),
        };
        self.deliver(&mail).await?;
        Ok(mail::mask(&to))
    }

    /// Checks the signed-in account's current password (limits as sign-in).
    pub(super) async fn confirm_password(
        &self,
        user: &str,
        password: &str,
        source: Source,
    ) -> Result<(), CoreError> {
        match self
            .verify_password(
                user,
                password,
                source,
                "password_confirm_failed",
                Proof::Session,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(CoreError::BadCredentials { locked }) => Err(CoreError::WrongPassword { locked }),
            Err(e) => Err(e),
        }
    }
}
