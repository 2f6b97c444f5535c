//! The optional DMARC-alignment check on requesters of the reset mailbox (S5).
//!
//! A reset mail's sender is only ever answered with a fixed text, and codes never go to
//! the sender at all, so a forged sender gains nothing. What a forger *could* do is make
//! us mail fixed texts to someone else (backscatter). In production the mailbox therefore
//! checks that the author domain (the `From:` header) is aligned with an SPF or DKIM pass
//! (RFC 7489), using `mail-auth` over real DNS:
//!
//! - **aligned pass**: the requester is who they say, and gets the usual answer;
//! - **fail, and the domain asks for `p=reject`**: the mail is refused at the final dot
//!   (`550 5.7.1`), so nothing is stored and the sending server, not we, tells its user;
//! - **anything else** (no DMARC record, `p=none`/`quarantine` failures, permanent DNS
//!   errors): the challenge is still handled exactly as on the web (the code can only go
//!   to the camera's own recovery address), but the unverified sender gets no answer;
//! - **temporary DNS failure**: `451 4.7.0`, the sending server tries again later.
//!
//! The lab runs with the check off (its senders have no DNS).

use camkey_smtp::Envelope;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DmarcResult, MessageAuthenticator, dmarc::Policy,
    dmarc::verify::DmarcParameters,
};
use std::net::SocketAddr;

/// What the check says about a mail's requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// The author domain is aligned with an SPF or DKIM pass: answer as usual.
    Verified,
    /// Not verified (the reason, for the log): handle the challenge, answer nobody.
    Unverified(String),
    /// The author domain's policy says to reject mail that fails, and this one fails.
    Reject,
    /// DNS could not answer now: ask the sender to try again later.
    TryLater,
}

/// Why the checker could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("DNS resolver: {0}")]
pub struct DmarcSetupError(String);

/// The DMARC checker: a DNS resolver and the `mail-auth` verifiers.
pub struct DmarcCheck {
    auth: MessageAuthenticator,
}

impl std::fmt::Debug for DmarcCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DmarcCheck")
    }
}

impl DmarcCheck {
    /// Uses the system's resolvers (`/etc/resolv.conf`).
    pub fn system() -> Result<Self, DmarcSetupError> {
        MessageAuthenticator::new_system_conf()
            .map(|auth| DmarcCheck { auth })
            .map_err(|e| DmarcSetupError(e.to_string()))
    }

    /// Uses one recursive resolver at `server` (UDP), e.g. a local validating resolver.
    pub fn with_nameserver(server: SocketAddr) -> Result<Self, DmarcSetupError> {
        Self::with_nameserver_timeout(server, std::time::Duration::from_secs(3))
    }

