//! Personal tokens (enrolled by a user for themselves) and the organization
//! policy: who gets what, enforced and audited by the vault.

use crate::support::{TempVault, token};
use twofill_vault::{
    Access, AuditAction, AuditRecord, CodeRequest, Origin, Policy, Purpose, Refusal, Requester,
    Scope, TokensRequest, Vault, VaultError,
};
use twofill_words::CHROMIUM_EXTENSION_ID;

const TEAM_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const BOB_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const BOB_SEED_2: &str = "KRUGS4ZANFZSAYJAORSXG5BAONSWKZA=";

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

fn last(v: &Vault) -> AuditRecord {
    let head = v.audit_head_seq().unwrap();
    v.audit_records(head - 1, 1).unwrap().remove(0)
}

/// alice: admin. bob: ops (code-only on the team token T, bound to
/// my.kaspersky.com) and owner of the personal token P (bound to
/// github.com). carol: leads (full-seed on T). dave: known, in no group.
struct Fixture {
    tv: TempVault,
    t: String,
    p: String,
}

fn fixture() -> Fixture {
    let tv = TempVault::new();
    let mut v = tv.open();
    let t = v
        .add_token(
            "alice",
            &token("Kaspersky", TEAM_SEED),
            &["my.kaspersky.com".parse().unwrap()],
        )
        .unwrap();
    v.add_group("alice", "ops").unwrap();
    v.add_group("alice", "leads").unwrap();
    v.add_member("alice", "ops", "bob").unwrap();
    v.add_member("alice", "leads", "carol").unwrap();
    v.add_user("alice", "dave", false).unwrap();
    v.set_grant("alice", &t, "ops", Access::CodeOnly).unwrap();
    v.set_grant("alice", &t, "leads", Access::FullSeed).unwrap();
    let p = v
        .add_personal_token(
            "bob",
            &token("GitHub", BOB_SEED),
            &["github.com".parse().unwrap()],
        )
        .unwrap();
    Fixture { tv, t, p }
}

fn only_the_owner_gets_codes_and_the_seed_of_a_personal_token() {
    let f = fixture();
    let mut v = f.tv.open();
    let github = origin("https://github.com");
    let bob_token = token("GitHub", BOB_SEED);

    // The owner: like full-seed.
    assert_eq!(v.access("bob", &f.p).unwrap(), Some(Access::FullSeed));
    let issued = v
        .issue_code(&CodeRequest::fill(&who("bob"), &github))
        .unwrap();
    assert_eq!(issued.token.id, f.p);
    assert_eq!(issued.token.owner.as_deref(), Some("bob"));
    assert_eq!(
        issued.window.code,
        bob_token.code_at(issued.window.valid_from)
    );
    for purpose in [Purpose::Copy, Purpose::View, Purpose::Cli] {
        v.issue_code(&CodeRequest {
            who: &who("bob"),
            token: Some(&f.p),
            origin: None,
            purpose,
            scope: Scope::All,
        })
        .unwrap_or_else(|e| panic!("{purpose:?}: {e}"));
    }
    let seed = v
        .reveal_seed(&who("bob"), &f.p, AuditAction::SeedReveal)
        .unwrap();
    assert_eq!(seed.secret.to_base32(), BOB_SEED);

    // Everybody else, the admin and a full-seed holder of team tokens
    // included: nothing, and their fills do not even see the token.
    for user in ["alice", "carol", "dave", "mallory"] {
        assert_eq!(v.access(user, &f.p).unwrap(), None, "{user}");
        for purpose in [Purpose::Copy, Purpose::View, Purpose::Cli] {
            let r = v.issue_code(&CodeRequest {
                who: &who(user),
                token: Some(&f.p),
                origin: None,
                purpose,
                scope: Scope::All,
            });
            assert!(
                matches!(refusal(r.unwrap_err()), Refusal::NotOwner { .. }),
                "{user} {purpose:?}"
            );
        }
        for named in [None, Some(f.p.as_str())] {
            let r = v.issue_code(&CodeRequest {
                who: &who(user),
                token: named,
                origin: Some(&github),
                purpose: Purpose::Fill,
                scope: Scope::All,
            });
            assert!(
                matches!(refusal(r.unwrap_err()), Refusal::NoTokenForOrigin { .. }),
                "{user} {named:?}"
            );
        }
        let r = v.reveal_seed(&who(user), &f.p, AuditAction::SeedReveal);
        assert!(
            matches!(refusal(r.unwrap_err()), Refusal::NotOwner { .. }),
            "{user}"
        );
        assert!(
            v.permitted_tokens(&TokensRequest {
                user,
                origin: None,
                scope: Scope::All
            })
            .unwrap()
            .iter()
            .all(|t| t.summary.id != f.p),
            "{user}"
        );
    }

    // Bob's own list has both: the team token (his grant) and his own.
    let listed: Vec<(String, Access, Option<String>)> = v
        .permitted_tokens(&TokensRequest {
            user: "bob",
            origin: None,
            scope: Scope::All,
        })
        .unwrap()
        .into_iter()
        .map(|t| (t.summary.id, t.access, t.summary.owner))
        .collect();
    let mut want = vec![
        (f.p.clone(), Access::FullSeed, Some("bob".to_owned())),
        (f.t.clone(), Access::CodeOnly, None),
    ];
    want.sort();
    let mut got = listed;
    got.sort();
    assert_eq!(got, want);

    // The admin's view lists it, as bob's.
    let all = v.tokens().unwrap();
    let p = all.iter().find(|t| t.id == f.p).expect("listed for admins");
    assert_eq!(p.owner.as_deref(), Some("bob"));
    assert!(p.is_personal());
    assert!(!all.iter().find(|t| t.id == f.t).unwrap().is_personal());
    assert_eq!(
        v.token_details(&f.p).unwrap().summary.owner.as_deref(),
        Some("bob")
    );
    assert!(v.verify_audit(None).unwrap().problem.is_none());
}

