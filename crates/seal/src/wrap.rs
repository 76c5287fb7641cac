//! Protecting the data key: [`Protection`], [`WrappedKey`], [`wrap`], [`unwrap`].

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{DataKey, KEY_LEN, KeyBytes, SEAL_OVERHEAD, SealError, ct_eq, hkdf_expand, keyfile};

/// Version of the serialized [`WrappedKey`].
const WRAPPED_KEY_VERSION: u32 = 1;
/// Length of the Argon2 salt.
const SALT_LEN: usize = 16;
/// Length of the key check value.
const CHECK_LEN: usize = 16;

const INFO_WRAP_KEY: &[u8] = b"twofill-seal/wrap-key/v1";
const INFO_KEY_CHECK: &[u8] = b"twofill-seal/key-check/v1";

/// Argon2id cost parameters for [`Protection::Passphrase`].
///
/// [`Argon2Params::default`] (64 MiB, 3 passes, 1 lane) is what a vault
/// should use. Cheaper values are accepted (down to Argon2's minimum of
/// 8 KiB per lane) so tests run fast; values above [`Argon2Params::MAX`] are
/// refused, so a tampered vault cannot make the host allocate unbounded
/// memory or spin forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory cost, in KiB.
    pub m_cost_kib: u32,
    /// Number of passes over the memory.
    pub t_cost: u32,
    /// Degree of parallelism (lanes).
    pub p_cost: u32,
}

impl Argon2Params {
    /// The recommended parameters: 64 MiB, 3 passes, 1 lane.
    pub const DEFAULT: Argon2Params = Argon2Params {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// The largest accepted values, each on its own: 4 GiB, 64 passes, 64 lanes.
    pub const MAX: Argon2Params = Argon2Params {
        m_cost_kib: 4 * 1024 * 1024,
        t_cost: 64,
        p_cost: 64,
    };

    fn to_argon2(self) -> Result<argon2::Argon2<'static>, SealError> {
        let invalid = |reason: String| SealError::InvalidArgon2Params {
            m_cost_kib: self.m_cost_kib,
            t_cost: self.t_cost,
            p_cost: self.p_cost,
            reason,
        };
        let max = Argon2Params::MAX;
        if self.m_cost_kib > max.m_cost_kib || self.t_cost > max.t_cost || self.p_cost > max.p_cost
        {
            return Err(invalid(format!(
                "above the accepted maximum (m_cost_kib={}, t_cost={}, p_cost={})",
                max.m_cost_kib, max.t_cost, max.p_cost
            )));
        }
        let params = argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(KEY_LEN))
            .map_err(|e| invalid(e.to_string()))?;
        Ok(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params::DEFAULT
    }
}

/// How the data key is protected: where its key-encryption key comes from.
pub enum Protection {
    /// A random key in a file (created by [`wrap`] if missing, mode `0600`).
    KeyFile(PathBuf),
    /// A key derived from a passphrase with Argon2id. The parameters are used
    /// by [`wrap`]; [`unwrap`] uses the ones stored in the [`WrappedKey`].
    Passphrase(Zeroizing<String>, Argon2Params),
    /// A random key in the OS keyring under this service and account
    /// (created by [`wrap`] if missing). Needs the `keyring` feature.
    Keyring {
        /// The keyring entry's service name, e.g. `"twofill"`.
        service: String,
        /// The keyring entry's account name, e.g. the vault's path.
        account: String,
    },
}

impl Protection {
    /// A passphrase with the default (recommended) Argon2 parameters.
    pub fn passphrase(passphrase: impl Into<String>) -> Protection {
        Protection::Passphrase(Zeroizing::new(passphrase.into()), Argon2Params::DEFAULT)
    }

    /// Which kind of protection this is.
    pub fn kind(&self) -> ProtectionKind {
        match self {
            Protection::KeyFile(_) => ProtectionKind::KeyFile,
            Protection::Passphrase(..) => ProtectionKind::Passphrase,
            Protection::Keyring { .. } => ProtectionKind::Keyring,
        }
    }
}

impl fmt::Debug for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protection::KeyFile(path) => f.debug_tuple("KeyFile").field(path).finish(),
            Protection::Passphrase(_, params) => f
                .debug_tuple("Passphrase")
                .field(&format_args!("[redacted]"))
                .field(params)
                .finish(),
            Protection::Keyring { service, account } => f
                .debug_struct("Keyring")
                .field("service", service)
                .field("account", account)
                .finish(),
        }
    }
}

