//! # camkey-factory
//!
//! The vendor's factory line: making the vendor's keys ([`VendorKeys::generate`], for
//! `camkey keygen`) and giving each camera its read-only identity ([`provision`]). Nothing
//! here runs in a camera; the camera-only build leaves this crate out.
//!
//! # Layout
//! - [`VendorKeys`]: the files `camkey keygen` writes and `camkey provision` reads: the
//!   master key (with its version), the device CA, the firmware signing key, and the
//!   vendor profile (reset address, reset page).
//! - [`provision`]: derives a camera's device key, draws its setup code and MAC, issues its
//!   device certificate (serial in a URI subject-alternative name, S10) and writes the
//!   factory directory read-only.
//! - [`write_file`]: every file here gets its exact mode whatever the umask: secrets 0600
//!   (vendor keys) or 0400 (a camera's TLS key and `factory.json`), public files 0644
//!   (device CA certificate, firmware public key, vendor profile) or 0444 (a camera's
//!   certificate chain); directories are created 0700.

use camkey_proto::crockford;
use camkey_proto::factory::{
    self, CERT_FILE, FACTORY_FILE, FACTORY_FORMAT, FactoryData, SERIAL_SAN_PREFIX, TLS_KEY_FILE,
};
use camkey_proto::keys::MasterKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File names in a vendor key directory.
pub mod files {
    /// The master key (JSON, secret).
    pub const MASTER_KEY: &str = "master.key";
    /// The device CA certificate (PEM, public).
    pub const DEVICE_CA: &str = "device-ca.pem";
    /// The device CA private key (PEM, secret).
    pub const DEVICE_CA_KEY: &str = "device-ca.key";
    /// The firmware signing key (PKCS#8 PEM, secret).
    pub const FIRMWARE_KEY: &str = "firmware.key";
    /// The firmware public key (hex, public).
    pub const FIRMWARE_PUB: &str = "firmware.pub";
    /// The vendor profile (JSON, public).
    pub const PROFILE: &str = "vendor.json";
}

/// Errors of the factory line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key or certificate could not be made or read.
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    /// A key file is not what it should be.
    #[error("{0}")]
    Key(String),
    /// Bad serial or model.
    #[error(transparent)]
    Factory(#[from] factory::FactoryError),
    /// The factory directory already holds a camera's identity.
    #[error("{0} already holds factory data; factory data is written once")]
    AlreadyProvisioned(PathBuf),
}

type Result<T> = std::result::Result<T, Error>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a file with exactly the given Unix mode whatever the umask: any file already at
/// `path` is removed first, and the new one has `mode` before its first byte (so nobody
/// holds it open from before). Secrets are 0600 or 0400, public files 0644 or 0444.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(path)(e)),
        _ => {}
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_err(path))?;
    // The umask may only have removed bits: a public file gets its exact mode back.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err(path))?;
    f.write_all(contents).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))?;
    Ok(())
}

/// Creates a directory and its missing parents 0700 whatever the umask (an existing one
/// keeps its mode: the files in it are private on their own).
fn create_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(io_err(path))
}

/// The vendor's public profile: what every camera it provisions learns about the vendor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VendorProfile {
    /// The automated reset mailbox.
    pub reset_address: String,
    /// The web reset page.
    pub reset_page_url: String,
    /// The support desk's address: every camera's recovery address until its owner sets one.
    pub support_address: String,
}

impl Default for VendorProfile {
    fn default() -> Self {
        VendorProfile {
            reset_address: "reset@camkey.example".into(),
            reset_page_url: "https://reset.camkey.example/reset".into(),
            support_address: "support@camkey.example".into(),
        }
    }
}

/// A vendor key directory, as `camkey keygen` wrote it.
#[derive(Debug, Clone)]
pub struct VendorKeys {
    dir: PathBuf,
}

