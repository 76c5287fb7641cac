//! Who gets what: the permission matrix, enforced and audited by the vault.

use crate::support::{TempVault, token};
use twofill_vault::{
    Access, AuditAction, CodeRequest, Origin, Purpose, Refusal, Requester, Scope, TokensRequest,
    VaultError,
};
use twofill_words::CHROMIUM_EXTENSION_ID;

const KASPERSKY_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const GITHUB_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn who(user: &str) -> Requester {
    Requester {
        user: user.into(),
        browser: Some("chromium".into()),
        extension_id: Some(CHROMIUM_EXTENSION_ID.into()),
    }
}

fn origin(s: &str) -> Origin {
    s.parse().unwrap()
}

fn refusal(e: VaultError) -> Refusal {
    match e {
        VaultError::Refused(r) => r,
        other => panic!("expected a refusal, got {other}"),
    }
}

/// alice: admin (no grants of her own)
/// bob:   ops (code-only on K)
/// carol: leads (full-seed on K)
/// erin:  ops + leads (the higher level wins)
/// dave:  in no group
struct Fixture {
    tv: TempVault,
    k: String,
    g: String,
}

fn fixture() -> Fixture {
    let tv = TempVault::new();
    let mut v = tv.open();
    let k = v
        .add_token(
            "alice",
            &token("Kaspersky", KASPERSKY_SEED),
            &["my.kaspersky.com".parse().unwrap()],
        )
        .unwrap();
    let g = v
        .add_token(
            "alice",
            &token("GitHub", GITHUB_SEED),
            &["github.com".parse().unwrap()],
        )
        .unwrap();
    v.add_group("alice", "ops").unwrap();
    v.add_group("alice", "leads").unwrap();
    v.add_member("alice", "ops", "bob").unwrap();
    v.add_member("alice", "leads", "carol").unwrap();
    v.add_member("alice", "ops", "erin").unwrap();
    v.add_member("alice", "leads", "erin").unwrap();
    v.add_user("alice", "dave", false).unwrap();
    v.set_grant("alice", &k, "ops", Access::CodeOnly).unwrap();
    v.set_grant("alice", &k, "leads", Access::FullSeed).unwrap();
    v.set_grant("alice", &g, "leads", Access::CodeOnly).unwrap();
    Fixture { tv, k, g }
}

fn permission_matrix() {
    let f = fixture();
    let mut v = f.tv.open();
    let bound = origin("https://my.kaspersky.com");
    let other = origin("https://evil.example");

    // (user, expected access to K)
    let cases = [
        ("alice", None),
        ("bob", Some(Access::CodeOnly)),
        ("carol", Some(Access::FullSeed)),
        ("erin", Some(Access::FullSeed)),
        ("dave", None),
        ("mallory", None), // not even a known user
    ];
    for (user, access) in cases {
        assert_eq!(v.access(user, &f.k).unwrap(), access, "{user}");

        // Fill on the bound site.
        let fill = v.issue_code(&CodeRequest::fill(&who(user), &bound));
        match access {
            Some(_) => {
                let issued = fill.unwrap_or_else(|e| panic!("{user}: {e}"));
                assert_eq!(issued.token.id, f.k);
                assert_eq!(issued.window.code.len(), 6);
            }
            None => assert!(
                matches!(refusal(fill.unwrap_err()), Refusal::NotPermitted { .. }),
                "{user}"
            ),
        }

        // Fill elsewhere: never, whatever the grant, even naming the token.
        for token in [None, Some(f.k.as_str())] {
            let r = v.issue_code(&CodeRequest {
                who: &who(user),
                token,
                origin: Some(&other),
                purpose: Purpose::Fill,
                scope: Scope::All,
            });
            assert!(
                matches!(refusal(r.unwrap_err()), Refusal::NoTokenForOrigin { .. }),
                "{user}"
            );
        }
        // A fill needs an origin.
        let r = v.issue_code(&CodeRequest {
            who: &who(user),
            token: Some(&f.k),
            origin: None,
            purpose: Purpose::Fill,
            scope: Scope::All,
        });
        assert_eq!(refusal(r.unwrap_err()), Refusal::OriginRequired);

        // Copy and view from the popup: grant needed, no binding needed.
        for purpose in [Purpose::Copy, Purpose::View, Purpose::Cli] {
            let r = v.issue_code(&CodeRequest {
                who: &who(user),
                token: Some(&f.k),
                origin: None,
                purpose,
                scope: Scope::All,
            });
            assert_eq!(r.is_ok(), access.is_some(), "{user} {purpose:?}");
        }

        // The seed: full-seed only.
        let r = v.reveal_seed(&who(user), &f.k, AuditAction::SeedReveal);
        match access {
            Some(Access::FullSeed) => {
                assert_eq!(r.unwrap().secret.to_base32(), KASPERSKY_SEED, "{user}")
            }
            _ => assert!(
                matches!(refusal(r.unwrap_err()), Refusal::NotPermitted { .. }),
                "{user}"
            ),
        }
    }

    // Listing shows exactly the permitted tokens, with the level.
    let listed = |user: &str| -> Vec<(String, Access)> {
        v.permitted_tokens(&TokensRequest {
            user,
            origin: None,
            scope: Scope::All,
        })
        .unwrap()
        .into_iter()
        .map(|t| (t.summary.id, t.access))
        .collect()
    };
    assert_eq!(listed("bob"), vec![(f.k.clone(), Access::CodeOnly)]);
    let mut carol = listed("carol");
    carol.sort();
    let mut want = vec![
        (f.g.clone(), Access::CodeOnly),
        (f.k.clone(), Access::FullSeed),
    ];
    want.sort();
    assert_eq!(carol, want);
    assert!(listed("dave").is_empty());
    // Tokens bound to the current site come first.
    let first = v
        .permitted_tokens(&TokensRequest {
            user: "carol",
            origin: Some(&origin("https://github.com")),
            scope: Scope::All,
        })
        .unwrap();
    assert_eq!(first[0].summary.id, f.g);
}

