//! Recovery codes on the team server: full-seed holders' devices take one
//! each (different ones, also at once), code-only devices get a 403 on
//! record and never a code.

use std::collections::HashSet;
use std::sync::Barrier;

use serde_json::json;
use twofill_team_api::{RECOVERY_CODE_PATH, TOKENS_PATH};

use crate::on_both_stores;
use crate::support::*;

on_both_stores!(
    concurrent_full_seed_devices_take_different_codes_each_on_record,
    a_code_only_device_gets_no_recovery_code_and_is_on_record,
    no_certificate_or_a_revoked_device_gets_no_recovery_code,
);

const N: usize = 6;

fn codes() -> Vec<String> {
    (1..=8).map(|i| format!("srv-{i:04}")).collect()
}

fn concurrent_full_seed_devices_take_different_codes_each_on_record(backend: Backend) {
    let state = ServerState::new(backend);
    state
        .vault()
        .set_recovery_codes("alice", &state.token_id, &codes())
        .unwrap();
    let server = state.serve();
    let (carol, _) = server.device(&state, "carol");
    let listed = carol.post(TOKENS_PATH, &json!({})).json();
    assert_eq!(listed["tokens"][0]["recovery_codes"], 8, "{listed}");

    let before = state.vault().audit_head_seq().unwrap();
    let barrier = Barrier::new(N);
    let taken: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..N)
            .map(|_| {
                let client = server.client_for(&carol);
                let barrier = &barrier;
                let token = state.token_id.clone();
                s.spawn(move || {
                    barrier.wait();
                    let reply = client.post(RECOVERY_CODE_PATH, &json!({"token": token}));
                    assert_eq!(reply.status, 200, "{}", reply.text());
                    reply.json()["code"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let distinct: HashSet<&String> = taken.iter().collect();
    assert_eq!(
        distinct.len(),
        N,
        "every device request its own code: {taken:?}"
    );
    assert!(taken.iter().all(|c| codes().contains(c)));

    let records = audit_since(&state.vault(), before);
    assert_eq!(records.len(), N);
    for (user, action, success, _) in &records {
        assert_eq!(
            (user.as_str(), action.as_str(), *success),
            ("carol", "recovery.take", true)
        );
    }
    assert_eq!(
        state
            .vault()
            .recovery_status(&state.token_id)
            .unwrap()
            .remaining,
        2
    );
    assert!(state.cli_ok(&["audit", "verify"]).contains("audit log OK"));
}

fn a_code_only_device_gets_no_recovery_code_and_is_on_record(backend: Backend) {
    let state = ServerState::new(backend);
    state
        .vault()
        .set_recovery_codes("alice", &state.token_id, &codes())
        .unwrap();
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    let listed = bob.post(TOKENS_PATH, &json!({})).text();
    assert!(!listed.contains("recovery_codes"), "{listed}");
    let before = state.vault().audit_head_seq().unwrap();
    let reply = bob.post(RECOVERY_CODE_PATH, &json!({"token": state.token_id}));
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(reply.code(), "not_permitted");
    assert!(!reply.text().contains("srv-"), "{}", reply.text());
    let records = audit_since(&state.vault(), before);
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].0.as_str(), records[0].1.as_str(), records[0].2),
        ("bob", "recovery.take", false)
    );
    assert_eq!(
        state
            .vault()
            .recovery_status(&state.token_id)
            .unwrap()
            .remaining,
        8
    );
}

fn no_certificate_or_a_revoked_device_gets_no_recovery_code(backend: Backend) {
    let state = ServerState::new(backend);
    state
        .vault()
        .set_recovery_codes("alice", &state.token_id, &codes())
        .unwrap();
    let server = state.serve();
    let body = json!({"token": state.token_id});
    let anonymous = server.anonymous().post(RECOVERY_CODE_PATH, &body);
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    assert_eq!(anonymous.code(), "device_not_enrolled");
    let (carol, device) = server.device(&state, "carol");
    state.cli_ok(&["revoke", &device]);
    let revoked = carol.post(RECOVERY_CODE_PATH, &body);
    assert_eq!(revoked.status, 401, "{}", revoked.text());
    assert_eq!(revoked.code(), "device_revoked");
    for reply in [&anonymous, &revoked] {
        assert!(!reply.text().contains("srv-"), "{}", reply.text());
    }
    assert_eq!(
        state
            .vault()
            .recovery_status(&state.token_id)
            .unwrap()
            .remaining,
        8,
        "nothing was used"
    );
}
