//! Recovery codes through the real binary: `token recovery set|take` and
//! `take_recovery_code` over native messaging. Code-only users get nothing
//! by either path; each request gets one unused code, never the same twice.

use std::collections::HashSet;
use std::io::Write;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::support::*;
use twofill_words::Access;

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// Like a service's download: a header, numbered codes, a note.
const FILE: &str = "Recovery codes for team@example.com\n\n1. rcv1-0001\n2. rcv1-0002\n3. rcv1-0003\n4. rcv1-0004\n\nEach code works once.\n";

/// alice: admin. bob: `ops` (code-only). carol: `leads` (full-seed).
fn team_with_codes() -> (Env, String) {
    let env = Env::new();
    let id = env.enroll("alice", SEED, "Kaspersky", &["my.kaspersky.com"]);
    for args in [
        vec!["group", "add", "ops"],
        vec!["group", "add", "leads"],
        vec!["group", "add-member", "ops", "bob"],
        vec!["group", "add-member", "leads", "carol"],
        vec!["grant", "set", &id, "ops", Access::CodeOnly.as_str()],
        vec!["grant", "set", &id, "leads", Access::FullSeed.as_str()],
    ] {
        env.ok("alice", &args);
    }
    let file = env.dir.path().join("codes.txt");
    std::fs::write(&file, FILE).unwrap();
    let out = env.ok(
        "alice",
        &[
            "token",
            "recovery",
            "set",
            &id,
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out,
        format!(
            "attached 4 recovery codes to {id} (set 1)\nignored 2 lines that are not codes (headers, notes)\n"
        )
    );
    (env, id)
}

fn attached() -> HashSet<String> {
    (1..=4).map(|i| format!("rcv1-000{i}")).collect()
}

fn take(id: &str) -> Value {
    json!({"v": 1, "id": "t", "type": "take_recovery_code", "token": id})
}

#[test]
fn full_seed_holders_take_distinct_codes_over_the_wire_and_the_cli() {
    let (env, id) = team_with_codes();
    let mut host = env.launch("carol", &EXTENSION_ORIGIN);
    let list = host.ask(json!({"v": 1, "id": "l", "type": "list_tokens"}));
    assert_eq!(list["tokens"][0]["recovery_codes"], 4, "{list}");

    let mut seen = HashSet::new();
    for left in [3, 2] {
        let reply = host.ask(take(&id));
        assert_eq!(reply["type"], "recovery_code", "{reply}");
        assert_eq!(reply["token"]["id"], id.as_str());
        assert_eq!(reply["remaining"], left);
        assert!(seen.insert(reply["code"].as_str().unwrap().to_owned()));
    }
    assert!(host.finish().success());
    let out: Value =
        serde_json::from_str(&env.ok("carol", &["token", "recovery", "take", &id, "--json"]))
            .unwrap();
    assert_eq!(out["remaining"], 1);
    assert!(seen.insert(out["code"].as_str().unwrap().to_owned()));
    let human = env.ok("carol", &["token", "recovery", "take", &id]);
    let (code, rest) = human.split_once('\n').unwrap();
    assert!(seen.insert(code.to_owned()), "{human}");
    assert_eq!(rest, "single-use: this code is now marked used; 0 left\n");
    assert_eq!(seen, attached(), "every attached code once");

    let mut host = env.launch("carol", &EXTENSION_ORIGIN);
    let reply = host.ask(take(&id));
    assert_eq!(reply["error"]["code"], "no_recovery_codes", "{reply}");
    assert!(host.finish().success());

    let takes: Vec<Value> = env
        .audit("alice")
        .into_iter()
        .filter(|r| r["event"]["action"] == "recovery.take")
        .collect();
    assert_eq!(takes.len(), 5, "four codes and the refusal");
    for r in &takes {
        let text = r.to_string();
        assert!(
            !text.contains("rcv1-"),
            "no code text in the audit log: {text}"
        );
    }
}

#[test]
fn code_only_users_get_nothing_by_any_path() {
    let (env, id) = team_with_codes();
    for user in ["bob", "mallory"] {
        let mut host = env.launch(user, &EXTENSION_ORIGIN);
        let reply = host.ask(take(&id));
        assert_eq!(reply["error"]["code"], "not_permitted", "{user}: {reply}");
        assert!(!reply.to_string().contains("rcv1-"));
        let list = host.ask(json!({"v": 1, "id": "l", "type": "list_tokens"}));
        for t in list["tokens"].as_array().unwrap() {
            assert!(t.get("recovery_codes").is_none(), "{user}: {list}");
        }
        assert!(host.finish().success());
        let out = env.cli(user, &["token", "recovery", "take", &id]);
        assert!(!out.status.success());
        assert!(!String::from_utf8_lossy(&out.stdout).contains("rcv1-"));
        assert!(String::from_utf8_lossy(&out.stderr).contains("needs a full-seed grant"));
    }
    // Nothing was used by the refusals.
    let show: Value =
        serde_json::from_str(&env.ok("alice", &["token", "show", &id, "--json"])).unwrap();
    assert_eq!(show["recovery_codes"]["remaining"], 4, "{show}");
}

#[test]
fn bad_input_saves_nothing_and_says_why() {
    let (env, id) = team_with_codes();
    let png = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/site/kaspersky-token-qr.png");
    let json_file = env.dir.path().join("codes.json");
    std::fs::write(&json_file, r#"{"codes": ["abcd-1234"]}"#).unwrap();
    let dup = env.dir.path().join("dup.txt");
    std::fs::write(&dup, "new1-0001\n\nnew1-0002\nnew1-0001\n").unwrap();
    let empty = env.dir.path().join("empty.txt");
    std::fs::write(&empty, "\n\n").unwrap();
    for (file, says) in [
        (
            png.as_path(),
            "this is a PNG image, not a text file of recovery codes",
        ),
        (json_file.as_path(), "this is JSON"),
        (
            dup.as_path(),
            "recovery code 3 (line 4) is the same as code 1 (line 1)",
        ),
        (empty.as_path(), "the input is empty"),
    ] {
        let out = env.cli(
            "alice",
            &[
                "token",
                "recovery",
                "set",
                &id,
                "--file",
                file.to_str().unwrap(),
            ],
        );
        assert!(!out.status.success(), "{file:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{file:?}: {err}");
    }
    let show: Value =
        serde_json::from_str(&env.ok("alice", &["token", "show", &id, "--json"])).unwrap();
    assert_eq!(
        show["recovery_codes"]["set"], 1,
        "the first set stays: {show}"
    );
    assert_eq!(show["recovery_codes"]["remaining"], 4);
}

#[test]
fn replacing_from_stdin_discards_the_old_codes_and_few_left_warns_admins() {
    let (env, id) = team_with_codes();
    let mut child = env
        .command("alice")
        .args(["token", "recovery", "set", &id, "--file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"new2-0001\nnew2-0002\nnew2-0003\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("attached 3 recovery codes to {id} (set 2); the previous set is discarded\n")
    );
    let replaced: Vec<Value> = env
        .audit("alice")
        .into_iter()
        .filter(|r| r["event"]["action"] == "recovery.replace")
        .collect();
    assert_eq!(replaced.len(), 1);
    let code = env.ok("carol", &["token", "recovery", "take", &id]);
    assert!(code.starts_with("new2-000"), "only the new set: {code}");
    // Two left: the default threshold warns admins in the listing.
    let list = env.ok("alice", &["token", "list"]);
    assert!(list.contains("recovery codes: 2 left"), "{list}");
    assert!(
        list.contains("regenerate recovery codes at the service"),
        "{list}"
    );
}