impl VendorKeys {
    /// Makes a new vendor key set in `dir` (created if missing). Refuses to overwrite an
    /// existing master key.
    pub fn generate(dir: &Path, version: u32, profile: &VendorProfile) -> Result<Self> {
        create_dir(dir)?;
        let master_path = dir.join(files::MASTER_KEY);
        if master_path.exists() {
            return Err(Error::Key(format!(
                "{} exists: refusing to replace a master key",
                master_path.display()
            )));
        }
        // Device CA: ECDSA P-256, self-signed, for device certificates only.
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let ca_cert = ca_params().self_signed(&ca_key)?;

        let mut fw_seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fw_seed);
        let fw = ed25519_dalek::SigningKey::from_bytes(&fw_seed);
        let fw_pem = fw
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| Error::Key(e.to_string()))?;

        write_file(
            &dir.join(files::DEVICE_CA_KEY),
            ca_key.serialize_pem().as_bytes(),
            0o600,
        )?;
        write_file(&dir.join(files::DEVICE_CA), ca_cert.pem().as_bytes(), 0o644)?;
        write_file(&dir.join(files::FIRMWARE_KEY), fw_pem.as_bytes(), 0o600)?;
        write_file(
            &dir.join(files::FIRMWARE_PUB),
            format!(
                "{}\n",
                data_encoding::HEXLOWER.encode(fw.verifying_key().as_bytes())
            )
            .as_bytes(),
            0o644,
        )?;
        let profile_json = serde_json::to_string_pretty(profile).unwrap_or_default();
        write_file(&dir.join(files::PROFILE), profile_json.as_bytes(), 0o644)?;
        // The master key last: its presence marks a complete key set.
        write_file(
            &master_path,
            MasterKey::generate(version).to_json().as_bytes(),
            0o600,
        )?;
        Ok(VendorKeys {
            dir: dir.to_path_buf(),
        })
    }

    /// Opens the key directory that holds `master_key` (the other files sit beside it).
    pub fn open(master_key: &Path) -> Result<Self> {
        let dir = master_key.parent().unwrap_or(Path::new(".")).to_path_buf();
        let keys = VendorKeys { dir };
        keys.master_key()?;
        Ok(keys)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of one of the [`files`].
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Reads the master key.
    pub fn master_key(&self) -> Result<MasterKey> {
        let path = self.path(files::MASTER_KEY);
        MasterKey::from_json(&read(&path)?)
            .map_err(|e| Error::Key(format!("{}: {e}", path.display())))
    }

    /// Reads the vendor profile.
    pub fn profile(&self) -> Result<VendorProfile> {
        let path = self.path(files::PROFILE);
        serde_json::from_slice(&read(&path)?)
            .map_err(|e| Error::Key(format!("{}: {e}", path.display())))
    }

    /// The firmware public key, hex.
    pub fn firmware_public_key(&self) -> Result<String> {
        let path = self.path(files::FIRMWARE_PUB);
        let text = String::from_utf8_lossy(&read(&path)?).trim().to_string();
        Ok(text)
    }

    /// The firmware signing key.
    pub fn firmware_signing_key(&self) -> Result<ed25519_dalek::SigningKey> {
        let path = self.path(files::FIRMWARE_KEY);
        let pem = String::from_utf8_lossy(&read(&path)?).to_string();
        ed25519_dalek::SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| Error::Key(format!("{}: {e}", path.display())))
    }

    fn ca_issuer(&self) -> Result<(Issuer<'static, KeyPair>, String)> {
        let key_pem = String::from_utf8_lossy(&read(&self.path(files::DEVICE_CA_KEY))?).to_string();
        let cert_pem = String::from_utf8_lossy(&read(&self.path(files::DEVICE_CA))?).to_string();
        let key = KeyPair::from_pem(&key_pem)?;
        // The CA's parameters are fixed (see `ca_params`), so the issuer name and key
        // identifier we sign with are exactly those of the certificate keygen wrote.
        let issuer = Issuer::new(ca_params(), key);
        Ok((issuer, cert_pem))
    }
}

/// The device CA's certificate parameters: fixed, so keygen and provisioning agree.
fn ca_params() -> CertificateParams {
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "camkey vendor");
    dn.push(DnType::CommonName, "camkey device CA");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.use_authority_key_identifier_extension = true;
    ca.not_before = rcgen::date_time_ymd(2000, 1, 1);
    ca.not_after = rcgen::date_time_ymd(2099, 12, 31);
    ca
}

