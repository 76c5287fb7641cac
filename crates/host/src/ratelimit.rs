//! Rate limiting of code fills per user and origin.
//!
//! A page that can trigger fills (an XSS on a bound site, or a page that
//! keeps rebuilding its code field) could otherwise harvest a code every
//! time it asks. The limit caps how many codes one user gets for one origin:
//! at most `codes` in `window_seconds` and at most `burst` in
//! `burst_seconds` (sliding windows; defaults 10 a minute, 5 in 10 s).
//!
//! Browsers start a new host process for every `sendNativeMessage`, so a
//! counter in memory would start from zero each time. The limiter's memory
//! is the audit log instead: every code handed out is already a durable,
//! hash-chained `code.fill` record naming the user, the origin and the time,
//! so the limiter counts those ([`FillHistory`]). Nothing new is stored, the
//! count is shared by every host process on the vault and survives restarts,
//! and it cannot be reset without breaking the chain (`audit verify`).
//!
//! Checking and then issuing must not interleave between two host processes
//! (each would see the same count and both would issue), so the host holds
//! an exclusive lock on a file next to the vault ([`FillLock`]) from the
//! check until the code's audit record is committed.
//!
//! Only fills are limited: `copy` and `view` come from the extension's own
//! popup, on a click, and no page can send them.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use twofill_vault::{AuditAction, Vault};

use crate::config::RateLimit;

/// Most audit records read back for one decision. Past it the log is busier
/// than any person filling codes, and the request is refused (fail closed).
const SCAN_LIMIT: usize = 20_000;

/// Where recent fills are looked up. Implemented for [`Vault`] over the
/// audit log; a vault query with an index on (user, origin, time) would be a
/// drop-in replacement.
pub trait FillHistory {
    /// Times (ms since the Unix epoch), newest first, of codes filled for
    /// `user` on `origin` at or after `since_ms`; at most `max` of them.
    fn recent_fills(
        &self,
        user: &str,
        origin: &str,
        since_ms: i64,
        max: usize,
    ) -> Result<Vec<i64>, HistoryError>;
}

#[derive(Debug)]
pub enum HistoryError {
    /// More records in the window than [`SCAN_LIMIT`].
    TooBusy,
    /// The vault could not be read.
    Vault(twofill_vault::VaultError),
}

impl FillHistory for Vault {
    fn recent_fills(
        &self,
        user: &str,
        origin: &str,
        since_ms: i64,
        max: usize,
    ) -> Result<Vec<i64>, HistoryError> {
        const CHUNK: i64 = 256;
        let mut found = Vec::new();
        if max == 0 {
            return Ok(found);
        }
        let mut scanned = 0;
        let mut hi = self.audit_head_seq().map_err(HistoryError::Vault)?;
        while hi > 0 {
            let lo = (hi - CHUNK).max(0);
            let records = self
                .audit_records(lo, hi - lo)
                .map_err(HistoryError::Vault)?;
            if records.is_empty() {
                break;
            }
            // Newest first; `seq <= hi` guards against gaps in the sequence.
            for r in records.iter().rev().filter(|r| r.seq <= hi) {
                if r.time_ms < since_ms {
                    return Ok(found);
                }
                scanned += 1;
                let e = &r.event;
                if e.success
                    && e.action == AuditAction::CodeFill
                    && e.user == user
                    && e.origin.as_deref() == Some(origin)
                {
                    found.push(r.time_ms);
                    if found.len() >= max {
                        return Ok(found);
                    }
                }
            }
            if scanned > SCAN_LIMIT {
                return Err(HistoryError::TooBusy);
            }
            hi = lo;
        }
        Ok(found)
    }
}

/// What the limiter decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny {
        /// When the next fill for this origin can succeed.
        retry_after_ms: u64,
        message: String,
    },
}

impl RateLimit {
    fn window_ms(&self) -> u64 {
        self.window_seconds.saturating_mul(1000)
    }

    fn burst_window_ms(&self) -> u64 {
        self.burst_seconds.saturating_mul(1000)
    }

    fn window_on(&self) -> bool {
        self.codes > 0 && self.window_seconds > 0
    }

