//! The key-encryption key in the OS keyring (feature `keyring`).
//!
//! Uses the `keyring` crate's platform store: the Secret Service over D-Bus
//! (pure Rust, via zbus) on Linux and the BSDs, Keychain on macOS, the
//! Credential Manager on Windows. The key is stored as a 32-byte binary
//! secret under the given service and account.

use crate::{KeyBytes, SealError};

/// Whether the OS keyring can be used: `Ok(())` if its service answers.
///
/// Fails fast with [`SealError::KeyringUnavailable`] when it cannot, e.g.
/// on Linux without a D-Bus session bus or without a Secret Service on it
/// (as on most headless machines and CI), or when it does not answer within
/// a few seconds; callers can then fall back to a key file. Returns
/// [`SealError::KeyringNotBuilt`] without the `keyring` feature.
///
/// The first check is remembered for the life of the process (the `keyring`
/// crate connects once).
pub fn keyring_available() -> Result<(), SealError> {
    imp::available()
}

pub(crate) fn load(service: &str, account: &str) -> Result<KeyBytes, SealError> {
    imp::load(service, account)
}

pub(crate) fn load_or_create(service: &str, account: &str) -> Result<KeyBytes, SealError> {
    imp::load_or_create(service, account)
}

#[cfg(not(feature = "keyring"))]
mod imp {
    use crate::{KeyBytes, SealError};

    pub(super) fn available() -> Result<(), SealError> {
        Err(SealError::KeyringNotBuilt)
    }

    pub(super) fn load(_service: &str, _account: &str) -> Result<KeyBytes, SealError> {
        Err(SealError::KeyringNotBuilt)
    }

    pub(super) fn load_or_create(_service: &str, _account: &str) -> Result<KeyBytes, SealError> {
        Err(SealError::KeyringNotBuilt)
    }
}

#[cfg(feature = "keyring")]
mod imp {
    use std::sync::mpsc;
    use std::time::Duration;

    use keyring::{Entry, Error};
    use zeroize::Zeroizing;

    use crate::{KEY_LEN, KeyBytes, SealError, random_key};

    /// How long to wait for the keyring service to answer the first time.
    /// Connecting involves no user prompt, so a live service answers in
    /// milliseconds; a D-Bus activation that cannot succeed would otherwise
    /// take the bus's own 25 s timeout.
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    pub(super) fn available() -> Result<(), SealError> {
        let (tx, rx) = mpsc::channel();
        // The connection is made once per process, on this thread; if it
        // hangs, the thread is left behind and later calls time out too.
        std::thread::Builder::new()
            .name("twofill-keyring-probe".into())
            .spawn(move || {
                let status = Entry::store_status().as_ref().map(|_| ()).map_err(describe);
                let _ = tx.send(status);
            })
            .map_err(|e| SealError::KeyringUnavailable {
                reason: format!("cannot start a thread to reach it: {e}"),
            })?;
        match rx.recv_timeout(CONNECT_TIMEOUT) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(SealError::KeyringUnavailable { reason }),
            Err(_) => Err(SealError::KeyringUnavailable {
                reason: format!(
                    "its service did not answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ),
            }),
        }
    }

    fn entry(service: &str, account: &str) -> Result<Entry, SealError> {
        available()?;
        Entry::new(service, account).map_err(|e| to_error(e, service, account))
    }

    pub(super) fn load(service: &str, account: &str) -> Result<KeyBytes, SealError> {
        let entry = entry(service, account)?;
        read(&entry, service, account)
    }

    pub(super) fn load_or_create(service: &str, account: &str) -> Result<KeyBytes, SealError> {
        let entry = entry(service, account)?;
        match read(&entry, service, account) {
            Err(SealError::KeyringEntryMissing { .. }) => {}
            other => return other,
        }
        let key = random_key();
        entry
            .set_secret(&key[..])
            .map_err(|e| to_error(e, service, account))?;
        // Read it back: this proves the store really keeps it and, should
        // another process have raced us, makes us use what is stored.
        read(&entry, service, account)
    }

    fn read(entry: &Entry, service: &str, account: &str) -> Result<KeyBytes, SealError> {
        let secret = Zeroizing::new(
            entry
                .get_secret()
                .map_err(|e| to_error(e, service, account))?,
        );
        if secret.len() != KEY_LEN {
            return Err(SealError::KeyringEntryMalformed {
                service: service.to_owned(),
                account: account.to_owned(),
                reason: format!("it holds {} bytes instead of {KEY_LEN}", secret.len()),
            });
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&secret);
        Ok(key)
    }

    /// A description of a keyring error that never includes secret bytes
    /// (some variants carry the stored data).
    fn describe(e: &Error) -> String {
        match e {
            Error::PlatformFailure(inner) => inner.to_string(),
            Error::NoStorageAccess(inner) => format!("no access to the store: {inner}"),
            Error::NoEntry => "no such entry".into(),
            Error::BadEncoding(_) | Error::BadDataFormat(..) => "unexpected data format".into(),
            Error::BadStoreFormat(what) => format!("the store is damaged: {what}"),
            Error::TooLong(what, limit) => format!("{what} is longer than {limit}"),
            Error::Invalid(what, why) => format!("invalid {what}: {why}"),
            Error::Ambiguous(entries) => format!("{} entries match", entries.len()),
            Error::NoDefaultStore => "no credential store could be opened".into(),
            Error::NotSupportedByStore(what) => format!("not supported by the store: {what}"),
            _ => "unknown keyring error".into(),
        }
    }

    fn to_error(e: Error, service: &str, account: &str) -> SealError {
        let (service, account) = (service.to_owned(), account.to_owned());
        match e {
            Error::NoEntry => SealError::KeyringEntryMissing { service, account },
            Error::NoDefaultStore => SealError::KeyringUnavailable {
                reason: describe(&e),
            },
            Error::BadEncoding(_) | Error::BadDataFormat(..) | Error::Ambiguous(_) => {
                SealError::KeyringEntryMalformed {
                    service,
                    account,
                    reason: describe(&e),
                }
            }
            _ => SealError::Keyring {
                service,
                account,
                reason: describe(&e),
            },
        }
    }
}
