//! The fill rate limit: how many codes of one token one user gets filled.
//!
//! Counted per user and token, not per origin: a token bound to a bare
//! host is filled on its subdomains and ports too, and each of those
//! origins having its own count would multiply the limit.
//!
//! A page that can trigger fills (an XSS on a bound site, or a page that
//! keeps rebuilding its code field) could otherwise harvest a code every
//! time it asks. The limit allows at most `codes` in `window_seconds` and
//! at most `burst` in `burst_seconds` (sliding windows).
//!
//! The count is the audit log itself: every code filled is already a
//! durable, chained `code.fill` record naming the user, the origin and the
//! time. [`Vault::issue_code`](crate::Vault::issue_code) counts them inside
//! its write transaction, which holds the store's write lock (SQLite
//! `BEGIN IMMEDIATE`, PostgreSQL's advisory lock) until the new record is
//! committed, so two host processes, or two server replicas on one
//! database, can never both pass the same count. Nothing new is stored and
//! the count cannot be reset without breaking the chain.
//!
//! Only fills are limited: `copy` and `view` come from the extension's own
//! popup, on a click (`view` for its live codes), and the command line's
//! `code.cli` from the user's own terminal; no page can send them, a TOTP
//! code is the same for its whole period, and each is on record (SECURITY.md
//! says so).

use twofill_words::AuditAction;

use crate::store::StoreRead;
use crate::{Refusal, Result};

/// Limits on fills per user and token. A count or a duration of 0 turns
/// that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Fills allowed in `window_seconds`.
    pub codes: u32,
    pub window_seconds: u32,
    /// Fills allowed in `burst_seconds`.
    pub burst: u32,
    pub burst_seconds: u32,
}

impl RateLimit {
    /// No limit (what a newly opened vault applies until told otherwise).
    pub const OFF: RateLimit = RateLimit {
        codes: 0,
        window_seconds: 0,
        burst: 0,
        burst_seconds: 0,
    };

    fn window_ms(&self) -> u64 {
        u64::from(self.window_seconds) * 1000
    }

    fn burst_window_ms(&self) -> u64 {
        u64::from(self.burst_seconds) * 1000
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

    /// Whether `user` may have another code of `token` filled at `now_ms`,
    /// counted from the fills on record (read in the caller's write
    /// transaction).
    pub(crate) fn check(
        &self,
        store: &dyn StoreRead,
        user: &str,
        token: &str,
        now_ms: i64,
    ) -> Result<Option<Refusal>> {
        if !self.enabled() {
            return Ok(None);
        }
        let span = self.window_ms().max(self.burst_window_ms()) as i64;
        let since = now_ms.saturating_sub(span) + 1;
        let want = self.codes.max(self.burst);
        let times =
            store.recent_successes(AuditAction::CodeFill.as_str(), user, token, since, want)?;
        Ok(self.decide(&times, now_ms))
    }

    /// The refusal, if any, for fills at `times` (ms, newest first).
    fn decide(&self, times: &[i64], now_ms: i64) -> Option<Refusal> {
        // The n-th most recent fill must have left its window before
        // another one is allowed.
        let wait = |n: u32, window_ms: u64| -> Option<u64> {
            let t = *times.get(n.checked_sub(1)? as usize)?;
            let until = t.saturating_add(window_ms as i64);
            (until > now_ms).then(|| ((until - now_ms) as u64).min(window_ms))
        };
        let mut denied: Option<(u64, String)> = None;
        let mut deny = |ms: u64, why: String| {
            if denied.as_ref().is_none_or(|(d, _)| ms > *d) {
                denied = Some((ms, why));
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
        denied.map(|(ms, why)| Refusal::RateLimited {
            retry_after_ms: ms.max(1),
            why,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(codes: u32, window_seconds: u32, burst: u32, burst_seconds: u32) -> RateLimit {
        RateLimit {
            codes,
            window_seconds,
            burst,
            burst_seconds,
        }
    }

    fn retry_after(r: Option<Refusal>) -> (u64, String) {
        match r {
            Some(refusal @ Refusal::RateLimited { retry_after_ms, .. }) => {
                (retry_after_ms, refusal.to_string())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn off_is_off() {
        assert!(!RateLimit::OFF.enabled());
        assert!(!limits(0, 60, 0, 10).enabled());
        assert!(!limits(10, 0, 5, 0).enabled());
        assert!(limits(10, 60, 0, 0).enabled());
    }

    #[test]
    fn burst_then_window() {
        let l = limits(10, 60, 5, 10);
        let now = 1_000_000;
        // Four in the last second: the fifth is allowed.
        let t: Vec<i64> = (0..4).map(|i| now - 100 * i).collect();
        assert_eq!(l.decide(&t, now), None);
        // Five: the sixth waits until the oldest of them is 10 s old.
        let t: Vec<i64> = (0..5).map(|i| now - 1000 * i).collect();
        let (ms, message) = retry_after(l.decide(&t, now));
        assert_eq!(ms, 6000);
        assert!(message.contains("5 codes in 10 s"), "{message}");
        assert!(message.contains("try again in 6 s"), "{message}");
        // Ten spread over the minute: the window limit applies until the
        // tenth is a minute old.
        let t: Vec<i64> = (0..10).map(|i| now - 5000 * i - 1).collect();
        assert_eq!(retry_after(l.decide(&t, now)).0, 60_000 - 45_001);
        // The same ten, a minute later: allowed again.
        assert_eq!(l.decide(&t, now + 60_000), None);
    }

    #[test]
    fn the_longer_wait_wins_and_is_never_zero_or_unbounded() {
        let l = limits(3, 60, 2, 10);
        let now = 500_000;
        assert_eq!(
            retry_after(l.decide(&[now, now - 1, now - 2], now)).0,
            60_000 - 2
        );
        // A fill stamped in the future (clock stepped back): the wait is
        // capped at one window.
        assert_eq!(retry_after(l.decide(&[now + 3_600_000; 3], now)).0, 60_000);
    }
}