fn code_only_users_can_never_read_a_seed() {
    let f = fixture();
    let mut v = f.tv.open();
    for action in [
        AuditAction::SeedReveal,
        AuditAction::SeedExport,
        AuditAction::SeedQr,
    ] {
        let r = v.reveal_seed(&who("bob"), &f.k, action);
        assert!(matches!(
            refusal(r.unwrap_err()),
            Refusal::NotPermitted { .. }
        ));
    }
    // Revoking carol's group takes her seed access away immediately.
    v.revoke_grant("alice", &f.k, "leads").unwrap();
    assert!(
        v.reveal_seed(&who("carol"), &f.k, AuditAction::SeedReveal)
            .is_err()
    );
    // Downgrading works the same way.
    v.set_grant("alice", &f.k, "leads", Access::FullSeed)
        .unwrap();
    v.set_grant("alice", &f.k, "leads", Access::CodeOnly)
        .unwrap();
    assert!(
        v.reveal_seed(&who("carol"), &f.k, AuditAction::SeedReveal)
            .is_err()
    );
    assert!(
        v.issue_code(&CodeRequest {
            who: &who("carol"),
            token: Some(&f.k),
            origin: None,
            purpose: Purpose::Copy,
            scope: Scope::All
        })
        .is_ok()
    );
}

fn ambiguous_origin_lists_candidates_and_naming_one_works() {
    let f = fixture();
    let mut v = f.tv.open();
    let second = v
        .add_token(
            "alice",
            &token("Kaspersky", GITHUB_SEED),
            &["kaspersky.com".parse().unwrap()],
        )
        .unwrap();
    v.set_grant("alice", &second, "ops", Access::CodeOnly)
        .unwrap();
    let bound = origin("https://my.kaspersky.com");
    match refusal(
        v.issue_code(&CodeRequest::fill(&who("bob"), &bound))
            .unwrap_err(),
    ) {
        Refusal::Ambiguous { candidates } => {
            let mut ids: Vec<_> = candidates.into_iter().map(|c| c.id).collect();
            ids.sort();
            let mut want = vec![f.k.clone(), second.clone()];
            want.sort();
            assert_eq!(ids, want);
        }
        other => panic!("{other:?}"),
    }
    let issued = v
        .issue_code(&CodeRequest {
            who: &who("bob"),
            token: Some(&second),
            origin: Some(&bound),
            purpose: Purpose::Fill,
            scope: Scope::All,
        })
        .unwrap();
    assert_eq!(issued.token.id, second);
    // A candidate bob may not use is not offered: dave sees none.
    assert!(matches!(
        refusal(
            v.issue_code(&CodeRequest {
                who: &who("dave"),
                token: None,
                origin: Some(&bound),
                purpose: Purpose::Fill,
                scope: Scope::All
            })
            .unwrap_err()
        ),
        Refusal::NotPermitted { .. }
    ));
}

