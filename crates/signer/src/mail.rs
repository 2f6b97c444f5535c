//! The signer's code mails, made at send time (S1). A queued code mail holds no code: its
//! outbox row names the challenge (its nonce), and [`CodeMails`], the signer's
//! [`Render`] hook for the shared outbox worker (`camkey-outbox`), makes the code again, in
//! memory, from the challenge and the master key just before the mail goes out.

use crate::store::{CodeSource, SignerStore};
use camkey_outbox::{BoxFuture, Mail, Render, RenderError};
use camkey_proto::code;
use camkey_proto::keys::MasterKey;
use std::sync::Arc;

/// The signer's mail maker: its store, and the master keys that make each queued mail's
/// code again when it is sent.
#[derive(Debug, Clone)]
pub struct CodeMails {
    /// The signer's database.
    pub store: SignerStore,
    /// Every master key the signer holds.
    pub masters: Arc<Vec<MasterKey>>,
}

/// The mail that carries a code, as docs/design.md §4 wants it: the code on a line of its own.
pub fn code_mail(serial: &str, code: &str) -> (String, String) {
    (
        format!("Security code for your camera {serial}"),
        format!(
            "A security code was asked for to reset the password of your camera, serial {serial}.\n\n\
             Code: {code}\n\n\
             Type it on the camera's \"Forgot password?\" page (Use a QR code, step 3), with a new password.\n\
             It is valid for 24 hours.\n\n\
             If you did not ask for it, ignore this mail: the code works only on your camera, from its own page,\n\
             and only with this mail in hand.\n"
        ),
    )
}

/// A nonce from its 24 hex digits.
fn nonce_of(hex: &str) -> Option<[u8; 12]> {
    if hex.len() != 24 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 12];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl CodeMails {
    /// The code of challenge `nonce`, made again; `None` if it cannot be (no such key).
    fn code(&self, ch: &CodeSource, nonce: &str) -> Option<String> {
        let master = self
            .masters
            .iter()
            .find(|m| m.version() == ch.key_version)?;
        let nonce = nonce_of(nonce)?;
        let key = master.device_key(&ch.serial);
        code::issue_for(&key, &ch.serial, &nonce, ch.generated, ch.first_seen)
            .ok()
            .map(|c| c.text())
    }
}

impl Render for CodeMails {
    fn render<'a>(&'a self, nonce: &'a str) -> BoxFuture<'a, Result<Mail, RenderError>> {
        Box::pin(async move {
            let Some(ch) = self
                .store
                .code_source(nonce)
                .await
                .map_err(|e| RenderError::Later(e.to_string()))?
            else {
                return Err(RenderError::Never(
                    "no code was issued for its challenge".into(),
                ));
            };
            let code = self.code(&ch, nonce).ok_or_else(|| {
                RenderError::Never("the code cannot be made again (no such master key)".into())
            })?;
            let (subject, body) = code_mail(&ch.serial, &code);
            Ok(Mail { subject, body })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SeenChallenge;

    #[tokio::test]
    async fn a_code_mail_is_made_again_only_with_its_master_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SignerStore::open(&dir.path().join("s.db")).await.unwrap();
        let (nonce, serial) = ("0102030405060708090a0b0c", "IPC4K15-000001");
        let seen = SeenChallenge {
            nonce,
            serial,
            key_version: 1,
            counter: 0,
        };
        store.seen(seen, 5).await.unwrap();
        assert!(store.issue(nonce, 10, "owner@example.com").await.unwrap());
        let master = MasterKey::from_bytes(1, [0x42; 32]);
        let mails = CodeMails {
            store: store.clone(),
            masters: Arc::new(vec![master.clone()]),
        };
        let mail = mails.render(nonce).await.unwrap();
        let key = master.device_key(serial);
        let code = code::issue_for(&key, serial, &nonce_of(nonce).unwrap(), 10, 5)
            .unwrap()
            .text();
        assert_eq!((mail.subject, mail.body), code_mail(serial, &code));
        let other = CodeMails {
            store,
            masters: Arc::new(vec![MasterKey::from_bytes(2, [1; 32])]),
        };
        assert!(matches!(
            other.render(nonce).await,
            Err(RenderError::Never(_))
        ));
        let unknown = mails.render("ffffffffffffffffffffffff").await;
        assert!(matches!(unknown, Err(RenderError::Never(_))), "{unknown:?}");
    }
}