    fn burst_on(&self) -> bool {
        self.burst > 0 && self.burst_seconds > 0
    }

    /// Whether any limit applies.
    pub fn enabled(&self) -> bool {
        self.window_on() || self.burst_on()
    }

    /// Decides whether `user` may have another code for `origin` at `now_ms`.
    pub fn check(
        &self,
        history: &impl FillHistory,
        user: &str,
        origin: &str,
        now_ms: i64,
    ) -> Result<Decision, twofill_vault::VaultError> {
        if !self.enabled() {
            return Ok(Decision::Allow);
        }
        let span = self.window_ms().max(self.burst_window_ms());
        let since = now_ms.saturating_sub(i64::try_from(span).unwrap_or(i64::MAX)) + 1;
        let want = (self.codes.max(self.burst)) as usize;
        match history.recent_fills(user, origin, since, want) {
            Ok(times) => Ok(self.decide(&times, now_ms)),
            Err(HistoryError::Vault(e)) => Err(e),
            Err(HistoryError::TooBusy) => Ok(Decision::Deny {
                retry_after_ms: span,
                message: format!(
                    "the audit log holds more than {SCAN_LIMIT} records from the last {} s; refusing codes until it is quieter",
                    span / 1000
                ),
            }),
        }
    }

    /// The decision for fills at `times` (ms, newest first).
    pub fn decide(&self, times: &[i64], now_ms: i64) -> Decision {
        // The n-th most recent fill must have left its window before
        // another one is allowed.
        let wait = |n: u32, window_ms: u64| -> Option<u64> {
            let t = *times.get(n.checked_sub(1)? as usize)?;
            let until = t.saturating_add(i64::try_from(window_ms).unwrap_or(i64::MAX));
            (until > now_ms).then(|| ((until - now_ms) as u64).min(window_ms))
        };
        let mut denied: Option<(u64, String)> = None;
        let mut deny = |ms: u64, what: String| {
            if denied.as_ref().is_none_or(|(d, _)| ms > *d) {
                denied = Some((ms, what));
            }
        };
        if self.window_on()
            && let Some(ms) = wait(self.codes, self.window_ms())
        {
            deny(
                ms,
                format!("{} codes in {} s", self.codes, self.window_seconds),
            );
        }
        if self.burst_on()
            && let Some(ms) = wait(self.burst, self.burst_window_ms())
        {
            deny(
                ms,
                format!("{} codes in {} s", self.burst, self.burst_seconds),
            );
        }
        match denied {
            None => Decision::Allow,
            Some((ms, what)) => {
                let ms = ms.max(1);
                Decision::Deny {
                    retry_after_ms: ms,
                    message: format!(
                        "too many codes for this site: the limit is {what} per user and site; try again in {} s",
                        ms.div_ceil(1000)
                    ),
                }
            }
        }
    }
}

/// An exclusive lock on `<vault>-fills.lock`, held from the rate-limit
/// check until the code's audit record is committed. Released on drop.
pub struct FillLock {
    _file: File,
}

/// How long to wait for another host process to finish its fill.
const LOCK_WAIT: Duration = Duration::from_secs(5);

impl FillLock {
    pub fn path_for(vault: &Path) -> PathBuf {
        let mut name = vault.file_name().unwrap_or_default().to_owned();
        name.push("-fills.lock");
        vault.with_file_name(name)
    }