fn admin_changes_need_an_admin_and_refusals_are_recorded() {
    let f = fixture();
    let mut v = f.tv.open();
    let before = v.tokens().unwrap().len();
    let r = v.add_token(
        "bob",
        &token("Evil", KASPERSKY_SEED),
        &["evil.example".parse().unwrap()],
    );
    assert!(matches!(refusal(r.unwrap_err()), Refusal::NotAdmin { .. }));
    assert_eq!(v.tokens().unwrap().len(), before, "nothing was added");
    // bob cannot grant himself more either.
    assert!(v.set_grant("bob", &f.k, "ops", Access::FullSeed).is_err());
    assert_eq!(v.access("bob", &f.k).unwrap(), Some(Access::CodeOnly));
    assert!(v.add_user("bob", "bob", true).is_err());
    assert!(!v.is_admin("bob").unwrap());

    let records = v.audit_records(0, 10_000).unwrap();
    let refusals: Vec<_> = records
        .iter()
        .filter(|r| r.event.user == "bob" && !r.event.success)
        .map(|r| r.event.action)
        .collect();
    assert_eq!(
        refusals,
        [
            AuditAction::TokenAdd,
            AuditAction::GrantSet,
            AuditAction::UserAdd
        ]
    );
    // The first admin was made by bootstrapping, and that is on record.
    assert_eq!(records[0].event.action, AuditAction::VaultInit);
    assert_eq!(records[0].event.user, "alice");
}

fn every_code_and_refusal_is_on_record_before_it_is_returned() {
    let f = fixture();
    let mut v = f.tv.open();
    let start = v.audit_records(0, 10_000).unwrap().len();
    let bound = origin("https://my.kaspersky.com");
    let issued = v
        .issue_code(&CodeRequest::fill(&who("bob"), &bound))
        .unwrap();
    let _ = v.issue_code(&CodeRequest::fill(&who("dave"), &bound));
    let _ = v.reveal_seed(&who("bob"), &f.k, AuditAction::SeedReveal);
    let _ = v.reveal_seed(&who("carol"), &f.k, AuditAction::SeedReveal);
    drop(v);

    // A fresh handle (another process, in effect) sees all four.
    let v = f.tv.open();
    let recs = v.audit_records(start as i64, 100).unwrap();
    let got: Vec<_> = recs
        .iter()
        .map(|r| (r.event.user.as_str(), r.event.action, r.event.success))
        .collect();
    assert_eq!(
        got,
        [
            ("bob", AuditAction::CodeFill, true),
            ("dave", AuditAction::CodeFill, false),
            ("bob", AuditAction::SeedReveal, false),
            ("carol", AuditAction::SeedReveal, true),
        ]
    );
    let fill = &recs[0];
    assert_eq!(fill.seq, issued.audit_seq);
    assert_eq!(
        fill.event.origin.as_deref(),
        Some("https://my.kaspersky.com")
    );
    assert_eq!(fill.event.token_id.as_deref(), Some(f.k.as_str()));
    assert_eq!(fill.event.browser.as_deref(), Some("chromium"));
    assert_eq!(
        fill.event.extension_id.as_deref(),
        Some(CHROMIUM_EXTENSION_ID)
    );
    assert!(
        recs[1]
            .event
            .reason
            .as_deref()
            .unwrap()
            .contains("not_permitted")
    );
    assert!(v.verify_audit(None).unwrap().problem.is_none());
}

fn a_database_error_is_an_error_never_an_audited_refusal() {
    let f = fixture();
    let mut v = f.tv.open();
    let head = v.audit_head_seq().unwrap();
    // A table the permission checks read is gone (a damaged or hand-edited
    // file): that is the database failing, not "no such token".
    f.tv.sql("DROP TABLE token_sites;").unwrap();
    let kaspersky = origin("https://my.kaspersky.com");
    for (token, purpose) in [
        (Some(f.k.as_str()), Purpose::Copy),
        (Some(f.k.as_str()), Purpose::Fill),
        (None, Purpose::Fill),
    ] {
        let err = v
            .issue_code(&CodeRequest {
                who: &who("bob"),
                token,
                origin: Some(&kaspersky),
                purpose,
                scope: Scope::All,
            })
            .unwrap_err();
        assert!(f.tv.is_database_error(&err), "{purpose:?}: {err}");
    }
    // Nothing was recorded as a refusal.
    assert_eq!(v.audit_head_seq().unwrap(), head);
}

crate::support::both_stores!(
    permission_matrix,
    code_only_users_can_never_read_a_seed,
    ambiguous_origin_lists_candidates_and_naming_one_works,
    admin_changes_need_an_admin_and_refusals_are_recorded,
    every_code_and_refusal_is_on_record_before_it_is_returned,
    a_database_error_is_an_error_never_an_audited_refusal,
);
