//! Recovery by QR challenge (S5): the camera shows a signed challenge as a QR code, the
//! owner has the vendor sign it, and the vendor's security code sets a new password through
//! [`Core::finish_recovery`]. A part of [`super::recovery`].

use super::recovery::SCOPE_QR;
use super::*;
use crate::state::StoredChallenge;
use camkey_proto::challenge::{self, Challenge, Recovery};
use camkey_proto::code;
use serde::Serialize;

/// A new QR challenge only this long after the newest one. Four a day at most stays
/// below the vendor's per-device cap, so nobody on the LAN can use up the owner's codes,
/// and the owner's challenge outlives at least 12 hours of anyone else's requests.
pub const NEW_CHALLENGE_INTERVAL_MS: u64 = 12 * 3_600_000;
/// At most this many challenges live.
pub const CHALLENGES_LIVE: usize = 2;

/// `GET /recovery/qr`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QrView {
    /// The challenge string.
    pub text: String,
    /// The QR code (SVG) of [`QrView::url`].
    pub svg: String,
    /// The reset page with the challenge in its fragment.
    pub url: String,
    /// The vendor's automated reset address, to mail the string to.
    pub reset_address: String,
    /// Seconds until this challenge ends.
    pub expires_in: u64,
    /// Seconds until another QR code can be made (0: now).
    pub new_allowed_in: u64,
}
/// The QR code of `data` as SVG.
pub fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}
impl Core {
    /// A new challenge numbered with the next counter, which `st` (the state about to be
    /// saved, before the challenge is shown) takes.
    fn make_challenge(&self, st: &mut UserState) -> Result<StoredChallenge, CoreError> {
        let wall = self.clock.wall_ms();
        let created = u32::try_from(wall.div_euclid(1000)).unwrap_or(0);
        let recovery = match &st.recovery_email {
            Some(a) => Recovery::Owner(a.clone()),
            None => Recovery::FactoryDefault,
        };
        let counter = st
            .challenge_counter
            .checked_add(1)
            .ok_or_else(|| CoreError::BadSetting("the challenge counter is exhausted".into()))?;
        let ch = Challenge::new(
            &self.factory.device_key,
            &self.factory.serial,
            created,
            st.time.source.is_some(),
            recovery,
        )
        .with_counter(counter);
        let text = ch
            .seal(&self.factory.device_key)
            .map_err(|e| CoreError::BadSetting(e.to_string()))?;
        st.challenge_counter = counter;
        Ok(StoredChallenge {
            nonce: data_encoding::HEXLOWER.encode(&ch.nonce),
            created_elapsed: self.clock.elapsed_ms(),
            text,
        })
    }

    /// Whether a stored challenge is still live: younger than 7 days, and in the format
    /// the vendor reads (one saved by older firmware is not).
    fn challenge_live(c: &StoredChallenge, now: u64) -> bool {
        now < c.created_elapsed + challenge::LIFETIME_MS && challenge::parse(&c.text).is_ok()
    }

    fn qr_view(&self, st: &UserState, c: &StoredChallenge) -> QrView {
        let now = self.clock.elapsed_ms();
        let url = challenge::reset_url(&self.factory.reset_page_url, &c.text);
        let newest = st.challenges.last().map(|c| c.created_elapsed).unwrap_or(0);
        QrView {
            svg: qr_svg(&url),
            url,
            text: c.text.clone(),
            reset_address: self.factory.reset_address.clone(),
            expires_in: (c.created_elapsed + challenge::LIFETIME_MS).saturating_sub(now) / 1000,
            new_allowed_in: (newest + NEW_CHALLENGE_INTERVAL_MS)
                .saturating_sub(now)
                .div_ceil(1000),
        }
    }

    /// `GET /recovery/qr`: the newest live challenge, made if there is none.
    pub fn qr_challenge(&self, source: Source) -> Result<QrView, CoreError> {
        self.require_method("qr")?;
        let now = self.clock.elapsed_ms();
        let mut g = self.lock();
        let live: Vec<StoredChallenge> = g
            .state
            .challenges
            .iter()
            .filter(|c| Self::challenge_live(c, now))
            .cloned()
            .collect();
        if let Some(c) = live.last() {
            return Ok(self.qr_view(&g.state, c));
        }
        let mut next = g.state.clone();
        next.challenges = live;
        self.add_challenge(&mut g, next, source, "QR recovery challenge made")
    }

