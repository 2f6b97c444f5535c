//! The camera's identity (S10): the device CA as the only root, a rustls
//! [`ServerCertVerifier`] that checks the chain with webpki (signatures included; the host
//! name is not checked, since cameras are reached by address) and then the serial in the
//! certificate's URI subject-alternative name against the expected one, and the TLS
//! settings built on it. Because the check runs in the handshake, a camera that fails it
//! receives no request at all.
//!
//! The verifier remembers the serial it last accepted and the last failure, so callers turn
//! a failed handshake into a typed [`Error`] rather than a string from deep inside TLS.

use crate::error::Error;
use camkey_proto::factory::SERIAL_SAN_PREFIX;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The vendor's device CA: the only root a camera's certificate may chain to.
#[derive(Clone, Debug)]
pub struct DeviceCa {
    roots: Arc<RootCertStore>,
}

impl DeviceCa {
    /// The CA from PEM text (every certificate in it becomes a root).
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        let mut roots = RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut &pem[..]) {
            let cert = cert.map_err(|e| Error::Ca(format!("unreadable PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::Ca(format!("not a CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(Error::Ca("no certificate in the PEM".into()));
        }
        Ok(DeviceCa {
            roots: Arc::new(roots),
        })
    }

    /// The CA from a PEM file (lab.json's `device_ca`).
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let pem = std::fs::read(path)
            .map_err(|e| Error::Ca(format!("reading {}: {e}", path.display())))?;
        Self::from_pem(&pem).map_err(|e| match e {
            Error::Ca(m) => Error::Ca(format!("{}: {m}", path.display())),
            other => other,
        })
    }
}

/// The serial in a certificate's URI subject-alternative name (`urn:camkey:serial:...`).
pub fn serial_of_certificate(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|name| match name {
        x509_parser::extensions::GeneralName::URI(uri) => uri
            .strip_prefix(SERIAL_SAN_PREFIX)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        _ => None,
    })
}

/// Checks a camera's certificate: chain to the device CA, then its serial.
#[derive(Debug)]
pub struct CameraVerifier {
    inner: Arc<WebPkiServerVerifier>,
    expected: Option<String>,
    seen: Mutex<Option<String>>,
    failure: Mutex<Option<Error>>,
}

impl CameraVerifier {
    /// A verifier for `ca`; with `expected_serial`, only that camera passes.
    pub fn new(ca: &DeviceCa, expected_serial: Option<&str>) -> Result<Self, Error> {
        let inner =
            WebPkiServerVerifier::builder_with_provider(ca.roots.clone(), Arc::new(provider()))
                .build()
                .map_err(|e| Error::Ca(e.to_string()))?;
        Ok(CameraVerifier {
            inner,
            expected: expected_serial.map(str::to_string),
            seen: Mutex::new(None),
            failure: Mutex::new(None),
        })
    }

    /// The serial of the last certificate that passed.
    pub fn serial_seen(&self) -> Option<String> {
        self.seen.lock().ok().and_then(|s| s.clone())
    }

    /// The last identity failure, taken (so it is reported once).
    pub fn take_failure(&self) -> Option<Error> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }

    /// Chain, then serial: the serial the certificate holds.
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<String, Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, &[], now)
        {
            Ok(_) => {}
            // webpki checks the name after the chain: a name error means the chain held.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {}
            Err(e) => {
                return Err(Error::NotGenuine(format!(
                    "its certificate does not chain to the device CA ({e})"
                )));
            }
        }
        let found = serial_of_certificate(end_entity)
            .ok_or_else(|| Error::NotGenuine("its certificate names no camera serial".into()))?;
        match &self.expected {
            Some(expected) if *expected != found => Err(Error::WrongSerial {
                expected: expected.clone(),
                found,
            }),
            _ => Ok(found),
        }
    }
}

impl ServerCertVerifier for CameraVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.check(end_entity, intermediates, server_name, now) {
            Ok(serial) => {
                if let Ok(mut s) = self.seen.lock() {
                    *s = Some(serial);
                }
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => {
                let tls = match &e {
                    Error::WrongSerial { .. } => rustls::Error::InvalidCertificate(
                        CertificateError::ApplicationVerificationFailure,
                    ),
                    _ => rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                };
                if let Ok(mut f) = self.failure.lock() {
                    *f = Some(e);
                }
                Err(tls)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// TLS settings that accept only a genuine camera (and, given a serial, only that one),
/// with the verifier to ask what it saw.
pub fn tls_config(
    ca: &DeviceCa,
    expected_serial: Option<&str>,
) -> Result<(rustls::ClientConfig, Arc<CameraVerifier>), Error> {
    let verifier = Arc::new(CameraVerifier::new(ca, expected_serial)?);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Ca(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    Ok((config, verifier))
}

/// Host and port of an `https://` URL.
pub(crate) fn host_port(url: &str) -> Result<(String, u16), Error> {
    let u = reqwest::Url::parse(url).map_err(|_| Error::Url(url.into()))?;
    if u.scheme() != "https" {
        return Err(Error::Url(url.into()));
    }
    let host = match u.host_str() {
        Some(h) if !h.is_empty() => h.trim_matches(['[', ']']).to_string(),
        _ => return Err(Error::Url(url.into())),
    };
    Ok((host, u.port_or_known_default().unwrap_or(443)))
}

/// Checks the camera at `url` (any `https://` URL of it) by a TLS handshake alone: no
/// request is sent. Returns the serial in its certificate.
pub async fn check_identity(
    url: &str,
    ca: &DeviceCa,
    expected_serial: Option<&str>,
    timeout: Duration,
) -> Result<String, Error> {
    let (host, port) = host_port(url)?;
    let (config, verifier) = tls_config(ca, expected_serial)?;
    let name = ServerName::try_from(host.clone()).map_err(|_| Error::Url(url.into()))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| Error::Unreachable(format!("{host}:{port}: {e}")))?;
        connector.connect(name, tcp).await.map_err(|e| {
            verifier
                .take_failure()
                .unwrap_or_else(|| Error::Unreachable(format!("{host}:{port}: {e}")))
        })
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(_stream)) => verifier
            .serial_seen()
            .ok_or_else(|| Error::Protocol("handshake without a certificate".into())),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::Unreachable(format!("{host}:{port}: timed out"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ca_pem_must_hold_a_certificate() {
        assert!(matches!(DeviceCa::from_pem(b""), Err(Error::Ca(_))));
        assert!(matches!(
            DeviceCa::from_file(Path::new("/nonexistent/ca.pem")),
            Err(Error::Ca(_))
        ));
    }

    #[test]
    fn serial_comes_from_the_uri_san_only() {
        let mut params = rcgen::CertificateParams::new(vec!["cam.local".into()]).unwrap();
        params.subject_alt_names.push(rcgen::SanType::URI(
            format!("{SERIAL_SAN_PREFIX}IPC4K15-000001")
                .try_into()
                .unwrap(),
        ));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            serial_of_certificate(cert.der()).as_deref(),
            Some("IPC4K15-000001")
        );
        let plain = rcgen::CertificateParams::new(vec!["cam.local".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        assert_eq!(serial_of_certificate(plain.der()), None);
        assert_eq!(serial_of_certificate(b"junk"), None);
    }

    #[test]
    fn only_https_urls_with_a_host() {
        assert_eq!(
            host_port("https://127.0.0.1:8443/api").unwrap(),
            ("127.0.0.1".into(), 8443)
        );
        assert_eq!(host_port("https://[::1]/").unwrap(), ("::1".into(), 443));
        assert!(host_port("http://127.0.0.1/").is_err());
        assert!(host_port("nope").is_err());
    }
}
