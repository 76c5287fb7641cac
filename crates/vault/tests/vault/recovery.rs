//! Recovery codes kept with their token: sealed at rest, one per request,
//! marked used with their record, full-seed holders only, replaced on
//! record; over both stores.

use std::collections::HashSet;
use std::sync::Barrier;

use twofill_vault::{
    Access, AuditAction, Policy, Refusal, Requester, TakenRecoveryCode, Vault, VaultError,
};

use crate::support::{
    Backend, TempVault, both_stores, file_contains, fixture_copy, postgres_fixture,
    running_on_postgres, token,
};

const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const SITE: &str = "https://my.kaspersky.com";

/// Ten codes no other part of a vault could contain by chance.
fn codes(prefix: &str) -> Vec<String> {
    (1..=10).map(|i| format!("{prefix}{i:02}-q7zx")).collect()
}

/// Alice enrolls the token; `ops` (bob) code-only, `leads` (carol) full-seed.
fn enrolled(v: &mut Vault) -> String {
    let id = v
        .add_token("alice", &token("Kaspersky", SEED), &[SITE.parse().unwrap()])
        .unwrap();
    for (group, user, level) in [
        ("ops", "bob", Access::CodeOnly),
        ("leads", "carol", Access::FullSeed),
    ] {
        v.add_group("alice", group).unwrap();
        v.add_member("alice", group, user).unwrap();
        v.set_grant("alice", &id, group, level).unwrap();
    }
    id
}

fn take(v: &mut Vault, user: &str, id: &str) -> twofill_vault::Result<TakenRecoveryCode> {
    v.take_recovery_code(&Requester::cli(user), id)
}

fn full_seed_holders_take_one_unused_code_at_a_time_each_on_record() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = enrolled(&mut v);
    let attached = codes("kc");
    let status = v.set_recovery_codes("alice", &id, &attached).unwrap();
    assert_eq!((status.set, status.total, status.remaining), (1, 10, 10));
    assert!(!status.low);

    let before = v.audit_head_seq().unwrap();
    let first = take(&mut v, "carol", &id).unwrap();
    let second = take(&mut v, "carol", &id).unwrap();
    assert!(attached.contains(&*first.code), "{}", *first.code);
    assert!(attached.contains(&*second.code));
    assert_ne!(
        *first.code, *second.code,
        "a used code is never handed out again"
    );
    assert_eq!((first.slot, first.remaining), (1, 9));
    assert_eq!((second.slot, second.remaining), (2, 8));

    let records = v.audit_records(before, 10).unwrap();
    assert_eq!(records.len(), 2, "one record per code");
    for (r, taken) in records.iter().zip([&first, &second]) {
        assert_eq!(r.event.action, AuditAction::RecoveryTake);
        assert!(r.event.success);
        assert_eq!(r.event.user, "carol");
        assert_eq!(r.event.token_id.as_deref(), Some(id.as_str()));
        assert_eq!(r.seq, taken.audit_seq);
        let detail = r.event.reason.as_deref().unwrap();
        assert!(
            detail.starts_with(&format!("set 1, code {} of 10", taken.slot)),
            "{detail}"
        );
        assert!(
            !detail.contains(taken.code.as_str()),
            "never the code's text"
        );
    }
    assert_eq!(v.recovery_status(&id).unwrap().remaining, 8);
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

fn every_code_is_handed_out_once_then_it_is_refused_on_record() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = enrolled(&mut v);
    let attached = codes("once");
    v.set_recovery_codes("alice", &id, &attached).unwrap();
    let mut seen = HashSet::new();
    for _ in 0..attached.len() {
        let taken = take(&mut v, "carol", &id).unwrap();
        assert!(seen.insert(taken.code.to_string()), "{} twice", *taken.code);
    }
    assert_eq!(seen, attached.iter().cloned().collect::<HashSet<_>>());
    let before = v.audit_head_seq().unwrap();
    match take(&mut v, "carol", &id) {
        Err(VaultError::Refused(Refusal::NoRecoveryCodes { .. })) => {}
        other => panic!("expected no codes left, got {other:?}"),
    }
    let refused = &v.audit_records(before, 1).unwrap()[0];
    assert!(!refused.event.success);
    assert!(
        refused
            .event
            .reason
            .as_deref()
            .unwrap()
            .starts_with("no_recovery_codes: ")
    );
}

