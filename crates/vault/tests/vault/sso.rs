//! Single sign-on rules over both stores: just-in-time users linked to the
//! provider's subject, group mapping, one session per device, expiry and
//! maximum age, disabled users, and session rows edited past the vault.

use crate::support::TempVault;
use twofill_vault::{AuditAction, DeviceRecord, NewDevice, Refusal, SsoSignIn, Vault, VaultError};
use twofill_words::unix_now_ms;

const ISSUER: &str = "http://127.0.0.1:1/";
const MIN_MS: i64 = 60_000;

fn hash(n: u8) -> [u8; 32] {
    [n; 32]
}

fn refusal(e: VaultError) -> Refusal {
    match e {
        VaultError::Refused(r) => r,
        other => panic!("expected a refusal, got {other}"),
    }
}

/// alice is the admin; ana@example.com has device `d-ana`, bob device `d-bob`.
fn team() -> (TempVault, Vault, DeviceRecord, DeviceRecord) {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_user("alice", "alice", true).unwrap();
    let mut join = |user: &str, id: &str, n: u8| {
        v.create_invite("alice", user, hash(n), unix_now_ms() + MIN_MS)
            .unwrap();
        v.redeem_invite(
            hash(n),
            &NewDevice {
                id,
                name: "laptop",
                cert_sha256: hash(n + 100),
            },
        )
        .unwrap()
    };
    let ana = join("ana@example.com", "d-ana", 1);
    let bob = join("bob", "d-bob", 2);
    (tv, v, ana, bob)
}

fn sign_in<'a>(device: &'a DeviceRecord, groups: &'a [String], ticket: u8) -> SsoSignIn<'a> {
    let now = unix_now_ms();
    SsoSignIn {
        issuer: ISSUER,
        subject: "sub-ana",
        email: "ana@example.com",
        device,
        ticket_sha256: hash(ticket),
        signed_in_at_ms: now,
        expires_at_ms: now + 15 * MIN_MS,
        max_at_ms: now + 60 * MIN_MS,
        groups,
        managed_groups: MANAGED,
        admin: Some(false),
        refresh: false,
    }
}

static MANAGED: &[String] = &[];

fn managed() -> Vec<String> {
    vec!["ops".into(), "finance".into()]
}

fn a_sign_in_links_the_user_maps_groups_and_opens_a_session() {
    let (_tv, mut v, ana, _) = team();
    let managed = managed();
    let groups = vec!["ops".to_string()];
    let s = SsoSignIn {
        managed_groups: &managed,
        ..sign_in(&ana, &groups, 7)
    };
    let head = v.audit_head_seq().unwrap();
    let session = v.sso_sign_in(&s).unwrap();
    assert_eq!(session.user, "ana@example.com");
    assert_eq!(session.groups, vec!["ops".to_string()]);
    assert!(!session.admin);
    assert!(v.is_sso_user("ana@example.com").unwrap());
    let records = v.audit_records(head, 100).unwrap();
    let mapped: Vec<_> = records
        .iter()
        .filter(|r| r.event.action == AuditAction::SsoGroupMapped)
        .collect();
    assert_eq!(mapped.len(), 1, "{records:?}");
    assert!(
        mapped[0]
            .event
            .reason
            .as_deref()
            .unwrap()
            .contains("added to group ops")
    );
    assert_eq!(records.last().unwrap().event.action, AuditAction::SsoLogin);

    // The ticket opens the session on this device only.
    assert_eq!(v.sso_session(&ana, &hash(7)).unwrap(), session);
    assert_eq!(
        refusal(v.sso_session(&ana, &hash(8)).unwrap_err()),
        Refusal::SignedOut
    );

    // The next sign-in without the group loses it, with a record.
    let none: Vec<String> = Vec::new();
    let s = SsoSignIn {
        managed_groups: &managed,
        refresh: true,
        ..sign_in(&ana, &none, 9)
    };
    let session = v.sso_sign_in(&s).unwrap();
    assert!(session.groups.is_empty());
    let last = v.audit_records(0, 1000).unwrap();
    assert!(last.iter().any(|r| {
        r.event.action == AuditAction::SsoGroupMapped
            && r.event
                .reason
                .as_deref()
                .unwrap()
                .contains("removed from group ops")
    }));
    assert_eq!(last.last().unwrap().event.action, AuditAction::SsoRefresh);
    // The old ticket is gone: one session per device.
    assert_eq!(
        refusal(v.sso_session(&ana, &hash(7)).unwrap_err()),
        Refusal::SignedOut
    );
}