fn adding_a_personal_token_is_for_known_users_and_on_record() {
    let f = fixture();
    let mut v = f.tv.open();
    let first = v.audit_records(0, 1000).unwrap();
    let added = first
        .iter()
        .find(|r| r.event.token_id.as_deref() == Some(f.p.as_str()))
        .unwrap();
    assert_eq!(added.event.action, AuditAction::TokenAdd);
    assert_eq!(added.event.user, "bob");
    assert!(added.event.success);
    assert_eq!(
        added.event.reason.as_deref(),
        Some("personal token of bob; sites: https://github.com")
    );

    // An unknown user: refused and recorded, nothing stored.
    let before = v.tokens().unwrap().len();
    let r = v.add_personal_token("mallory", &token("Evil", BOB_SEED), &[]);
    assert_eq!(
        refusal(r.unwrap_err()),
        Refusal::UnknownUser {
            user: "mallory".into()
        }
    );
    assert_eq!(v.tokens().unwrap().len(), before);
    let rec = last(&v);
    assert_eq!(
        (rec.event.user.as_str(), rec.event.action, rec.event.success),
        ("mallory", AuditAction::TokenAdd, false)
    );
    assert!(rec.event.reason.unwrap().starts_with("unknown_user: "));

    // Any known user may, admins too (their own personal token is theirs alone).
    let mine = v
        .add_personal_token("dave", &token("Dave", BOB_SEED_2), &[])
        .unwrap();
    assert_eq!(v.access("dave", &mine).unwrap(), Some(Access::FullSeed));
    let alices = v
        .add_personal_token("alice", &token("Alice", BOB_SEED_2), &[])
        .unwrap();
    assert_eq!(v.access("alice", &alices).unwrap(), Some(Access::FullSeed));
    assert_eq!(v.access("dave", &alices).unwrap(), None);
}

