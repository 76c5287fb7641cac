//! Streaming the server's audit log to SIEMs (`[siem]` in server.toml):
//! the host's streamer (`twofill_siem`) with its cursors and sink holds in
//! the vault ([`VaultCursors`]), so that replicas on one database share
//! each sink's cursor and exactly one of them delivers to a sink at a
//! time. `serve` runs it on a thread of its own, with vault handles of its
//! own (never one a request waits for); `audit stream` runs it for an
//! operator.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use twofill_siem::{SinkReport, Streamer, VaultCursors};

use crate::config::State;
use crate::pool::Opener;

/// A sink's lease lasts at least this many polls.
const MIN_LEASE_POLLS: u64 = 6;

/// After the vault could not be opened for streaming, wait this long.
const REOPEN_DELAY: Duration = Duration::from_secs(2);

/// This process's name in the sink leases: host, pid and 64 random bits
/// (a restarted process is a new holder and waits out its old lease).
fn holder_id(hostname: &str) -> String {
    let mut bytes = [0u8; 8];
    crate::random::fill(&mut bytes);
    format!(
        "{hostname}:{}:{}",
        std::process::id(),
        twofill_vault::audit::hex(&bytes)
    )
}

fn streamer(state: &State, opener: &Opener, only: Option<&str>, holder: &str) -> Result<Streamer> {
    let cfg = &state.config.siem;
    let cursors = VaultCursors::new(
        opener
            .open()
            .context("cannot open the vault for SIEM cursors")?,
        holder.to_owned(),
        Duration::from_millis(cfg.lease_ms),
    );
    Streamer::with_cursors(
        cfg,
        Box::new(cursors),
        &twofill_siem::hostname(cfg),
        only,
        Duration::ZERO,
    )
}

/// `serve`'s streaming thread.
pub struct StreamerThread {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl StreamerThread {
    /// Stops streaming and waits until the thread has let go of its sinks
    /// (their leases), so another replica can take them over at once.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.thread.join().is_err() {
            eprintln!("twofill-server: the SIEM streaming thread failed");
        }
    }
}

/// Starts the background streamer when sinks are configured. A config
/// error stops `serve` here; a database that is down is retried.
pub fn spawn_streamer(state: &State, opener: Opener) -> Result<Option<StreamerThread>> {
    let cfg = &state.config.siem;
    if cfg.sinks.is_empty() {
        return Ok(None);
    }
    check_config(state)?;
    let state = state.clone();
    let holder = holder_id(&twofill_siem::hostname(cfg));
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("siem".into())
        .spawn(move || {
            let mut log = |line: &str| eprintln!("twofill-server: SIEM {line}");
            while !stopping.load(Ordering::Relaxed) {
                let source = opener.open();
                let built = streamer(&state, &opener, None, &holder);
                match (source, built) {
                    // Returns once `stopping` is set, its sinks released.
                    (Ok(mut source), Ok(mut streamer)) => {
                        streamer.run(&mut source, &stopping, &mut log);
                    }
                    (Err(e), _) => log(&format!("cannot open the vault: {e}")),
                    (_, Err(e)) => log(&format!("{e:#}")),
                }
                if !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(REOPEN_DELAY);
                }
            }
        })
        .context("cannot start the SIEM streaming thread")?;
    Ok(Some(StreamerThread { stop, thread }))
}

/// The sinks' settings, and a lease long enough to be renewed: the
/// streamer renews it when a third has gone, at its next look at the log
/// (every `poll_ms`), so a lease shorter than a few polls would lapse
/// while its holder is alive and let a second replica deliver too.
fn check_config(state: &State) -> Result<()> {
    let cfg = &state.config.siem;
    let file = state.dir.join(crate::config::CONFIG_FILE);
    cfg.validate()
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("the [siem] section of {}", file.display()))?;
    let shortest = cfg.poll_ms.max(100).saturating_mul(MIN_LEASE_POLLS);
    if cfg.lease_ms < shortest {
        bail!(
            "[siem] lease_ms = {} in {} is too short for poll_ms = {}: make it at least {shortest} (the default is 10000)",
            cfg.lease_ms,
            file.display(),
            cfg.poll_ms
        );
    }
    Ok(())
}

/// `audit stream [--once] [--sink NAME]`.
pub fn stream_command(
    state: &State,
    opener: &Opener,
    once: bool,
    only: Option<&str>,
) -> Result<()> {
    let cfg = &state.config.siem;
    if cfg.sinks.is_empty() {
        bail!(
            "no SIEM sinks are configured; add a [[siem.sink]] to {}",
            state.dir.join(crate::config::CONFIG_FILE).display()
        );
    }
    check_config(state)?;
    let holder = holder_id(&twofill_siem::hostname(cfg));
    let mut source = opener
        .open()
        .context("cannot open the vault; check the database and the data key")?;
    let mut streamer = streamer(state, opener, only, &holder)?;
    let reports = if once {
        streamer.drain_once(&mut source)
    } else {
        let stop = AtomicBool::new(false);
        streamer.run(&mut source, &stop, &mut |l| {
            eprintln!("twofill-server: {l}")
        })
    };
    print_reports(&reports)
}

fn print_reports(reports: &[SinkReport]) -> Result<()> {
    let mut failed = false;
    for r in reports {
        match (&r.error, r.busy) {
            (_, true) => println!(
                "{}: busy (another replica or `audit stream` is delivering to it)",
                r.name
            ),
            (Some(e), _) => {
                failed = true;
                println!(
                    "{}: delivered {} records, then failed: {e}; delivered up to record {}",
                    r.name, r.delivered, r.cursor
                );
            }
            (None, false) => println!(
                "{}: delivered {} records; up to record {}",
                r.name, r.delivered, r.cursor
            ),
        }
    }
    if failed {
        bail!(
            "some SIEM sinks could not be reached; `audit stream --once` again resends from their cursors"
        );
    }
    Ok(())
}
