//! Authorization rows edited in the database directly (a person with write
//! access to the SQLite file or the PostgreSQL database, no vault key) are
//! refused and reported, never obeyed; over both stores.

use crate::support::{
    Backend, TempVault, bob_fills, fixture_copy, kaspersky_code_only_for_bob, postgres_fixture,
    running_on_postgres, token,
};
use twofill_vault::{
    Access, AuditAction, CodeRequest, NewDevice, Origin, Purpose, Refusal, Requester, Scope,
    TamperedRow, Vault, VaultError,
};
use twofill_words::unix_now_ms;

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SITE: &str = "my.kaspersky.com";

fn kaspersky() -> Origin {
    "https://my.kaspersky.com".parse().unwrap()
}

/// alice (admin), bob code-only on the Kaspersky token through `ops`,
/// dave a user in no group.
fn team() -> (TempVault, Vault, String) {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = kaspersky_code_only_for_bob(&mut v, SEED, SITE);
    v.add_user("alice", "dave", false).unwrap();
    (tv, v, id)
}

/// The error is [`VaultError::Tampered`] on `table`; its message says what to do.
fn assert_tampered<T: std::fmt::Debug>(result: twofill_vault::Result<T>, table: &str) {
    match result {
        Err(e @ VaultError::Tampered { .. }) => {
            let VaultError::Tampered { table: t, .. } = &e else {
                unreachable!()
            };
            assert_eq!(t, table, "{e}");
            let text = e.to_string();
            assert!(text.contains("changed outside twofill"), "{text}");
            assert!(text.contains("restore from backup"), "{text}");
            assert!(text.contains("twofill-host audit verify"), "{text}");
        }
        other => panic!("expected tampering in {table}, got {other:?}"),
    }
}

/// `verify_authorization` names exactly `rows`.
fn assert_reported(v: &Vault, rows: &[(&str, &str)]) {
    let report = v.verify_authorization().unwrap();
    let expected: Vec<TamperedRow> = rows
        .iter()
        .map(|(table, row)| TamperedRow {
            table: table.to_string(),
            row: row.to_string(),
        })
        .collect();
    assert_eq!(report.tampered, expected);
    assert!(!report.is_intact());
}

/// The newest audit record is `user`'s refused `action`, naming the tampering.
fn assert_refusal_recorded(v: &Vault, user: &str, action: AuditAction) {
    let head = v.audit_head_seq().unwrap();
    let last = v.audit_records(head - 1, 1).unwrap().remove(0);
    assert_eq!(
        (
            last.event.user.as_str(),
            last.event.action,
            last.event.success
        ),
        (user, action, false)
    );
    let reason = last.event.reason.unwrap();
    assert!(reason.starts_with("tampered: "), "{reason}");
    assert!(v.verify_audit(None).unwrap().problem.is_none());
}

fn bob_reveals(v: &mut Vault, id: &str) -> twofill_vault::Result<twofill_otp::Token> {
    v.reveal_seed(&Requester::cli("bob"), id, AuditAction::SeedReveal)
}

fn code_only_edited_to_full_seed_gives_no_seed_and_no_code() {
    let (tv, mut v, id) = team();
    // The control: before the edit bob is refused the seed, and fills.
    assert!(matches!(
        bob_reveals(&mut v, &id),
        Err(VaultError::Refused(Refusal::NotPermitted { .. }))
    ));
    bob_fills(&mut v, &kaspersky()).unwrap();
    assert!(v.verify_authorization().unwrap().is_intact());

    tv.sql("UPDATE grants SET level = 'full-seed'").unwrap();
    assert_tampered(bob_reveals(&mut v, &id), "grants");
    assert_refusal_recorded(&v, "bob", AuditAction::SeedReveal);
    assert_tampered(bob_fills(&mut v, &kaspersky()), "grants");
    assert_refusal_recorded(&v, "bob", AuditAction::CodeFill);
    assert_tampered(v.access("bob", &id), "grants");
    assert_reported(&v, &[("grants", &format!("token {id}, group ops"))]);
}

