//! Opened vaults, shared by the requests: the vault's API is synchronous
//! (SQLite and PostgreSQL blocking clients), so each request's vault work
//! runs on tokio's blocking pool with one handle taken from here.
//!
//! Several handles on one database are fine on both stores: writes take
//! turns (SQLite's write lock with a busy timeout, PostgreSQL's advisory
//! lock), so the audit chain stays one sequence. A handle whose work failed
//! on storage (database restarted, connection lost) is dropped, not put
//! back; the next request opens a new one, so the server recovers by itself
//! when the database comes back.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use twofill_seal::Protection;
use twofill_vault::{Policy, Vault};

use crate::config::Database;
use crate::http::ApiError;

/// Everything needed to open one more handle.
pub struct Opener {
    pub database: Database,
    pub protection: Protection,
    pub policy: Policy,
    pub rate_limit: crate::config::RateLimitConfig,
}

impl Opener {
    pub fn open(&self) -> twofill_vault::Result<Vault> {
        let mut vault = self.database.open(&self.protection)?;
        vault.set_policy(self.policy);
        vault.set_rate_limit(self.rate_limit.into());
        // The team's vault is the one place a HOTP counter lives, so it
        // may issue HOTP codes (a laptop's local vault may not).
        vault.set_hotp_allowed(true);
        Ok(vault)
    }
}

pub struct VaultPool {
    opener: Opener,
    idle: Mutex<Vec<Vault>>,
    /// Handles in use at once, at most.
    busy: Semaphore,
}

impl VaultPool {
    pub fn new(opener: Opener, handles: usize) -> VaultPool {
        VaultPool {
            opener,
            idle: Mutex::new(Vec::new()),
            busy: Semaphore::new(handles.max(1)),
        }
    }

    /// Opens one handle now, so that a wrong database URL or data key
    /// stops the server at start rather than at the first request.
    pub fn warm(&self) -> twofill_vault::Result<()> {
        let vault = self.opener.open()?;
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(vault);
        Ok(())
    }

    /// Runs `job` with a handle on the blocking pool. A storage failure
    /// (from opening or from `job`) is logged and becomes the generic
    /// "database unavailable" reply; a tampered authorization row is
    /// logged with its name and answered without it; a panic becomes an
    /// internal error.
    pub async fn run<R, F>(self: &Arc<Self>, job: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Vault) -> Result<R, ApiError> + Send + 'static,
    {
        let _turn = self.busy.acquire().await.expect("the pool is never closed");
        let pool = Arc::clone(self);
        match tokio::task::spawn_blocking(move || pool.with_handle(job)).await {
            Ok(outcome) => outcome,
            Err(e) => {
                // The handle went down with the job's stack, never back here.
                eprintln!("twofill-server: a request's vault work failed: {e}");
                Err(ApiError::internal())
            }
        }
    }

    fn with_handle<R>(
        &self,
        job: impl FnOnce(&mut Vault) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut vault = match idle {
            Some(v) => v,
            None => self.opener.open().map_err(|e| {
                eprintln!(
                    "twofill-server: cannot open the vault at {}: {e}",
                    self.opener.database.describe()
                );
                ApiError::storage_unavailable()
            })?,
        };
        let outcome = job(&mut vault);
        if let Err(e) = &outcome
            && e.is_storage_failure()
        {
            eprintln!("twofill-server: vault error: {}", e.body.message);
            return Err(ApiError::storage_unavailable());
        }
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(vault);
        match outcome {
            // The handle is fine; rows in the database are not. The row is
            // for the operator's log, not for the device.
            Err(e) if e.is_tampered() => {
                eprintln!("twofill-server: {}", e.body.message);
                Err(ApiError::tampered())
            }
            outcome => outcome,
        }
    }
}
