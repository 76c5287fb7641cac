//! SIEM streaming benchmark: events/s delivered from a real vault to a local
//! TCP syslog receiver (and to a file), and the lag from a record's commit
//! to its arrival while records are being written.
//!
//! `cargo run --release -p twofill-siem --example siem_bench [-- RECORDS [SECONDS RATE]]`
//! (or `cargo xtask siem-bench`). Defaults: 5000 records for throughput; 10 s
//! at 200 records/s for lag. Records are `code.fill` audit events written
//! through the vault's normal append path (one committed, fsync'ed
//! transaction each), exactly what a fill writes before its code goes out.

use std::io::{BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use twofill_seal::Protection;
use twofill_siem::Streamer;
use twofill_siem::config::{SiemConfig, SinkConfig, SinkKind, SyslogFormat};
use twofill_vault::{AuditAction, AuditEvent, Vault};
use twofill_words::{CHROMIUM_EXTENSION_ID, unix_now_ms};

fn open(dir: &Path) -> Vault {
    Vault::open(
        &dir.join("vault.sqlite3"),
        &Protection::KeyFile(dir.join("vault.key")),
    )
    .unwrap()
}

fn fill(i: u64) -> AuditEvent {
    AuditEvent {
        user: format!("user{}", i % 17),
        action: AuditAction::CodeFill,
        success: true,
        token_id: Some("3f9c2a".into()),
        token_label: Some("Kaspersky (team@example.com)".into()),
        origin: Some("https://my.kaspersky.com".into()),
        browser: Some("chromium".into()),
        extension_id: Some(CHROMIUM_EXTENSION_ID.into()),
        reason: None,
    }
}

/// (seq, lag ms) for every message received.
type Arrivals = Arc<Mutex<Vec<(i64, i64)>>>;

/// An octet-counting syslog receiver that notes each record's `seq` and
/// how long after its `time` it arrived.
fn receiver() -> (u16, Arrivals) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Arrivals = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { continue };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn);
                loop {
                    let mut len = Vec::new();
                    let mut b = [0u8; 1];
                    loop {
                        if r.read(&mut b).unwrap_or(0) == 0 {
                            return;
                        }
                        if b[0] == b' ' {
                            break;
                        }
                        len.push(b[0]);
                    }
                    let n: usize = std::str::from_utf8(&len).unwrap().parse().unwrap();
                    let mut msg = vec![0u8; n];
                    if r.read_exact(&mut msg).is_err() {
                        return;
                    }
                    let at = unix_now_ms();
                    let m = String::from_utf8_lossy(&msg);
                    // RFC 5424: seq="…" time="…" in the SD; CEF: externalId=… rt=…
                    let field = |k: &str, cef: &str| -> i64 {
                        if let Some(i) = m.find(&format!(" {k}=\"")) {
                            let i = i + k.len() + 3;
                            return m[i..i + m[i..].find('"').unwrap()].parse().unwrap();
                        }
                        let i = m
                            .find(&format!(" {cef}="))
                            .or_else(|| m.find(&format!("|{cef}=")))
                            .unwrap()
                            + cef.len()
                            + 2;
                        m[i..i + m[i..].find(' ').unwrap()].parse().unwrap()
                    };
                    g.lock()
                        .unwrap()
                        .push((field("seq", "externalId"), at - field("time", "rt")));
                }
            });
        }
    });
    (port, got)
}

fn config(sinks: Vec<SinkConfig>, poll_ms: u64) -> SiemConfig {
    SiemConfig {
        poll_ms,
        sinks,
        ..SiemConfig::default()
    }
}

