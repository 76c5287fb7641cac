//! A database outage: while PostgreSQL refuses the server, requests get a
//! 503 with no code and no internals; when it is back, the server's
//! handles are reopened and codes flow again, without a restart.

use serde_json::json;
use twofill_team_api::WHOAMI_PATH;

use crate::support::*;

/// Turns connections to the database at `url` off (killing the open ones)
/// or on again, as an outage would, without stopping the cluster other
/// tests share.
fn set_reachable(url: &str, reachable: bool) {
    let (cluster, database) = url.rsplit_once('/').unwrap();
    let mut admin = twofill_test_postgres::admin_client(&format!("{cluster}/postgres"));
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {database} ALLOW_CONNECTIONS {reachable}"
        ))
        .unwrap();
    if !reachable {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&database],
            )
            .unwrap();
    }
}

#[test]
fn database_down_is_503_without_a_code_and_back_is_codes_again() {
    let state = ServerState::new(Backend::Postgres);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
    let before = state.vault().audit_head_seq().unwrap();

    set_reachable(&state.database, false);
    for _ in 0..3 {
        let reply = bob.fill(KASPERSKY_SITE);
        assert_eq!(reply.status, 503, "{}", reply.text());
        assert_eq!(reply.code(), "vault_unavailable");
        let text = reply.text();
        assert!(reply.json().get("code").is_none(), "{text}");
        for internal in [
            "postgres",
            "db error",
            "terminat",
            "127.0.0.1",
            "connection",
        ] {
            assert!(!text.to_lowercase().contains(internal), "{text}");
        }
        assert!(text.contains("no code was issued"), "{text}");
    }
    // The details went to the operator's log instead.
    assert!(server.log_text().contains("vault"), "{}", server.log_text());

    set_reachable(&state.database, true);
    let reply = bob.fill(KASPERSKY_SITE);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let code = reply.json();
    assert_eq!(
        code["code"].as_str().unwrap(),
        oathtool(KASPERSKY_SEED, code["valid_from"].as_u64().unwrap())
    );
    assert_eq!(bob.post(WHOAMI_PATH, &json!({})).status, 200);
    // Exactly one fill on record since the outage began: the one after it.
    let fills: Vec<_> = audit_since(&state.vault(), before)
        .into_iter()
        .filter(|r| r.1 == "code.fill")
        .collect();
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert!(fills[0].2);
}
