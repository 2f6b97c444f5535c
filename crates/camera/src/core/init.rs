//! Initialization (S8): the first admin password, over the network within the init window
//! (with the label's setup code where the model needs it), the recovery address, security
//! questions and network settings, all checked before anything is saved.

use super::*;

impl Core {
    /// `POST /init`.
    pub async fn init(&self, req: InitRequest, source: Source) -> Result<(), CoreError> {
        let src = camkey_web::client::source_key(source);
        {
            let mut g = self.lock();
            if g.state.initialized() {
                return Err(CoreError::AlreadyInitialized);
            }
            if !self.init_window_open() {
                return Err(CoreError::InitWindowClosed);
            }
            if self.factory.model_info().setup_code_required {
                let now = self.clock.elapsed_ms();
                let p = self.config.limits;
                // 40 random bits cannot be guessed: limited per source only, so nobody
                // else's failures make the owner's real code wait (S4).
                g.state
                    .limits
                    .check_source(SCOPE_INIT, &src, now)
                    .map_err(CoreError::RateLimited)?;
                let typed = req.setup_code.as_deref().unwrap_or("").trim();
                if typed.is_empty() {
                    return Err(CoreError::SetupCodeRequired);
                }
                let canonical =
                    camkey_proto::crockford::canonical(typed, 64, 4).unwrap_or_default();
                let ok: bool = canonical
                    .as_bytes()
                    .ct_eq(self.factory.setup_code.as_bytes())
                    .into();
                if !ok {
                    let entry = self.entry(
                        &g.state,
                        "init_setup_code_wrong",
                        None,
                        Some(source),
                        "wrong setup code".into(),
                    );
                    let lockout = self.entry(
                        &g.state,
                        "locked_out",
                        None,
                        Some(source),
                        "too many wrong setup codes: this source waits 5 minutes".into(),
                    );
                    self.record(&mut g, |s| {
                        s.push_audit(entry);
                        if s.limits.fail_source(&p, SCOPE_INIT, &src, now) == Failure::LockedOut {
                            s.push_audit(lockout);
                        }
                    })?;
                    return Err(CoreError::SetupCodeWrong);
                }
            }
        }
        self.check_password(&req.password)?;
        let recovery = match req.recovery_email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(addr) if policy::check_email(addr) => Some(addr.to_string()),
            Some(_) => return Err(CoreError::BadEmail),
        };
        let pairs: Vec<(String, String)> = req
            .security_questions
            .iter()
            .map(|q| (q.question.trim().to_string(), q.answer.clone()))
            .collect();
        policy::check_questions(&pairs)?;
        let network = req.network.clone().unwrap_or_default();
        check_network(&network)?;
        let time = req.time.clone().unwrap_or_default();
        if let Some(ntp) = &time.ntp_server
            && !valid_host(ntp)
        {
            return Err(CoreError::BadSetting(
                "The NTP server must be a host name or an IP address.".into(),
            ));
        }
        if let Some(t) = time.set_time_ms
            && !(1_577_836_800_000..4_102_444_800_000).contains(&t)
        {
            return Err(CoreError::BadSetting(
                "The time to set must lie between 2020 and 2100.".into(),
            ));
        }

        let password_hash = self.hasher.hash(req.password.clone()).await;
        let mut questions = Vec::new();
        for (q, a) in &pairs {
            questions.push(StoredQuestion {
                question: q.clone(),
                answer_hash: self.hasher.hash(policy::normalize_answer(a)).await,
            });
        }

        let mut g = self.lock();
        if g.state.initialized() {
            return Err(CoreError::AlreadyInitialized);
        }
        let mut next = g.state.clone();
        next.accounts = vec![Account {
            name: ADMIN.into(),
            password_hash,
            role: Role::Administrator,
            enabled: true,
            onvif: req.onvif.then(|| self.seal_onvif(ADMIN, &req.password)),
        }];
        next.recovery_email = recovery;
        next.questions = questions;
        next.questions_enabled = true;
        next.network = network;
        next.time.ntp_server = time.ntp_server.filter(|s| !s.is_empty());
        if let Some(t) = time.set_time_ms {
            next.time.offset_ms = self.clock.offset_for(t);
            next.time.source = Some("browser".into());
        }
        next.limits.clear_account(SCOPE_INIT, ADMIN);
        next.device_cookie_key = Some(device_cookies::new_key());
        next.questions_failures = 0;
        next.questions_suspended = false;
        let detail = format!(
            "initialized; recovery address {}; {} security question(s); ONVIF access {}",
            if next.recovery_email.is_some() {
                "set by the owner"
            } else {
                "left at the factory default"
            },
            next.questions.len(),
            if req.onvif { "on" } else { "off" }
        );
        let entry = self.entry(&next, "initialized", Some(ADMIN), Some(source), detail);
        next.push_audit(entry);
        let offset = next.time.offset_ms;
        self.commit(&mut g, next)?;
        self.clock.set_wall_offset(offset);
        Ok(())
    }
}

fn valid_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && (s.parse::<IpAddr>().is_ok()
            || s.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
            }))
}

fn check_network(n: &NetworkSettings) -> Result<(), CoreError> {
    let NetworkSettings::Static {
        address,
        gateway,
        dns,
    } = n
    else {
        return Ok(());
    };
    let bad = |m: &str| Err(CoreError::BadSetting(m.into()));
    let Some((ip, prefix)) = address.split_once('/') else {
        return bad("A static address needs a prefix length, e.g. 192.168.1.20/24.");
    };
    let (Ok(ip), Ok(prefix)) = (ip.parse::<std::net::Ipv4Addr>(), prefix.parse::<u8>()) else {
        return bad(
            "The static address must be an IPv4 address with a prefix, e.g. 192.168.1.20/24.",
        );
    };
    if !(1..=30).contains(&prefix) || ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast()
    {
        return bad("The static address or its prefix length is not usable for a camera.");
    }
    let Ok(gw) = gateway.parse::<std::net::Ipv4Addr>() else {
        return bad("The gateway must be an IPv4 address.");
    };
    let mask = u32::MAX << (32 - prefix);
    if u32::from(gw) & mask != u32::from(ip) & mask {
        return bad("The gateway must be in the same network as the address.");
    }
    if let Some(d) = dns
        && !d.is_empty()
        && d.parse::<IpAddr>().is_err()
    {
        return bad("The DNS server must be an IP address.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_checks() {
        let s = |a: &str, g: &str| NetworkSettings::Static {
            address: a.into(),
            gateway: g.into(),
            dns: None,
        };
        assert!(check_network(&NetworkSettings::Dhcp).is_ok());
        assert!(check_network(&s("192.168.1.20/24", "192.168.1.1")).is_ok());
        assert!(check_network(&s("192.168.1.20", "192.168.1.1")).is_err());
        assert!(check_network(&s("192.168.1.20/24", "10.0.0.1")).is_err());
        assert!(check_network(&s("banana/24", "192.168.1.1")).is_err());
        assert!(
            valid_host("pool.ntp.org")
                && valid_host("10.0.0.1")
                && !valid_host("a b")
                && !valid_host("")
        );
    }
}
