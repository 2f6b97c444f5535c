//! The ONVIF calls an NVR needs, over the same identity-checked TLS as the REST API
//! ([`crate::verify`]) and authenticated by HTTP digest (RFC 7616; SHA-256 preferred, MD5
//! when that is all the camera offers): GetSystemDateAndTime, SetSystemDateAndTime,
//! GetDeviceInformation, GetCapabilities (the media service's address), GetProfiles,
//! GetSnapshotUri and the snapshot itself. Each call is sent first without credentials;
//! a 401 is answered with a fresh digest response (the camera accepts each answer once).
//! Envelopes are built and read with `camkey_onvif::soap`.

use crate::error::Error;
use crate::rest::{TIMEOUT, send_error};
use crate::verify::{CameraVerifier, DeviceCa, tls_config};
use camkey_onvif::auth::digest::{self, Algorithm};
use camkey_onvif::ns;
use camkey_onvif::soap::{self, SoapVersion};
use camkey_onvif::xml::{Element, Limits};
use std::sync::Arc;

/// Largest answer read (a snapshot included).
pub const MAX_ANSWER: usize = 8 << 20;

/// GetDeviceInformation's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInformation {
    /// `Manufacturer`.
    pub manufacturer: String,
    /// `Model`.
    pub model: String,
    /// `FirmwareVersion`.
    pub firmware_version: String,
    /// `SerialNumber`.
    pub serial_number: String,
    /// `HardwareId`.
    pub hardware_id: String,
}

/// A media profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Its token, for GetSnapshotUri and GetStreamUri.
    pub token: String,
    /// Its name.
    pub name: String,
}

/// An ONVIF client of one camera's device and media services.
#[derive(Debug, Clone)]
pub struct OnvifClient {
    http: reqwest::Client,
    verifier: Arc<CameraVerifier>,
    device_url: String,
    username: String,
    password: String,
}

impl OnvifClient {
    /// A client of the device service at `device_url` (lab.json's `onvif`), signing in as
    /// `username`; with `expected_serial`, only that camera's certificate is accepted.
    pub fn new(
        device_url: &str,
        ca: &DeviceCa,
        expected_serial: Option<&str>,
        username: &str,
        password: &str,
    ) -> Result<Self, Error> {
        crate::verify::host_port(device_url)?;
        let (config, verifier) = tls_config(ca, expected_serial)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        Ok(OnvifClient {
            http,
            verifier,
            device_url: device_url.to_string(),
            username: username.to_string(),
            password: password.to_string(),
        })
    }

    /// The serial in the camera's certificate, once a connection has been made.
    pub fn certificate_serial(&self) -> Option<String> {
        self.verifier.serial_seen()
    }

    /// GetSystemDateAndTime: the camera's UTC time, in Unix milliseconds.
    pub async fn system_date_and_time(&self) -> Result<i64, Error> {
        let body = self
            .soap(&self.device_url, "<tds:GetSystemDateAndTime/>")
            .await?;
        let utc = body
            .child(ns::TDS, "SystemDateAndTime")
            .and_then(|s| s.child(ns::TT, "UTCDateTime"))
            .ok_or_else(|| Error::Protocol("no UTCDateTime".into()))?;
        parse_date_time(utc)
    }