fn a_ticket_from_another_device_and_a_sign_in_as_someone_else_are_refused() {
    let (_tv, mut v, ana, bob) = team();
    v.sso_sign_in(&sign_in(&ana, &[], 7)).unwrap();
    // bob's device with ana's ticket: signed out, on record.
    assert_eq!(
        refusal(v.sso_session(&bob, &hash(7)).unwrap_err()),
        Refusal::SignedOut
    );
    let last = v.audit_records(0, 1000).unwrap().pop().unwrap();
    assert_eq!(
        (last.event.action, last.event.success),
        (AuditAction::SsoRefused, false)
    );
    // ana signing in on bob's device.
    match refusal(v.sso_sign_in(&sign_in(&bob, &[], 8)).unwrap_err()) {
        Refusal::SsoRefused { reason, detail } => {
            assert_eq!(reason, "wrong_user");
            assert!(detail.contains("enrolled for bob"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

fn expired_and_over_age_sessions_are_refused_with_their_own_codes() {
    let (_tv, mut v, ana, _) = team();
    let now = unix_now_ms();
    let expired = SsoSignIn {
        expires_at_ms: now - 1,
        ..sign_in(&ana, &[], 7)
    };
    v.sso_sign_in(&expired).unwrap();
    assert_eq!(
        refusal(v.sso_session(&ana, &hash(7)).unwrap_err()),
        Refusal::SessionExpired
    );
    let over_age = SsoSignIn {
        max_at_ms: now - 1,
        ..sign_in(&ana, &[], 8)
    };
    v.sso_sign_in(&over_age).unwrap();
    assert!(matches!(
        refusal(v.sso_session(&ana, &hash(8)).unwrap_err()),
        Refusal::SignInAgain { .. }
    ));
}

fn a_disabled_user_loses_the_session_and_cannot_sign_in() {
    let (_tv, mut v, ana, _) = team();
    v.sso_sign_in(&sign_in(&ana, &[], 7)).unwrap();
    assert!(
        v.disable_user("bob", "ana@example.com").is_err(),
        "bob is no admin"
    );
    assert_eq!(v.disable_user("alice", "ana@example.com").unwrap(), 1);
    assert!(v.user_disabled("ana@example.com").unwrap());
    assert_eq!(
        refusal(v.sso_session(&ana, &hash(7)).unwrap_err()),
        Refusal::SignedOut
    );
    assert!(matches!(
        refusal(v.sso_sign_in(&sign_in(&ana, &[], 8)).unwrap_err()),
        Refusal::UserDisabled { .. }
    ));
    assert!(v.enable_user("alice", "ana@example.com").unwrap());
    v.sso_sign_in(&sign_in(&ana, &[], 9)).unwrap();
}

fn a_session_row_edited_in_the_database_is_refused() {
    let (tv, mut v, ana, _) = team();
    let now = unix_now_ms();
    let expired = SsoSignIn {
        expires_at_ms: now - 1,
        ..sign_in(&ana, &[], 7)
    };
    v.sso_sign_in(&expired).unwrap();
    // Extending an expired session past the vault.
    tv.tamper(&format!(
        "UPDATE sso_sessions SET expires_at = {}",
        now + 60 * MIN_MS
    ));
    assert!(matches!(
        v.sso_session(&ana, &hash(7)),
        Err(VaultError::Tampered { .. })
    ));
    let report = v.verify_authorization().unwrap();
    assert!(
        report.tampered.iter().any(|t| t.table == "sso_sessions"),
        "{report:?}"
    );
}

fn an_identity_link_moved_to_another_user_is_refused() {
    let (tv, mut v, ana, _) = team();
    v.sso_sign_in(&sign_in(&ana, &[], 7)).unwrap();
    // Someone with database access points ana's subject at alice (an admin).
    tv.tamper("UPDATE sso_identities SET user_name = 'alice'");
    assert!(matches!(
        v.sso_sign_in(&sign_in(&ana, &[], 8)),
        Err(VaultError::Tampered { .. })
    ));
    assert!(matches!(
        v.is_sso_user("alice"),
        Err(VaultError::Tampered { .. })
    ));
    let report = v.verify_authorization().unwrap();
    assert!(
        report.tampered.iter().any(|t| t.table == "sso_identities"),
        "{report:?}"
    );
}

crate::support::both_stores!(
    an_identity_link_moved_to_another_user_is_refused,
    a_sign_in_links_the_user_maps_groups_and_opens_a_session,
    a_ticket_from_another_device_and_a_sign_in_as_someone_else_are_refused,
    expired_and_over_age_sessions_are_refused_with_their_own_codes,
    a_disabled_user_loses_the_session_and_cannot_sign_in,
    a_session_row_edited_in_the_database_is_refused,
);
