//! SIEM streaming from the server's audit log: two replicas on one
//! PostgreSQL both configured with one Splunk-HEC sink (a real HTTP
//! receiver written here), each running its streamer. The sink's cursor
//! and lease live in the vault, so every record arrives exactly once and
//! in order; when the replica delivering is killed with -9, the other takes
//! the sink over once the lease runs out and goes on from the shared
//! cursor: no gap, duplicates only at the kill boundary.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const SINK: &str = "soc";
const BATCH: usize = 5;

/// A HEC endpoint: one request per connection, every batch answered 200;
/// returns its port and the `seq` of every event received, in arrival order.
fn hec_receiver() -> (u16, Arc<Mutex<Vec<i64>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seqs = Arc::new(Mutex::new(Vec::new()));
    let got = seqs.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 8192];
            let head_end = loop {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => raw.extend_from_slice(&buf[..n]),
                }
                if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            // A sender killed mid-request: nothing was received.
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
            assert!(
                head.starts_with("post /services/collector/event "),
                "{head}"
            );
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            let mut body = raw[head_end..].to_vec();
            while body.len() < len {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => body.extend_from_slice(&buf[..n]),
                }
            }
            if body.len() < len {
                continue;
            }
            let events: Vec<i64> = serde_json::Deserializer::from_slice(&body)
                .into_iter::<Value>()
                .map(|v| {
                    v.unwrap()["fields"]["seq"]
                        .as_str()
                        .unwrap()
                        .parse()
                        .unwrap()
                })
                .collect();
            got.lock().unwrap().extend(events);
            let answer = r#"{"text":"Success","code":0}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (port, seqs)
}

/// A PostgreSQL server state whose `[siem]` streams to a HEC receiver, with
/// the rate limit off (50 fills from one user).
fn streaming_state(lease_ms: i64) -> (ServerState, Arc<Mutex<Vec<i64>>>) {
    let state = ServerState::new(Backend::Postgres);
    let (port, seqs) = hec_receiver();
    configure_siem(
        &state,
        lease_ms,
        &format!(
            "kind = \"hec\"\nurl = \"http://127.0.0.1:{port}/services/collector/event\"\ntoken = \"tok\"\n"
        ),
    );
    (state, seqs)
}

/// Adds `[siem]` with the one sink [`SINK`] (`sink`: its kind and
/// settings) to server.toml, and turns the rate limit off.
fn configure_siem(state: &ServerState, lease_ms: i64, sink: &str) {
    let path = state.state.join("server.toml");
    let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let extra: toml::Table = toml::from_str(&format!(
        "[rate_limit]\ncodes = 0\nburst = 0\n\
         [siem]\nbatch = {BATCH}\npoll_ms = 50\nbackoff_initial_ms = 50\nbackoff_max_ms = 200\nlease_ms = {lease_ms}\nhostname = \"vault-test\"\n\
         [[siem.sink]]\nname = \"{SINK}\"\n{sink}"
    ))
    .unwrap();
    config.extend(extra);
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
}

