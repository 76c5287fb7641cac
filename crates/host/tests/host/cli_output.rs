//! The admin command line as scripts use it: piped into other tools, and
//! under the names older scripts know.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::Value;

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// `twofill-host audit tail --follow | head -1`: once the reader is gone, the
/// next record tail writes ends it, with success and nothing on stderr.
#[test]
fn a_closed_pipe_ends_audit_tail_cleanly() {
    let env = Env::new();
    let id = bob_code_only(&env, SEED);
    let mut tail = env
        .command("alice")
        .args(["audit", "tail", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(tail.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(!first.trim().is_empty(), "tail printed no record");
    drop(stdout); // `head -1` exits
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        // A new record for tail to write into the closed pipe.
        env.ok("bob", &["token", "code", &id]);
        if let Some(status) = tail.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            tail.kill().ok();
            panic!("audit tail --follow kept running after its reader went away");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    tail.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "exit {status:?}, stderr: {stderr}");
    assert_eq!(stderr, "", "a closed pipe is not an error");
}

/// `bind-site`/`unbind-site`, and the old `bind-domain`/`unbind-domain`
/// names scripts may still use.
#[test]
fn bind_site_and_its_old_name_both_work() {
    let env = Env::new();
    let id = env.enroll("alice", SEED, "Kaspersky", &["my.kaspersky.com"]);
    let sites = || -> Vec<String> {
        let list: Value =
            serde_json::from_str(&env.ok("alice", &["token", "list", "--json"])).unwrap();
        list[0]["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        env.ok("alice", &["token", "bind-site", &id, "a.example"]),
        format!("bound a.example to {id}\n")
    );
    assert_eq!(
        env.ok("alice", &["token", "bind-domain", &id, "b.example"]),
        format!("bound b.example to {id}\n")
    );
    assert_eq!(
        sites(),
        [
            "https://a.example",
            "https://b.example",
            "https://my.kaspersky.com"
        ]
    );
    assert_eq!(
        env.ok("alice", &["token", "unbind-site", &id, "a.example"]),
        format!("unbound a.example from {id}\n")
    );
    env.ok("alice", &["token", "unbind-domain", &id, "b.example"]);
    assert_eq!(sites(), ["https://my.kaspersky.com"]);
    let help = env.ok("alice", &["token", "--help"]);
    assert!(help.contains("bind-site"), "{help}");
    assert!(
        !help.contains("bind-domain"),
        "the old name is hidden: {help}"
    );
}

/// A caller picks the origin it reports; refused, it is on record as sent.
/// `audit tail` must show it as one escaped line: no forged line below it
/// and no escape sequence reaching the admin's terminal.
#[test]
fn audit_tail_escapes_what_callers_chose() {
    let env = Env::new();
    let id = bob_code_only(&env, SEED);
    let forged = "https://evil.example\n    99 2026-01-01T00:00:00Z alice    code.issue           ok      Forged\u{1b}[2J\r\u{202e}";
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    let reply = host.ask(get_code(&id, forged));
    assert_eq!(reply["type"], "error", "{reply}");
    host.finish();
    let records = env.audit("alice").len();
    let tail = env.ok("alice", &["audit", "tail", "-n", "1000"]);
    assert_eq!(tail.lines().count(), records, "{tail}");
    assert!(!tail.contains(['\u{1b}', '\r', '\u{202e}']), "{tail:?}");
    assert!(tail.contains("evil.example\\u{a}"), "{tail}");
}