    /// `POST /recovery/qr/new`: another challenge, at most every 12 hours; the previous one
    /// stays valid (two live at most).
    pub fn new_qr_challenge(&self, source: Source) -> Result<QrView, CoreError> {
        self.require_method("qr")?;
        let now = self.clock.elapsed_ms();
        let mut g = self.lock();
        let mut next = g.state.clone();
        next.challenges.retain(|c| Self::challenge_live(c, now));
        if let Some(newest) = next.challenges.last()
            && now < newest.created_elapsed + NEW_CHALLENGE_INTERVAL_MS
        {
            return Err(CoreError::TooSoon(RetryAfter {
                ms: newest.created_elapsed + NEW_CHALLENGE_INTERVAL_MS - now,
                locked: false,
            }));
        }
        self.add_challenge(
            &mut g,
            next,
            source,
            "another QR recovery challenge made on request",
        )
    }

    /// Makes a challenge in `next` (the oldest beyond [`CHALLENGES_LIVE`] goes), audits it
    /// and saves it before it is shown.
    fn add_challenge(
        &self,
        g: &mut Inner,
        mut next: UserState,
        source: Source,
        detail: &str,
    ) -> Result<QrView, CoreError> {
        let c = self.make_challenge(&mut next)?;
        next.challenges.push(c.clone());
        while next.challenges.len() > CHALLENGES_LIVE {
            next.challenges.remove(0);
        }
        let e = self.entry(
            &next,
            "recovery_challenge_made",
            None,
            Some(source),
            detail.into(),
        );
        next.push_audit(e);
        self.commit(g, next)?;
        Ok(self.qr_view(&g.state, &c))
    }

    /// `POST /recovery/qr`: a security code from the vendor, then a new password.
    pub async fn recover_with_security_code(
        &self,
        typed: &str,
        new_password: &str,
        source: Source,
    ) -> Result<(), CoreError> {
        self.require_method("qr")?;
        self.check_password(new_password)?;
        let parsed = code::parse(typed).map_err(CoreError::CodeUnreadable)?;
        {
            let mut g = self.lock();
            self.code_check(&g, SCOPE_QR, source)?;
            let now = self.clock.elapsed_ms();
            let serial = &self.factory.serial;
            let hit = g.state.challenges.iter().position(|c| {
                let mut nonce = [0u8; 12];
                let ok = data_encoding::HEXLOWER
                    .decode(c.nonce.as_bytes())
                    .ok()
                    .filter(|n| n.len() == 12)
                    .map(|n| nonce.copy_from_slice(&n))
                    .is_some();
                ok && now < c.created_elapsed + challenge::LIFETIME_MS
                    && parsed.verify_mac(&self.factory.device_key, serial, &nonce)
            });
            let Some(i) = hit else {
                // A wrong code never kills a challenge (a 64-bit MAC cannot be guessed).
                let locked = self.code_failed(&mut g, SCOPE_QR, source, "security_code_wrong")?;
                return Err(CoreError::CodeWrong { locked });
            };
            let age = now - g.state.challenges[i].created_elapsed;
            let trusted_wall = g.state.time.source.is_some().then(|| self.clock.wall_ms());
            if parsed.check_time(age, trusted_wall).is_err() {
                let e = self.entry(
                    &g.state,
                    "security_code_expired",
                    None,
                    Some(source),
                    "a genuine security code past its 24 hours".into(),
                );
                self.record(&mut g, |s| s.push_audit(e))?;
                return Err(CoreError::CodeExpired);
            }
            let mut next = g.state.clone();
            next.challenges.remove(i);
            next.limits
                .succeed_source(SCOPE_QR, &camkey_web::client::source_key(source));
            self.commit(&mut g, next)?;
        }
        self.finish_recovery("QR code and vendor security code", new_password, source)
            .await
    }
}
