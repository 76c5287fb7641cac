//! A secret sealed in a 0600 file under a key-encryption key that lives in
//! the OS keyring when one is usable, else in a 0600 key file beside it
//! (the same envelope the vault uses for its data key, `twofill_seal`).
//! The device's private key and the sign-in's refresh token are kept so.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use twofill_seal::{DataKey, Protection, WrappedKey};

use super::device::write_private;

/// Where a sealed secret's key-encryption key ended up.
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
struct SealedFile {
    /// `twofill_seal::WrappedKey` JSON: the key that seals `key`, and where
    /// its own key is.
    kek: String,
    /// The secret, sealed, base64.
    key: String,
}

/// Where one sealed secret lives.
pub struct SealedSecret<'a> {
    /// The sealed secret's file.
    pub file: PathBuf,
    /// The key-encryption key's file when no keyring is usable.
    pub kek_file: PathBuf,
    /// The keyring entry's account (service `twofill`).
    pub keyring_account: String,
    /// Binds the sealed bytes to their purpose.
    pub aad: &'a [u8],
}

impl SealedSecret<'_> {
    /// Seals `secret` into [`Self::file`], replacing what was there.
    /// `keyring` says whether to try the OS keyring first.
    pub fn save(&self, secret: &[u8], keyring: bool) -> Result<KeyStorage> {
        let data_key = DataKey::generate();
        let in_keyring = Protection::Keyring {
            service: "twofill".into(),
            account: self.keyring_account.clone(),
        };
        let (wrapped, storage) = match keyring.then(|| {
            twofill_seal::keyring_available()
                .and_then(|()| twofill_seal::wrap(&data_key, &in_keyring))
        }) {
            Some(Ok(wrapped)) => {
                // A key file from an earlier save without a keyring is no longer used.
                let _ = std::fs::remove_file(&self.kek_file);
                (wrapped, KeyStorage::Keyring)
            }
            _ => {
                let wrapped =
                    twofill_seal::wrap(&data_key, &Protection::KeyFile(self.kek_file.clone()))
                        .with_context(|| {
                            format!("cannot create the key file {}", self.kek_file.display())
                        })?;
                (wrapped, KeyStorage::KeyFile(self.kek_file.clone()))
            }
        };
        let sealed = SealedFile {
            kek: wrapped.to_json(),
            key: BASE64.encode(&data_key.seal(secret, self.aad)),
        };
        write_private(&self.file, &serde_json::to_vec_pretty(&sealed)?)?;
        Ok(storage)
    }

    /// The secret; `None` when its file is absent.
    pub fn open(&self) -> Result<Option<twofill_seal::Zeroizing<Vec<u8>>>> {
        let path = &self.file;
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        open_sealed(path, &text, self.aad).map(Some)
    }

    /// Removes the sealed file and its key file (the keyring's key then
    /// opens nothing).
    pub fn remove(&self) -> Result<()> {
        for path in [&self.file, &self.kek_file] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                }
            }
        }
        Ok(())
    }
}

fn open_sealed(path: &Path, text: &[u8], aad: &[u8]) -> Result<twofill_seal::Zeroizing<Vec<u8>>> {
    let damaged = || format!("{} is damaged", path.display());
    let sealed: SealedFile = serde_json::from_slice(text).with_context(damaged)?;
    let wrapped = WrappedKey::from_json(&sealed.kek).with_context(damaged)?;
    let protection = wrapped
        .stored_protection()
        .ok_or_else(|| anyhow!("{}", damaged()))?;
    let data_key = twofill_seal::unwrap(&wrapped, &protection)
        .with_context(|| format!("cannot unlock {}", path.display()))?;
    let key = BASE64
        .decode(sealed.key.as_bytes())
        .map_err(|_| anyhow!("{}", damaged()))?;
    data_key.open(&key, aad).with_context(damaged)
}
