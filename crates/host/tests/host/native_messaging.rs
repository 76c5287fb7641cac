//! The live host over real pipes: permissions, bindings, seeds, errors.
//! Codes are checked against `oathtool`, an independent implementation.

use crate::support::*;
use serde_json::{Value, json};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// alice: admin. bob: `ops` (code-only). carol: `leads` (full-seed). dave: no group.
fn team() -> (Env, String) {
    let env = Env::new();
    let id = env.enroll("alice", SEED, "Kaspersky", &["my.kaspersky.com"]);
    for args in [
        vec!["group", "add", "ops"],
        vec!["group", "add", "leads"],
        vec!["group", "add-member", "ops", "bob"],
        vec!["group", "add-member", "leads", "carol"],
        vec!["user", "add", "dave"],
        vec!["grant", "set", &id, "ops", Access::CodeOnly.as_str()],
        vec!["grant", "set", &id, "leads", Access::FullSeed.as_str()],
    ] {
        env.ok("alice", &args);
    }
    (env, id)
}

fn assert_no_secret(reply: &Value) {
    let text = reply.to_string();
    assert!(!text.contains(SEED), "seed leaked: {text}");
    assert!(!text.contains("otpauth"), "URI leaked: {text}");
}

#[test]
fn bound_origin_gets_the_oathtool_code_and_others_get_nothing() {
    let (env, id) = team();
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    let reply = host.ask(get_code("r1", "https://my.kaspersky.com"));
    assert_eq!(reply["type"], "code", "{reply}");
    assert_eq!(reply["id"], "r1");
    assert_eq!(reply["token"]["id"], id.as_str());
    let valid_from = reply["valid_from"].as_u64().unwrap();
    assert_eq!(reply["valid_until"].as_u64().unwrap(), valid_from + 30);
    assert_eq!(
        reply["code"].as_str().unwrap(),
        oathtool(SEED, valid_from),
        "host code must equal oathtool's for the window it claims"
    );
    assert_no_secret(&reply);

    // The same prompt on domains the token is not bound to: an error, no code.
    for origin in [
        "https://evil.example",
        "https://my.kaspersky.com.evil.example",
        "https://my-kaspersky.com",
        "http://my.kaspersky.com", // bare-domain bindings are https-only
        "https://kaspersky.com",   // parent of the bound host
        "https://xn--my-kspersky-8ib.com", // IDN look-alike (punycode)
        "https://my.kaspersky.com:8443", // another port is another origin
    ] {
        let reply = host.ask(get_code("r2", origin));
        assert_eq!(reply["type"], "error", "{origin}: {reply}");
        assert_eq!(reply["error"]["code"], "no_token_for_origin", "{origin}");
        assert!(reply.get("code").is_none(), "{origin}: {reply}");
    }
    // Subdomains of the bound host are the same site, on its default port.
    for origin in [
        "https://eu.my.kaspersky.com",
        "https://eu.my.kaspersky.com:443",
    ] {
        assert_eq!(host.ask(get_code("r3", origin))["type"], "code", "{origin}");
    }
    // Naming a token does not get around the binding.
    let reply = host.ask(json!({"v": 1, "id": "r4", "type": "get_code",
        "origin": "https://evil.example", "token": id}));
    assert_eq!(reply["error"]["code"], "no_token_for_origin", "{reply}");
    assert!(host.finish().success(), "EOF on stdin is a clean exit");
}