    /// SetSystemDateAndTime: manual time, `utc_ms` (Unix milliseconds), no daylight saving.
    pub async fn set_system_date_and_time(&self, utc_ms: i64) -> Result<(), Error> {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(utc_ms) * 1_000_000)
            .map_err(|e| Error::Protocol(e.to_string()))?;
        let body = format!(
            "<tds:SetSystemDateAndTime><tds:DateTimeType>Manual</tds:DateTimeType>\
             <tds:DaylightSavings>false</tds:DaylightSavings><tds:UTCDateTime>\
             <tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time>\
             <tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date>\
             </tds:UTCDateTime></tds:SetSystemDateAndTime>",
            t.hour(),
            t.minute(),
            t.second(),
            t.year(),
            u8::from(t.month()),
            t.day()
        );
        self.soap(&self.device_url, &body).await.map(drop)
    }

    /// GetDeviceInformation.
    pub async fn device_information(&self) -> Result<DeviceInformation, Error> {
        let b = self
            .soap(&self.device_url, "<tds:GetDeviceInformation/>")
            .await?;
        let get = |n: &str| b.child_text(ns::TDS, n).unwrap_or("").to_string();
        Ok(DeviceInformation {
            manufacturer: get("Manufacturer"),
            model: get("Model"),
            firmware_version: get("FirmwareVersion"),
            serial_number: get("SerialNumber"),
            hardware_id: get("HardwareId"),
        })
    }

    /// The media service's address (GetCapabilities, category Media).
    pub async fn media_url(&self) -> Result<String, Error> {
        let b = self
            .soap(
                &self.device_url,
                "<tds:GetCapabilities><tds:Category>Media</tds:Category></tds:GetCapabilities>",
            )
            .await?;
        b.child(ns::TDS, "Capabilities")
            .and_then(|c| c.child(ns::TT, "Media"))
            .and_then(|m| m.child_text(ns::TT, "XAddr"))
            .map(|s| s.trim().to_string())
            .ok_or_else(|| Error::Protocol("no media service in GetCapabilities".into()))
    }

    /// GetProfiles (on the media service).
    pub async fn profiles(&self) -> Result<Vec<Profile>, Error> {
        let media = self.media_url().await?;
        let b = self.soap(&media, "<trt:GetProfiles/>").await?;
        Ok(b.children_named(ns::TRT, "Profiles")
            .map(|p| Profile {
                token: p.attr(None, "token").unwrap_or("").to_string(),
                name: p.child_text(ns::TT, "Name").unwrap_or("").to_string(),
            })
            .collect())
    }

    /// GetSnapshotUri for a profile.
    pub async fn snapshot_uri(&self, profile_token: &str) -> Result<String, Error> {
        let media = self.media_url().await?;
        let body = format!(
            "<trt:GetSnapshotUri><trt:ProfileToken>{}</trt:ProfileToken></trt:GetSnapshotUri>",
            camkey_onvif::xml::escape(profile_token)
        );
        let b = self.soap(&media, &body).await?;
        b.child(ns::TRT, "MediaUri")
            .and_then(|m| m.child_text(ns::TT, "Uri"))
            .map(|s| s.trim().to_string())
            .ok_or_else(|| Error::Protocol("no MediaUri in GetSnapshotUri".into()))
    }

    /// Fetches a snapshot (HTTP digest, as the camera asks): the image bytes.
    pub async fn snapshot(&self, uri: &str) -> Result<Vec<u8>, Error> {
        let (status, _, bytes) = self.exchange(reqwest::Method::GET, uri, None).await?;
        if status != 200 {
            return Err(Error::Fault {
                status,
                reason: "the snapshot was refused".into(),
            });
        }
        Ok(bytes)
    }

    /// A SOAP 1.2 call: the body's operation element, or the fault as an error.
    async fn soap(&self, url: &str, body_xml: &str) -> Result<Element, Error> {
        let envelope = soap::render(SoapVersion::V12, None, body_xml);
        let (status, _, bytes) = self
            .exchange(reqwest::Method::POST, url, Some(envelope))
            .await?;
        let parsed = soap::parse(&bytes, &Limits::default());
        match parsed {
            Ok(env) if status == 200 && !is_fault(&env.body) => Ok(env.body),
            Ok(env) => Err(Error::Fault {
                status,
                reason: fault_reason(&env.body),
            }),
            Err(_) => Err(Error::Fault {
                status,
                reason: format!("no SOAP answer (HTTP {status})"),
            }),
        }
    }

    /// One request, answered with digest credentials after a 401.
    async fn exchange(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<String>,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), Error> {
        let first = self.send(method.clone(), url, body.clone(), None).await?;
        if first.0 != 401 {
            return Ok(first);
        }
        let challenge = pick_challenge(&first.1)
            .ok_or_else(|| Error::Protocol("401 without a digest challenge".into()))?;
        let uri = reqwest::Url::parse(url)
            .map(|u| match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            })
            .map_err(|_| Error::Url(url.into()))?;
        let auth = authorization(
            &challenge,
            &self.username,
            &self.password,
            method.as_str(),
            &uri,
        );
        let second = self.send(method, url, body, Some(auth)).await?;
        if second.0 == 401 {
            return Err(Error::Fault {
                status: 401,
                reason: "the camera refused the credentials".into(),
            });
        }
        Ok(second)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<String>,
        authorization: Option<String>,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), Error> {
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req
                .header("content-type", soap::content_type(SoapVersion::V12))
                .body(b);
        }
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| send_error(&self.verifier, e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        if resp.content_length().is_some_and(|n| n > MAX_ANSWER as u64) {
            return Err(Error::Protocol("answer too large".into()));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        if bytes.len() > MAX_ANSWER {
            return Err(Error::Protocol("answer too large".into()));
        }
        Ok((status, headers, bytes.to_vec()))
    }
}

fn is_fault(body: &Element) -> bool {
    body.is(ns::SOAP12, "Fault") || body.is(ns::SOAP11, "Fault")
}

fn fault_reason(body: &Element) -> String {
    body.child(ns::SOAP12, "Reason")
        .and_then(|r| r.child_text(ns::SOAP12, "Text"))
        .or_else(|| body.child_text("", "faultstring"))
        .unwrap_or("unexpected answer")
        .to_string()
}

