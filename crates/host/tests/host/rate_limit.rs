//! The fill rate limit on the live host, with a new process per message as
//! browsers start it: the count must come from the vault, not from memory.

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};
use twofill_words::{Access, AuditAction};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SITE: &str = "https://my.kaspersky.com";

/// alice: admin. bob and carol: code-only on a token bound to my.kaspersky.com.
fn team(limits: &str) -> (Env, String) {
    let env = Env::new();
    env.set_config(limits);
    let id = env.enroll("alice", SEED, "Kaspersky", &["my.kaspersky.com"]);
    for args in [
        vec!["group", "add", "ops"],
        vec!["group", "add-member", "ops", "bob"],
        vec!["group", "add-member", "ops", "carol"],
        vec!["grant", "set", &id, "ops", Access::CodeOnly.as_str()],
    ] {
        env.ok("alice", &args);
    }
    (env, id)
}

/// One request in a fresh host process, as `sendNativeMessage` does it.
fn once(env: &Env, user: &str, request: Value) -> Value {
    let mut host = env.launch(user, &EXTENSION_ORIGIN);
    let reply = host.ask(request);
    assert!(host.finish().success());
    reply
}

fn retry_after(reply: &Value) -> u64 {
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["error"]["code"], "rate_limited", "{reply}");
    assert!(reply.get("code").is_none());
    reply["error"]["retry_after_ms"]
        .as_u64()
        .expect("a retry hint")
}

#[test]
fn defaults_allow_a_burst_of_five_fills_per_user_and_token_across_processes() {
    let (env, id) = team("");
    for i in 0..5 {
        let reply = once(&env, "bob", get_code(&format!("r{i}"), SITE));
        assert_eq!(reply["type"], "code", "fill {i}: {reply}");
        assert_eq!(
            reply["code"].as_str().unwrap(),
            oathtool(SEED, reply["valid_from"].as_u64().unwrap())
        );
    }
    let reply = once(&env, "bob", get_code("r5", SITE));
    let wait = retry_after(&reply);
    assert!((1..=10_000).contains(&wait), "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("5 codes in 10 s"),
        "{reply}"
    );

    // Per token: another origin the token fills on shares the count...
    let reply = once(&env, "bob", get_code("s", "https://eu.my.kaspersky.com"));
    retry_after(&reply);
    // ...per user: carol is not limited by bob's fills...
    let reply = once(&env, "carol", get_code("c", SITE));
    assert_eq!(reply["type"], "code", "{reply}");
    // ...and only fills: the popup's copy is not a page's to trigger.
    let copy = json!({"v": 1, "id": "p", "type": "get_code", "token": id,
        "purpose": "copy", "origin": SITE});
    assert_eq!(once(&env, "bob", copy)["type"], "code");

    // The refusal is on record, with who and where.
    let records = env.audit("alice");
    let refused = records
        .iter()
        .find(|r| {
            r["event"]["outcome"] == "failure"
                && r["event"]["reason"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("rate_limited"))
        })
        .expect("a rate_limited record");
    assert_eq!(refused["event"]["action"], AuditAction::CodeFill.as_str());
    assert_eq!(refused["user"]["name"], "bob");
    assert_eq!(refused["url"]["original"], SITE);
    assert!(
        env.ok("alice", &["audit", "verify"])
            .contains("audit log OK")
    );
}

#[test]
fn the_retry_hint_is_honest_and_the_window_limit_applies_after_the_burst() {
    let (env, _) =
        team("[rate_limit]\ncodes = 3\nwindow_seconds = 60\nburst = 2\nburst_seconds = 2\n");
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    for i in 0..2 {
        assert_eq!(host.ask(get_code(&format!("a{i}"), SITE))["type"], "code");
    }
    let wait = retry_after(&host.ask(get_code("a2", SITE)));
    assert!((1..=2000).contains(&wait), "{wait}");
    std::thread::sleep(Duration::from_millis(wait + 50));
    // The burst window has passed: the third code of the minute is allowed.
    let reply = host.ask(get_code("a3", SITE));
    assert_eq!(reply["type"], "code", "after waiting {wait} ms: {reply}");
    // The fourth is over the per-minute limit, whatever the burst says.
    std::thread::sleep(Duration::from_millis(2100));
    let reply = host.ask(get_code("a4", SITE));
    let wait = retry_after(&reply);
    assert!((50_000..=60_000).contains(&wait), "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("3 codes in 60 s"),
        "{reply}"
    );
    assert!(host.finish().success());
}

#[test]
fn concurrent_host_processes_cannot_exceed_the_burst() {
    let (env, _) = team("[rate_limit]\ncodes = 100\nburst = 3\nburst_seconds = 60\n");
    let env = &env;
    let replies: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|i| s.spawn(move || once(env, "bob", get_code(&format!("p{i}"), SITE))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let codes = replies.iter().filter(|r| r["type"] == "code").count();
    for r in replies.iter().filter(|r| r["type"] != "code") {
        retry_after(r);
    }
    assert_eq!(codes, 3, "{replies:?}");
}

#[test]
fn a_limit_of_zero_turns_the_limiter_off() {
    let (env, _) = team("[rate_limit]\ncodes = 0\nburst = 0\n");
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    for i in 0..30 {
        assert_eq!(host.ask(get_code(&format!("z{i}"), SITE))["type"], "code");
    }
    assert!(host.finish().success());
}

#[test]
fn a_bad_rate_limit_section_is_reported_not_ignored() {
    let (env, _) = team("");
    env.set_config("[rate_limit]\nburts = 3\n");
    let reply = once(&env, "bob", get_code("x", SITE));
    assert_eq!(reply["error"]["code"], "vault_unavailable", "{reply}");
    assert!(reply.get("code").is_none());
}
