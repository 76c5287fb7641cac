//! The streamer: per sink, read a bounded batch after what the sink has
//! already got, send it, and only once it is known delivered move and
//! persist that sink's cursor.
//!
//! Guarantees (per sink):
//! - **In order, nothing skipped.** Records go out in sequence order; the
//!   cursor only moves past records the sink acknowledged (file: fsync'ed;
//!   HEC: HTTP 2xx) or, for plain syslog which has no acknowledgement, that
//!   were written on a connection still healthy `confirm_ms` later. On any
//!   failure everything after the cursor is sent again, from the vault.
//! - **At least once.** A crash (or a lost connection) between a send and
//!   the cursor write resends that tail: duplicates are possible at such a
//!   boundary, never gaps. SIEMs can drop them by `seq` / `mac`.
//! - **Bounded memory.** At most one batch of records is in memory; for
//!   unconfirmed syslog batches only their last sequence number is kept
//!   (at most [`MAX_IN_FLIGHT`] batches).
//! - **A sink that is down** is retried with capped exponential backoff and
//!   catches up from its cursor when it is back; other sinks go on.
//!
//! Limits: plain TCP syslog cannot tell a receiver that read a message from
//! one that read it and then crashed before storing it (`kill -9` of the
//! receiver within `confirm_ms`); that needs an acknowledging transport
//! (RELP, HEC) or a receiver-side disk queue. A receiver that shuts down
//! cleanly, restarts or drops the connection is handled: what it had not
//! read is sent again.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use twofill_vault::AuditRecord;
use twofill_vault::audit::hex;

use crate::config::SiemConfig;
use crate::cursor::{Cursor, CursorStore, FileCursors};
use crate::sink::{self, Sink};

/// Unconfirmed batches a syslog sink may have in flight.
pub const MAX_IN_FLIGHT: usize = 64;

/// Where records come from: the vault, or anything else in tests.
pub trait AuditSource {
    /// Records with `seq > after_seq`, oldest first, at most `limit`.
    fn read_after(&mut self, after_seq: i64, limit: usize) -> Result<Vec<AuditRecord>>;
}