fn a_hand_made_membership_is_refused() {
    let (tv, mut v, id) = team();
    let dave = Requester::cli("dave");
    assert!(matches!(
        v.issue_code(&CodeRequest::fill(&dave, &kaspersky())),
        Err(VaultError::Refused(Refusal::NotPermitted { .. }))
    ));
    tv.sql("INSERT INTO members (group_name, user_name) VALUES ('ops', 'dave')")
        .unwrap();
    assert_tampered(
        v.issue_code(&CodeRequest::fill(&dave, &kaspersky())),
        "members",
    );
    assert_refusal_recorded(&v, "dave", AuditAction::CodeFill);
    assert_tampered(v.access("dave", &id), "members");
    assert_tampered(v.users(), "members");
    assert_reported(&v, &[("members", "group ops, user dave")]);
    // bob's own membership is intact, and his fill still works: only the
    // rows a decision reads are refused.
    bob_fills(&mut v, &kaspersky()).unwrap();
}

fn a_flipped_admin_flag_is_refused() {
    let (tv, mut v, _) = team();
    tv.sql("UPDATE users SET admin = TRUE WHERE name = 'bob'")
        .unwrap();
    let before = v.tokens().unwrap().len();
    assert_tampered(
        v.add_token(
            "bob",
            &token("Evil", SEED),
            &["evil.example".parse().unwrap()],
        ),
        "users",
    );
    assert_refusal_recorded(&v, "bob", AuditAction::TokenAdd);
    assert_eq!(v.tokens().unwrap().len(), before, "nothing was added");
    assert_tampered(v.set_grant("bob", "x", "ops", Access::FullSeed), "users");
    assert_tampered(v.is_admin("bob"), "users");
    assert_reported(&v, &[("users", "user bob")]);
    // alice, whose row is intact, still administers.
    v.add_group("alice", "leads").unwrap();
}

fn an_added_site_binding_is_refused() {
    let (tv, mut v, id) = team();
    let evil: Origin = "https://evil.example".parse().unwrap();
    assert!(matches!(
        bob_fills(&mut v, &evil),
        Err(VaultError::Refused(Refusal::NoTokenForOrigin { .. }))
    ));
    // Stored as the vault stores sites, so a fill's site lookup finds it.
    tv.sql(&format!(
        "INSERT INTO token_sites (token_id, site) VALUES ('{id}', 'https://evil.example')"
    ))
    .unwrap();
    assert_tampered(bob_fills(&mut v, &evil), "token_sites");
    assert_refusal_recorded(&v, "bob", AuditAction::CodeFill);
    assert_tampered(v.tokens(), "token_sites");
    // Spelled another way, the lookup passes it by: still never obeyed,
    // and the listing and the check report it.
    tv.sql(&format!(
        "INSERT INTO token_sites (token_id, site) VALUES ('{id}', 'Other.example')"
    ))
    .unwrap();
    let other: Origin = "https://other.example".parse().unwrap();
    assert!(matches!(
        bob_fills(&mut v, &other),
        Err(VaultError::Refused(Refusal::NoTokenForOrigin { .. }))
    ));
    assert_reported(
        &v,
        &[
            ("token_sites", &format!("token {id}, site Other.example")),
            (
                "token_sites",
                &format!("token {id}, site https://evil.example"),
            ),
        ],
    );
}

fn a_personal_token_made_a_team_token_is_refused() {
    let (tv, mut v, _) = team();
    let personal = v
        .add_personal_token("bob", &token("Personal", SEED), &[])
        .unwrap();
    tv.sql(&format!(
        "UPDATE tokens SET owner = NULL WHERE id = '{personal}'"
    ))
    .unwrap();
    // Granting the now "team" token to a group would hand bob's seed out.
    assert_tampered(
        v.set_grant("alice", &personal, "ops", Access::FullSeed),
        "tokens",
    );
    assert_refusal_recorded(&v, "alice", AuditAction::GrantSet);
    let copy = CodeRequest {
        who: &Requester::cli("bob"),
        token: Some(&personal),
        origin: None,
        purpose: Purpose::Copy,
        scope: Scope::All,
    };
    assert_tampered(v.issue_code(&copy), "tokens");
    assert_reported(&v, &[("tokens", &format!("token {personal}"))]);
}

