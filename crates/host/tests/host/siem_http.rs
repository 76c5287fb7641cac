//! Audit streaming to a Splunk-HEC-style HTTP receiver written here (std
//! TcpListener: checks method, path, headers and body shape; answers 503
//! for a while, then 200), to an ECS JSON-lines file, and the native host's
//! best-effort drain after a code.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::Value;

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn config(extra_siem: &str, sinks: &str) -> String {
    format!(
        "[rate_limit]\ncodes = 0\nburst = 0\n[siem]\npoll_ms = 100\nbackoff_initial_ms = 100\nbackoff_max_ms = 400\nhostname = \"ws-test\"\n{extra_siem}\n{sinks}"
    )
}

fn cursor_seq(env: &Env, sink: &str) -> i64 {
    let p = env
        .vault
        .parent()
        .unwrap()
        .join("siem")
        .join(format!("{sink}.cursor.json"));
    std::fs::read(p)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["seq"].as_i64())
        .unwrap_or(0)
}

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    status: u16,
}

/// A minimal HEC endpoint: one request per connection; the first
/// `failures` requests get 503 (as a busy indexer answers), the rest 200.
fn receiver(failures: usize) -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 8192];
            let head_end = loop {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "connection closed inside the headers");
                raw.extend_from_slice(&buf[..n]);
                if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
            };
            let head = String::from_utf8(raw[..head_end].to_vec()).unwrap();
            let mut lines = head.split("\r\n");
            let mut first = lines.next().unwrap().split(' ');
            let (method, path, version) = (
                first.next().unwrap().to_owned(),
                first.next().unwrap().to_owned(),
                first.next().unwrap().to_owned(),
            );
            assert_eq!(version, "HTTP/1.1");
            let headers: HashMap<String, String> = lines
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once(':').unwrap();
                    (k.trim().to_ascii_lowercase(), v.trim().to_owned())
                })
                .collect();
            let len: usize = headers["content-length"].parse().unwrap();
            let mut body = raw[head_end..].to_vec();
            while body.len() < len {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0);
                body.extend_from_slice(&buf[..n]);
            }
            let mut seen = log.lock().unwrap();
            let status = if seen.len() < failures { 503 } else { 200 };
            let answer = if status == 200 {
                r#"{"text":"Success","code":0}"#
            } else {
                r#"{"text":"Server is busy","code":9}"#
            };
            seen.push(Request {
                method,
                path,
                headers,
                body,
                status,
            });
            drop(seen);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                if status == 200 {
                    "OK"
                } else {
                    "Service Unavailable"
                },
                answer.len()
            );
        }
    });
    (port, seen)
}

/// The concatenated JSON objects of a HEC batch.
fn events(body: &[u8]) -> Vec<Value> {
    serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn hec_sink_posts_splunk_events_and_retries_through_503s_without_loss() {
    let env = Env::new();
    let (port, seen) = receiver(3);
    env.set_config(&config(
        "kick = false\nbatch = 4",
        &format!(
            "[[siem.sink]]\nkind = \"hec\"\nurl = \"http://127.0.0.1:{port}/services/collector/event\"\ntoken = \"tok-123\"\nindex = \"security\"\nchannel = \"0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba\"\n"
        ),
    ));
    bob_code_only(&env, SEED);
    bob_fills(&env, 5);

    // One pass while the collector is busy: fails, nothing counted.
    let out = env.cli("alice", &["audit", "stream", "--once", "--json"]);
    assert!(!out.status.success());
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r[0]["cursor"], 0, "{r}");
    assert!(r[0]["error"].as_str().unwrap().contains("HTTP 503"), "{r}");
    assert_eq!(cursor_seq(&env, "hec"), 0);

    // The service retries with backoff until the collector takes it.
    let mut streamer = env
        .command("alice")
        .args(["audit", "stream"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    bob_fills(&env, 2);
    let audit = env.audit("alice");
    let head = audit.len() as i64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while cursor_seq(&env, "hec") < head && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    unsafe { libc::kill(streamer.id() as i32, libc::SIGTERM) };
    let mut log = String::new();
    streamer
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(streamer.wait().unwrap().success(), "{log}");
    assert_eq!(cursor_seq(&env, "hec"), head, "{log}");
    assert!(log.contains("HTTP 503"), "{log}");

    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() > 3, "{seen:?}");
    let mut delivered = Vec::new();
    for req in &seen {
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/services/collector/event");
        assert_eq!(req.headers["authorization"], "Splunk tok-123");
        assert_eq!(req.headers["content-type"], "application/json");
        assert_eq!(
            req.headers["x-splunk-request-channel"],
            "0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba"
        );
        assert_eq!(req.headers["host"], format!("127.0.0.1:{port}"));
        let evs = events(&req.body);
        assert!(
            !evs.is_empty() && evs.len() <= 4,
            "batch = 4: {}",
            evs.len()
        );
        for e in &evs {
            let obj = e.as_object().unwrap();
            let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "event",
                    "fields",
                    "host",
                    "index",
                    "source",
                    "sourcetype",
                    "time"
                ]
            );
            assert!(e["time"].is_f64() || e["time"].is_u64(), "{e}");
            assert_eq!(e["host"], "ws-test");
            assert_eq!(e["source"], "twofill");
            assert_eq!(e["sourcetype"], "twofill:audit");
            assert_eq!(e["index"], "security");
            assert_eq!(
                e["fields"]["seq"],
                e["event"]["event"]["sequence"].to_string()
            );
        }
        if req.status == 200 {
            delivered.extend(evs);
        }
    }
    // The 503s were retried from the same place; what the collector
    // accepted is exactly the log, in order, once.
    assert_eq!(seen[0].body, seen[1].body);
    assert_eq!(delivered.len(), audit.len());
    for (e, rec) in delivered.iter().zip(&audit) {
        assert_eq!(&e["event"], rec);
        let ms = e["time"].as_f64().unwrap() * 1000.0;
        let ts = rec["@timestamp"].as_str().unwrap();
        assert!(ms > 1.6e12, "{ms} {ts}");
    }
}