impl AuditSource for twofill_vault::Vault {
    fn read_after(&mut self, after_seq: i64, limit: usize) -> Result<Vec<AuditRecord>> {
        Ok(self.audit_records(after_seq, limit as i64)?)
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub batch: usize,
    pub poll: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl Options {
    pub fn from_config(c: &SiemConfig) -> Options {
        Options {
            batch: c.batch.max(1),
            poll: Duration::from_millis(c.poll_ms.max(10)),
            backoff_initial: Duration::from_millis(c.backoff_initial_ms.max(1)),
            backoff_max: Duration::from_millis(c.backoff_max_ms.max(c.backoff_initial_ms.max(1))),
        }
    }

    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(20);
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// How one sink fared, for `audit stream` output.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SinkReport {
    pub name: String,
    /// Records confirmed delivered in this run.
    pub delivered: u64,
    /// The sink's cursor now: the last record it is known to have.
    pub cursor: i64,
    /// Why it stopped short, if it did.
    pub error: Option<String>,
    /// Another streamer holds this sink; nothing was done here.
    pub busy: bool,
}

struct Lane {
    name: String,
    sink: Box<dyn Sink>,
    /// Whether this streamer holds the sink (else another one delivers).
    held: bool,
    cursor: Cursor,
    /// Last sequence number written to the sink (≥ cursor.seq).
    sent: i64,
    /// Unconfirmed batches: last seq, its MAC, record count, when sent.
    in_flight: VecDeque<(i64, [u8; 32], u64, Instant)>,
    checked: bool,
    delivered: u64,
    failures: u32,
    next_attempt: Instant,
    last_error: Option<String>,
}

enum Step {
    /// A batch went out; there may be more.
    Sent,
    /// Nothing to send; unconfirmed batches settle in this long.
    Wait(Duration),
    /// Caught up and everything confirmed.
    Idle,
    /// Another streamer holds the sink.
    Busy,
}

pub struct Streamer {
    lanes: Vec<Lane>,
    cursors: Box<dyn CursorStore>,
    opts: Options,
}

impl Streamer {
    /// Sets up the configured sinks (only `only`, if given), taking each
    /// sink's lock (waiting up to `lock_wait` for another streamer to let
    /// go); sinks still held are reported as busy.
    pub fn new(
        cfg: &SiemConfig,
        state_dir: &Path,
        hostname: &str,
        only: Option<&str>,
        lock_wait: Duration,
    ) -> Result<Streamer> {
        let cursors = Box::new(FileCursors::new(state_dir)?);
        Streamer::with_cursors(cfg, cursors, hostname, only, lock_wait)
    }

    /// As [`Streamer::new`], with the cursors and sink holds in `cursors`
    /// (e.g. the vault's, shared by a team server's replicas).
    pub fn with_cursors(
        cfg: &SiemConfig,
        cursors: Box<dyn CursorStore>,
        hostname: &str,
        only: Option<&str>,
        lock_wait: Duration,
    ) -> Result<Streamer> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        if let Some(name) = only
            && !cfg.sinks.iter().any(|s| s.name() == name)
        {
            bail!("no SIEM sink named {name:?} is configured");
        }
        let confirm = Duration::from_millis(cfg.confirm_ms);
        let mut sinks = Vec::new();
        for s in &cfg.sinks {
            let name = s.name();
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let sink = sink::build(&s.kind, hostname, confirm)
                .with_context(|| format!("SIEM sink {name:?}"))?;
            sinks.push((name.to_owned(), sink));
        }
        Streamer::over(sinks, cursors, Options::from_config(cfg), lock_wait)
    }

    /// A streamer over sinks built elsewhere (tests, benchmarks).
    pub fn with_sinks(
        sinks: Vec<(String, Box<dyn Sink>)>,
        state_dir: &Path,
        opts: Options,
        lock_wait: Duration,
    ) -> Result<Streamer> {
        Streamer::over(
            sinks,
            Box::new(FileCursors::new(state_dir)?),
            opts,
            lock_wait,
        )
    }

    /// Sinks whose hold is not had within `lock_wait` start out busy; they
    /// are asked for again before each of their batches.
    pub fn over(
        sinks: Vec<(String, Box<dyn Sink>)>,
        mut cursors: Box<dyn CursorStore>,
        opts: Options,
        lock_wait: Duration,
    ) -> Result<Streamer> {
        let mut lanes = Vec::new();
        let deadline = Instant::now() + lock_wait;
        for (name, sink) in sinks {
            let held = loop {
                match cursors.hold(&name)? {
                    true => break true,
                    false if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    false => break false,
                }
            };
            let c = if held {
                cursors.load(&name)?
            } else {
                Cursor::default()
            };
            lanes.push(Lane {
                name,
                sink,
                held,
                sent: c.seq,
                cursor: c,
                in_flight: VecDeque::new(),
                checked: false,
                delivered: 0,
                failures: 0,
                next_attempt: Instant::now(),
                last_error: None,
            });
        }
        Ok(Streamer {
            lanes,
            cursors,
            opts,
        })
    }

    pub fn sink_names(&self) -> Vec<String> {
        self.lanes.iter().map(|l| l.name.clone()).collect()
    }

    fn report(&self) -> Vec<SinkReport> {
        let (held, busy): (Vec<&Lane>, Vec<&Lane>) = self.lanes.iter().partition(|l| l.held);
        let mut out: Vec<SinkReport> = held
            .iter()
            .map(|l| SinkReport {
                name: l.name.clone(),
                delivered: l.delivered,
                cursor: l.cursor.seq,
                error: l.last_error.clone(),
                busy: false,
            })
            .collect();
        out.extend(busy.iter().map(|l| SinkReport {
            name: l.name.clone(),
            delivered: l.delivered,
            busy: true,
            ..SinkReport::default()
        }));
        out
    }

    /// Lets go of every sink this streamer holds.
    fn release_all(&mut self) {
        for lane in &mut self.lanes {
            lane.sink.close();
            if lane.held {
                self.cursors.release(&lane.name);
            }
        }
    }

    /// Delivers everything up to the current end of the log to every sink,
    /// one attempt each (no retries: a sink that fails keeps its cursor and
    /// its error is in the report).
    pub fn drain_once(&mut self, source: &mut dyn AuditSource) -> Vec<SinkReport> {
        for i in 0..self.lanes.len() {
            loop {
                match self.step(i, source) {
                    Ok(Step::Sent) => {}
                    Ok(Step::Wait(d)) => std::thread::sleep(d),
                    Ok(Step::Idle | Step::Busy) => break,
                    Err(e) => {
                        self.fail(i, e);
                        break;
                    }
                }
            }
            self.lanes[i].sink.close();
        }
        let report = self.report();
        self.release_all();
        report
    }

    /// Streams until `stop` is set: new records go out as they are
    /// committed (polled every `poll`), failed sinks are retried with
    /// backoff. `log` hears about outages and recoveries.
    pub fn run(
        &mut self,
        source: &mut dyn AuditSource,
        stop: &AtomicBool,
        log: &mut dyn FnMut(&str),
    ) -> Vec<SinkReport> {
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let mut wake = now + self.opts.poll;
            let mut more = false;
            for i in 0..self.lanes.len() {
                if self.lanes[i].next_attempt > now {
                    wake = wake.min(self.lanes[i].next_attempt);
                    continue;
                }
                // A few batches per sink per round, so one busy sink does
                // not starve the others.
                for _ in 0..8 {
                    match self.step(i, source) {
                        Ok(Step::Sent) => {
                            more = true;
                            continue;
                        }
                        Ok(Step::Wait(d)) => wake = wake.min(Instant::now() + d),
                        Ok(Step::Idle | Step::Busy) => {}
                        Err(e) => {
                            let lane = &self.lanes[i];
                            let first = lane.failures == 0;
                            self.fail(i, e);
                            let lane = &self.lanes[i];
                            if first || lane.failures.is_power_of_two() {
                                log(&format!(
                                    "sink {}: {}; delivered up to record {}, retrying in {:?}",
                                    lane.name,
                                    lane.last_error.as_deref().unwrap_or(""),
                                    lane.cursor.seq,
                                    self.opts.backoff(lane.failures)
                                ));
                            }
                            wake = wake.min(lane.next_attempt);
                        }
                    }
                    break;
                }
            }
            if !more {
                while !stop.load(Ordering::Relaxed) {
                    let left = wake.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    std::thread::sleep(left.min(Duration::from_millis(100)));
                }
            }
        }
        let report = self.report();
        self.release_all();
        report
    }