/// The kind of a [`Protection`], without its secret; `Display` reads well in
/// a sentence ("a key file", "a passphrase", "the OS keyring").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtectionKind {
    /// [`Protection::KeyFile`].
    KeyFile,
    /// [`Protection::Passphrase`].
    Passphrase,
    /// [`Protection::Keyring`].
    Keyring,
}

impl fmt::Display for ProtectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtectionKind::KeyFile => "a key file",
            ProtectionKind::Passphrase => "a passphrase",
            ProtectionKind::Keyring => "the OS keyring",
        })
    }
}

/// Public parameters of the protection, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The path is informational (where the key file was when wrapping);
    /// unwrap uses the path it is given.
    KeyFile {
        path: String,
    },
    Passphrase {
        salt: [u8; SALT_LEN],
        params: Argon2Params,
    },
    Keyring {
        service: String,
        account: String,
    },
}

impl Source {
    fn kind(&self) -> ProtectionKind {
        match self {
            Source::KeyFile { .. } => ProtectionKind::KeyFile,
            Source::Passphrase { .. } => ProtectionKind::Passphrase,
            Source::Keyring { .. } => ProtectionKind::Keyring,
        }
    }

    /// Associated data of the wrapped data key: binds it to the method and,
    /// for a passphrase, to the salt and cost parameters. Key file paths and
    /// keyring names are not bound: moving a key file is allowed.
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"twofill-seal/wrapped-data-key/v1\0".to_vec();
        match self {
            Source::KeyFile { .. } => aad.extend_from_slice(b"key_file"),
            Source::Keyring { .. } => aad.extend_from_slice(b"keyring"),
            Source::Passphrase { salt, params } => {
                aad.extend_from_slice(b"passphrase\0");
                aad.extend_from_slice(salt);
                for v in [params.m_cost_kib, params.t_cost, params.p_cost] {
                    aad.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        aad
    }
}

/// The data key as the vault stores it: encrypted under the key-encryption
/// key, with the public parameters of its [`Protection`] (method; salt and
/// Argon2 parameters; key file path or keyring entry) and a key check.
///
/// Store it with [`WrappedKey::to_json`] (one compact JSON object, fine for a
/// TEXT column) and read it back with [`WrappedKey::from_json`]. It holds no
/// secret: it is safe to print and to back up with the vault.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub(crate) source: Source,
    check: [u8; CHECK_LEN],
    wrapped: Vec<u8>,
}

/// The serialized form (version 1).
#[derive(Serialize, Deserialize)]
struct Repr {
    v: u32,
    #[serde(flatten)]
    source: SourceRepr,
    check: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
enum SourceRepr {
    KeyFile {
        path: String,
    },
    Passphrase {
        salt: String,
        m_cost_kib: u32,
        t_cost: u32,
        p_cost: u32,
    },
    Keyring {
        service: String,
        account: String,
    },
}

impl WrappedKey {
    /// How this key is protected.
    pub fn kind(&self) -> ProtectionKind {
        self.source.kind()
    }

    /// The protection this key was wrapped with, when it can be rebuilt from
    /// what is stored: the key file (at the path it had then) or the keyring
    /// entry. `None` for a passphrase, which only the user knows.
    pub fn stored_protection(&self) -> Option<Protection> {
        match &self.source {
            Source::KeyFile { path } => Some(Protection::KeyFile(PathBuf::from(path))),
            Source::Keyring { service, account } => Some(Protection::Keyring {
                service: service.clone(),
                account: account.clone(),
            }),
            Source::Passphrase { .. } => None,
        }
    }

    /// The Argon2 parameters, for a passphrase-protected key (e.g. to warn
    /// when they are below [`Argon2Params::DEFAULT`]).
    pub fn argon2_params(&self) -> Option<Argon2Params> {
        match &self.source {
            Source::Passphrase { params, .. } => Some(*params),
            _ => None,
        }
    }