    /// [`with_nameserver`](Self::with_nameserver), waiting `timeout` per query (two tries).
    pub fn with_nameserver_timeout(
        server: SocketAddr,
        timeout: std::time::Duration,
    ) -> Result<Self, DmarcSetupError> {
        let mut ns = NameServerConfig::udp(server.ip());
        for c in &mut ns.connections {
            c.port = server.port();
        }
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 2;
        MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![ns]), opts)
            .map(|auth| DmarcCheck { auth })
            .map_err(|e| DmarcSetupError(e.to_string()))
    }

    /// Checks one received mail against its envelope.
    pub async fn check(&self, envelope: &Envelope, raw: &[u8]) -> Requester {
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return Requester::Unverified("unparsable headers".into());
        };
        let dkim = self.auth.verify_dkim(&message).await;
        let helo = envelope.helo.as_str();
        let ip = envelope.client.ip();
        let (spf, mail_from_domain) = if envelope.mail_from.is_empty() {
            let spf = self
                .auth
                .verify_spf(SpfParameters::verify_ehlo(ip, helo, helo))
                .await;
            (spf, helo.to_string())
        } else {
            let domain = envelope
                .mail_from
                .rsplit_once('@')
                .map(|(_, d)| d.to_string())
                .unwrap_or_else(|| helo.to_string());
            let spf = self
                .auth
                .verify_spf(SpfParameters::verify_mail_from(
                    ip,
                    helo,
                    helo,
                    &envelope.mail_from,
                ))
                .await;
            (spf, domain)
        };
        let dmarc = self
            .auth
            .verify_dmarc(DmarcParameters::new(
                &message,
                &dkim,
                &mail_from_domain,
                &spf,
            ))
            .await;
        match dmarc.result() {
            DmarcResult::Pass => Requester::Verified,
            DmarcResult::TempError(_) => Requester::TryLater,
            DmarcResult::Fail(_) if dmarc.policy() == Policy::Reject => Requester::Reject,
            other => Requester::Unverified(format!(
                "DMARC for {:?}: {other:?}, policy {:?}",
                dmarc.domain(),
                dmarc.policy()
            )),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::rdata::TXT;
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    use mail_auth::common::crypto::Ed25519Key;
    use mail_auth::common::headers::HeaderWriter;
    use mail_auth::dkim::DkimSigner;
    use std::collections::HashMap;
    use std::sync::Arc;

    /// An authoritative DNS server on loopback for TXT records (every other question gets
    /// NXDOMAIN), so the check runs against real DNS packets.
    pub(crate) async fn dns_server(records: HashMap<String, String>) -> SocketAddr {
        let sock = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 1500];
            loop {
                let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
                reply.metadata.recursion_desired = query.metadata.recursion_desired;
                reply.metadata.recursion_available = true;
                reply.metadata.authoritative = true;
                let mut found = false;
                for q in &query.queries {
                    reply.add_query(q.clone());
                    let name = q.name().to_ascii().trim_end_matches('.').to_lowercase();
                    if q.query_type() == RecordType::TXT
                        && let Some(txt) = records.get(&name)
                    {
                        // TXT strings are at most 255 bytes each.
                        let parts = txt
                            .as_bytes()
                            .chunks(255)
                            .map(|c| String::from_utf8_lossy(c).into_owned())
                            .collect();
                        reply.add_answer(Record::from_rdata(
                            Name::from_ascii(format!("{name}.")).unwrap(),
                            60,
                            RData::TXT(TXT::new(parts)),
                        ));
                        found = true;
                    }
                }
                if !found {
                    reply.metadata.response_code = ResponseCode::NXDomain;
                }
                let _ = sock.send_to(&reply.to_vec().unwrap(), peer).await;
            }
        });
        addr
    }

    const SEED: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
    const PUBLIC: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

    fn b64(s: &str) -> Vec<u8> {
        data_encoding::BASE64.decode(s.as_bytes()).unwrap()
    }

    fn zone() -> HashMap<String, String> {
        HashMap::from([
            // owner.example: its mail leaves from 127.0.0.1 and is DKIM-signed.
            (
                "owner.example".into(),
                "v=spf1 ip4:127.0.0.1 -all".to_string(),
            ),
            (
                "_dmarc.owner.example".into(),
                "v=DMARC1; p=reject; adkim=s; aspf=s".into(),
            ),
            (
                "sel._domainkey.owner.example".into(),
                format!("v=DKIM1; k=ed25519; p={PUBLIC}"),
            ),
            // bank.example: mail only from 192.0.2.1, and reject what fails.
            ("bank.example".into(), "v=spf1 ip4:192.0.2.1 -all".into()),
            ("_dmarc.bank.example".into(), "v=DMARC1; p=reject".into()),
            // lax.example: mail only from 192.0.2.1, but only monitor failures.
            ("lax.example".into(), "v=spf1 ip4:192.0.2.1 -all".into()),
            ("_dmarc.lax.example".into(), "v=DMARC1; p=none".into()),
            // signed.example: SPF fails from here, but its DKIM signature is aligned.
            ("signed.example".into(), "v=spf1 ip4:192.0.2.1 -all".into()),
            ("_dmarc.signed.example".into(), "v=DMARC1; p=reject".into()),
            (
                "sel._domainkey.signed.example".into(),
                format!("v=DKIM1; k=ed25519; p={PUBLIC}"),
            ),
        ])
    }

    fn envelope(mail_from: &str) -> Envelope {
        Envelope {
            client: "127.0.0.1:40000".parse().unwrap(),
            helo: "mx.sender.example".into(),
            forwarded_by: None,
            mail_from: mail_from.into(),
            rcpt_to: vec!["reset@vendor.example".into()],
            tls: false,
        }
    }

    fn mail(from: &str) -> String {
        format!("From: {from}\r\nTo: reset@vendor.example\r\nSubject: reset\r\n\r\nCK1...\r\n")
    }

    pub(crate) fn signed(domain: &str, from: &str) -> Vec<u8> {
        let body = mail(from);
        let key = Ed25519Key::from_seed_and_public_key(&b64(SEED), &b64(PUBLIC)).unwrap();
        let sig = DkimSigner::from_key(key)
            .domain(domain)
            .selector("sel")
            .headers(["From", "To", "Subject"])
            .sign(body.as_bytes())
            .unwrap();
        let mut out = sig.to_header().into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }

    #[tokio::test]
    async fn aligned_senders_pass_and_forgers_do_not() {
        let dns = dns_server(zone()).await;
        let check = DmarcCheck::with_nameserver(dns).unwrap();
        // SPF-aligned and DKIM-aligned: verified.
        let v = check
            .check(
                &envelope("owner@owner.example"),
                &signed("owner.example", "owner@owner.example"),
            )
            .await;
        assert_eq!(v, Requester::Verified);
        // DKIM alone (the relay is not in SPF) still aligns.
        let v = check
            .check(
                &envelope("someone@signed.example"),
                &signed("signed.example", "someone@signed.example"),
            )
            .await;
        assert_eq!(v, Requester::Verified);
        // A forged bank sender, from a host its SPF does not list: refused.
        let v = check
            .check(
                &envelope("victim@bank.example"),
                mail("victim@bank.example").as_bytes(),
            )
            .await;
        assert_eq!(v, Requester::Reject);
        // SPF passes for the envelope, but the From: header is someone else's: not aligned.
        let v = check
            .check(
                &envelope("owner@owner.example"),
                mail("victim@bank.example").as_bytes(),
            )
            .await;
        assert_eq!(v, Requester::Reject);
        // A signature by another domain does not vouch for the bank.
        let v = check
            .check(
                &envelope("x@owner.example"),
                &signed("owner.example", "victim@bank.example"),
            )
            .await;
        assert_eq!(v, Requester::Reject);
        // p=none: handled, but nobody is answered.
        let v = check
            .check(&envelope("a@lax.example"), mail("a@lax.example").as_bytes())
            .await;
        assert!(matches!(v, Requester::Unverified(_)), "{v:?}");
        // No DMARC record at all: unverified too.
        let v = check
            .check(
                &envelope("a@nodmarc.example"),
                mail("a@nodmarc.example").as_bytes(),
            )
            .await;
        assert!(matches!(v, Requester::Unverified(_)), "{v:?}");
        // A tampered signed mail no longer passes DKIM; SPF for signed.example fails.
        let mut tampered = signed("signed.example", "someone@signed.example");
        let at = tampered.len() - 5;
        tampered[at] = b'X';
        let v = check
            .check(&envelope("someone@signed.example"), &tampered)
            .await;
        assert_eq!(v, Requester::Reject);
    }

    #[tokio::test]
    async fn a_dead_resolver_means_try_later_not_an_answer() {
        // A UDP port nobody listens on any more.
        let dead = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let check =
            DmarcCheck::with_nameserver_timeout(dead, std::time::Duration::from_millis(100))
                .unwrap();
        let v = check
            .check(
                &envelope("owner@owner.example"),
                mail("owner@owner.example").as_bytes(),
            )
            .await;
        assert!(
            matches!(v, Requester::TryLater | Requester::Unverified(_)),
            "{v:?}"
        );
        assert_ne!(v, Requester::Verified);
    }
}