fn personal_tokens_cannot_be_granted_to_groups() {
    let f = fixture();
    let mut v = f.tv.open();
    for level in [Access::CodeOnly, Access::FullSeed] {
        let r = v.set_grant("alice", &f.p, "ops", level);
        assert_eq!(
            refusal(r.unwrap_err()),
            Refusal::PersonalToken { id: f.p.clone() }
        );
        let rec = last(&v);
        assert_eq!(rec.event.action, AuditAction::GrantSet);
        assert_eq!(rec.event.user, "alice");
        assert!(!rec.event.success);
        assert_eq!(rec.event.token_id.as_deref(), Some(f.p.as_str()));
        assert!(rec.event.reason.unwrap().starts_with("personal_token: "));
    }
    assert!(
        v.groups()
            .unwrap()
            .iter()
            .all(|g| !g.grants.contains_key(&f.p))
    );
    assert_eq!(v.access("carol", &f.p).unwrap(), None);
    drop(v);

    // The schema holds the rule even against SQL that skips the vault.
    let err =
        f.tv.sql(&format!(
            "INSERT INTO grants (token_id, group_name, level) VALUES ('{}', 'ops', 'code-only')",
            f.p
        ))
        .unwrap_err();
    assert!(err.contains("personal tokens"), "{err}");
    let err =
        f.tv.sql(&format!(
            "UPDATE tokens SET owner = 'bob' WHERE id = '{}'",
            f.t
        ))
        .unwrap_err();
    assert!(err.contains("cannot become personal"), "{err}");
}

fn owners_and_admins_manage_personal_tokens_nobody_else() {
    let f = fixture();
    let mut v = f.tv.open();
    let site = "gitlab.com".parse().unwrap();

    // carol (not the owner, not an admin) can neither change nor remove it.
    assert!(matches!(
        refusal(v.bind_site("carol", &f.p, &site).unwrap_err()),
        Refusal::NotAdmin { .. }
    ));
    assert!(matches!(
        refusal(v.remove_token("carol", &f.p).unwrap_err()),
        Refusal::NotAdmin { .. }
    ));
    let rec = last(&v);
    assert_eq!(
        (rec.event.user.as_str(), rec.event.action, rec.event.success),
        ("carol", AuditAction::TokenRemove, false)
    );
    // Nor can bob touch the team token.
    assert!(matches!(
        refusal(v.remove_token("bob", &f.t).unwrap_err()),
        Refusal::NotAdmin { .. }
    ));

    // bob manages his own.
    v.bind_site("bob", &f.p, &site).unwrap();
    let rec = last(&v);
    assert_eq!(rec.event.action, AuditAction::TokenBind);
    assert_eq!(
        rec.event.reason.as_deref(),
        Some("personal token of bob; site: https://gitlab.com")
    );
    assert!(
        v.issue_code(&CodeRequest {
            who: &who("bob"),
            token: None,
            origin: Some(&origin("https://gitlab.com")),
            purpose: Purpose::Fill,
            scope: Scope::All
        })
        .is_ok()
    );
    v.unbind_site("bob", &f.p, &site).unwrap();
    v.remove_token("bob", &f.p).unwrap();
    let rec = last(&v);
    assert_eq!(
        (rec.event.user.as_str(), rec.event.action, rec.event.success),
        ("bob", AuditAction::TokenRemove, true)
    );
    assert_eq!(rec.event.reason.as_deref(), Some("personal token of bob"));
    assert!(v.tokens().unwrap().iter().all(|t| t.id != f.p));

    // An admin may remove anyone's (e.g. when someone leaves).
    let again = v
        .add_personal_token("bob", &token("GitHub", BOB_SEED), &[])
        .unwrap();
    v.remove_token("alice", &again).unwrap();
    assert!(v.tokens().unwrap().iter().all(|t| t.id != again));
    assert!(v.verify_audit(None).unwrap().problem.is_none());
}

fn removing_a_user_removes_their_personal_tokens_on_record() {
    let f = fixture();
    let mut v = f.tv.open();
    v.remove_user("alice", "bob").unwrap();
    let ids: Vec<String> = v.tokens().unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, [f.t.as_str()]);
    let rec = last(&v);
    assert_eq!(rec.event.action, AuditAction::UserRemove);
    assert_eq!(
        rec.event.reason.as_deref(),
        Some(
            format!(
                "user: bob; personal tokens removed: {} GitHub (team@example.com)",
                f.p
            )
            .as_str()
        )
    );
    // Someone who later gets the name "bob" gets nothing of the old bob's.
    v.add_user("alice", "bob", false).unwrap();
    assert!(
        v.permitted_tokens(&TokensRequest {
            user: "bob",
            origin: None,
            scope: Scope::All
        })
        .unwrap()
        .is_empty()
    );
}