fn syslog(name: &str, port: u16, format: SyslogFormat) -> SinkConfig {
    SinkConfig {
        name: Some(name.into()),
        kind: SinkKind::SyslogTcp {
            address: format!("127.0.0.1:{port}"),
            format,
            facility: Default::default(),
            tls: None,
        },
    }
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let records = args.first().copied().unwrap_or(5000);
    let seconds = args.get(1).copied().unwrap_or(10);
    let rate = args.get(2).copied().unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("siem");

    // 1. Throughput: a backlog of `records`, drained once.
    let mut vault = open(dir.path());
    let t = Instant::now();
    for i in 0..records {
        vault.record(&fill(i)).unwrap();
    }
    let write_s = t.elapsed().as_secs_f64();
    println!(
        "twofill SIEM streaming benchmark ({} CPUs)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "backlog: {records} audit records written in {write_s:.2} s ({:.0} records/s, fsync each)",
        records as f64 / write_s
    );
    println!("\n| sink | records | seconds | events/s |\n|---|---:|---:|---:|");
    for (name, format) in [
        ("syslog-rfc5424", SyslogFormat::Rfc5424),
        ("syslog-cef", SyslogFormat::Cef),
    ] {
        let (port, got) = receiver();
        let cfg = config(vec![syslog(name, port, format)], 500);
        let mut s = Streamer::new(&cfg, &state, "bench", None, Duration::ZERO).unwrap();
        let t = Instant::now();
        let r = s.drain_once(&mut vault);
        assert_eq!(r[0].cursor, records as i64, "{r:?}");
        while (got.lock().unwrap().len() as u64) < records {
            std::thread::sleep(Duration::from_millis(1));
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "| {name} (TCP, batch 500, incl. {} ms confirm) | {records} | {secs:.3} | {:.0} |",
            cfg.confirm_ms,
            records as f64 / secs
        );
    }
    {
        let cfg = config(
            vec![SinkConfig {
                name: Some("file".into()),
                kind: SinkKind::File {
                    path: dir.path().join("audit.jsonl"),
                },
            }],
            500,
        );
        let mut s = Streamer::new(&cfg, &state, "bench", None, Duration::ZERO).unwrap();
        let t = Instant::now();
        let r = s.drain_once(&mut vault);
        assert_eq!(r[0].cursor, records as i64);
        let secs = t.elapsed().as_secs_f64();
        println!(
            "| file (ECS JSON lines, fsync per batch) | {records} | {secs:.3} | {:.0} |",
            records as f64 / secs
        );
    }

    // 2. Lag under load: records written at `rate`/s for `seconds` while
    //    the long-running streamer delivers them.
    println!(
        "\nlag under load: {rate} records/s written for {seconds} s (plus the backlog above already delivered)\n"
    );
    println!(
        "| poll interval | delivered | events/s | lag p50 | lag p95 | lag max |\n|---|---:|---:|---:|---:|---:|"
    );
    for poll in [500u64, 50] {
        let (port, got) = receiver();
        let name = format!("lag-{poll}");
        let cfg = config(vec![syslog(&name, port, SyslogFormat::Rfc5424)], poll);
        let start_seq = vault.audit_head_seq().unwrap();
        // Start the new sink at the current head: only the new records count.
        twofill_siem::cursor::ensure_dir(&state).unwrap();
        let head = vault.audit_records(start_seq - 1, 1).unwrap();
        twofill_siem::cursor::store(
            &state,
            &name,
            &twofill_siem::cursor::Cursor {
                seq: start_seq,
                mac: twofill_vault::audit::hex(&head[0].mac),
                updated_ms: unix_now_ms(),
            },
        )
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let total = seconds * rate;
        let streamer = {
            let stop = stop.clone();
            let dir = dir.path().to_owned();
            let state = state.clone();
            std::thread::spawn(move || {
                let mut v = open(&dir);
                let mut s = Streamer::new(&cfg, &state, "bench", None, Duration::ZERO).unwrap();
                s.run(&mut v, &stop, &mut |l| eprintln!("{l}"))
            })
        };
        let t = Instant::now();
        for i in 0..total {
            let due = t + Duration::from_secs_f64(i as f64 / rate as f64);
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            vault.record(&fill(i)).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while (got.lock().unwrap().len() as u64) < total && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let secs = t.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        streamer.join().unwrap();
        let got = got.lock().unwrap();
        let in_order = got.windows(2).all(|w| w[1].0 == w[0].0 + 1);
        let mut lags: Vec<i64> = got.iter().map(|&(_, l)| l).collect();
        lags.sort_unstable();
        println!(
            "| {poll} ms | {}{} | {:.0} | {} ms | {} ms | {} ms |",
            got.len(),
            if in_order { "" } else { " (OUT OF ORDER)" },
            got.len() as f64 / secs,
            pct(&lags, 0.5),
            pct(&lags, 0.95),
            lags.last().copied().unwrap_or(0)
        );
    }
}
