//! People's devices: invites, the one-time join, revocation, and the audit
//! trail of each, over both stores.

use crate::support::TempVault;
use twofill_vault::{
    AuditAction, AuditRecord, DeviceRecord, InviteProblem, NewDevice, Refusal, Vault, VaultError,
};
use twofill_words::unix_now_ms;

const DAY_MS: i64 = 86_400_000;

/// Stand-ins for SHA-256 values: the vault only compares them.
fn hash(n: u8) -> [u8; 32] {
    let mut h = [n; 32];
    h[31] = 0xa5;
    h
}

fn device(id: &str, cert: u8) -> NewDevice<'_> {
    NewDevice {
        id,
        name: "bob's laptop",
        cert_sha256: hash(cert),
    }
}

fn refusal(e: VaultError) -> Refusal {
    match e {
        VaultError::Refused(r) => r,
        other => panic!("expected a refusal, got {other}"),
    }
}

fn invalid_invite(e: VaultError) -> InviteProblem {
    match refusal(e) {
        Refusal::InviteInvalid { problem } => problem,
        other => panic!("expected an invalid invite, got {other}"),
    }
}

fn records_since(v: &Vault, seq: i64) -> Vec<AuditRecord> {
    v.audit_records(seq, 1000).unwrap()
}

/// alice is the first admin; bob gets an invite valid for a day.
fn invited() -> (TempVault, Vault) {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_user("alice", "alice", true).unwrap();
    let invite = v
        .create_invite("alice", "bob", hash(1), unix_now_ms() + DAY_MS)
        .unwrap();
    assert_eq!(invite.user, "bob");
    (tv, v)
}