fn a_team_token_made_personal_is_refused() {
    let (tv, mut v, _) = team();
    let github = v
        .add_token(
            "alice",
            &token("GitHub", SEED),
            &["github.com".parse().unwrap()],
        )
        .unwrap();
    tv.sql(&format!(
        "UPDATE tokens SET owner = 'bob' WHERE id = '{github}'"
    ))
    .unwrap();
    assert_tampered(bob_reveals(&mut v, &github), "tokens");
    assert_reported(&v, &[("tokens", &format!("token {github}"))]);
}

fn bob_with_a_device() -> (TempVault, Vault, [u8; 32]) {
    let (tv, mut v, _) = team();
    let (secret, cert) = ([1u8; 32], [2u8; 32]);
    v.create_invite("alice", "bob", secret, unix_now_ms() + 86_400_000)
        .unwrap();
    let device = NewDevice {
        id: "laptop-1",
        name: "bob's laptop",
        cert_sha256: cert,
    };
    v.redeem_invite(secret, &device).unwrap();
    (tv, v, cert)
}

fn a_cleared_revocation_is_refused() {
    let (tv, mut v, cert) = bob_with_a_device();
    assert_eq!(v.authenticate_device(&cert).unwrap().user, "bob");
    v.revoke_device("alice", "laptop-1").unwrap();
    assert!(matches!(
        v.authenticate_device(&cert),
        Err(VaultError::Refused(Refusal::DeviceRevoked { .. }))
    ));
    assert!(v.verify_authorization().unwrap().is_intact());

    tv.sql("UPDATE devices SET revoked_at = NULL, revoked_by = NULL")
        .unwrap();
    assert_tampered(v.authenticate_device(&cert), "devices");
    assert_refusal_recorded(&v, "bob", AuditAction::DeviceRefused);
    assert_tampered(v.devices(None), "devices");
    assert_reported(&v, &[("devices", "device laptop-1 of bob")]);
}

fn a_device_moved_to_another_user_is_refused() {
    let (tv, mut v, cert) = bob_with_a_device();
    tv.sql("UPDATE devices SET user_name = 'alice'").unwrap();
    assert_tampered(v.authenticate_device(&cert), "devices");
    assert_reported(&v, &[("devices", "device laptop-1 of alice")]);
}

fn a_used_invite_made_unused_is_refused() {
    let (tv, mut v, _) = bob_with_a_device();
    tv.sql("UPDATE invites SET used_at = NULL, device_id = NULL")
        .unwrap();
    let second = NewDevice {
        id: "laptop-2",
        name: "mallory's laptop",
        cert_sha256: [3u8; 32],
    };
    assert_tampered(v.redeem_invite([1u8; 32], &second), "invites");
    assert!(
        v.authenticate_device(&[3u8; 32]).is_err(),
        "no device joined"
    );
    let report = v.verify_authorization().unwrap();
    assert_eq!(report.tampered.len(), 1, "{:?}", report.tampered);
    assert_eq!(report.tampered[0].table, "invites");
}

fn a_mac_copied_from_another_row_is_refused() {
    let (tv, mut v, id) = team();
    v.add_group("alice", "leads").unwrap();
    v.add_member("alice", "leads", "carol").unwrap();
    v.set_grant("alice", &id, "leads", Access::FullSeed)
        .unwrap();
    // The leads' full-seed grant, MAC and all, copied onto ops.
    tv.sql(
        "UPDATE grants SET level = 'full-seed',
             mac = (SELECT g.mac FROM grants g WHERE g.group_name = 'leads')
         WHERE group_name = 'ops'",
    )
    .unwrap();
    assert_tampered(bob_reveals(&mut v, &id), "grants");
    // And a membership's MAC moved to another user's membership row.
    tv.sql(
        "UPDATE members SET mac = (SELECT m.mac FROM members m WHERE m.user_name = 'carol')
         WHERE user_name = 'bob'",
    )
    .unwrap();
    assert_reported(
        &v,
        &[
            ("members", "group ops, user bob"),
            ("grants", &format!("token {id}, group ops")),
        ],
    );
    // carol's rows are untouched and still obeyed.
    v.reveal_seed(&Requester::cli("carol"), &id, AuditAction::SeedReveal)
        .unwrap();
}

