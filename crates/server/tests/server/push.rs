//! `POST /v1/admin/push`: an admin's device moves a local vault here; a
//! non-admin and bad bodies change nothing.

use serde_json::{Value, json};
use twofill_team_api::{
    CODE_PATH, MAX_BODY_BYTES, MAX_PUSH_BODY_BYTES, PUSH_PATH, SEED_PATH, TOKENS_PATH, WHOAMI_PATH,
};

use crate::on_both_stores;
use crate::support::*;

on_both_stores!(an_admin_push_lands_once_with_its_grants_and_records);

const SUPPORT_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SUPPORT_SITE: &str = "https://support.example.com";
const PERSONAL_SEED: &str = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U";

fn push_body() -> Value {
    json!({
        "tokens": [
            {"local_id": "t1", "sites": [SUPPORT_SITE],
             "uri": format!("otpauth://totp/Support:desk@example.com?secret={SUPPORT_SEED}&issuer=Support")},
            {"local_id": "t2", "sites": [KASPERSKY_SITE],
             "uri": format!("otpauth://totp/Kaspersky:team@example.com?secret={KASPERSKY_SEED}&issuer=Kaspersky")},
            {"local_id": "p1", "sites": ["https://mail.example.com"], "owner": "dave",
             "uri": format!("otpauth://totp/Mail:dave@example.com?secret={PERSONAL_SEED}&issuer=Mail")},
        ],
        "groups": [{"name": "support", "members": ["erin", "bob"]}, {"name": "ops", "members": ["bob"]}],
        "grants": [
            {"token": "t1", "group": "support", "access": "code-only"},
            {"token": "t2", "group": "support", "access": "code-only"},
        ],
    })
}

fn an_admin_push_lands_once_with_its_grants_and_records(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let (alice, _) = server.device(&state, "alice");
    let before = state.vault().audit_head_seq().unwrap();

    let reply = alice.post(PUSH_PATH, &push_body());
    assert_eq!(reply.status, 200, "{}", reply.text());
    let pushed = reply.json();
    let ids: Vec<(&str, &str, bool)> = pushed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["local_id"].as_str().unwrap(),
                t["server_id"].as_str().unwrap(),
                t["existed"].as_bool().unwrap(),
            )
        })
        .collect();
    // The Kaspersky token was on the server already: reused, not duplicated.
    assert_eq!(ids[1], ("t2", state.token_id.as_str(), true));
    assert!(!ids[0].2 && !ids[2].2);
    assert_eq!(pushed["users_created"], json!(["erin", "dave"]));
    assert_eq!(pushed["groups_created"], json!(["support"]));
    assert_eq!(pushed["grants_set"], 2);

    let vault = state.vault();
    assert_eq!(vault.tokens().unwrap().len(), 3);
    let erin = vault.users().unwrap();
    let erin = erin.iter().find(|u| u.name == "erin").unwrap();
    assert!(!erin.admin, "users a push creates are not admins");
    let personal = vault.token_details(ids[2].1).unwrap();
    assert_eq!(personal.summary.owner.as_deref(), Some("dave"));
    assert!(personal.grants.is_empty());
    // Every change on record under alice, between the two push records.
    let records = audit_since(&vault, before);
    let actions: Vec<&str> = records.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(actions.first(), Some(&"vault.push"));
    assert_eq!(actions.last(), Some(&"vault.push"));
    for action in [
        "user.add",
        "token.add",
        "group.add",
        "group.member.add",
        "grant.set",
    ] {
        assert!(actions.contains(&action), "{action} missing: {actions:?}");
    }
    assert!(records.iter().all(|r| r.0 == "alice" && r.2), "{records:?}");
    assert_eq!(vault.verify_audit(None).unwrap().problem, None);

    // A second push of the same vault changes nothing but records itself.
    let again = alice.post(PUSH_PATH, &push_body()).json();
    assert!(
        again["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["existed"] == true)
    );
    assert_eq!(again["users_created"], json!([]));
    assert_eq!(again["groups_created"], json!([]));
    assert_eq!(again["members_added"], 0);
    assert_eq!(again["bindings_added"], 0);
    assert_eq!(state.vault().tokens().unwrap().len(), 3);

    // A teammate the push created gets oathtool's code on the bound site,
    // and the grant stayed code-only: no seed.
    let (erin, _) = server.device(&state, "erin");
    let code = erin.post(
        CODE_PATH,
        &json!({"origin": SUPPORT_SITE, "purpose": "fill", "browser": "chromium"}),
    );
    assert_eq!(code.status, 200, "{}", code.text());
    let code = code.json();
    assert_eq!(
        code["code"].as_str().unwrap(),
        oathtool(SUPPORT_SEED, code["valid_from"].as_u64().unwrap())
    );
    let seed = erin.post(SEED_PATH, &json!({"token": ids[0].1}));
    assert_eq!((seed.status, seed.code().as_str()), (403, "not_permitted"));
    // The personal token is dave's alone.
    let listed = erin.post(TOKENS_PATH, &json!({})).json();
    assert!(
        listed["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["id"] != ids[2].1)
    );
}

#[test]
fn a_non_admin_push_is_refused_on_record_and_changes_nothing() {
    let state = ServerState::new(Backend::Sqlite);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    let before = state.vault().audit_head_seq().unwrap();

    let reply = bob.post(PUSH_PATH, &push_body());
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (403, "not_permitted")
    );
    let vault = state.vault();
    assert_eq!(vault.tokens().unwrap().len(), 1);
    assert!(vault.groups().unwrap().iter().all(|g| g.name != "support"));
    let records = audit_since(&vault, before);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        (records[0].0.as_str(), records[0].1.as_str(), records[0].2),
        ("bob", "vault.push", false)
    );

    // Without a device certificate: 401, nothing recorded.
    let anonymous = server.anonymous().post(PUSH_PATH, &push_body());
    assert_eq!(anonymous.status, 401);
    assert_eq!(audit_since(&state.vault(), before).len(), 1);
}

