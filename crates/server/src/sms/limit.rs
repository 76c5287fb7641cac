//! Webhooks per source address per minute, counted in this process: a
//! flood from one address is answered 429 before its body is read.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Sources remembered at most; past it, windows that ended are forgotten
/// (and, if all are current, every one: a flood of addresses resets).
const MAX_SOURCES: usize = 10_000;

pub struct SourceLimit {
    per_minute: u32,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl SourceLimit {
    pub fn new(per_minute: u32) -> SourceLimit {
        SourceLimit {
            per_minute,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one webhook from `source`; false when it is over the limit.
    pub fn allow(&self, source: IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_SOURCES {
            seen.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if seen.len() >= MAX_SOURCES {
                seen.clear();
            }
        }
        let entry = seen.entry(source).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_over_its_minute_is_refused_and_others_are_not() {
        let limit = SourceLimit::new(3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!((0..3).all(|_| limit.allow(a)));
        assert!(!limit.allow(a));
        assert!(limit.allow(b));
        assert!(SourceLimit::new(0).allow(a));
    }
}