    /// The compact JSON form, e.g.
    /// `{"v":1,"method":"key_file","path":"/x/vault.key","check":"…","key":"…"}`.
    pub fn to_json(&self) -> String {
        let source = match &self.source {
            Source::KeyFile { path } => SourceRepr::KeyFile { path: path.clone() },
            Source::Passphrase { salt, params } => SourceRepr::Passphrase {
                salt: B64.encode(salt),
                m_cost_kib: params.m_cost_kib,
                t_cost: params.t_cost,
                p_cost: params.p_cost,
            },
            Source::Keyring { service, account } => SourceRepr::Keyring {
                service: service.clone(),
                account: account.clone(),
            },
        };
        let repr = Repr {
            v: WRAPPED_KEY_VERSION,
            source,
            check: B64.encode(self.check),
            key: B64.encode(&self.wrapped),
        };
        serde_json::to_string(&repr).expect("a struct of strings and integers serializes")
    }

    /// Parses [`WrappedKey::to_json`]'s output.
    ///
    /// # Errors
    ///
    /// [`SealError::WrappedKeyMalformed`] if it is not that (other version,
    /// bad JSON, wrong lengths, out-of-range Argon2 parameters).
    pub fn from_json(json: &str) -> Result<WrappedKey, SealError> {
        let malformed = |reason: String| SealError::WrappedKeyMalformed { reason };
        // Look at the version first so that a newer format is reported as such.
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let version: Version =
            serde_json::from_str(json).map_err(|e| malformed(format!("not a wrapped key: {e}")))?;
        if version.v != WRAPPED_KEY_VERSION {
            return Err(malformed(format!(
                "format version {} is not supported, only {WRAPPED_KEY_VERSION}",
                version.v
            )));
        }
        let repr: Repr =
            serde_json::from_str(json).map_err(|e| malformed(format!("not a wrapped key: {e}")))?;
        let decode = |field: &str, value: &str, len: usize| -> Result<Vec<u8>, SealError> {
            let bytes = B64
                .decode(value)
                .map_err(|_| malformed(format!("field {field:?} is not base64")))?;
            if bytes.len() != len {
                return Err(malformed(format!(
                    "field {field:?} has {} bytes, expected {len}",
                    bytes.len()
                )));
            }
            Ok(bytes)
        };
        let source = match repr.source {
            SourceRepr::KeyFile { path } => Source::KeyFile { path },
            SourceRepr::Passphrase {
                salt,
                m_cost_kib,
                t_cost,
                p_cost,
            } => {
                let params = Argon2Params {
                    m_cost_kib,
                    t_cost,
                    p_cost,
                };
                params.to_argon2().map_err(|e| malformed(e.to_string()))?;
                Source::Passphrase {
                    salt: decode("salt", &salt, SALT_LEN)?
                        .try_into()
                        .expect("length checked"),
                    params,
                }
            }
            SourceRepr::Keyring { service, account } => Source::Keyring { service, account },
        };
        Ok(WrappedKey {
            source,
            check: decode("check", &repr.check, CHECK_LEN)?
                .try_into()
                .expect("length checked"),
            wrapped: decode("key", &repr.key, KEY_LEN + SEAL_OVERHEAD)?,
        })
    }
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKey")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The key that wraps the data key, and the key check, both from the KEK.
fn derive_from_kek(kek: &[u8; KEY_LEN]) -> (KeyBytes, [u8; CHECK_LEN]) {
    let wrap_key = hkdf_expand(kek, INFO_WRAP_KEY);
    let full_check = hkdf_expand(kek, INFO_KEY_CHECK);
    let mut check = [0u8; CHECK_LEN];
    check.copy_from_slice(&full_check[..CHECK_LEN]);
    (wrap_key, check)
}

/// Argon2id(passphrase, salt) with `params`, 32 bytes.
pub(crate) fn passphrase_kek(
    passphrase: &str,
    salt: &[u8],
    params: Argon2Params,
) -> Result<KeyBytes, SealError> {
    if passphrase.is_empty() {
        return Err(SealError::EmptyPassphrase);
    }
    let argon2 = params.to_argon2()?;
    let mut kek = Zeroizing::new([0u8; KEY_LEN]);
    argon2
        .hash_password_into(passphrase.as_bytes(), salt, &mut kek[..])
        .map_err(|e| SealError::InvalidArgon2Params {
            m_cost_kib: params.m_cost_kib,
            t_cost: params.t_cost,
            p_cost: params.p_cost,
            reason: e.to_string(),
        })?;
    Ok(kek)
}

fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Wraps `dek` under the key-encryption key of `protection`, creating that
/// key if it does not exist yet: a new key file (mode `0600`), or a new
/// keyring entry. An existing key file or keyring entry is reused as is, so
/// several vaults may share one. For a passphrase, a new random salt is
/// drawn each time.
///
/// # Errors
///
/// Anything about reading or creating the key file or keyring entry (see
/// [`SealError`]), [`SealError::EmptyPassphrase`],
/// [`SealError::InvalidArgon2Params`], [`SealError::KeyringNotBuilt`].
pub fn wrap(dek: &DataKey, protection: &Protection) -> Result<WrappedKey, SealError> {
    let (source, kek) = match protection {
        Protection::KeyFile(path) => (
            Source::KeyFile { path: lossy(path) },
            keyfile::load_or_create(path)?,
        ),
        Protection::Passphrase(passphrase, params) => {
            let mut salt = [0u8; SALT_LEN];
            crate::fill_random(&mut salt);
            let kek = passphrase_kek(passphrase, &salt, *params)?;
            (
                Source::Passphrase {
                    salt,
                    params: *params,
                },
                kek,
            )
        }
        Protection::Keyring { service, account } => (
            Source::Keyring {
                service: service.clone(),
                account: account.clone(),
            },
            crate::keyring::load_or_create(service, account)?,
        ),
    };
    let (wrap_key, check) = derive_from_kek(&kek);
    let wrapped = crate::seal_with(&wrap_key, dek.bytes(), &source.aad());
    Ok(WrappedKey {
        source,
        check,
        wrapped,
    })
}

/// Recovers the data key from `wrapped` with `protection`, which must be of
/// the same kind as the one used by [`wrap`]. Never creates anything.
///
/// A key file is taken from the path given here (the stored path may be
/// stale if the file was moved); a passphrase is stretched with the stored
/// salt and parameters (the ones in `protection` are ignored).
///
/// # Errors
///
/// The ones that tell the user what to do: [`SealError::WrongPassphrase`],
/// [`SealError::WrongKeyFile`], [`SealError::WrongKeyringKey`] (a different
/// key), [`SealError::WrappedKeyTampered`] (right key, altered wrapped key),
/// [`SealError::ProtectionMismatch`], and everything about reading the key
/// file or the keyring ([`SealError::KeyFileMissing`],
/// [`SealError::KeyFileInsecure`], [`SealError::KeyringUnavailable`], ...).
pub fn unwrap(wrapped: &WrappedKey, protection: &Protection) -> Result<DataKey, SealError> {
    let kind = wrapped.kind();
    let (kek, wrong_key) = match (&wrapped.source, protection) {
        (Source::KeyFile { .. }, Protection::KeyFile(path)) => (
            keyfile::load(path)?,
            SealError::WrongKeyFile { path: path.clone() },
        ),
        (Source::Passphrase { salt, params }, Protection::Passphrase(passphrase, _)) => (
            passphrase_kek(passphrase, salt, *params)?,
            SealError::WrongPassphrase,
        ),
        (Source::Keyring { .. }, Protection::Keyring { service, account }) => (
            crate::keyring::load(service, account)?,
            SealError::WrongKeyringKey {
                service: service.clone(),
                account: account.clone(),
            },
        ),
        _ => {
            return Err(SealError::ProtectionMismatch {
                stored: kind,
                given: protection.kind(),
            });
        }
    };
    let (wrap_key, check) = derive_from_kek(&kek);
    if !ct_eq(&check, &wrapped.check) {
        return Err(wrong_key);
    }
    let plain = crate::open_with(&wrap_key, &wrapped.wrapped, &wrapped.source.aad())
        .map_err(|_| SealError::WrappedKeyTampered { kind })?;
    if plain.len() != KEY_LEN {
        return Err(SealError::WrappedKeyTampered { kind });
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&plain);
    Ok(DataKey::from_bytes(key))
}

/// Re-keys: unwraps with `old` and wraps the same data key with `new`.
/// Sealed values stay valid; store the returned key in place of `wrapped`.
///
/// # Errors
///
/// Those of [`unwrap`], then those of [`wrap`].
pub fn rewrap(
    wrapped: &WrappedKey,
    old: &Protection,
    new: &Protection,
) -> Result<WrappedKey, SealError> {
    let dek = unwrap(wrapped, old)?;
    wrap(&dek, new)
}