fn parse_date_time(utc: &Element) -> Result<i64, Error> {
    let num = |parent: Option<&Element>, n: &str| -> Result<i64, Error> {
        parent
            .and_then(|p| p.child_text(ns::TT, n))
            .and_then(|s| s.trim().parse::<i64>().ok())
            .ok_or_else(|| Error::Protocol(format!("no {n} in UTCDateTime")))
    };
    let (t, d) = (utc.child(ns::TT, "Time"), utc.child(ns::TT, "Date"));
    let bad = |_| Error::Protocol("UTCDateTime out of range".into());
    let month = time::Month::try_from(u8::try_from(num(d, "Month")?).map_err(bad)?)
        .map_err(|_| Error::Protocol("UTCDateTime month".into()))?;
    let date = time::Date::from_calendar_date(
        i32::try_from(num(d, "Year")?).map_err(bad)?,
        month,
        u8::try_from(num(d, "Day")?).map_err(bad)?,
    )
    .map_err(|e| Error::Protocol(e.to_string()))?;
    let tod = time::Time::from_hms(
        u8::try_from(num(t, "Hour")?).map_err(bad)?,
        u8::try_from(num(t, "Minute")?).map_err(bad)?,
        u8::try_from(num(t, "Second")?).map_err(bad)?,
    )
    .map_err(|e| Error::Protocol(e.to_string()))?;
    Ok(time::PrimitiveDateTime::new(date, tod)
        .assume_utc()
        .unix_timestamp()
        * 1000)
}

/// A digest challenge's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    realm: String,
    nonce: String,
    algorithm: Algorithm,
    opaque: Option<String>,
    qop_auth: bool,
}

/// The `WWW-Authenticate: Digest` parameters, quoted strings unescaped.
fn digest_params(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.trim();
    let (scheme, mut rest) = rest.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return None;
    }
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(out);
        }
        let (name, after) = rest.split_once('=')?;
        let name = name.trim().to_ascii_lowercase();
        let after = after.trim_start();
        if let Some(q) = after.strip_prefix('"') {
            let mut val = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => val.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => val.push(c),
                }
            }
            out.push((name, val));
            rest = &q[end?..];
        } else {
            let end = after.find(',').unwrap_or(after.len());
            out.push((name, after[..end].trim().to_string()));
            rest = &after[end..];
        }
    }
}

fn parse_challenge(value: &str) -> Option<Challenge> {
    let params = digest_params(value)?;
    let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let algorithm = match get("algorithm") {
        Some(a) => Algorithm::from_name(&a)?,
        None => Algorithm::Md5,
    };
    Some(Challenge {
        realm: get("realm")?,
        nonce: get("nonce")?,
        algorithm,
        opaque: get("opaque"),
        qop_auth: get("qop").is_some_and(|q| q.split(',').any(|q| q.trim() == "auth")),
    })
}

/// The strongest digest challenge offered (SHA-256 before MD5).
fn pick_challenge(headers: &reqwest::header::HeaderMap) -> Option<Challenge> {
    let all: Vec<Challenge> = headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_challenge)
        .collect();
    all.iter()
        .find(|c| c.algorithm == Algorithm::Sha256)
        .or_else(|| all.first())
        .cloned()
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The `Authorization` value answering `c` for `method` and `uri`.
fn authorization(c: &Challenge, user: &str, password: &str, method: &str, uri: &str) -> String {
    let alg = c.algorithm;
    let ha1 = digest::ha1(alg, user, &c.realm, password);
    let ha2 = alg.hex(format!("{method}:{uri}").as_bytes());
    let mut out = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", algorithm={}",
        quote(user),
        quote(&c.realm),
        quote(&c.nonce),
        quote(uri),
        alg.name()
    );
    if c.qop_auth {
        let cnonce = data_hex(&rand::random::<[u8; 8]>());
        let nc = "00000001";
        let response = alg.hex(format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", c.nonce).as_bytes());
        out.push_str(&format!(
            ", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\""
        ));
    } else {
        let response = alg.hex(format!("{ha1}:{}:{ha2}", c.nonce).as_bytes());
        out.push_str(&format!(", response=\"{response}\""));
    }
    if let Some(o) = &c.opaque {
        out.push_str(&format!(", opaque=\"{}\"", quote(o)));
    }
    out
}

fn data_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn challenges_parse_and_answers_verify_on_the_camera_side() {
        let header = digest::Challenge {
            realm: "IPC4K15-000001",
            nonce: "abc,def",
            algorithm: Algorithm::Sha256,
            opaque: Some("o\"q"),
            stale: false,
        }
        .header_value();
        let c = parse_challenge(&header).unwrap();
        assert_eq!(c.nonce, "abc,def");
        assert_eq!(c.opaque.as_deref(), Some("o\"q"));
        assert!(c.qop_auth);
        let auth = authorization(&c, "admin", "pw", "POST", "/onvif/device_service");
        let r = digest::parse_authorization(&auth).unwrap();
        let ha1 = digest::ha1(Algorithm::Sha256, "admin", "IPC4K15-000001", "pw");
        assert!(r.verify("POST", &ha1));
        assert!(!r.verify("GET", &ha1));
        assert!(parse_challenge("Basic realm=\"x\"").is_none());
        assert!(parse_challenge("Digest realm=\"x\", nonce=\"unterminated").is_none());
    }

    #[test]
    fn sha256_is_preferred() {
        let mut h = reqwest::header::HeaderMap::new();
        for alg in ["MD5", "SHA-256"] {
            h.append(
                "www-authenticate",
                format!("Digest realm=\"r\", qop=\"auth\", algorithm={alg}, nonce=\"n\"")
                    .parse()
                    .unwrap(),
            );
        }
        assert_eq!(pick_challenge(&h).unwrap().algorithm, Algorithm::Sha256);
    }
}