#[test]
fn permission_matrix_over_the_wire() {
    let (env, id) = team();
    let fill = get_code("f", "https://my.kaspersky.com");
    let copy = json!({"v": 1, "id": "c", "type": "get_code", "token": id, "purpose": "copy"});
    let reveal = json!({"v": 1, "id": "s", "type": "reveal_seed", "token": id});
    let list =
        json!({"v": 1, "id": "l", "type": "list_tokens", "origin": "https://my.kaspersky.com"});

    // (user, may have codes, may have the seed)
    for (user, codes, seed) in [
        ("alice", false, false), // admins manage; using a token needs a grant
        ("bob", true, false),
        ("carol", true, true),
        ("dave", false, false),
        ("mallory", false, false),
    ] {
        let mut host = env.launch(user, &EXTENSION_ORIGIN);
        for request in [&fill, &copy] {
            let reply = host.ask(request.clone());
            if codes {
                assert_eq!(reply["type"], "code", "{user}: {reply}");
            } else {
                assert_eq!(reply["error"]["code"], "not_permitted", "{user}: {reply}");
                assert!(reply.get("code").is_none());
            }
        }
        let reply = host.ask(reveal.clone());
        if seed {
            assert_eq!(reply["type"], "seed", "{user}: {reply}");
            assert_eq!(reply["secret"], SEED);
            assert!(
                reply["uri"]
                    .as_str()
                    .unwrap()
                    .starts_with("otpauth://totp/")
            );
        } else {
            assert_eq!(reply["type"], "error", "{user}: {reply}");
            assert_no_secret(&reply);
        }
        let reply = host.ask(list.clone());
        assert_eq!(reply["type"], "tokens", "{user}: {reply}");
        assert_eq!(reply["user"], user);
        let tokens = reply["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), usize::from(codes), "{user}: {reply}");
        if let Some(t) = tokens.first() {
            assert_eq!(t["id"], id.as_str());
            assert_eq!(t["bound_here"], true);
            assert_eq!(
                t["access"],
                if seed {
                    Access::FullSeed.as_str()
                } else {
                    Access::CodeOnly.as_str()
                }
            );
            assert_eq!(t["period"], 30);
            assert_no_secret(&reply);
        }
        assert!(host.finish().success());
    }

    // Code-only through the CLI: codes yes, seed never.
    let out = env.cli("bob", &["token", "reveal", &id]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SEED));
    assert!(String::from_utf8_lossy(&out.stderr).contains(Access::FullSeed.as_str()));
    let code = env.ok("bob", &["token", "code", &id, "--json"]);
    let code: Value = serde_json::from_str(&code).unwrap();
    assert_eq!(
        code["code"].as_str().unwrap(),
        oathtool(SEED, code["valid_from"].as_u64().unwrap())
    );
    assert!(
        !env.cli("bob", &["token", "show", &id, "--json"])
            .stdout
            .is_empty()
    );
    let shown = env.ok("bob", &["token", "show", &id, "--json"]);
    assert!(!shown.contains(SEED));
    // ...and bob cannot give himself more.
    assert!(
        !env.cli(
            "bob",
            &["grant", "set", &id, "ops", Access::FullSeed.as_str()]
        )
        .status
        .success()
    );
    assert!(
        !env.cli("bob", &["group", "add-member", "leads", "bob"])
            .status
            .success()
    );
    assert!(env.cli("carol", &["token", "reveal", &id]).status.success());
}

