//! Authorization rows edited in the server's database (a DBA, a restored
//! dump: write access without the data key) are refused over the API with
//! nothing issued, recorded, named in the server's log (not to the device),
//! and named by `audit verify`, which fails; over both stores.

use serde_json::json;
use twofill_team_api::SEED_PATH;

use crate::on_both_stores;
use crate::support::*;

on_both_stores!(a_grant_edited_in_the_database_is_refused_and_audit_verify_names_it);

fn a_grant_edited_in_the_database_is_refused_and_audit_verify_names_it(backend: Backend) {
    let state = ServerState::new(backend);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    let reveal = json!({"token": state.token_id, "purpose": "reveal"});
    // The control: before the edit bob fills, is refused the seed, and
    // every row verifies.
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
    assert_eq!(bob.post(SEED_PATH, &reveal).code(), "not_permitted");
    assert!(
        state
            .cli_ok(&["audit", "verify"])
            .contains("authorization rows OK")
    );

    // bob's group, code-only, made full-seed by hand.
    state.sql("UPDATE grants SET level = 'full-seed' WHERE group_name = 'ops'");
    let row = format!("grants: token {}, group ops", state.token_id);
    let before = state.vault().audit_head_seq().unwrap();
    for reply in [bob.post(SEED_PATH, &reveal), bob.fill(KASPERSKY_SITE)] {
        assert_eq!(reply.status, 500, "{}", reply.text());
        assert_eq!(reply.code(), "vault_tampered");
        let text = reply.text();
        assert!(
            !text.contains(KASPERSKY_SEED)
                && !text.contains("otpauth")
                && reply.json()["code"].is_null(),
            "nothing issued: {text}"
        );
        assert!(text.contains("twofill-server audit verify"), "{text}");
        assert!(
            !text.contains(&state.token_id) && !text.contains("group ops"),
            "the device is not told the vault's rows: {text}"
        );
    }
    let refused = audit_since(&state.vault(), before);
    assert_eq!(refused.len(), 2, "{refused:?}");
    for (user, _, success, reason) in &refused {
        assert_eq!(user, "bob");
        assert!(!success);
        assert!(
            reason.as_deref().unwrap().starts_with("tampered: "),
            "{reason:?}"
        );
    }
    assert!(server.log_text().contains(&row), "{}", server.log_text());

    let out = state.cli(&["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("audit log OK"), "{stdout}");
    assert!(
        stdout.contains("authorization rows TAMPERED: 1 of"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("  {row}")), "{stdout}");
}
