//! Kill -9 the host in the middle of writing, many times: the vault must
//! still open, the audit chain must verify, and every code the host
//! acknowledged (sent to the browser) must have its audit record.

use std::io::Write;
use std::thread;
use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};
use twofill_words::{Access, AuditAction};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn fills_by(env: &Env, user: &str) -> usize {
    env.audit("alice")
        .iter()
        .filter(|r| {
            r["user"]["name"] == user
                && r["event"]["action"] == AuditAction::CodeFill.as_str()
                && r["event"]["outcome"] == "success"
        })
        .count()
}

#[test]
fn killed_hosts_lose_no_acknowledged_record() {
    let env = Env::new();
    let id = env.enroll("alice", SEED, "Kaspersky", &["my.kaspersky.com"]);
    env.ok("alice", &["group", "add", "ops"]);
    env.ok("alice", &["group", "add-member", "ops", "bob"]);
    env.ok(
        "alice",
        &["grant", "set", &id, "ops", Access::CodeOnly.as_str()],
    );

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut acknowledged = 0usize;
    let mut killed_mid_stream = 0;
    for _round in 0..30 {
        let host = env.launch("bob", &EXTENSION_ORIGIN);
        let Host {
            mut child,
            stdin,
            mut stdout,
        } = host;
        let mut stdin = stdin.unwrap();
        // Pipeline requests as fast as the pipe takes them.
        let writer = thread::spawn(move || {
            for i in 0..2000 {
                let req = json!({"v": 1, "id": format!("r{i}"), "type": "get_code",
                                 "origin": "https://my.kaspersky.com"})
                .to_string();
                let frame = [&(req.len() as u32).to_ne_bytes()[..], req.as_bytes()].concat();
                if stdin.write_all(&frame).is_err() {
                    break;
                }
            }
        });
        let reader = thread::spawn(move || {
            let mut codes = 0usize;
            while let Some(reply) = read_reply(&mut stdout) {
                assert_eq!(reply["type"], "code", "{reply}");
                codes += 1;
            }
            codes
        });
        thread::sleep(Duration::from_millis(10 + rng.below(150)));
        let still_running = child.try_wait().unwrap().is_none();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        writer.join().unwrap();
        let codes = reader.join().unwrap();
        if still_running && codes < 2000 {
            killed_mid_stream += 1;
        }
        acknowledged += codes;
    }
    assert!(
        killed_mid_stream >= 20,
        "only {killed_mid_stream} kills landed mid-stream"
    );
    assert!(acknowledged > 0, "no code was ever acknowledged");

    // The vault opens and the chain verifies...
    let report: Value =
        serde_json::from_str(&env.ok("alice", &["audit", "verify", "--json"])).unwrap();
    assert!(report["problem"].is_null(), "{report}");
    // ...and every acknowledged code has its record (there may be a few
    // more: committed, then killed before the reply was written).
    let recorded = fills_by(&env, "bob");
    assert!(
        recorded >= acknowledged,
        "{acknowledged} codes were handed out but only {recorded} are on record"
    );
    eprintln!("{acknowledged} codes acknowledged across 30 kills, {recorded} recorded");
}

#[test]
fn killed_admin_commands_leave_change_and_record_together() {
    let env = Env::new();
    env.ok("alice", &["group", "add", "base"]);
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for i in 0..25 {
        let mut child = env
            .command("alice")
            .args(["group", "add", &format!("g{i}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        thread::sleep(Duration::from_micros(rng.below(40_000)));
        let _ = child.kill();
        child.wait().unwrap();
    }
    let report: Value =
        serde_json::from_str(&env.ok("alice", &["audit", "verify", "--json"])).unwrap();
    assert!(report["problem"].is_null(), "{report}");
    // A group exists exactly when its creation is on record.
    let groups: Value =
        serde_json::from_str(&env.ok("alice", &["group", "list", "--json"])).unwrap();
    let mut existing: Vec<String> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect();
    let mut recorded: Vec<String> = env
        .audit("alice")
        .iter()
        .filter(|r| r["event"]["action"] == AuditAction::GroupAdd.as_str())
        .map(|r| {
            r["event"]["reason"]
                .as_str()
                .unwrap()
                .trim_start_matches("group: ")
                .to_owned()
        })
        .collect();
    existing.sort();
    recorded.sort();
    assert_eq!(existing, recorded);
}