    fn fail(&mut self, i: usize, e: anyhow::Error) {
        let lane = &mut self.lanes[i];
        lane.sink.close();
        lane.in_flight.clear();
        lane.sent = lane.cursor.seq;
        lane.failures = lane.failures.saturating_add(1);
        lane.next_attempt = Instant::now() + self.opts.backoff(lane.failures);
        lane.last_error = Some(format!("{e:#}"));
    }

    fn step(&mut self, i: usize, source: &mut dyn AuditSource) -> Result<Step> {
        let opts = self.opts.clone();
        let cursors = &mut *self.cursors;
        let lane = &mut self.lanes[i];
        // Asked before every batch: a streamer that lost the sink (its
        // lease ran out, another replica has it) sends nothing more.
        if !cursors.hold(&lane.name)? {
            if lane.held {
                lane.held = false;
                lane.sink.close();
                lane.in_flight.clear();
            }
            return Ok(Step::Busy);
        }
        if !lane.held {
            // Another streamer had it: go on from where it got.
            lane.cursor = cursors.load(&lane.name)?;
            lane.sent = lane.cursor.seq;
            lane.in_flight.clear();
            lane.checked = false;
            lane.held = true;
        }
        if !lane.checked {
            check_cursor(lane, source, cursors)?;
            lane.checked = true;
        }
        let settle = lane.sink.settle();
        confirm_settled(lane, settle, cursors)?;
        if lane.in_flight.len() < MAX_IN_FLIGHT {
            let batch = source
                .read_after(lane.sent, opts.batch)
                .context("reading the audit log")?;
            if let Some(last) = batch.last() {
                if lane.in_flight.is_empty() {
                    lane.sink.drop_if_stale();
                }
                lane.sink.send(&batch)?;
                lane.sent = last.seq;
                lane.in_flight
                    .push_back((last.seq, last.mac, batch.len() as u64, Instant::now()));
                if settle.is_zero() {
                    confirm_settled(lane, settle, cursors)?;
                }
                lane.failures = 0;
                lane.last_error = None;
                return Ok(Step::Sent);
            }
        }
        Ok(match lane.in_flight.front() {
            Some(&(.., at)) => Step::Wait(settle.saturating_sub(at.elapsed())),
            None => {
                lane.failures = 0;
                lane.last_error = None;
                Step::Idle
            }
        })
    }
}

