//! Codes and seeds over the API: the same rules as the native host, the
//! device's user as the requester, everything on record.

use serde_json::json;
use twofill_team_api::{CODE_PATH, SEED_PATH, TOKENS_PATH, WHOAMI_PATH};

use crate::on_both_stores;
use crate::support::*;

on_both_stores!(
    a_joined_device_fills_oathtools_code,
    a_code_only_user_gets_no_seed_and_the_refusal_is_on_record,
    a_full_seed_user_gets_the_seed_on_record,
    a_lookalike_origin_gets_no_code,
    fills_are_rate_limited_with_retry_after,
    hotp_codes_advance_the_servers_counter,
    audit_tail_escapes_what_devices_chose,
);

fn a_joined_device_fills_oathtools_code(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let (bob, device_id) = server.device(&state, "bob");

    let who = bob.post(WHOAMI_PATH, &json!({})).json();
    assert_eq!(who["user"], "bob");
    assert_eq!(who["admin"], false);
    assert_eq!(who["device"]["id"], device_id.as_str());

    let listed = bob
        .post(TOKENS_PATH, &json!({"origin": KASPERSKY_SITE}))
        .json();
    assert_eq!(listed["user"], "bob");
    assert_eq!(listed["tokens"][0]["access"], "code-only");
    assert_eq!(listed["tokens"][0]["bound_here"], true);

    let before = state.vault().audit_head_seq().unwrap();
    let reply = bob.fill(KASPERSKY_SITE);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let code = reply.json();
    assert_eq!(
        code["code"].as_str().unwrap(),
        oathtool(KASPERSKY_SEED, code["valid_from"].as_u64().unwrap())
    );
    // On record under bob, with the browser the host reported.
    let vault = state.vault();
    let records = vault.audit_records(before, 10).unwrap();
    let fill = records.last().unwrap();
    assert_eq!(
        (
            fill.event.user.as_str(),
            fill.event.action.as_str(),
            fill.event.success
        ),
        ("bob", "code.fill", true)
    );
    assert_eq!(fill.event.origin.as_deref(), Some(KASPERSKY_SITE));
    assert_eq!(fill.event.browser.as_deref(), Some("chromium"));
    assert_eq!(vault.verify_audit(None).unwrap().problem, None);
    // The operator reads the same trail on the server machine.
    let tail = state.cli_ok(&["audit", "tail", "--lines", "3"]);
    let last = tail.lines().last().unwrap();
    assert!(
        last.contains("bob\tcode.fill\tok\tKaspersky") && last.contains(KASPERSKY_SITE),
        "{tail}"
    );
    assert!(state.cli_ok(&["audit", "verify"]).contains("audit log OK"));
}

fn a_code_only_user_gets_no_seed_and_the_refusal_is_on_record(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    let before = state.vault().audit_head_seq().unwrap();
    for purpose in ["reveal", "qr", "export"] {
        let reply = bob.post(
            SEED_PATH,
            &json!({"token": state.token_id, "purpose": purpose}),
        );
        assert_eq!(reply.status, 403, "{}", reply.text());
        assert_eq!(reply.code(), "not_permitted");
        let text = reply.text();
        assert!(
            !text.contains(KASPERSKY_SEED) && !text.contains("otpauth"),
            "{text}"
        );
    }
    let refused = audit_since(&state.vault(), before);
    assert_eq!(refused.len(), 3, "{refused:?}");
    for (user, action, success, _) in &refused {
        assert_eq!(user, "bob");
        assert!(action.starts_with("seed."), "{action}");
        assert!(!success);
    }
}

fn a_full_seed_user_gets_the_seed_on_record(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let (carol, _) = server.device(&state, "carol");
    let before = state.vault().audit_head_seq().unwrap();
    let reply = carol.post(SEED_PATH, &json!({"token": state.token_id}));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["secret"], KASPERSKY_SEED);
    let records = audit_since(&state.vault(), before);
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].0.as_str(), records[0].1.as_str(), records[0].2),
        ("carol", "seed.reveal", true)
    );
}

fn a_lookalike_origin_gets_no_code(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    for origin in [
        "https://my.kaspersky.com.evil.example",
        "https://my-kaspersky.com",
        "http://my.kaspersky.com",
        // Cyrillic "а" in kаspersky.
        "https://my.k\u{430}spersky.com",
    ] {
        let reply = bob.fill(origin);
        assert_eq!(reply.status, 404, "{origin}: {}", reply.text());
        assert_eq!(reply.code(), "no_token_for_origin", "{origin}");
        assert!(reply.json().get("code").is_none());
    }
    let reply = bob.fill("not an origin");
    assert_eq!((reply.status, reply.code().as_str()), (400, "bad_origin"));
}

fn fills_are_rate_limited_with_retry_after(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    // A second site of the same token: it shares the token's count.
    let other_site = "https://eu.my.kaspersky.com:8443";
    state
        .vault()
        .bind_site("alice", &state.token_id, &other_site.parse().unwrap())
        .unwrap();
    assert_eq!(bob.fill(other_site).status, 200);
    // The default burst: 5 fills per 10 s per user and token.
    for _ in 0..4 {
        assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
    }
    let limited = bob.fill(KASPERSKY_SITE);
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert_eq!(limited.code(), "rate_limited");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    assert!(limited.json()["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    assert_eq!(bob.fill(other_site).code(), "rate_limited");
    // Another request kind is not a fill and goes on.
    let view = bob.post(
        CODE_PATH,
        &json!({"token": state.token_id, "purpose": "view"}),
    );
    assert_eq!(view.status, 200, "{}", view.text());
}

/// The team's vault owns HOTP counters: each code is the next counter's,
/// oathtool's, and carries its counter.
fn hotp_codes_advance_the_servers_counter(backend: Backend) {
    const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let state = ServerState::new(backend);
    let mut vault = state.vault();
    let token = twofill_otp::Token::from_uri(&format!(
        "otpauth://hotp/Legacy:team@example.com?secret={SEED}&issuer=Legacy&counter=41"
    ))
    .unwrap();
    let id = vault
        .add_token(
            "alice",
            &token,
            &["https://legacy.example".parse().unwrap()],
        )
        .unwrap();
    vault
        .set_grant("alice", &id, "ops", twofill_vault::Access::CodeOnly)
        .unwrap();
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    for counter in 41..44u64 {
        let reply = bob.post(
            CODE_PATH,
            &json!({"origin": "https://legacy.example", "purpose": "fill"}),
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        let code = reply.json();
        assert_eq!(code["counter"], counter, "{code}");
        let out = std::process::Command::new("oathtool")
            .args(["--hotp", "-c", &counter.to_string(), "-b", SEED])
            .output()
            .unwrap();
        assert_eq!(
            code["code"].as_str().unwrap(),
            String::from_utf8(out.stdout).unwrap().trim()
        );
    }
}

/// A device chooses the origin it sends; refused, it is on record as sent.
/// The server's `audit tail` shows it on one line, escaped: no forged line,
/// no escape sequence in the operator's terminal.
fn audit_tail_escapes_what_devices_chose(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    let forged = "https://evil.example\n99\t2026-01-01T00:00:00Z\talice\tcode.fill\tok\u{1b}[2J\r";
    assert!(bob.fill(forged).json().get("code").is_none());
    let records = state.vault().audit_head_seq().unwrap() as usize;
    let tail = state.cli_ok(&["audit", "tail", "--lines", "1000"]);
    assert_eq!(tail.lines().count(), records, "{tail}");
    assert!(!tail.contains(['\u{1b}', '\r']), "{tail:?}");
    assert!(tail.contains("evil.example\\u{a}"), "{tail}");
}
