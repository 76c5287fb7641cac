//! This device's identity in team server mode, in one directory: who it is
//! (`device.json`, no secret), its certificate, the CA it pinned, and its
//! private key sealed with a key that lives in the OS keyring when one is
//! usable, else in a 0600 key file beside it (the same envelope the vault
//! uses for its data key, `twofill_seal`).
//!
//! Nothing here is seed material or authorization data: the server keeps
//! grants and seeds; the laptop keeps only what proves which device it is.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use data_encoding::BASE64;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};
use twofill_seal::{DataKey, Protection, WrappedKey};
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

/// Where the private key's protection ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStorage {
    Keyring,
    KeyFile(PathBuf),
}

impl std::fmt::Display for KeyStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyStorage::Keyring => f.write_str("the OS keyring"),
            KeyStorage::KeyFile(p) => write!(f, "the key file {} (mode 0600)", p.display()),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct SealedKey {
    /// `twofill_seal::WrappedKey` JSON: the key that seals `key`, and where
    /// its own key is.
    kek: String,
    /// The PKCS#8 private key, sealed, base64.
    key: String,
}

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
    let data_key = DataKey::generate();
    let in_keyring = Protection::Keyring {
        service: "twofill".into(),
        account: format!("device:{}", dir.display()),
    };
    let kek_file = dir.join(KEK_FILE);
    let (wrapped, storage) = match keyring.then(|| {
        twofill_seal::keyring_available().and_then(|()| twofill_seal::wrap(&data_key, &in_keyring))
    }) {
        Some(Ok(wrapped)) => {
            // A key file from an earlier join without a keyring is no longer used.
            let _ = std::fs::remove_file(&kek_file);
            (wrapped, KeyStorage::Keyring)
        }
        _ => {
            let wrapped = twofill_seal::wrap(&data_key, &Protection::KeyFile(kek_file.clone()))
                .context("cannot create the device's key file")?;
            (wrapped, KeyStorage::KeyFile(kek_file))
        }
    };
    let sealed = SealedKey {
        kek: wrapped.to_json(),
        key: BASE64.encode(&data_key.seal(key_pkcs8, KEY_AAD)),
    };
    write_private(&dir.join(KEY_FILE), &serde_json::to_vec_pretty(&sealed)?)?;
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
    let key = unseal_key(&dir.join(KEY_FILE))?;
    Ok(Some(Identity {
        enrollment,
        ca,
        chain,
        key,
    }))
}

fn unseal_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let damaged = || format!("{} is damaged", path.display());
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let sealed: SealedKey = serde_json::from_slice(&text).with_context(damaged)?;
    let wrapped = WrappedKey::from_json(&sealed.kek).with_context(damaged)?;
    let protection = wrapped
        .stored_protection()
        .ok_or_else(|| anyhow!("{}", damaged()))?;
    let data_key =
        twofill_seal::unwrap(&wrapped, &protection).context("cannot unlock this device's key")?;
    let key = BASE64
        .decode(sealed.key.as_bytes())
        .map_err(|_| anyhow!("{}", damaged()))?;
    let der = data_key.open(&key, KEY_AAD).with_context(damaged)?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec())))
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

fn make_private_dir(dir: &Path) -> Result<()> {
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