fn shared_only_scope_treats_personal_tokens_as_absent() {
    let f = fixture();
    let mut v = f.tv.open();
    let kaspersky = origin("https://my.kaspersky.com");
    let github = origin("https://github.com");
    // bob also has a personal token for the team token's site.
    let mine = v
        .add_personal_token(
            "bob",
            &token("Kaspersky", BOB_SEED_2),
            &["kaspersky.com".parse().unwrap()],
        )
        .unwrap();

    // Unscoped, both fit; shared-only, the fill picks the team token.
    match refusal(
        v.issue_code(&CodeRequest::fill(&who("bob"), &kaspersky))
            .unwrap_err(),
    ) {
        Refusal::Ambiguous { candidates } => assert_eq!(candidates.len(), 2),
        other => panic!("{other:?}"),
    }
    let issued = v
        .issue_code(&CodeRequest {
            scope: Scope::SharedOnly,
            ..CodeRequest::fill(&who("bob"), &kaspersky)
        })
        .unwrap();
    assert_eq!(issued.token.id, f.t);
    // Naming the personal one does not get around the scope.
    let r = v.issue_code(&CodeRequest {
        who: &who("bob"),
        token: Some(&mine),
        origin: Some(&kaspersky),
        purpose: Purpose::Fill,
        scope: Scope::SharedOnly,
    });
    assert!(matches!(
        refusal(r.unwrap_err()),
        Refusal::NoTokenForOrigin { .. }
    ));
    // A site only a personal token is bound to has nothing to fill.
    let r = v.issue_code(&CodeRequest {
        scope: Scope::SharedOnly,
        ..CodeRequest::fill(&who("bob"), &github)
    });
    assert!(matches!(
        refusal(r.unwrap_err()),
        Refusal::NoTokenForOrigin { .. }
    ));
    for purpose in [Purpose::Copy, Purpose::View] {
        let r = v.issue_code(&CodeRequest {
            who: &who("bob"),
            token: Some(&f.p),
            origin: None,
            purpose,
            scope: Scope::SharedOnly,
        });
        assert_eq!(
            refusal(r.unwrap_err()),
            Refusal::NoSuchToken { id: f.p.clone() }
        );
    }
    let rec = last(&v);
    assert_eq!(
        (rec.event.action, rec.event.success),
        (AuditAction::CodeView, false)
    );
    assert!(rec.event.reason.unwrap().starts_with("no_such_token: "));
    // The team token still works by name in the same scope.
    assert!(
        v.issue_code(&CodeRequest {
            who: &who("bob"),
            token: Some(&f.t),
            origin: None,
            purpose: Purpose::Copy,
            scope: Scope::SharedOnly
        })
        .is_ok()
    );
    let listed: Vec<String> = v
        .permitted_tokens(&TokensRequest {
            user: "bob",
            origin: None,
            scope: Scope::SharedOnly,
        })
        .unwrap()
        .into_iter()
        .map(|t| t.summary.id)
        .collect();
    assert_eq!(listed, [f.t.as_str()]);
    assert_eq!(
        v.permitted_tokens(&TokensRequest {
            user: "bob",
            origin: None,
            scope: Scope::All
        })
        .unwrap()
        .len(),
        3
    );
}