fn normal_admin_changes_keep_verifying() {
    let (_tv, mut v, id) = team();
    let gh = v
        .add_token(
            "alice",
            &token("GitHub", SEED),
            &["github.com".parse().unwrap()],
        )
        .unwrap();
    v.bind_site("alice", &gh, &"gitlab.com".parse().unwrap())
        .unwrap();
    v.unbind_site("alice", &gh, &"github.com".parse().unwrap())
        .unwrap();
    v.add_group("alice", "leads").unwrap();
    v.add_member("alice", "leads", "carol").unwrap();
    v.add_member("alice", "leads", "bob").unwrap();
    v.remove_member("alice", "leads", "bob").unwrap();
    v.set_grant("alice", &id, "leads", Access::CodeOnly)
        .unwrap();
    v.set_grant("alice", &id, "leads", Access::FullSeed)
        .unwrap();
    v.set_grant("alice", &gh, "ops", Access::CodeOnly).unwrap();
    v.revoke_grant("alice", &gh, "ops").unwrap();
    v.add_user("alice", "erin", true).unwrap();
    v.add_user("alice", "erin", false).unwrap();
    v.add_personal_token("bob", &token("Personal", SEED), &[])
        .unwrap();
    v.add_personal_token("dave", &token("Dave", SEED), &[])
        .unwrap();
    v.remove_user("alice", "dave").unwrap();
    v.add_group("alice", "gone").unwrap();
    v.remove_group("alice", "gone").unwrap();
    v.create_invite("alice", "frank", [7u8; 32], unix_now_ms() + 60_000)
        .unwrap();
    v.redeem_invite(
        [7u8; 32],
        &NewDevice {
            id: "frank-1",
            name: "frank's laptop",
            cert_sha256: [8u8; 32],
        },
    )
    .unwrap();
    v.revoke_device("alice", "frank-1").unwrap();
    v.remove_token("alice", &gh).unwrap();

    let report = v.verify_authorization().unwrap();
    assert!(report.is_intact(), "{:?}", report.tampered);
    // users 5, groups 2, members 2, grants 2, sites 1, tokens 2, invite,
    // device, first admin.
    assert_eq!(report.rows, 17, "{report:?}");
    // Every rule still reads them.
    bob_fills(&mut v, &kaspersky()).unwrap();
    v.reveal_seed(&Requester::cli("carol"), &id, AuditAction::SeedReveal)
        .unwrap();
    assert_eq!(v.users().unwrap().len(), 5);
    assert_eq!(v.groups().unwrap().len(), 2);
    assert_eq!(v.devices(None).unwrap().len(), 1);
}

fn deleting_the_admins_does_not_make_a_new_one() {
    let (tv, mut v, _) = team();
    tv.sql("DELETE FROM users WHERE name = 'alice'").unwrap();
    // Before, the first person to ask became the admin.
    match v.add_user("bob", "bob", true) {
        Err(VaultError::Refused(Refusal::NoAdmin { first_admin })) => {
            assert_eq!(first_admin, "alice")
        }
        other => panic!("{other:?}"),
    }
    assert!(!v.is_admin("bob").unwrap());
    let head = v.audit_head_seq().unwrap();
    let last = v.audit_records(head - 1, 1).unwrap().remove(0);
    assert_eq!(
        (last.event.user.as_str(), last.event.success),
        ("bob", false)
    );
    assert!(last.event.reason.unwrap().starts_with("no_admin"));
}

fn unflagging_the_admins_does_not_make_a_new_one() {
    let (tv, mut v, _) = team();
    tv.sql("UPDATE users SET admin = FALSE").unwrap();
    assert!(matches!(
        v.add_user("bob", "bob", true),
        Err(VaultError::Refused(Refusal::NoAdmin { .. }))
    ));
    // alice's own row was edited: that is reported as such.
    assert_tampered(v.add_group("alice", "x"), "users");
    assert_reported(&v, &[("users", "user alice")]);
}