fn code_only_users_and_strangers_get_nothing_and_are_on_record() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = enrolled(&mut v);
    v.set_recovery_codes("alice", &id, &codes("ko")).unwrap();
    // An admin without a grant is not a full-seed holder either.
    for user in ["bob", "mallory", "alice"] {
        let before = v.audit_head_seq().unwrap();
        match take(&mut v, user, &id) {
            Err(VaultError::Refused(Refusal::NotPermitted { what, .. })) => {
                assert!(what.contains("needs a full-seed grant"), "{what}")
            }
            other => panic!("{user}: expected a refusal, got {other:?}"),
        }
        let r = &v.audit_records(before, 1).unwrap()[0];
        assert_eq!(r.event.action, AuditAction::RecoveryTake);
        assert_eq!(r.event.user, user);
        assert!(!r.event.success);
    }
    assert_eq!(
        v.recovery_status(&id).unwrap().remaining,
        10,
        "a refusal uses no code"
    );
}

fn owners_of_personal_tokens_keep_and_take_their_own() {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_user("alice", "dave", false).unwrap();
    let id = v
        .add_personal_token("dave", &token("Mine", SEED), &[])
        .unwrap();
    v.set_recovery_codes("dave", &id, &codes("dv")).unwrap();
    assert!(take(&mut v, "dave", &id).is_ok());
    assert!(matches!(
        take(&mut v, "alice", &id),
        Err(VaultError::Refused(Refusal::NotOwner { .. }))
    ));
    // Only admins (and the owner) attach codes.
    let team = enrolled(&mut v);
    assert!(matches!(
        v.set_recovery_codes("carol", &team, &codes("x")),
        Err(VaultError::Refused(Refusal::NotAdmin { .. }))
    ));
    assert_eq!(v.recovery_status(&team).unwrap().total, 0);
}

fn replacing_discards_the_old_set_on_record() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = enrolled(&mut v);
    let old = codes("old");
    v.set_recovery_codes("alice", &id, &old).unwrap();
    take(&mut v, "carol", &id).unwrap();
    let before = v.audit_head_seq().unwrap();
    let new = codes("new");
    let status = v.set_recovery_codes("alice", &id, &new[..4]).unwrap();
    assert_eq!((status.set, status.total, status.remaining), (2, 4, 4));

    let r = &v.audit_records(before, 1).unwrap()[0];
    assert_eq!(r.event.action, AuditAction::RecoveryReplace);
    assert_eq!(r.event.user, "alice");
    assert_eq!(
        r.event.reason.as_deref(),
        Some("set 2: 4 codes attached; set 1 discarded (10 codes, 9 unused)")
    );
    for _ in 0..4 {
        let taken = take(&mut v, "carol", &id).unwrap();
        assert!(
            new.contains(&*taken.code),
            "only the new set: {}",
            *taken.code
        );
        assert_eq!(taken.set, 2);
    }
    assert!(take(&mut v, "carol", &id).is_err(), "the old ones are gone");
}

fn bad_input_saves_nothing() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = enrolled(&mut v);
    v.set_recovery_codes("alice", &id, &codes("keep")).unwrap();
    let head = v.audit_head_seq().unwrap();
    let dup = vec!["aaaa-bbbb".to_string(), "cccc".into(), "aaaa-bbbb".into()];
    let cases: [(&[String], &str); 4] = [
        (&[], "no recovery codes given"),
        (&dup, "recovery code 3 appears twice"),
        (
            &["ok1".into(), String::new()],
            "recovery code 2 is not a code",
        ),
        (&["has space".into()], "recovery code 1 is not a code"),
    ];
    for (input, message) in cases {
        match v.set_recovery_codes("alice", &id, input) {
            Err(VaultError::Invalid(m)) => assert!(m.starts_with(message), "{m}"),
            other => panic!("{input:?}: expected invalid input, got {other:?}"),
        }
    }
    let too_many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    assert!(matches!(
        v.set_recovery_codes("alice", &id, &too_many),
        Err(VaultError::Invalid(_))
    ));
    assert_eq!(v.audit_head_seq().unwrap(), head, "nothing written");
    let status = v.recovery_status(&id).unwrap();
    assert_eq!((status.set, status.remaining), (1, 10), "the old set stays");
}

fn few_remaining_codes_warn_admins_at_the_policys_threshold() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = enrolled(&mut v);
    assert!(
        !v.token_details(&id).unwrap().recovery_codes.low,
        "none attached is no warning"
    );
    v.set_recovery_codes("alice", &id, &codes("lw")[..4])
        .unwrap();
    take(&mut v, "carol", &id).unwrap();
    let details = v.token_details(&id).unwrap();
    assert_eq!(details.recovery_codes.remaining, 3);
    assert!(!details.recovery_codes.low);
    take(&mut v, "carol", &id).unwrap();
    assert!(
        v.token_details(&id).unwrap().recovery_codes.low,
        "2 left: the default warns"
    );
    v.set_policy(Policy {
        recovery_codes_warn_at: 1,
        ..Policy::default()
    });
    assert!(!v.recovery_status(&id).unwrap().low);
}