fn an_invite_enrolls_one_device_once() {
    let (_tv, mut v) = invited();
    // bob was created by the invite, not as an admin.
    let users = v.users().unwrap();
    let bob = users.iter().find(|u| u.name == "bob").expect("bob exists");
    assert!(!bob.admin);
    let created = records_since(&v, 0).pop().unwrap();
    assert_eq!(created.event.action, AuditAction::InviteCreate);
    assert_eq!(created.event.user, "alice");
    let reason = created.event.reason.unwrap();
    assert!(reason.contains("for bob"), "{reason}");
    // Named by a prefix of the hash, never the whole of it.
    let full = twofill_vault::audit::hex(&hash(1));
    assert!(
        reason.contains(&full[..12]) && !reason.contains(&full),
        "{reason}"
    );

    let head = v.audit_head_seq().unwrap();
    let joined = v.redeem_invite(hash(1), &device("dev-1", 10)).unwrap();
    assert_eq!(
        (
            joined.id.as_str(),
            joined.user.as_str(),
            joined.name.as_str()
        ),
        ("dev-1", "bob", "bob's laptop")
    );
    assert_eq!(joined.revoked_at_ms, None);
    assert_eq!(joined.cert_sha256, hash(10));
    assert!((joined.joined_at_ms - unix_now_ms()).abs() < 60_000);
    assert_eq!(v.authenticate_device(&hash(10)).unwrap(), joined);

    // A second device with the same invite: refused, on record under bob.
    let err = v.redeem_invite(hash(1), &device("dev-2", 11)).unwrap_err();
    let message = err.to_string();
    assert_eq!(invalid_invite(err), InviteProblem::Used);
    assert!(
        message.contains("ask your admin for a new invite"),
        "{message}"
    );
    assert_eq!(v.devices(None).unwrap(), vec![joined.clone()]);
    assert!(matches!(
        v.authenticate_device(&hash(11)).map_err(refusal),
        Err(Refusal::DeviceNotEnrolled)
    ));

    let records = records_since(&v, head);
    let summary: Vec<_> = records
        .iter()
        .map(|r| (r.event.action, r.event.user.as_str(), r.event.success))
        .collect();
    assert_eq!(
        summary,
        [
            (AuditAction::DeviceJoin, "bob", true),
            (AuditAction::DeviceJoin, "bob", false),
        ]
    );
    assert!(records[0].event.reason.as_ref().unwrap().contains("dev-1"));
    let refused = records[1].event.reason.as_ref().unwrap();
    assert!(refused.starts_with("invite_invalid: "), "{refused}");
    assert!(refused.contains("already used"), "{refused}");
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

fn an_expired_invite_is_refused_on_record() {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_user("alice", "alice", true).unwrap();
    v.create_invite("alice", "bob", hash(2), unix_now_ms() + 300)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let head = v.audit_head_seq().unwrap();
    let err = v.redeem_invite(hash(2), &device("dev-1", 10)).unwrap_err();
    assert!(err.to_string().contains("has expired"), "{err}");
    assert_eq!(invalid_invite(err), InviteProblem::Expired);
    assert!(v.devices(None).unwrap().is_empty());
    let records = records_since(&v, head);
    assert_eq!(records.len(), 1);
    let r = &records[0].event;
    assert_eq!(
        (r.action, r.user.as_str(), r.success),
        (AuditAction::DeviceJoin, "bob", false)
    );
    assert!(r.reason.as_ref().unwrap().contains("expired"));

    // An invite that is over before it starts is not made at all.
    let err = v
        .create_invite("alice", "bob", hash(3), unix_now_ms() - 1)
        .unwrap_err();
    assert!(matches!(err, VaultError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("in the future"), "{err}");
}

fn an_unknown_invite_is_refused_without_a_record() {
    let (_tv, mut v) = invited();
    let head = v.audit_head_seq().unwrap();
    let err = v.redeem_invite(hash(9), &device("dev-1", 10)).unwrap_err();
    assert_eq!(invalid_invite(err), InviteProblem::Unknown);
    assert_eq!(v.audit_head_seq().unwrap(), head, "no user to name");
    assert!(v.devices(None).unwrap().is_empty());
}

fn a_join_that_fails_leaves_the_invite_usable() {
    let (_tv, mut v) = invited();
    v.create_invite("alice", "carol", hash(4), unix_now_ms() + DAY_MS)
        .unwrap();
    v.redeem_invite(hash(4), &device("dev-c", 20)).unwrap();
    let head = v.audit_head_seq().unwrap();
    // A bad name, a taken id, a taken certificate: errors, nothing consumed.
    let nameless = NewDevice {
        name: " \n",
        ..device("dev-1", 10)
    };
    assert!(matches!(
        v.redeem_invite(hash(1), &nameless),
        Err(VaultError::Invalid(_))
    ));
    assert!(matches!(
        v.redeem_invite(hash(1), &device("dev-c", 10)),
        Err(VaultError::Exists(_))
    ));
    assert!(matches!(
        v.redeem_invite(hash(1), &device("dev-1", 20)),
        Err(VaultError::Exists(_))
    ));
    assert_eq!(v.audit_head_seq().unwrap(), head);
    let joined = v.redeem_invite(hash(1), &device("dev-1", 10)).unwrap();
    assert_eq!(joined.user, "bob");
    assert_eq!(v.devices(Some("bob")).unwrap(), vec![joined]);
    assert_eq!(v.devices(None).unwrap().len(), 2);
}

fn only_admins_invite_and_revoke_and_refusals_are_recorded() {
    let (_tv, mut v) = invited();
    let joined = v.redeem_invite(hash(1), &device("dev-1", 10)).unwrap();
    let head = v.audit_head_seq().unwrap();
    let err = v
        .create_invite("bob", "mallory", hash(5), unix_now_ms() + DAY_MS)
        .unwrap_err();
    assert!(matches!(refusal(err), Refusal::NotAdmin { user } if user == "bob"));
    let err = v.revoke_device("bob", "dev-1").unwrap_err();
    assert!(matches!(refusal(err), Refusal::NotAdmin { .. }));
    // Neither happened: no invite for mallory, the device still works.
    assert_eq!(
        invalid_invite(v.redeem_invite(hash(5), &device("dev-m", 30)).unwrap_err()),
        InviteProblem::Unknown
    );
    assert!(v.users().unwrap().iter().all(|u| u.name != "mallory"));
    assert_eq!(v.authenticate_device(&hash(10)).unwrap(), joined);
    let summary: Vec<_> = records_since(&v, head)
        .iter()
        .map(|r| (r.event.action, r.event.user.clone(), r.event.success))
        .collect();
    assert_eq!(
        summary,
        [
            (AuditAction::InviteCreate, "bob".to_owned(), false),
            (AuditAction::DeviceRevoke, "bob".to_owned(), false),
        ]
    );
}

fn a_revoked_device_is_refused_on_its_next_request() {
    let (_tv, mut v) = invited();
    let joined = v.redeem_invite(hash(1), &device("dev-1", 10)).unwrap();
    assert_eq!(v.authenticate_device(&hash(10)).unwrap(), joined);

    let head = v.audit_head_seq().unwrap();
    let revoked: DeviceRecord = v.revoke_device("alice", "dev-1").unwrap();
    assert!(revoked.revoked_at_ms.is_some());
    assert_eq!(v.devices(Some("bob")).unwrap(), vec![revoked.clone()]);
    let err = v.authenticate_device(&hash(10)).unwrap_err();
    let message = err.to_string();
    assert!(matches!(refusal(err), Refusal::DeviceRevoked { id } if id == "dev-1"));
    assert!(
        message.contains("revoked") && message.contains("new invite"),
        "{message}"
    );

    // Revoking twice says so; an unknown id is an error; neither is recorded.
    let again = v.revoke_device("alice", "dev-1").unwrap_err();
    assert!(matches!(again, VaultError::AlreadyRevoked { ref id, .. } if id == "dev-1"));
    assert!(again.to_string().contains("already revoked"), "{again}");
    assert!(matches!(
        v.revoke_device("alice", "dev-404"),
        Err(VaultError::NoSuchDevice(_))
    ));
    // An unknown certificate is refused without a record.
    assert!(matches!(
        v.authenticate_device(&hash(99)).map_err(refusal),
        Err(Refusal::DeviceNotEnrolled)
    ));

    let records = records_since(&v, head);
    let summary: Vec<_> = records
        .iter()
        .map(|r| (r.event.action, r.event.user.as_str(), r.event.success))
        .collect();
    assert_eq!(
        summary,
        [
            (AuditAction::DeviceRevoke, "alice", true),
            (AuditAction::DeviceRefused, "bob", false),
        ]
    );
    let revoke_reason = records[0].event.reason.as_ref().unwrap();
    assert!(
        revoke_reason.contains("dev-1") && revoke_reason.contains("of bob"),
        "{revoke_reason}"
    );
    let refused = records[1].event.reason.as_ref().unwrap();
    assert!(
        refused.starts_with("device_revoked: ") && refused.contains("dev-1"),
        "{refused}"
    );
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

/// Several handles (replicas) redeem one invite at the same moment: exactly
/// one device joins, every other attempt is refused on record.
fn concurrent_redeems_of_one_invite_enroll_one_device() {
    const HANDLES: usize = 6;
    let (tv, v) = invited();
    drop(v);
    let start = std::sync::Barrier::new(HANDLES);
    let results: Vec<_> = std::thread::scope(|s| {
        let tv = &tv;
        let start = &start;
        let joins: Vec<_> = (0..HANDLES)
            .map(|i| {
                s.spawn(move || {
                    let mut v = tv.open();
                    let id = format!("dev-{i}");
                    start.wait();
                    v.redeem_invite(hash(1), &device(&id, 40 + i as u8))
                })
            })
            .collect();
        joins.into_iter().map(|j| j.join().unwrap()).collect()
    });
    let joined: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(joined.len(), 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(
                r,
                VaultError::Refused(Refusal::InviteInvalid {
                    problem: InviteProblem::Used
                })
            ),
            "{r}"
        );
    }
    let v = tv.open();
    assert_eq!(v.devices(None).unwrap(), vec![joined[0].clone()]);
    let joins: Vec<bool> = records_since(&v, 0)
        .iter()
        .filter(|r| r.event.action == AuditAction::DeviceJoin)
        .map(|r| r.event.success)
        .collect();
    assert_eq!(joins.iter().filter(|s| **s).count(), 1);
    assert_eq!(joins.len(), HANDLES);
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

crate::support::both_stores!(
    an_invite_enrolls_one_device_once,
    an_expired_invite_is_refused_on_record,
    an_unknown_invite_is_refused_without_a_record,
    a_join_that_fails_leaves_the_invite_usable,
    only_admins_invite_and_revoke_and_refusals_are_recorded,
    a_revoked_device_is_refused_on_its_next_request,
    concurrent_redeems_of_one_invite_enroll_one_device,
);