fn a_policy_without_personal_tokens_refuses_and_records_them() {
    let f = fixture();
    let mut v = f.tv.open();
    v.set_policy(Policy {
        allow_personal_tokens: false,
        ..Policy::default()
    });
    let github = origin("https://github.com");

    let r = v.add_personal_token("bob", &token("More", BOB_SEED_2), &[]);
    assert!(matches!(refusal(r.unwrap_err()), Refusal::Policy { .. }));
    let rec = last(&v);
    assert_eq!(
        (rec.event.user.as_str(), rec.event.action, rec.event.success),
        ("bob", AuditAction::TokenAdd, false)
    );
    assert!(rec.event.reason.unwrap().starts_with(
        "not_permitted_by_policy: the organization's twofill policy does not allow personal tokens"
    ));

    // Not listed, no codes, no seed, for the owner too.
    let listed: Vec<String> = v
        .permitted_tokens(&TokensRequest {
            user: "bob",
            origin: None,
            scope: Scope::All,
        })
        .unwrap()
        .into_iter()
        .map(|t| t.summary.id)
        .collect();
    assert_eq!(listed, [f.t.as_str()]);
    assert_eq!(v.access("bob", &f.p).unwrap(), None);
    let r = v.issue_code(&CodeRequest::fill(&who("bob"), &github));
    assert!(matches!(refusal(r.unwrap_err()), Refusal::Policy { .. }));
    let rec = last(&v);
    assert_eq!(
        (rec.event.action, rec.event.success),
        (AuditAction::CodeFill, false)
    );
    assert!(
        rec.event
            .reason
            .unwrap()
            .starts_with("not_permitted_by_policy: ")
    );
    let r = v.issue_code(&CodeRequest {
        who: &who("bob"),
        token: Some(&f.p),
        origin: None,
        purpose: Purpose::Copy,
        scope: Scope::All,
    });
    assert!(matches!(refusal(r.unwrap_err()), Refusal::Policy { .. }));
    let r = v.reveal_seed(&who("bob"), &f.p, AuditAction::SeedReveal);
    assert!(matches!(refusal(r.unwrap_err()), Refusal::Policy { .. }));
    // Team tokens are unaffected.
    assert!(
        v.issue_code(&CodeRequest {
            who: &who("bob"),
            token: None,
            origin: Some(&origin("https://my.kaspersky.com")),
            purpose: Purpose::Fill,
            scope: Scope::All
        })
        .is_ok()
    );
    // The owner can still clean up.
    v.remove_token("bob", &f.p).unwrap();
    assert!(v.verify_audit(None).unwrap().problem.is_none());
}

fn a_policy_without_seed_reveals_refuses_everybody_on_record() {
    let f = fixture();
    let mut v = f.tv.open();
    // Allowed before the policy…
    assert!(
        v.reveal_seed(&who("carol"), &f.t, AuditAction::SeedReveal)
            .is_ok()
    );
    v.set_policy(Policy {
        allow_seed_reveal: false,
        ..Policy::default()
    });
    // …refused after, to a full-seed holder and to an owner alike.
    for (user, id) in [("carol", &f.t), ("bob", &f.p)] {
        for action in [
            AuditAction::SeedReveal,
            AuditAction::SeedQr,
            AuditAction::SeedExport,
        ] {
            let r = v.reveal_seed(&who(user), id, action);
            assert_eq!(
                refusal(r.unwrap_err()),
                Refusal::Policy {
                    what: "revealing seeds".into()
                },
                "{user} {action}"
            );
            let rec = last(&v);
            assert_eq!(
                (rec.event.user.as_str(), rec.event.action, rec.event.success),
                (user, action, false)
            );
            assert_eq!(rec.event.token_id.as_deref(), Some(id.as_str()));
            assert!(
                rec.event
                    .reason
                    .unwrap()
                    .starts_with("not_permitted_by_policy: ")
            );
        }
    }
    // Codes still flow.
    assert!(
        v.issue_code(&CodeRequest {
            who: &who("carol"),
            token: Some(&f.t),
            origin: None,
            purpose: Purpose::Copy,
            scope: Scope::All
        })
        .is_ok()
    );
    assert!(
        v.issue_code(&CodeRequest {
            who: &who("bob"),
            token: Some(&f.p),
            origin: None,
            purpose: Purpose::Copy,
            scope: Scope::All
        })
        .is_ok()
    );
    assert!(v.verify_audit(None).unwrap().problem.is_none());
}

crate::support::both_stores!(
    only_the_owner_gets_codes_and_the_seed_of_a_personal_token,
    adding_a_personal_token_is_for_known_users_and_on_record,
    personal_tokens_cannot_be_granted_to_groups,
    owners_and_admins_manage_personal_tokens_nobody_else,
    removing_a_user_removes_their_personal_tokens_on_record,
    shared_only_scope_treats_personal_tokens_as_absent,
    a_policy_without_personal_tokens_refuses_and_records_them,
    a_policy_without_seed_reveals_refuses_everybody_on_record,
);