#[test]
fn bad_push_bodies_are_400_and_change_nothing() {
    let state = ServerState::new(Backend::Sqlite);
    let server = state.serve();
    let (alice, _) = server.device(&state, "alice");
    let before = state.vault().audit_head_seq().unwrap();

    let mut unknown_field = push_body();
    unknown_field["tokens"][0]["seed"] = json!(SUPPORT_SEED);
    let mut bad_link = push_body();
    bad_link["tokens"][0]["uri"] = json!("otpauth://totp/x?secret=not*base32");
    let mut bad_site = push_body();
    bad_site["tokens"][0]["sites"] = json!(["javascript:alert(1)"]);
    let mut dangling_grant = push_body();
    dangling_grant["grants"][0]["token"] = json!("t9");
    let mut personal_grant = push_body();
    personal_grant["grants"][0]["token"] = json!("p1");
    let mut missing_group = push_body();
    missing_group["grants"][0]["group"] = json!("nobody");
    let mut twice = push_body();
    twice["tokens"][1]["local_id"] = json!("t1");
    let mut bad_level = push_body();
    bad_level["grants"][0]["access"] = json!("everything");
    for (what, body) in [
        ("unknown field", unknown_field),
        ("bad link", bad_link),
        ("bad site", bad_site),
        ("dangling grant", dangling_grant),
        ("grant on a personal token", personal_grant),
        ("grant to a group not pushed", missing_group),
        ("one local id twice", twice),
        ("unknown level", bad_level),
    ] {
        let reply = alice.post(PUSH_PATH, &body);
        assert_eq!(reply.status, 400, "{what}: {}", reply.text());
        assert!(
            !reply.json()["error"]["message"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    let vault = state.vault();
    assert_eq!(vault.tokens().unwrap().len(), 1);
    assert_eq!(audit_since(&vault, before), vec![]);

    // A push may be larger than other requests, up to its own limit.
    let many: Vec<Value> = (0..400)
        .map(|i| {
            json!({"local_id": format!("bulk{i}"), "sites": [],
                   "uri": format!("otpauth://totp/Bulk:user{i}@example.com?secret={SUPPORT_SEED}&issuer=Bulk{}", "x".repeat(100))})
        })
        .collect();
    let big = json!({"tokens": many});
    assert!(big.to_string().len() > MAX_BODY_BYTES);
    let reply = alice.post(PUSH_PATH, &big);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(state.vault().tokens().unwrap().len(), 401);
    let huge = format!(
        r#"{{"tokens":[],"x":"{}"}}"#,
        "a".repeat(MAX_PUSH_BODY_BYTES)
    );
    let reply = alice.request("POST", PUSH_PATH, huge.as_bytes());
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (413, "payload_too_large")
    );
    // And the server goes on.
    assert_eq!(alice.post(WHOAMI_PATH, &json!({})).status, 200);
}
