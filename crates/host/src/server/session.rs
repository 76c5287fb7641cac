//! This device's single sign-on session, beside its identity: the ticket
//! and what the server said about it in `sso-session.json` (0600; a ticket
//! lives minutes), the refresh token sealed in `sso-refresh.json` under a
//! key in the OS keyring when one is usable, else in a 0600 key file
//! (`sso-refresh.kek`).
//!
//! Several host processes may run at once (a browser starts one per
//! message), and a refresh token is good for one refresh only (the
//! provider rotates it): a refresh happens under an exclusive lock on
//! `sso.lock`, and whoever gets it second finds the fresh ticket and
//! uses it instead of refreshing again.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use twofill_seal::Zeroizing;

use super::device::{make_private_dir, write_private};
use super::sealed::{KeyStorage, SealedSecret};

pub const SESSION_FILE: &str = "sso-session.json";
pub const REFRESH_FILE: &str = "sso-refresh.json";
pub const REFRESH_KEK_FILE: &str = "sso-refresh.kek";
const LOCK_FILE: &str = "sso.lock";
const REFRESH_AAD: &[u8] = b"twofill-sso-refresh-token/v1";
/// A ticket this close to its expiry is refreshed before use, so it does
/// not run out on its way to the server.
pub const EXPIRY_MARGIN_MS: i64 = 5_000;

/// The session as the server answered it, and for which server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    /// The server URL (as `ServerUrl` prints it) that issued the ticket.
    pub server: String,
    pub ticket: String,
    pub user: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub admin: bool,
    /// Unix ms: the ticket's end (refresh then).
    pub expires_at_ms: i64,
    /// Unix ms: the session's end (sign in again then).
    pub session_max_at_ms: i64,
    /// Unix ms: when the user last signed in at the provider.
    pub signed_in_at_ms: i64,
    /// The organization, for "Sign in to …".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
}

impl StoredSession {
    /// The ticket is still worth sending at `now_ms`.
    pub fn ticket_fresh(&self, now_ms: i64) -> bool {
        now_ms + EXPIRY_MARGIN_MS < self.expires_at_ms
    }
}

/// The session files in one identity directory.
pub struct SessionStore {
    dir: PathBuf,
}

/// Held while a refresh runs; released on drop.
pub struct SessionLock {
    _file: File,
}

impl SessionStore {
    pub fn new(identity_dir: &Path) -> SessionStore {
        SessionStore {
            dir: identity_dir.to_owned(),
        }
    }

    pub fn session_path(&self) -> PathBuf {
        self.dir.join(SESSION_FILE)
    }

    fn refresh(&self) -> SealedSecret<'static> {
        SealedSecret {
            file: self.dir.join(REFRESH_FILE),
            kek_file: self.dir.join(REFRESH_KEK_FILE),
            keyring_account: format!("sso:{}", self.dir.display()),
            aad: REFRESH_AAD,
        }
    }

    /// The stored session; `None` when signed out. A damaged file counts
    /// as signed out (the user signs in again, nothing is lost).
    pub fn load(&self) -> Result<Option<StoredSession>> {
        let path = self.session_path();
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(serde_json::from_slice(&text).ok())
    }

    /// The refresh token, if the server gave one.
    pub fn refresh_token(&self) -> Result<Option<Zeroizing<String>>> {
        Ok(self
            .refresh()
            .open()?
            .map(|bytes| Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())))
    }

    /// Stores a new session, replacing the old one. A session without a
    /// refresh token removes the old token (it was rotated away). Returns
    /// where the refresh token's key is, when there is one.
    pub fn save(
        &self,
        session: &StoredSession,
        refresh_token: Option<&str>,
        keyring: bool,
    ) -> Result<Option<KeyStorage>> {
        make_private_dir(&self.dir)?;
        let storage = match refresh_token {
            Some(token) => Some(
                self.refresh()
                    .save(token.as_bytes(), keyring)
                    .context("cannot store the sign-in's refresh token")?,
            ),
            None => {
                self.refresh().remove()?;
                None
            }
        };
        write_private(&self.session_path(), &serde_json::to_vec_pretty(session)?)?;
        Ok(storage)
    }

    /// Signs out locally: the ticket and the refresh token are gone.
    pub fn remove(&self) -> Result<()> {
        self.refresh().remove()?;
        match std::fs::remove_file(self.session_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                Err(e).with_context(|| format!("cannot remove {}", self.session_path().display()))
            }
        }
    }

    /// Waits for the exclusive right to refresh this device's session.
    pub fn lock(&self) -> Result<SessionLock> {
        make_private_dir(&self.dir)?;
        let path = self.dir.join(LOCK_FILE);
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a file descriptor we own; no memory involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        Ok(SessionLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> StoredSession {
        StoredSession {
            server: "https://vault.example".into(),
            ticket: "t1".into(),
            user: "alice@example.com".into(),
            groups: vec!["ops".into()],
            admin: false,
            expires_at_ms: 1_000_000,
            session_max_at_ms: 2_000_000,
            signed_in_at_ms: 500_000,
            org_name: Some("Example".into()),
        }
    }

    #[test]
    fn a_session_round_trips_its_files_are_private_and_remove_clears_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::new(&dir.path().join("device"));
        assert_eq!(store.load().unwrap(), None);
        assert!(store.refresh_token().unwrap().is_none());
        let storage = store.save(&session(), Some("rt-1"), false).unwrap();
        assert!(matches!(storage, Some(KeyStorage::KeyFile(_))));
        assert_eq!(store.load().unwrap(), Some(session()));
        assert_eq!(store.refresh_token().unwrap().unwrap().as_str(), "rt-1");
        let sealed = std::fs::read_to_string(dir.path().join("device").join(REFRESH_FILE)).unwrap();
        assert!(!sealed.contains("rt-1"), "the refresh token is sealed");
        #[cfg(unix)]
        for name in [SESSION_FILE, REFRESH_FILE, REFRESH_KEK_FILE] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("device").join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        // A rotated session without a new refresh token drops the old one.
        store.save(&session(), None, false).unwrap();
        assert!(store.refresh_token().unwrap().is_none());
        store.save(&session(), Some("rt-2"), false).unwrap();
        store.remove().unwrap();
        assert_eq!(store.load().unwrap(), None);
        for name in [SESSION_FILE, REFRESH_FILE, REFRESH_KEK_FILE] {
            assert!(!dir.path().join("device").join(name).exists(), "{name}");
        }
        store.remove().unwrap();
    }

    #[test]
    fn a_ticket_near_its_end_is_not_fresh() {
        let s = session();
        assert!(s.ticket_fresh(s.expires_at_ms - EXPIRY_MARGIN_MS - 1));
        assert!(!s.ticket_fresh(s.expires_at_ms - EXPIRY_MARGIN_MS));
        assert!(!s.ticket_fresh(s.expires_at_ms + 1));
    }
}