    pub fn acquire(vault: &Path) -> std::io::Result<FillLock> {
        let path = Self::path_for(vault);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path)?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FillLock { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "{} is held by another twofill-host for more than {} s",
                            path.display(),
                            LOCK_WAIT.as_secs()
                        ),
                    ));
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(codes: u32, window_seconds: u64, burst: u32, burst_seconds: u64) -> RateLimit {
        RateLimit {
            codes,
            window_seconds,
            burst,
            burst_seconds,
        }
    }

    /// A history that answers from a list, as the vault would.
    struct Fills(Vec<(&'static str, &'static str, i64)>);

    impl FillHistory for Fills {
        fn recent_fills(
            &self,
            user: &str,
            origin: &str,
            since_ms: i64,
            max: usize,
        ) -> Result<Vec<i64>, HistoryError> {
            let mut t: Vec<i64> = self
                .0
                .iter()
                .filter(|(u, o, t)| *u == user && *o == origin && *t >= since_ms)
                .map(|(_, _, t)| *t)
                .collect();
            t.sort_by(|a, b| b.cmp(a));
            t.truncate(max);
            Ok(t)
        }
    }

    #[test]
    fn defaults_are_ten_a_minute_and_five_in_ten_seconds() {
        let d = RateLimit::default();
        assert_eq!(d, limits(10, 60, 5, 10));
        assert!(d.enabled());
        assert!(!limits(0, 60, 0, 10).enabled());
        assert!(!limits(10, 0, 5, 0).enabled());
    }

    #[test]
    fn burst_then_window() {
        let l = limits(10, 60, 5, 10);
        let now = 1_000_000;
        // Four in the last second: the fifth is allowed.
        let t: Vec<i64> = (0..4).map(|i| now - 100 * i).collect();
        assert_eq!(l.decide(&t, now), Decision::Allow);
        // Five: the sixth waits until the oldest of them is 10 s old.
        let t: Vec<i64> = (0..5).map(|i| now - 1000 * i).collect();
        match l.decide(&t, now) {
            Decision::Deny {
                retry_after_ms,
                message,
            } => {
                assert_eq!(retry_after_ms, 6000);
                assert!(message.contains("5 codes in 10 s"), "{message}");
                assert!(message.contains("try again in 6 s"), "{message}");
            }
            d => panic!("{d:?}"),
        }
        // Ten spread over the minute (none in the burst window's reach of
        // five): the window limit applies until the tenth is a minute old.
        let t: Vec<i64> = (0..10).map(|i| now - 5000 * i - 1).collect();
        match l.decide(&t, now) {
            Decision::Deny { retry_after_ms, .. } => assert_eq!(retry_after_ms, 60_000 - 45_001),
            d => panic!("{d:?}"),
        }
        // The same ten, a minute later: allowed again.
        assert_eq!(l.decide(&t, now + 60_000), Decision::Allow);
    }

    #[test]
    fn the_longer_wait_wins_and_is_never_zero() {
        let l = limits(3, 60, 2, 10);
        let now = 500_000;
        let t = [now, now - 1, now - 2];
        match l.decide(&t, now) {
            Decision::Deny { retry_after_ms, .. } => assert_eq!(retry_after_ms, 60_000 - 2),
            d => panic!("{d:?}"),
        }
        // A fill stamped in the future (clock stepped back): the wait is
        // capped at one window, not unbounded.
        match l.decide(&[now + 3_600_000; 3], now) {
            Decision::Deny { retry_after_ms, .. } => assert_eq!(retry_after_ms, 60_000),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn counts_are_per_user_and_origin() {
        let l = limits(2, 60, 0, 0);
        let now = 100_000;
        let h = Fills(vec![
            ("bob", "https://a.example", now - 10),
            ("bob", "https://a.example", now - 20),
            ("bob", "https://b.example", now - 10),
            ("carol", "https://a.example", now - 10),
            ("bob", "https://c.example", now - 10),
            ("bob", "https://c.example", now - 60_000), // outside the window
        ]);
        let check = |u, o| l.check(&h, u, o, now).unwrap();
        assert!(matches!(
            check("bob", "https://a.example"),
            Decision::Deny { .. }
        ));
        assert_eq!(check("bob", "https://b.example"), Decision::Allow);
        assert_eq!(check("carol", "https://a.example"), Decision::Allow);
        assert_eq!(check("bob", "https://c.example"), Decision::Allow);
        assert_eq!(
            limits(0, 0, 0, 0)
                .check(&h, "bob", "https://a.example", now)
                .unwrap(),
            Decision::Allow
        );
    }

    #[test]
    fn lock_is_exclusive_across_handles() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("vault.sqlite3");
        let first = FillLock::acquire(&vault).unwrap();
        assert!(FillLock::path_for(&vault).ends_with("vault.sqlite3-fills.lock"));
        let other = File::options()
            .read(true)
            .write(true)
            .open(FillLock::path_for(&vault))
            .unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        drop(first);
        assert!(other.try_lock().is_ok());
    }
}
