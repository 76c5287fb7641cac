//! Many clients at once on the pool's handles: every request answered,
//! every code on record, one unbroken audit chain, on both stores.

use serde_json::json;
use twofill_team_api::CODE_PATH;

use crate::on_both_stores;
use crate::support::*;

on_both_stores!(concurrent_clients_each_get_a_recorded_code);

fn concurrent_clients_each_get_a_recorded_code(backend: Backend) {
    const CLIENTS: usize = 8;
    const EACH: usize = 5;
    let state = ServerState::new(backend);
    let server = state.serve();
    let devices: Vec<Client> = (0..CLIENTS)
        .map(|_| server.device(&state, "bob").0)
        .collect();
    let before = state.vault().audit_head_seq().unwrap();
    let token = state.token_id.clone();
    std::thread::scope(|s| {
        for device in &devices {
            let token = &token;
            s.spawn(move || {
                for _ in 0..EACH {
                    // `view` (the popup's live code) is not rate-limited.
                    let reply = device.post(CODE_PATH, &json!({"token": token, "purpose": "view"}));
                    assert_eq!(reply.status, 200, "{}", reply.text());
                    let code = reply.json();
                    assert_eq!(
                        code["code"].as_str().unwrap(),
                        oathtool(KASPERSKY_SEED, code["valid_from"].as_u64().unwrap())
                    );
                }
            });
        }
    });
    let vault = state.vault();
    let views = audit_since(&vault, before)
        .into_iter()
        .filter(|r| r.0 == "bob" && r.1 == "code.view" && r.2)
        .count();
    assert_eq!(views, CLIENTS * EACH);
    assert_eq!(vault.verify_audit(None).unwrap().problem, None);
}