/// What to provision.
#[derive(Debug, Clone)]
pub struct ProvisionRequest<'a> {
    /// Model name from the catalogue.
    pub model: &'a str,
    /// Serial number.
    pub serial: &'a str,
    /// Extra DNS names or IP addresses for the device certificate (the lab adds loopback).
    pub extra_names: Vec<String>,
}

/// Writes a camera's factory directory: `factory.json`, the certificate chain and the TLS
/// key, all read-only. Refuses a directory that already holds factory data.
pub fn provision(keys: &VendorKeys, req: &ProvisionRequest<'_>, dir: &Path) -> Result<FactoryData> {
    factory::validate_serial(req.serial)?;
    let model = camkey_proto::catalogue::model(req.model)
        .ok_or_else(|| factory::FactoryError::UnknownModel(req.model.to_string()))?;
    create_dir(dir)?;
    if dir.join(FACTORY_FILE).exists() {
        return Err(Error::AlreadyProvisioned(dir.to_path_buf()));
    }
    let master = keys.master_key()?;
    let profile = keys.profile()?;

    let mut rng = rand::rngs::OsRng;
    let mut mac = [0u8; 6];
    rng.fill_bytes(&mut mac);
    mac[0] = (mac[0] & 0xfc) | 0x02; // locally administered, unicast
    let mac = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let mut code = [0u8; 5]; // 40 bits, 8 characters
    rng.fill_bytes(&mut code);

    let data = FactoryData {
        format: FACTORY_FORMAT,
        serial: req.serial.to_string(),
        model: model.name.to_string(),
        mac,
        firmware: model.firmware.to_string(),
        device_key: master.device_key(req.serial),
        setup_code: crockford::encode_grouped(&code, 4),
        reset_address: profile.reset_address.clone(),
        reset_page_url: profile.reset_page_url.clone(),
        default_recovery_address: profile.support_address.clone(),
        firmware_public_key: keys.firmware_public_key()?,
    };

    // Device certificate: the serial in a URI SAN (S10), plus a DNS name for browsers.
    let (issuer, ca_pem) = keys.ca_issuer()?;
    let tls_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "camkey vendor");
    dn.push(DnType::CommonName, format!("{} {}", model.name, req.serial));
    params.distinguished_name = dn;
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2099, 12, 31);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.subject_alt_names.push(SanType::URI(
        format!("{SERIAL_SAN_PREFIX}{}", req.serial).try_into()?,
    ));
    params.subject_alt_names.push(SanType::DnsName(
        format!("{}.camera.local", req.serial.to_lowercase()).try_into()?,
    ));
    for name in &req.extra_names {
        match name.parse::<std::net::IpAddr>() {
            Ok(ip) => params.subject_alt_names.push(SanType::IpAddress(ip)),
            Err(_) => params
                .subject_alt_names
                .push(SanType::DnsName(name.clone().try_into()?)),
        }
    }
    let cert = params.signed_by(&tls_key, &issuer)?;
    let chain = format!("{}{}", cert.pem(), ca_pem);

    write_file(
        &dir.join(TLS_KEY_FILE),
        tls_key.serialize_pem().as_bytes(),
        0o400,
    )?;
    write_file(&dir.join(CERT_FILE), chain.as_bytes(), 0o444)?;
    let json = serde_json::to_vec_pretty(&data).unwrap_or_default();
    // factory.json last: its presence marks a complete factory directory.
    write_file(&dir.join(FACTORY_FILE), &json, 0o400)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn keygen_then_provision() {
        let tmp = tempfile::tempdir().unwrap();
        let keys =
            VendorKeys::generate(&tmp.path().join("vendor"), 1, &VendorProfile::default()).unwrap();
        assert!(VendorKeys::generate(keys.dir(), 1, &VendorProfile::default()).is_err());
        let keys = VendorKeys::open(&keys.path(files::MASTER_KEY)).unwrap();
        let dir = tmp.path().join("cam");
        let req = ProvisionRequest {
            model: "IPC4K15",
            serial: "IPC4K15-000001",
            extra_names: vec!["127.0.0.1".into()],
        };
        let data = provision(&keys, &req, &dir).unwrap();
        assert_eq!(
            data.device_key,
            keys.master_key().unwrap().device_key("IPC4K15-000001")
        );
        assert_eq!(data.setup_code.len(), 9);
        assert!(matches!(
            provision(&keys, &req, &dir),
            Err(Error::AlreadyProvisioned(_))
        ));
        let back = FactoryData::from_json(&fs::read(dir.join(FACTORY_FILE)).unwrap()).unwrap();
        assert_eq!(back, data);

        // The certificate chains to the CA and names the serial in a URI SAN.
        let chain = fs::read_to_string(dir.join(CERT_FILE)).unwrap();
        let pems: Vec<_> = Pem::iter_from_buffer(chain.as_bytes())
            .map(|p| p.unwrap())
            .collect();
        assert_eq!(pems.len(), 2);
        let leaf = pems[0].parse_x509().unwrap();
        let ca = pems[1].parse_x509().unwrap();
        leaf.verify_signature(Some(ca.public_key())).unwrap();
        let san = leaf.subject_alternative_name().unwrap().unwrap();
        assert!(san.value.general_names.iter().any(|n| matches!(n,
            GeneralName::URI(u) if *u == "urn:camkey:serial:IPC4K15-000001")));

        // Two cameras share nothing secret.
        let req2 = ProvisionRequest {
            serial: "IPC4K15-000002",
            ..req
        };
        let other = provision(&keys, &req2, &tmp.path().join("cam2")).unwrap();
        assert_ne!(other.device_key, data.device_key);
        assert_ne!(other.setup_code, data.setup_code);
        assert_ne!(other.mac, data.mac);
    }

    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn secrets_are_private_public_files_readable_and_directories_0700() {
        let tmp = tempfile::tempdir().unwrap();
        let vendor = tmp.path().join("a/vendor");
        let keys = VendorKeys::generate(&vendor, 1, &VendorProfile::default()).unwrap();
        let cam = tmp.path().join("b/cam");
        let req = ProvisionRequest {
            model: "IPC4K15",
            serial: "IPC4K15-000001",
            extra_names: vec![],
        };
        provision(&keys, &req, &cam).unwrap();
        for (dir, name, want) in [
            (&vendor, files::MASTER_KEY, 0o600),
            (&vendor, files::DEVICE_CA_KEY, 0o600),
            (&vendor, files::FIRMWARE_KEY, 0o600),
            (&vendor, files::DEVICE_CA, 0o644),
            (&vendor, files::FIRMWARE_PUB, 0o644),
            (&vendor, files::PROFILE, 0o644),
            (&cam, FACTORY_FILE, 0o400),
            (&cam, TLS_KEY_FILE, 0o400),
            (&cam, CERT_FILE, 0o444),
        ] {
            assert_eq!(mode(&dir.join(name)), want, "{name}");
        }
        for d in ["a", "a/vendor", "b", "b/cam"] {
            assert_eq!(mode(&tmp.path().join(d)), 0o700, "{d}");
        }
        // A file left more open than it should be (and held open) is replaced, not reused.
        let old = tmp.path().join("c");
        fs::create_dir(&old).unwrap();
        let key = old.join(files::FIRMWARE_KEY);
        fs::write(&key, b"old").unwrap();
        fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
        let held = fs::File::open(&key).unwrap();
        VendorKeys::generate(&old, 1, &VendorProfile::default()).unwrap();
        assert_eq!(mode(&key), 0o600);
        assert_eq!(std::io::read_to_string(held).unwrap(), "old");
    }

    #[test]
    fn provision_refuses_bad_input() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = VendorKeys::generate(tmp.path(), 1, &VendorProfile::default()).unwrap();
        let bad = |model, serial| {
            provision(
                &keys,
                &ProvisionRequest {
                    model,
                    serial,
                    extra_names: vec![],
                },
                &tmp.path().join("x"),
            )
        };
        assert!(matches!(bad("NOPE", "ABCD-1"), Err(Error::Factory(_))));
        assert!(matches!(bad("IPC4K15", "../etc"), Err(Error::Factory(_))));
        assert!(!tmp.path().join("x").join(FACTORY_FILE).exists());
    }
}