#[test]
fn file_sink_appends_ecs_lines_once_and_per_sink_cursors_are_independent() {
    let env = Env::new();
    let dir = env.dir.path();
    let (a, b) = (dir.join("out/a.jsonl"), dir.join("out/b.jsonl"));
    env.set_config(&config(
        "kick = false",
        &format!(
            "[[siem.sink]]\nname = \"a\"\nkind = \"file\"\npath = \"{}\"\n[[siem.sink]]\nname = \"b\"\nkind = \"file\"\npath = \"{}\"\n",
            a.display(),
            b.display()
        ),
    ));
    bob_code_only(&env, SEED);
    bob_fills(&env, 2);
    let out = env.ok("alice", &["audit", "stream", "--once", "--sink", "a"]);
    assert!(out.contains("a: delivered"), "{out}");
    let export = env.ok("alice", &["audit", "export"]);
    assert_eq!(std::fs::read_to_string(&a).unwrap(), export);
    assert!(!b.exists(), "--sink a must leave b alone");

    bob_fills(&env, 3);
    env.ok("alice", &["audit", "stream", "--once"]);
    env.ok("alice", &["audit", "stream", "--once"]); // nothing new: no duplicates
    let export = env.ok("alice", &["audit", "export"]);
    assert_eq!(std::fs::read_to_string(&a).unwrap(), export);
    assert_eq!(std::fs::read_to_string(&b).unwrap(), export);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("data/siem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

#[test]
fn unknown_sink_names_and_bad_sink_config_are_errors() {
    let env = Env::new();
    env.set_config(&config(
        "",
        "[[siem.sink]]\nkind = \"file\"\npath = \"/tmp/x\"\nadress = 1\n",
    ));
    let out = env.cli("alice", &["audit", "stream", "--once"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("adress"));
    env.set_config(&config("", ""));
    let out = env.cli("alice", &["audit", "stream", "--once"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no SIEM sinks"));
    let f = env.dir.path().join("x.jsonl");
    env.set_config(&config(
        "",
        &format!(
            "[[siem.sink]]\nkind = \"file\"\npath = \"{}\"\n",
            f.display()
        ),
    ));
    let out = env.cli("alice", &["audit", "stream", "--once", "--sink", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no SIEM sink named \"nope\""));
}

#[test]
fn the_native_host_kicks_a_drain_after_codes() {
    let env = Env::new();
    let f = env.dir.path().join("kicked.jsonl");
    env.set_config(&config(
        "",
        &format!(
            "[[siem.sink]]\nkind = \"file\"\npath = \"{}\"\n",
            f.display()
        ),
    ));
    bob_code_only(&env, SEED);
    bob_fills(&env, 3);
    // No `audit stream` ran: the host started the drains itself.
    let head = env.audit("alice").len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&f)
        .unwrap_or_default()
        .lines()
        .count()
        < head
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = std::fs::read_to_string(&f).unwrap();
    assert_eq!(got, env.ok("alice", &["audit", "export"]));
}
