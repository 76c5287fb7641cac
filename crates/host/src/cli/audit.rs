//! `twofill-host audit …`: verify the hash chain, export, tail, stream to
//! SIEM sinks.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use twofill_siem::SinkReport;
use twofill_siem::format::{rfc3339_utc, to_ecs};
use twofill_vault::audit::{ChainReport, parse_hex32};
use twofill_vault::{AuditRecord, IntegrityReport, Reading, Vault};

use super::{Invocation, JsonFlag, Report, emit, printable};

#[derive(Subcommand)]
pub(super) enum AuditCommand {
    /// Check the hash chain; exits non-zero if anything was tampered with.
    Verify {
        /// `SEQ:MAC` printed by an earlier verify: also detects records cut off the end.
        #[arg(long)]
        anchor: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Write records as JSON lines with ECS field names.
    Export {
        /// Only records after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// File to write (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Show the latest records; with --follow, keep printing new ones.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: i64,
        #[arg(short, long)]
        follow: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Deliver the log to the SIEM sinks of the config (`[[siem.sink]]`),
    /// at least once and in order, from each sink's persisted cursor. Runs
    /// until SIGTERM/SIGINT, retrying sinks that are down.
    Stream {
        /// Deliver what is there now, once, and exit (for cron and tests);
        /// exits non-zero if a sink could not take everything.
        #[arg(long)]
        once: bool,
        /// Only this sink (by `name`, default its kind).
        #[arg(long)]
        sink: Option<String>,
        /// Started by the native host after a code: silent, no waiting.
        #[arg(long, hide = true, requires = "once")]
        kick: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub(super) fn run(cx: Invocation, command: AuditCommand) -> Result<ExitCode> {
    let v = cx.vault()?;
    // `stream` sends the log to the sinks of the config in force, as the
    // native host does after every code (as whoever filled): it shows a
    // person nothing. The rest prints the log for whoever runs it.
    if !matches!(command, AuditCommand::Stream { .. }) {
        v.check_reader(&cx.user, Reading::AuditLog)?;
    }
    match command {
        AuditCommand::Stream {
            once,
            sink,
            kick,
            out,
        } => return stream(&cx, v, once, sink.as_deref(), kick, out),
        AuditCommand::Verify { anchor, out } => {
            let anchor = anchor
                .map(|a| {
                    let (seq, mac) = a.split_once(':').context("--anchor is SEQ:MAC")?;
                    let seq: i64 = seq.parse().context("--anchor SEQ must be a number")?;
                    let mac = parse_hex32(mac).context("--anchor MAC must be 64 hex digits")?;
                    anyhow::Ok((seq, mac))
                })
                .transpose()?;
            let report = VerifyReport {
                chain: v.verify_audit(anchor)?,
                authorization: v.verify_authorization()?,
            };
            emit(out, &report)?;
            if report.chain.problem.is_some() || !report.authorization.is_intact() {
                return Ok(ExitCode::from(2));
            }
        }
        AuditCommand::Export { after, output } => {
            let mut sink: Box<dyn Write> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("cannot create {}", p.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let mut next = after;
            let mut count = 0u64;
            loop {
                let batch = v.audit_records(next, 1000)?;
                let Some(last) = batch.last() else { break };
                next = last.seq;
                for r in &batch {
                    serde_json::to_writer(&mut sink, &to_ecs(r))?;
                    sink.write_all(b"\n")?;
                    count += 1;
                }
            }
            sink.flush()?;
            if output.is_some() {
                eprintln!("exported {count} records");
            }
        }
        AuditCommand::Tail { lines, follow, out } => {
            let head = v.audit_head_seq()?;
            let mut next = (head - lines).max(0);
            loop {
                let batch = v.audit_records(next, 1000)?;
                for r in &batch {
                    if out.json {
                        outln!("{}", to_ecs(r));
                    } else {
                        outln!("{}", line(r));
                    }
                    next = r.seq;
                }
                if !follow {
                    break;
                }
                std::io::stdout().flush()?;
                if batch.is_empty() {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `audit verify` checks: the audit chain, and the MAC of every
/// authorization row (grants, bindings, admin flags, memberships, token
/// owners, invites, devices).
#[derive(serde::Serialize)]
struct VerifyReport {
    #[serde(flatten)]
    chain: ChainReport,
    authorization: IntegrityReport,
}

impl Report for VerifyReport {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let chain = &self.chain;
        match &chain.problem {
            None => {
                writeln!(out, "audit log OK: {} records", chain.records)?;
                writeln!(out, "anchor: {}:{}", chain.head_seq, chain.head_mac)?;
            }
            Some(p) => writeln!(out, "audit log TAMPERED at record {}: {}", p.seq, p.what)?,
        }
        let authz = &self.authorization;
        if authz.is_intact() {
            return writeln!(out, "authorization rows OK: {} rows", authz.rows);
        }
        writeln!(
            out,
            "authorization rows TAMPERED: {} of {} rows were changed outside twofill and are refused; restore them from a backup",
            authz.tampered.len(),
            authz.rows
        )?;
        for t in &authz.tampered {
            writeln!(out, "  {}: {}", t.table, t.row)?;
        }
        Ok(())
    }
}

/// Set by SIGTERM/SIGINT: `audit stream` finishes its current batch,
/// closes its connections and exits.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn stream(
    cx: &Invocation,
    mut vault: Vault,
    once: bool,
    only: Option<&str>,
    kick: bool,
    out: JsonFlag,
) -> Result<ExitCode> {
    let cfg = &cx.settings.config.siem;
    if cfg.sinks.is_empty() {
        if kick {
            return Ok(ExitCode::SUCCESS);
        }
        bail!("no SIEM sinks are configured: add [[siem.sink]] entries to the host config");
    }
    let dir = twofill_siem::state_dir(cfg, &cx.settings.vault);
    let host = twofill_siem::hostname(cfg);
    // Kicks and `--once` wait a little for a drain in progress (another
    // kick) to finish, so the newest records are not left for later; a
    // long-running `audit stream` holds its sinks for good, and then they
    // give up.
    let wait = if kick {
        Duration::from_secs(2)
    } else if once {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(1)
    };
    let mut streamer = twofill_siem::Streamer::new(cfg, &dir, &host, only, wait)?;
    let reports = if once {
        streamer.drain_once(&mut vault)
    } else {
        #[cfg(unix)]
        // SAFETY: the handler only stores to an atomic.
        unsafe {
            let handler = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::signal(libc::SIGTERM, handler);
            libc::signal(libc::SIGINT, handler);
        }
        let names = streamer.sink_names();
        if names.is_empty() {
            bail!("every configured sink is already being streamed by another `audit stream`");
        }
        eprintln!("twofill siem: streaming to {}", names.join(", "));
        streamer.run(&mut vault, &STOP, &mut |l| eprintln!("twofill siem: {l}"))
    };
    if kick {
        return Ok(ExitCode::SUCCESS);
    }
    emit(out, &reports)?;
    Ok(if once && reports.iter().any(|r| r.error.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

impl Report for Vec<SinkReport> {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for r in self {
            match (&r.error, r.busy) {
                (_, true) => writeln!(
                    out,
                    "{}: busy (another `audit stream` is delivering to it)",
                    r.name
                )?,
                (None, _) => writeln!(
                    out,
                    "{}: delivered {} records; has everything up to record {}",
                    r.name, r.delivered, r.cursor
                )?,
                (Some(e), _) => writeln!(
                    out,
                    "{}: FAILED after {} records: {e}; has everything up to record {}, the rest follows on the next run",
                    r.name, r.delivered, r.cursor
                )?,
            }
        }
        Ok(())
    }
}

/// One record as `audit tail` shows it to people.
/// One record on one line: every field a caller may have chosen is
/// escaped, so none can hold a line break or an escape sequence.
fn line(r: &AuditRecord) -> String {
    let e = &r.event;
    format!(
        "{:>6} {} {:<8} {:<20} {:<7} {}{}{}",
        r.seq,
        rfc3339_utc(r.time_ms),
        printable(&e.user),
        printable(e.action.as_str()),
        if e.success { "ok" } else { "REFUSED" },
        printable(e.token_label.as_deref().unwrap_or("")),
        e.origin
            .as_deref()
            .map(|o| format!(" @ {}", printable(o)))
            .unwrap_or_default(),
        e.reason
            .as_deref()
            .map(|x| format!(" — {}", printable(x)))
            .unwrap_or_default(),
    )
}