/// Waits until the receiver has every record up to the log's head and the
/// shared cursor is there too; then a little longer, for late duplicates.
fn wait_for_all(state: &ServerState, seqs: &Mutex<Vec<i64>>, servers: &[&Server]) -> i64 {
    let vault = state.vault();
    let head = vault.audit_head_seq().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let have = seqs.lock().unwrap().iter().max().copied().unwrap_or(0);
        if have >= head && vault.siem_cursor(SINK).unwrap().seq >= head {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the receiver got up to {have} of {head} records; logs: {}",
            servers
                .iter()
                .map(|s| s.log_text())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Several polls of both streamers: a second deliverer would show now.
    std::thread::sleep(Duration::from_millis(800));
    head
}

#[test]
fn two_replicas_deliver_every_record_exactly_once_in_order() {
    let lease_ms = 1_500;
    let (state, seqs) = streaming_state(lease_ms);
    let first = state.serve();
    let second = state.serve();
    let (bob_first, _) = first.device(&state, "bob");
    let bob_second = second.client_for(&bob_first);
    // Both replicas issue codes while both streamers run; each code's
    // record is in the one shared log.
    let fill_on_both = |each: usize| {
        std::thread::scope(|s| {
            for client in [&bob_first, &bob_second] {
                s.spawn(move || {
                    for _ in 0..each {
                        let reply = client.fill(KASPERSKY_SITE);
                        assert_eq!(reply.status, 200, "{}", reply.text());
                    }
                });
            }
        })
    };
    fill_on_both(25);
    let head = wait_for_all(&state, &seqs, &[&first, &second]);
    assert!(head >= 50, "head {head}");
    let holder = state.vault().siem_cursor(SINK).unwrap().holder.unwrap();
    assert!(
        [first.pid(), second.pid()]
            .iter()
            .any(|pid| holder.contains(&format!(":{pid}:"))),
        "{holder}"
    );
    // Idle for several leases: the holder renews its lease, so the other
    // replica never gets the sink and never delivers alongside it.
    std::thread::sleep(Duration::from_millis(3 * lease_ms as u64));
    fill_on_both(5);
    let head = wait_for_all(&state, &seqs, &[&first, &second]);
    let got = seqs.lock().unwrap().clone();
    assert_eq!(
        got,
        (1..=head).collect::<Vec<_>>(),
        "every record exactly once, in order"
    );
    let cursor = state.vault().siem_cursor(SINK).unwrap();
    assert_eq!(
        cursor.holder.as_deref(),
        Some(holder.as_str()),
        "one holder throughout"
    );
    assert_eq!(cursor.seq, head);
    assert!(state.cli_ok(&["audit", "verify"]).contains("audit log OK"));
}

#[test]
fn a_killed_streaming_replica_is_replaced_after_its_lease_without_gaps() {
    let lease_ms = 2_000;
    let (state, seqs) = streaming_state(lease_ms);
    let first = state.serve();
    let second = state.serve();
    let (bob_first, _) = first.device(&state, "bob");
    let bob_second = second.client_for(&bob_first);
    for _ in 0..10 {
        assert_eq!(bob_first.fill(KASPERSKY_SITE).status, 200);
    }
    wait_for_all(&state, &seqs, &[&first, &second]);
    let holder = state.vault().siem_cursor(SINK).unwrap().holder.unwrap();
    let (streaming, survivor, survivor_client) = if holder.contains(&format!(":{}:", first.pid())) {
        (first, second, bob_second)
    } else {
        (second, first, bob_first)
    };
    let survivor_pid = survivor.pid();
    // Codes keep coming through the survivor while the streaming replica
    // is killed with -9 (Child::kill is SIGKILL) in the middle of it.
    std::thread::scope(|s| {
        let client = &survivor_client;
        let filler = s.spawn(move || {
            for _ in 0..40 {
                let reply = client.fill(KASPERSKY_SITE);
                assert_eq!(reply.status, 200, "{}", reply.text());
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(streaming);
        filler.join().unwrap();
    });
    let head = wait_for_all(&state, &seqs, &[&survivor]);
    let got = seqs.lock().unwrap().clone();
    // No gap: the records arrive in order, each one at most one past the
    // newest so far; repeats only of the tail the dead one had sent but not
    // yet recorded as delivered (at least once), at most one batch.
    let mut newest = 0;
    let mut duplicates = 0;
    for &seq in &got {
        assert!(
            seq <= newest + 1,
            "gap before {seq} (had up to {newest}): {got:?}"
        );
        if seq <= newest {
            duplicates += 1;
        }
        newest = newest.max(seq);
    }
    assert_eq!(newest, head, "{got:?}");
    assert!(duplicates <= BATCH, "{duplicates} duplicates: {got:?}");
    let cursor = state.vault().siem_cursor(SINK).unwrap();
    assert!(
        cursor
            .holder
            .unwrap()
            .contains(&format!(":{survivor_pid}:")),
        "the survivor took the sink over"
    );
    assert_eq!(cursor.seq, head);
}

/// A replica stopped with SIGTERM finishes, lets go of its sink's lease
/// and exits 0: the other replica takes the sink over at once, not after
/// the lease (long here), and goes on from the shared cursor.
#[test]
fn a_replica_stopped_with_sigterm_hands_its_sink_over_at_once() {
    let lease_ms = 120_000;
    let (state, seqs) = streaming_state(lease_ms);
    let mut first = state.serve();
    let (bob, _) = first.device(&state, "bob");
    for _ in 0..5 {
        assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
    }
    wait_for_all(&state, &seqs, &[&first]);
    let held = state.vault().siem_cursor(SINK).unwrap();
    assert!(
        held.holder
            .as_deref()
            .unwrap()
            .contains(&format!(":{}:", first.pid())),
        "{held:?}"
    );
    let status = first.terminate();
    assert!(status.success(), "{status}; log: {}", first.log_text());
    assert!(first.log_text().contains("twofill-server: stopped"));
    let released = state.vault().siem_cursor(SINK).unwrap();
    assert_eq!(released.holder, None, "the lease is let go of on SIGTERM");

    let second = state.serve();
    let bob_second = second.client_for(&bob);
    for _ in 0..5 {
        assert_eq!(bob_second.fill(KASPERSKY_SITE).status, 200);
    }
    // Far sooner than the 120 s lease would allow.
    let head = wait_for_all(&state, &seqs, &[&second]);
    assert_eq!(state.vault().siem_cursor(SINK).unwrap().seq, head);
}

/// `audit stream --once` on the embedded store: delivers from the vault's
/// cursor (so a second run sends nothing again), and leaves a sink that
/// `serve`'s streamer holds alone.
#[test]
fn audit_stream_once_goes_on_from_the_vault_cursor_and_leaves_a_held_sink_alone() {
    let state = ServerState::new(Backend::Sqlite);
    let file = state.state.join("audit.jsonl");
    configure_siem(
        &state,
        60_000,
        &format!("kind = \"file\"\npath = \"{}\"\n", file.display()),
    );
    let lines = || -> Vec<i64> {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["event"]["sequence"]
                    .as_i64()
                    .unwrap()
            })
            .collect()
    };
    let head = state.vault().audit_head_seq().unwrap();
    let out = state.cli_ok(&["audit", "stream", "--once"]);
    assert!(
        out.contains(&format!("{SINK}: delivered {head} records")),
        "{out}"
    );
    let out = state.cli_ok(&["audit", "stream", "--once"]);
    assert!(
        out.contains(&format!("{SINK}: delivered 0 records; up to record {head}")),
        "{out}"
    );
    assert_eq!(lines(), (1..=head).collect::<Vec<_>>());

    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
    let head = state.vault().audit_head_seq().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while state.vault().siem_cursor(SINK).unwrap().seq < head {
        assert!(Instant::now() < deadline, "{}", server.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = state.cli_ok(&["audit", "stream", "--once"]);
    assert!(out.contains(&format!("{SINK}: busy")), "{out}");
    assert_eq!(lines(), (1..=head).collect::<Vec<_>>());
}

/// A lease the streamer could not renew in time is refused before anything
/// is sent, with what to change.
#[test]
fn a_lease_shorter_than_a_few_polls_is_refused() {
    let state = ServerState::new(Backend::Sqlite);
    let file = state.state.join("audit.jsonl");
    configure_siem(
        &state,
        100,
        &format!("kind = \"file\"\npath = \"{}\"\n", file.display()),
    );
    let out = state.cli(&["audit", "stream", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("lease_ms = 100") && err.contains("at least"),
        "{err}"
    );
    assert!(!file.exists());
}