/// Moves the cursor past every batch sent at least `settle` ago, if the
/// sink vouches for them.
fn confirm_settled(lane: &mut Lane, settle: Duration, cursors: &mut dyn CursorStore) -> Result<()> {
    if lane
        .in_flight
        .front()
        .is_none_or(|&(.., at)| at.elapsed() < settle)
    {
        return Ok(());
    }
    lane.sink.confirm()?;
    let mut last = None;
    let mut count = 0;
    while let Some(&(seq, mac, n, at)) = lane.in_flight.front() {
        if at.elapsed() < settle {
            break;
        }
        lane.in_flight.pop_front();
        last = Some((seq, mac));
        count += n;
    }
    if let Some((seq, mac)) = last {
        let c = Cursor {
            seq,
            mac: hex(&mac),
            updated_ms: twofill_words::unix_now_ms(),
        };
        cursors.store(&lane.name, &c)?;
        lane.cursor = c;
        lane.delivered += count;
    }
    Ok(())
}

/// A cursor that names a record this log does not have (or has with a
/// different MAC) belongs to another vault (replaced, restored from a
/// backup): start that sink over rather than skip the new records.
fn check_cursor(
    lane: &mut Lane,
    source: &mut dyn AuditSource,
    cursors: &mut dyn CursorStore,
) -> Result<()> {
    if lane.cursor.seq == 0 {
        return Ok(());
    }
    let at = source
        .read_after(lane.cursor.seq - 1, 1)
        .context("reading the audit log")?;
    let matches = at.first().is_some_and(|r| {
        r.seq == lane.cursor.seq && (lane.cursor.mac.is_empty() || hex(&r.mac) == lane.cursor.mac)
    });
    if !matches {
        eprintln!(
            "twofill siem: the cursor of sink {} names record {} which this audit log does not have as delivered; the vault was replaced or restored, so that sink starts over from the first record",
            lane.name, lane.cursor.seq
        );
        lane.cursor = Cursor::default();
        lane.sent = 0;
        cursors.store(&lane.name, &lane.cursor)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use twofill_vault::{AuditAction, AuditEvent};

    use super::*;
    use crate::cursor;

    struct Log(Vec<AuditRecord>);

    impl Log {
        fn push(&mut self, n: usize) {
            for _ in 0..n {
                let seq = self.0.len() as i64 + 1;
                self.0.push(AuditRecord {
                    seq,
                    time_ms: seq,
                    event: AuditEvent::new("u", AuditAction::CodeFill, true),
                    prev_mac: [0; 32],
                    mac: [seq as u8; 32],
                });
            }
        }
    }

    impl AuditSource for Log {
        fn read_after(&mut self, after: i64, limit: usize) -> Result<Vec<AuditRecord>> {
            Ok(self
                .0
                .iter()
                .filter(|r| r.seq > after)
                .take(limit)
                .cloned()
                .collect())
        }
    }

    /// Records what it got; fails sends while `down`, and with a settle
    /// time fails the confirm of batches "lost" while `lose` is set.
    #[derive(Default)]
    struct Fake {
        got: Vec<i64>,
        down: bool,
        lose: bool,
        settle: Duration,
        sends: usize,
    }

    struct Shared(Rc<RefCell<Fake>>);

    impl Sink for Shared {
        fn send(&mut self, batch: &[AuditRecord]) -> Result<()> {
            let mut f = self.0.borrow_mut();
            f.sends += 1;
            if f.down {
                bail!("down");
            }
            if !f.lose {
                f.got.extend(batch.iter().map(|r| r.seq));
            }
            Ok(())
        }
        fn settle(&self) -> Duration {
            self.0.borrow().settle
        }
        fn confirm(&mut self) -> Result<()> {
            if self.0.borrow().lose {
                bail!("connection reset");
            }
            Ok(())
        }
    }

    fn opts(batch: usize) -> Options {
        Options {
            batch,
            poll: Duration::from_millis(10),
            backoff_initial: Duration::from_millis(1),
            backoff_max: Duration::from_millis(4),
        }
    }

    fn streamer(dir: &Path, fake: &Rc<RefCell<Fake>>, batch: usize) -> Streamer {
        let sink: Box<dyn Sink> = Box::new(Shared(fake.clone()));
        Streamer::with_sinks(vec![("s".into(), sink)], dir, opts(batch), Duration::ZERO).unwrap()
    }

    #[test]
    fn delivers_in_bounded_batches_and_persists_the_cursor() {
        let d = tempfile::tempdir().unwrap();
        let fake = Rc::new(RefCell::new(Fake::default()));
        let mut log = Log(Vec::new());
        log.push(25);
        let r = streamer(d.path(), &fake, 10).drain_once(&mut log);
        assert_eq!(
            (r[0].delivered, r[0].cursor, r[0].error.as_deref()),
            (25, 25, None)
        );
        assert_eq!(fake.borrow().got, (1..=25).collect::<Vec<_>>());
        assert_eq!(fake.borrow().sends, 3);
        assert_eq!(cursor::load(d.path(), "s").unwrap().seq, 25);
        // A new streamer picks up where the cursor is.
        log.push(3);
        let r = streamer(d.path(), &fake, 10).drain_once(&mut log);
        assert_eq!((r[0].delivered, r[0].cursor), (3, 28));
        assert_eq!(fake.borrow().got, (1..=28).collect::<Vec<_>>());
    }

    #[test]
    fn a_sink_that_is_down_keeps_its_cursor_and_catches_up() {
        let d = tempfile::tempdir().unwrap();
        let fake = Rc::new(RefCell::new(Fake::default()));
        let mut log = Log(Vec::new());
        log.push(5);
        streamer(d.path(), &fake, 2).drain_once(&mut log);
        fake.borrow_mut().down = true;
        log.push(5);
        let r = streamer(d.path(), &fake, 2).drain_once(&mut log);
        assert_eq!(r[0].cursor, 5);
        assert!(r[0].error.as_deref().unwrap().contains("down"));
        fake.borrow_mut().down = false;
        let r = streamer(d.path(), &fake, 2).drain_once(&mut log);
        assert_eq!((r[0].cursor, r[0].error.as_deref()), (10, None));
        assert_eq!(fake.borrow().got, (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn unconfirmed_batches_are_sent_again() {
        let d = tempfile::tempdir().unwrap();
        let fake = Rc::new(RefCell::new(Fake {
            settle: Duration::from_millis(5),
            ..Fake::default()
        }));
        let mut log = Log(Vec::new());
        log.push(4);
        streamer(d.path(), &fake, 2).drain_once(&mut log);
        // The receiver "reads" nothing and the connection then fails.
        fake.borrow_mut().lose = true;
        log.push(4);
        let r = streamer(d.path(), &fake, 2).drain_once(&mut log);
        assert_eq!(r[0].cursor, 4, "{r:?}");
        fake.borrow_mut().lose = false;
        let r = streamer(d.path(), &fake, 2).drain_once(&mut log);
        assert_eq!(r[0].cursor, 8);
        assert_eq!(fake.borrow().got, (1..=8).collect::<Vec<_>>());
    }

    #[test]
    fn run_retries_with_backoff_until_stopped() {
        let d = tempfile::tempdir().unwrap();
        let fake = Rc::new(RefCell::new(Fake {
            down: true,
            ..Fake::default()
        }));
        let mut log = Log(Vec::new());
        log.push(7);
        let stop = AtomicBool::new(false);
        let mut s = streamer(d.path(), &fake, 3);
        let mut lines = Vec::new();
        let fake2 = fake.clone();
        // The source brings the sink back after a few failed sends and stops the run once all arrived.
        struct Driver<'a> {
            log: &'a mut Log,
            fake: Rc<RefCell<Fake>>,
            stop: &'a AtomicBool,
        }
        impl AuditSource for Driver<'_> {
            fn read_after(&mut self, after: i64, limit: usize) -> Result<Vec<AuditRecord>> {
                let mut f = self.fake.borrow_mut();
                if f.sends >= 4 {
                    f.down = false;
                }
                if f.got.len() >= 7 {
                    self.stop.store(true, Ordering::Relaxed);
                }
                drop(f);
                self.log.read_after(after, limit)
            }
        }
        let mut drv = Driver {
            log: &mut log,
            fake: fake2,
            stop: &stop,
        };
        let r = s.run(&mut drv, &stop, &mut |l| lines.push(l.to_owned()));
        assert_eq!(fake.borrow().got, (1..=7).collect::<Vec<_>>());
        assert_eq!(r[0].cursor, 7);
        assert!(lines[0].contains("sink s: down"), "{lines:?}");
    }

    #[test]
    fn a_cursor_from_another_vault_starts_over() {
        let d = tempfile::tempdir().unwrap();
        cursor::store(
            d.path(),
            "s",
            &Cursor {
                seq: 3,
                mac: "ff".repeat(32),
                updated_ms: 0,
            },
        )
        .unwrap();
        let fake = Rc::new(RefCell::new(Fake::default()));
        let mut log = Log(Vec::new());
        log.push(4);
        let r = streamer(d.path(), &fake, 10).drain_once(&mut log);
        assert_eq!(r[0].cursor, 4);
        assert_eq!(fake.borrow().got, vec![1, 2, 3, 4]);
    }
}