fn concurrent_takers_get_different_codes() {
    const N: usize = 8;
    let tv = TempVault::new();
    let id = {
        let mut v = tv.open();
        let id = enrolled(&mut v);
        v.set_recovery_codes("alice", &id, &codes("cc")).unwrap();
        id
    };
    let barrier = Barrier::new(N);
    let taken: Vec<TakenRecoveryCode> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..N)
            .map(|_| {
                s.spawn(|| {
                    let mut v = tv.open();
                    barrier.wait();
                    take(&mut v, "carol", &id).unwrap()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let distinct: HashSet<String> = taken.iter().map(|t| t.code.to_string()).collect();
    assert_eq!(distinct.len(), N, "every taker its own code");
    let v = tv.open();
    assert_eq!(v.recovery_status(&id).unwrap().remaining, (10 - N) as u32);
    let takes = v
        .audit_records(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action == AuditAction::RecoveryTake && r.event.success)
        .count();
    assert_eq!(takes, N, "one record per code");
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

fn codes_are_sealed_at_rest() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = enrolled(&mut v);
    let attached = codes("sealedz");
    v.set_recovery_codes("alice", &id, &attached).unwrap();
    take(&mut v, "carol", &id).unwrap();
    drop(v);
    let needle = "sealedz0";
    match &tv.backend {
        Backend::Sqlite => {
            let c = rusqlite::Connection::open(&tv.path).unwrap();
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
            drop(c);
            for file in std::fs::read_dir(tv.path.parent().unwrap()).unwrap() {
                let file = file.unwrap().path();
                assert!(!file_contains(&file, needle.as_bytes()), "{file:?}");
            }
        }
        Backend::Postgres(url) => {
            let out = std::process::Command::new(pg_dump())
                .arg("--no-owner")
                .arg(url)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let dump = String::from_utf8(out.stdout).unwrap();
            assert!(dump.contains("recovery_codes"), "the dump has the table");
            assert!(!dump.contains(needle));
            // Nor as the hex of a bytea.
            let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
            assert!(!dump.contains(&hex));
        }
    }
}

fn pg_dump() -> std::path::PathBuf {
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .map(|d| d.unwrap().path().join("bin").join("pg_dump"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().expect("PostgreSQL's pg_dump")
}

fn a_sealed_code_moved_to_another_slot_does_not_open() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = enrolled(&mut v);
    v.set_recovery_codes("alice", &id, &codes("mv")[..2])
        .unwrap();
    // Slot 1's sealed bytes copied over slot 2, then slot 1 used up.
    tv.sql(
        "UPDATE recovery_codes SET sealed_code =
             (SELECT sealed_code FROM recovery_codes WHERE slot = 1) WHERE slot = 2;",
    )
    .unwrap();
    take(&mut v, "carol", &id).unwrap();
    match take(&mut v, "carol", &id) {
        Err(VaultError::BadSeed { detail, .. }) => assert!(detail.contains("recovery code 2")),
        other => panic!("expected an unreadable code, got {other:?}"),
    }
}

fn removing_the_token_removes_its_codes() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = enrolled(&mut v);
    v.set_recovery_codes("alice", &id, &codes("rm")).unwrap();
    v.remove_token("alice", &id).unwrap();
    assert_eq!(v.recovery_status(&id).unwrap().total, 0);
}

/// A vault from before schema 10 (the committed schema-4 one: alice
/// admin, bob code-only on a Kaspersky token) migrates and keeps codes.
fn a_migrated_vault_keeps_recovery_codes() {
    let (tv, id) = if running_on_postgres() {
        (postgres_fixture("postgres-v4"), "e6a96978aa0e")
    } else {
        (fixture_copy("vault-v4"), "b22ac51f6f1e")
    };
    let mut v = tv.open();
    v.add_group("alice", "leads").unwrap();
    v.add_member("alice", "leads", "carol").unwrap();
    v.set_grant("alice", id, "leads", Access::FullSeed).unwrap();
    v.set_recovery_codes("alice", id, &codes("mig")).unwrap();
    assert!(matches!(
        take(&mut v, "bob", id),
        Err(VaultError::Refused(Refusal::NotPermitted { .. }))
    ));
    assert!(codes("mig").contains(&*take(&mut v, "carol", id).unwrap().code));
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

both_stores!(
    a_migrated_vault_keeps_recovery_codes,
    full_seed_holders_take_one_unused_code_at_a_time_each_on_record,
    every_code_is_handed_out_once_then_it_is_refused_on_record,
    code_only_users_and_strangers_get_nothing_and_are_on_record,
    owners_of_personal_tokens_keep_and_take_their_own,
    replacing_discards_the_old_set_on_record,
    bad_input_saves_nothing,
    few_remaining_codes_warn_admins_at_the_policys_threshold,
    concurrent_takers_get_different_codes,
    codes_are_sealed_at_rest,
    a_sealed_code_moved_to_another_slot_does_not_open,
    removing_the_token_removes_its_codes,
);