#[test]
fn every_code_and_refusal_is_audited_with_who_where_and_which_extension() {
    let (env, id) = team();
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    host.ask(get_code("a", "https://my.kaspersky.com"));
    host.ask(get_code("b", "https://evil.example"));
    host.ask(json!({"v": 1, "id": "c", "type": "reveal_seed", "token": id}));
    host.finish();
    let mut host = env.launch("carol", &EXTENSION_ORIGIN);
    host.ask(json!({"v": 1, "id": "d", "type": "get_code", "token": id, "purpose": "view"}));
    host.ask(json!({"v": 1, "id": "e", "type": "reveal_seed", "token": id, "purpose": "qr"}));
    host.finish();

    let records = env.audit("alice");
    let tail: Vec<(String, String, String)> = records
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(|r| {
            (
                r["user"]["name"].as_str().unwrap().to_owned(),
                r["event"]["action"].as_str().unwrap().to_owned(),
                r["event"]["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("bob", AuditAction::CodeFill.as_str(), "success"),
        ("bob", AuditAction::CodeFill.as_str(), "failure"),
        ("bob", AuditAction::SeedReveal.as_str(), "failure"),
        ("carol", AuditAction::CodeView.as_str(), "success"),
        ("carol", AuditAction::SeedQr.as_str(), "success"),
    ];
    assert_eq!(
        tail,
        want.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );
    let fill = &records[records.len() - 5];
    assert_eq!(fill["url"]["original"], "https://my.kaspersky.com");
    assert_eq!(fill["url"]["domain"], "my.kaspersky.com");
    assert_eq!(fill["twofill"]["token"]["id"], id.as_str());
    assert_eq!(
        fill["twofill"]["extension_id"],
        EXTENSION_ORIGIN
            .trim()
            .trim_start_matches("chrome-extension://")
    );
    assert_eq!(fill["event"]["dataset"], "twofill.audit");
    assert!(fill["@timestamp"].as_str().unwrap().ends_with('Z'));
    let refused = &records[records.len() - 4];
    assert!(
        refused["event"]["reason"]
            .as_str()
            .unwrap()
            .contains("no_token_for_origin")
    );
    // Admin changes are there too, before the codes.
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["event"]["action"].as_str().unwrap())
        .collect();
    for a in [
        AuditAction::VaultInit.as_str(),
        AuditAction::TokenAdd.as_str(),
        AuditAction::GroupAdd.as_str(),
        AuditAction::GroupMemberAdd.as_str(),
        AuditAction::GrantSet.as_str(),
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    // The chain verifies and prints an anchor.
    let out = env.ok("alice", &["audit", "verify"]);
    assert!(out.contains("audit log OK"), "{out}");
}

/// IPv6 literals are bound with the CLI and filled like any host; another
/// address or port gets nothing.
#[test]
fn ipv6_literal_sites_are_bound_and_filled() {
    let env = Env::new();
    let id = env.enroll(
        "alice",
        SEED,
        "Router",
        &["https://[::1]", "https://[2001:db8::1]:8443"],
    );
    for args in [
        vec!["group", "add", "ops"],
        vec!["group", "add-member", "ops", "bob"],
        vec!["grant", "set", &id, "ops", Access::CodeOnly.as_str()],
    ] {
        env.ok("alice", &args);
    }
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    for origin in ["https://[::1]", "https://[2001:db8::1]:8443"] {
        let reply = host.ask(get_code("r", origin));
        assert_eq!(reply["type"], "code", "{origin}: {reply}");
        assert_eq!(reply["token"]["id"], id.as_str());
        let from = reply["valid_from"].as_u64().unwrap();
        assert_eq!(reply["code"].as_str().unwrap(), oathtool(SEED, from));
    }
    for origin in ["https://[2001:db8::2]:8443", "https://[::2]"] {
        let reply = host.ask(get_code("r", origin));
        assert_eq!(reply["type"], "error", "{origin}: {reply}");
        assert!(reply.get("code").is_none());
    }
    assert!(host.finish().success());
}

#[test]
fn enrollment_requires_the_right_first_code() {
    let env = Env::new();
    let uri = format!("otpauth://totp/K:a@example.com?secret={SEED}");
    let wrong = format!(
        "{:06}",
        (oathtool(SEED, unix_now()).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let out = env.cli(
        "alice",
        &[
            "token",
            "add",
            "--uri",
            &uri,
            "--site",
            "k.com",
            "--confirm-code",
            &wrong,
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was saved"));
    // Non-interactive without a code: refused with instructions.
    let out = env.cli("alice", &["token", "add", "--uri", &uri, "--site", "k.com"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--confirm-code"));
    let list = env.ok("alice", &["token", "list", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&list).unwrap(), json!([]));
    // The right code saves it.
    env.enroll("alice", SEED, "K", &["k.com"]);
    let list: Value = serde_json::from_str(&env.ok("alice", &["token", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn unknown_extension_is_refused_and_recorded() {
    let (env, _) = team();
    let mut host = env.launch(
        "bob",
        "chrome-extension://aaaabbbbccccddddeeeeffffgggghhhh/",
    );
    let reply = host.ask(get_code("r1", "https://my.kaspersky.com"));
    assert_eq!(reply["error"]["code"], "caller_not_allowed", "{reply}");
    assert!(reply.get("code").is_none());
    host.finish();
    let last = env.audit("alice").pop().unwrap();
    assert_eq!(last["event"]["action"], AuditAction::HostConnect.as_str());
    assert_eq!(last["event"]["outcome"], "failure");
    assert_eq!(
        last["twofill"]["extension_id"],
        "aaaabbbbccccddddeeeeffffgggghhhh"
    );
}

#[test]
fn malformed_messages_get_structured_errors_and_the_loop_goes_on() {
    let (env, _) = team();
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);

    host.send_raw(b"{not json");
    assert_eq!(host.read_reply()["error"]["code"], "bad_json");
    host.send_raw(&[0xff, 0xfe, 0x00]);
    assert_eq!(host.read_reply()["error"]["code"], "bad_json");

    let cases = [
        (
            json!({"v": 1, "id": "a", "type": "launch_missiles"}),
            "unknown_type",
        ),
        (
            json!({"v": 99, "id": "a", "type": "hello"}),
            "unsupported_version",
        ),
        (
            json!({"v": 1, "id": "a", "type": "get_code"}),
            "origin_required",
        ),
        (
            json!({"v": 1, "id": "a", "type": "reveal_seed"}),
            "bad_request",
        ),
        (
            json!({"v": 1, "id": "a", "type": "get_code", "origin": "https://x.example", "extra": 1}),
            "bad_request",
        ),
        (
            json!({"v": 1, "id": "a", "type": "get_code", "origin": "javascript:alert(1)"}),
            "bad_origin",
        ),
        (
            json!({"v": 1, "id": "a", "type": "get_code", "purpose": "steal"}),
            "bad_request",
        ),
        (
            json!({"v": 1, "id": "a", "type": "get_code", "token": "nope", "purpose": "copy"}),
            "no_such_token",
        ),
        (json!([1, 2, 3]), "bad_request"),
    ];
    for (request, expected) in cases {
        let reply = host.ask(request.clone());
        assert_eq!(reply["type"], "error", "{request} -> {reply}");
        assert_eq!(reply["error"]["code"], expected, "{request} -> {reply}");
    }
    // Still serving after all that.
    let reply = host.ask(json!({"v": 1, "id": "h", "type": "hello"}));
    assert_eq!(reply["type"], "hello", "{reply}");
    assert_eq!(reply["protocol"], 1);
    assert_eq!(reply["user"], "bob");
    assert!(host.finish().success());
}

#[test]
fn oversized_frame_is_answered_then_the_host_exits() {
    let env = Env::new();
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    // Only the header: the host must decide from the length alone, without
    // trying to buffer 2 GiB.
    let stdin = host.stdin.as_mut().unwrap();
    stdin.write_all(&0x8000_0000u32.to_ne_bytes()).unwrap();
    stdin.flush().unwrap();
    let reply = host.read_reply();
    assert_eq!(reply["error"]["code"], "frame_too_large", "{reply}");
    let status = host.child.wait().unwrap();
    assert!(!status.success());
}

#[test]
fn corrupt_vault_is_reported_and_left_alone() {
    let env = Env::new();
    std::fs::create_dir_all(env.vault.parent().unwrap()).unwrap();
    let junk = b"this is not a database, but it is somebody's data".repeat(200);
    std::fs::write(&env.vault, &junk).unwrap();
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    let reply = host.ask(get_code("r1", "https://example.com"));
    assert_eq!(reply["error"]["code"], "vault_unavailable", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("left untouched"),
        "{reply}"
    );
    assert!(host.finish().success());
    assert_eq!(std::fs::read(&env.vault).unwrap(), junk);
    let out = env.cli("alice", &["token", "list"]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&env.vault).unwrap(), junk);
}

/// Someone with write access to the vault file (no key) turns bob's
/// code-only grant into full-seed: the host refuses with `vault_tampered`
/// instead of handing out the seed, and `audit verify` names the row and
/// fails.
#[test]
fn a_grant_edited_in_the_file_is_refused_and_audit_verify_fails() {
    let (env, id) = team();
    let verify = env.cli("alice", &["audit", "verify"]);
    assert!(verify.status.success());
    let text = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert!(text.contains("authorization rows OK"), "{text}");

    rusqlite::Connection::open(&env.vault)
        .unwrap()
        .execute_batch("UPDATE grants SET level = 'full-seed' WHERE group_name = 'ops'")
        .unwrap();
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    let reply = host.ask(json!({"v": 1, "id": "s", "type": "reveal_seed", "token": id}));
    assert_eq!(reply["error"]["code"], "vault_tampered", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("twofill-host audit verify"),
        "{reply}"
    );
    assert_no_secret(&reply);
    let reply = host.ask(get_code("f", "https://my.kaspersky.com"));
    assert_eq!(reply["error"]["code"], "vault_tampered", "{reply}");
    assert!(host.finish().success());

    let verify = env.cli("alice", &["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(2));
    let text = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert!(text.contains("audit log OK"), "{text}");
    assert!(text.contains("authorization rows TAMPERED"), "{text}");
    assert!(
        text.contains(&format!("grants: token {id}, group ops")),
        "{text}"
    );
    let json: Value =
        serde_json::from_slice(&env.cli("alice", &["audit", "verify", "--json"]).stdout).unwrap();
    assert_eq!(json["authorization"]["tampered"][0]["table"], "grants");
}

#[test]
fn seeds_are_not_in_the_vault_file_in_the_clear() {
    let (env, _) = team();
    // Let SQLite fold the WAL into the main file, then look at raw bytes.
    drop(env.ok("alice", &["audit", "verify"]));
    for f in std::fs::read_dir(env.vault.parent().unwrap()).unwrap() {
        let p = f.unwrap().path();
        assert!(!file_contains(&p, SEED), "{} holds the seed", p.display());
    }
    let key = env.vault.with_file_name("vault.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key file must be private");
    }
}

use std::io::Write as _;
use twofill_words::{Access, AuditAction};
