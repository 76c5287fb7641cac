//! Each request answered from the vault, replies checked against the vault
//! and oathtool.

use twofill_answer::Answerer;
use twofill_protocol::{Access, CodePurpose, ErrorCode, SeedPurpose};
use twofill_vault::AuditAction;

use crate::support::{
    GITLAB_SEED, GITLAB_SITE, KASPERSKY_SEED, KASPERSKY_SITE, bob, last_record, oathtool, team,
    token,
};

#[test]
fn list_tokens_marks_the_sites_tokens_and_honours_exclude_personal() {
    let mut t = team();
    let personal = t
        .vault
        .add_personal_token(
            "bob",
            &token("Home", KASPERSKY_SEED),
            &[KASPERSKY_SITE.parse().unwrap()],
        )
        .unwrap();
    let mut a = Answerer::new(&mut t.vault, bob());

    let reply = a.list_tokens(Some(KASPERSKY_SITE), false).unwrap();
    assert_eq!(reply.user, "bob");
    let mut ids: Vec<(&str, bool, Access, bool)> = reply
        .tokens
        .iter()
        .map(|e| (e.token.id.as_str(), e.bound_here, e.access, e.personal))
        .collect();
    ids.sort();
    let mut want = vec![
        (t.kaspersky.as_str(), true, Access::CodeOnly, false),
        (t.gitlab.as_str(), false, Access::FullSeed, false),
        (personal.as_str(), true, Access::FullSeed, true),
    ];
    want.sort();
    assert_eq!(ids, want);
    let gitlab = reply
        .tokens
        .iter()
        .find(|e| e.token.id == t.gitlab)
        .unwrap();
    assert_eq!(gitlab.sites, [GITLAB_SITE]);
    assert_eq!(gitlab.token.issuer.as_deref(), Some("GitLab"));
    assert_eq!((gitlab.period, gitlab.digits), (30, 6));

    let shared = a.list_tokens(None, true).unwrap();
    assert!(shared.tokens.iter().all(|e| !e.personal && !e.bound_here));
    assert_eq!(shared.tokens.len(), 2);
}

#[test]
fn a_fill_gets_the_oathtool_code_after_its_audit_record() {
    let mut t = team();
    let mut a = Answerer::new(&mut t.vault, bob());
    let reply = a
        .get_code(Some(KASPERSKY_SITE), None, CodePurpose::Fill, false)
        .unwrap();
    assert_eq!(reply.token.id, t.kaspersky);
    assert_eq!(reply.code, oathtool(KASPERSKY_SEED, reply.valid_from));
    assert_eq!(reply.valid_until - reply.valid_from, 30);

    let record = last_record(&t.vault);
    assert_eq!(record.event.action, AuditAction::CodeFill);
    assert!(record.event.success);
    assert_eq!(record.event.user, "bob");
    assert_eq!(record.event.origin.as_deref(), Some(KASPERSKY_SITE));
    assert_eq!(record.event.browser.as_deref(), Some("chromium"));
    assert_eq!(record.event.token_id.as_deref(), Some(t.kaspersky.as_str()));
}

#[test]
fn copy_and_view_are_recorded_as_such() {
    let mut t = team();
    for (purpose, action) in [
        (CodePurpose::Copy, AuditAction::CodeCopy),
        (CodePurpose::View, AuditAction::CodeView),
    ] {
        let reply = Answerer::new(&mut t.vault, bob())
            .get_code(None, Some(&t.gitlab), purpose, false)
            .unwrap();
        assert_eq!(reply.code, oathtool(GITLAB_SEED, reply.valid_from));
        assert_eq!(last_record(&t.vault).event.action, action);
    }
}

#[test]
fn other_sites_and_other_users_get_nothing_on_record() {
    let mut t = team();
    let before = t.vault.audit_head_seq().unwrap();
    let refused = Answerer::new(&mut t.vault, bob())
        .get_code(
            Some("https://kaspersky.example.evil"),
            None,
            CodePurpose::Fill,
            false,
        )
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NoTokenForOrigin);

    let mallory = twofill_vault::Requester {
        user: "mallory".into(),
        ..bob()
    };
    let refused = Answerer::new(&mut t.vault, mallory)
        .get_code(Some(KASPERSKY_SITE), None, CodePurpose::Fill, false)
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    assert!(
        refused.message.contains("ask a twofill admin"),
        "{}",
        refused.message
    );
    let record = last_record(&t.vault);
    assert_eq!(record.seq, before + 2);
    assert!(!record.event.success);
    assert_eq!(record.event.user, "mallory");
}

#[test]
fn full_seed_holders_get_the_seed_and_code_only_users_nothing() {
    let mut t = team();
    let mut a = Answerer::new(&mut t.vault, bob());
    let seed = a.reveal_seed(&t.gitlab, SeedPurpose::Export).unwrap();
    assert_eq!(seed.secret, GITLAB_SEED);
    assert_eq!(seed.token.issuer.as_deref(), Some("GitLab"));
    assert_eq!(seed.token.account, "team@example.com");
    assert!(seed.uri.starts_with("otpauth://totp/"), "{}", seed.uri);
    assert!(
        seed.uri.contains(&format!("secret={GITLAB_SEED}")),
        "{}",
        seed.uri
    );
    assert_eq!(last_record(&t.vault).event.action, AuditAction::SeedExport);

    let refused = Answerer::new(&mut t.vault, bob())
        .reveal_seed(&t.kaspersky, SeedPurpose::Reveal)
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotPermitted);
    assert!(!refused.message.contains(KASPERSKY_SEED));
    let record = last_record(&t.vault);
    assert_eq!(record.event.action, AuditAction::SeedReveal);
    assert!(!record.event.success);
}
