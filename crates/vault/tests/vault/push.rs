//! Reading a vault out for `twofill-host vault push`: admins only, each
//! seed on record before it is returned, personal tokens only when asked;
//! and finding a token already holding a seed, so a second push reuses it.

use crate::support::{TempVault, both_stores, token};
use twofill_vault::{Access, AuditAction, Policy, Refusal, VaultError};

const TEAM_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const BOB_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

both_stores!(
    only_an_admin_reads_seeds_out_and_each_is_on_record,
    the_same_seed_is_found_and_a_different_one_is_not,
    an_admin_adds_a_personal_token_for_its_owner_on_record,
);

fn only_an_admin_reads_seeds_out_and_each_is_on_record() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let team = token("Kaspersky", TEAM_SEED);
    let t = v
        .add_token("alice", &team, &["my.kaspersky.com".parse().unwrap()])
        .unwrap();
    v.add_user("alice", "bob", false).unwrap();
    let p = v
        .add_personal_token("bob", &token("GitHub", BOB_SEED), &[])
        .unwrap();

    let head = v.audit_head_seq().unwrap();
    match v.seeds_for_push("bob", true) {
        Err(VaultError::Refused(Refusal::NotAdmin { .. })) => {}
        other => panic!("a non-admin must be refused, got {other:?}"),
    }
    let refused = v.audit_records(head, 10).unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].event.action, AuditAction::VaultPush);
    assert!(!refused[0].event.success);

    let head = v.audit_head_seq().unwrap();
    let team_only = v.seeds_for_push("alice", false).unwrap();
    assert_eq!(team_only.len(), 1);
    assert_eq!(team_only[0].summary.id, t);
    assert_eq!(team_only[0].token, team);
    let all = v.seeds_for_push("alice", true).unwrap();
    let mut ids: Vec<_> = all.iter().map(|s| s.summary.id.clone()).collect();
    ids.sort();
    let mut expected = vec![t.clone(), p.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let records = v.audit_records(head, 10).unwrap();
    let tokens: Vec<_> = records
        .iter()
        .map(|r| {
            assert_eq!(
                (r.event.action, r.event.user.as_str()),
                (AuditAction::VaultPush, "alice")
            );
            r.event.token_id.clone().unwrap()
        })
        .collect();
    // One record per seed read out: the team token twice, the personal once.
    let mut tokens = tokens;
    tokens.sort();
    let mut expected = vec![t.clone(), t, p];
    expected.sort();
    assert_eq!(tokens, expected);

    // A policy that forbids seed reveals forbids reading them out too.
    v.set_policy(Policy {
        allow_seed_reveal: false,
        ..Policy::default()
    });
    assert!(matches!(
        v.seeds_for_push("alice", false),
        Err(VaultError::Refused(Refusal::Policy { .. }))
    ));
}

fn the_same_seed_is_found_and_a_different_one_is_not() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let team = token("Kaspersky", TEAM_SEED);
    let t = v.add_token("alice", &team, &[]).unwrap();
    assert_eq!(v.find_same_token(&team, None).unwrap(), Some(t));
    // Another seed, or the same one as somebody's personal token: not it.
    assert_eq!(
        v.find_same_token(&token("Kaspersky", BOB_SEED), None)
            .unwrap(),
        None
    );
    assert_eq!(v.find_same_token(&team, Some("bob")).unwrap(), None);
}

fn an_admin_adds_a_personal_token_for_its_owner_on_record() {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_user("alice", "alice", true).unwrap();
    v.add_user("alice", "bob", false).unwrap();
    let mail = token("Mail", BOB_SEED);
    let refused = |r| matches!(r, Err(VaultError::Refused(_)));
    // Only an admin, and only for a user the vault knows.
    assert!(refused(v.add_personal_token_for("bob", "bob", &mail, &[])));
    assert!(refused(v.add_personal_token_for(
        "alice",
        "zed",
        &mail,
        &[]
    )));
    assert!(v.tokens().unwrap().is_empty());
    let id = v
        .add_personal_token_for("alice", "bob", &mail, &[])
        .unwrap();
    assert_eq!(v.access("bob", &id).unwrap(), Some(Access::FullSeed));
    assert_eq!(v.access("alice", &id).unwrap(), None);
    let head = v.audit_head_seq().unwrap();
    let added = v.audit_records(head - 1, 1).unwrap().remove(0);
    assert_eq!(
        (
            added.event.action,
            added.event.user.as_str(),
            added.event.success
        ),
        (AuditAction::TokenAdd, "alice", true)
    );
    assert!(
        added
            .event
            .reason
            .unwrap()
            .contains("personal token of bob")
    );
}