fn deleting_the_first_admin_row_too_is_refused() {
    let (tv, mut v, _) = team();
    let meta = match tv.backend {
        Backend::Sqlite => "meta",
        Backend::Postgres(_) => "twofill_meta",
    };
    tv.sql(&format!(
        "DELETE FROM users WHERE name = 'alice'; DELETE FROM {meta} WHERE key = 'first_admin';"
    ))
    .unwrap();
    assert_tampered(v.add_user("bob", "bob", true), "meta");
    assert!(!v.is_admin("bob").unwrap());
    assert_reported(&v, &[("meta", "first_admin (missing)")]);
}

fn an_edited_first_admin_row_is_reported() {
    // Renaming the first admin (to pass the bootstrap to someone else
    // later) breaks the row's MAC.
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_user("alice", "alice", true).unwrap();
    let meta = match tv.backend {
        Backend::Sqlite => "meta",
        Backend::Postgres(_) => "twofill_meta",
    };
    tv.sql(&format!(
        "UPDATE {meta} SET value = 'mallory' WHERE key = 'first_admin'"
    ))
    .unwrap();
    assert_reported(&v, &[("meta", "first_admin")]);
}

fn the_last_admin_stays() {
    let (_tv, mut v, _) = team();
    assert!(matches!(
        v.remove_user("alice", "alice"),
        Err(VaultError::Refused(Refusal::LastAdmin { .. }))
    ));
    assert!(matches!(
        v.add_user("alice", "alice", false),
        Err(VaultError::Refused(Refusal::LastAdmin { .. }))
    ));
    assert!(v.is_admin("alice").unwrap());
    // With a second admin, either may go.
    v.add_user("alice", "erin", true).unwrap();
    v.add_user("alice", "alice", false).unwrap();
    assert!(!v.is_admin("alice").unwrap());
    v.remove_user("erin", "alice").unwrap();
}

/// The committed schema-4 vault of the running test's store (the same
/// content: alice admin, bob code-only on a Kaspersky token).
fn schema_4_vault() -> (TempVault, &'static str) {
    if running_on_postgres() {
        (postgres_fixture("postgres-v4"), "e6a96978aa0e")
    } else {
        (fixture_copy("vault-v4"), "b22ac51f6f1e")
    }
}

fn a_schema_4_vault_gets_macs_for_the_rows_it_had() {
    let (tv, id) = schema_4_vault();
    let mut v = tv.open();
    let report = v.verify_authorization().unwrap();
    assert!(report.is_intact(), "{:?}", report.tampered);
    // alice, bob; ops; bob in ops; the grant; the site; the token; first admin.
    assert_eq!(report.rows, 8, "{report:?}");
    assert_eq!(v.access("bob", id).unwrap(), Some(Access::CodeOnly));
    bob_fills(&mut v, &kaspersky()).unwrap();
    // The migration trusted alice as the first admin: deleting her does not
    // hand the vault to the next person.
    tv.sql("DELETE FROM users WHERE name = 'alice'").unwrap();
    assert!(matches!(
        v.add_user("bob", "bob", true),
        Err(VaultError::Refused(Refusal::NoAdmin { .. }))
    ));
    // And an edit after the migration is caught.
    tv.sql("UPDATE grants SET level = 'full-seed'").unwrap();
    assert_tampered(bob_reveals(&mut v, id), "grants");
}

crate::support::both_stores!(
    code_only_edited_to_full_seed_gives_no_seed_and_no_code,
    a_hand_made_membership_is_refused,
    a_flipped_admin_flag_is_refused,
    an_added_site_binding_is_refused,
    a_personal_token_made_a_team_token_is_refused,
    a_team_token_made_personal_is_refused,
    a_cleared_revocation_is_refused,
    a_device_moved_to_another_user_is_refused,
    a_used_invite_made_unused_is_refused,
    a_mac_copied_from_another_row_is_refused,
    normal_admin_changes_keep_verifying,
    deleting_the_admins_does_not_make_a_new_one,
    unflagging_the_admins_does_not_make_a_new_one,
    deleting_the_first_admin_row_too_is_refused,
    an_edited_first_admin_row_is_reported,
    the_last_admin_stays,
    a_schema_4_vault_gets_macs_for_the_rows_it_had,
);
