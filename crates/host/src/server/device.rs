//! This device's identity in team server mode, in one directory: who it is
//! (`device.json`, no secret), its certificate, the CA it pinned, and its
//! private key sealed with a key that lives in the OS keyring when one is
//! usable, else in a 0600 key file beside it (the same envelope the vault
//! uses for its data key, `twofill_seal`).
//!
//! Nothing here is seed material or authorization data: the server keeps
//! grants and seeds; the laptop keeps only what proves which device it is.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};
use twofill_team_api::DeviceInfo;

/// Written last by [`save`]: a directory without it holds no identity.
pub const ENROLLMENT_FILE: &str = "device.json";
const CERT_FILE: &str = "device.crt";
const CA_FILE: &str = "ca.crt";
const KEY_FILE: &str = "device-key.json";
/// The key-encryption key when no keyring is usable.
const KEK_FILE: &str = "device.kek";
/// Binds the sealed key to its purpose.
const KEY_AAD: &[u8] = b"twofill-device-key/v1";

/// Who this device is, as the server said at `join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// The server URL it joined, as `ServerUrl` prints it.
    pub server: String,
    pub user: String,
    pub device: DeviceInfo,
}

/// Everything needed to talk to the server as this device.
pub struct Identity {
    pub enrollment: Enrollment,
    pub ca: CertificateDer<'static>,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

pub use super::sealed::KeyStorage;
use super::sealed::SealedSecret;

/// Stores a new identity in `dir`, replacing any earlier one. `keyring`
/// says whether to try the OS keyring first.
pub fn save(
    dir: &Path,
    enrollment: &Enrollment,
    cert_pem: &str,
    ca_pem: &str,
    key_pkcs8: &[u8],
    keyring: bool,
) -> Result<KeyStorage> {
    make_private_dir(dir)?;
    let storage = sealed_key(dir)
        .save(key_pkcs8, keyring)
        .context("cannot store the device's key")?;
    write_private(&dir.join(CERT_FILE), cert_pem.as_bytes())?;
    write_private(&dir.join(CA_FILE), ca_pem.as_bytes())?;
    write_private(
        &dir.join(ENROLLMENT_FILE),
        &serde_json::to_vec_pretty(enrollment)?,
    )?;
    Ok(storage)
}

/// Who this device is, without unsealing its key; `None` before `join`.
pub fn enrollment(dir: &Path) -> Result<Option<Enrollment>> {
    let path = dir.join(ENROLLMENT_FILE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .with_context(|| format!("{} is damaged", path.display()))
}

/// Records that the device now belongs to `user` (an `invite --sso`
/// device is its first sign-in's; the server decided, this is the
/// laptop's copy for `hello` and `whoami`).
pub fn set_user(dir: &Path, user: &str) -> Result<()> {
    let Some(mut enrollment) = enrollment(dir)? else {
        return Ok(());
    };
    if enrollment.user == user {
        return Ok(());
    }
    enrollment.user = user.to_owned();
    write_private(
        &dir.join(ENROLLMENT_FILE),
        &serde_json::to_vec_pretty(&enrollment)?,
    )
}

/// The whole identity, key unsealed; `None` before `join`.
pub fn load(dir: &Path) -> Result<Option<Identity>> {
    let Some(enrollment) = enrollment(dir)? else {
        return Ok(None);
    };
    let chain = certificates(&dir.join(CERT_FILE))?;
    let ca = certificates(&dir.join(CA_FILE))?
        .into_iter()
        .next()
        .expect("certificates() returns at least one");
    let der = sealed_key(dir)
        .open()
        .context("cannot unlock this device's key")?
        .ok_or_else(|| anyhow!("{} is missing", dir.join(KEY_FILE).display()))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()));
    Ok(Some(Identity {
        enrollment,
        ca,
        chain,
        key,
    }))
}

/// The device's private key, sealed in `dir`.
fn sealed_key(dir: &Path) -> SealedSecret<'static> {
    SealedSecret {
        file: dir.join(KEY_FILE),
        kek_file: dir.join(KEK_FILE),
        keyring_account: format!("device:{}", dir.display()),
        aad: KEY_AAD,
    }
}

/// The certificates of a PEM file (at least one).
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let certs = pem_certificates(&text)
        .with_context(|| format!("{} holds no certificate", path.display()))?;
    Ok(certs)
}

/// The certificates in PEM text (at least one).
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        bail!("no PEM certificate");
    }
    Ok(certs)
}

pub fn make_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes `bytes` to `path` through a temporary file and a rename, mode
/// 0600, so a crash leaves the old file or the new one, never half of one.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow!("cannot write {}: {e}", path.display())
    })
}
