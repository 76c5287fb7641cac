//! The audit chain catches edits, deletions, insertions and truncation, even
//! by someone with full write access to the vault file.

use crate::support::{TempVault, token};
use rusqlite::Connection;
use twofill_vault::audit::{hex, parse_hex32};
use twofill_vault::{Access, CodeRequest, Purpose, Requester, Scope, Vault};

fn populated() -> (TempVault, Vec<i64>) {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = v
        .add_token(
            "alice",
            &token("Kaspersky", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            &["kaspersky.com".parse().unwrap()],
        )
        .unwrap();
    v.add_group("alice", "ops").unwrap();
    v.add_member("alice", "ops", "bob").unwrap();
    v.set_grant("alice", &id, "ops", Access::CodeOnly).unwrap();
    let origin = "https://my.kaspersky.com".parse().unwrap();
    for _ in 0..20 {
        v.issue_code(&CodeRequest {
            who: &Requester::cli("bob"),
            token: None,
            origin: Some(&origin),
            purpose: Purpose::Fill,
            scope: Scope::All,
        })
        .unwrap();
    }
    let seqs = v
        .audit_records(0, 1000)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    (tv, seqs)
}

/// What an attacker with the file (but not the key) can do: raw SQL, with
/// the append-only triggers dropped first.
fn tamper(v: &TempVault, sql: &str) {
    let c = Connection::open(&v.path).unwrap();
    c.execute_batch(
        "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;",
    )
    .unwrap();
    c.execute_batch(sql).unwrap();
}

fn verify(tv: &TempVault) -> twofill_vault::ChainReport {
    tv.open().verify_audit(None).unwrap()
}

#[test]
fn intact_chain_verifies() {
    let (tv, seqs) = populated();
    let r = verify(&tv);
    assert_eq!(r.problem, None);
    assert_eq!(r.records as usize, seqs.len());
    assert_eq!(r.head_seq, *seqs.last().unwrap());
}

#[test]
fn sql_cannot_edit_or_delete_by_accident() {
    let (tv, _) = populated();
    let c = Connection::open(&tv.path).unwrap();
    let e = c.execute("UPDATE audit SET user = 'x' WHERE seq = 3", []);
    assert!(e.unwrap_err().to_string().contains("append-only"));
    let e = c.execute("DELETE FROM audit WHERE seq = 3", []);
    assert!(e.unwrap_err().to_string().contains("append-only"));
}

#[test]
fn edited_record_is_found() {
    let (tv, _) = populated();
    tamper(&tv, "UPDATE audit SET user = 'carol' WHERE seq = 7");
    let p = verify(&tv).problem.expect("tampering must be detected");
    assert_eq!(p.seq, 7);
    assert!(p.what.contains("altered"), "{}", p.what);
}

#[test]
fn flipped_outcome_is_found() {
    let (tv, _) = populated();
    tamper(&tv, "UPDATE audit SET success = 0 WHERE seq = 12");
    assert_eq!(verify(&tv).problem.unwrap().seq, 12);
}

#[test]
fn deleted_record_is_found() {
    let (tv, _) = populated();
    tamper(&tv, "DELETE FROM audit WHERE seq = 5");
    let p = verify(&tv).problem.unwrap();
    assert_eq!(p.seq, 6);
    assert!(p.what.contains("deleted"), "{}", p.what);
}

#[test]
fn deleted_and_renumbered_records_are_found() {
    let (tv, _) = populated();
    // Delete 5 and shift the rest down so the numbering has no gap.
    tamper(
        &tv,
        "DELETE FROM audit WHERE seq = 5; UPDATE audit SET seq = seq - 1 WHERE seq > 5;",
    );
    assert_eq!(verify(&tv).problem.unwrap().seq, 5);
}

#[test]
fn forged_record_without_the_key_is_found() {
    let (tv, seqs) = populated();
    let last = *seqs.last().unwrap();
    let c = Connection::open(&tv.path).unwrap();
    let prev: Vec<u8> = c
        .query_row("SELECT mac FROM audit WHERE seq = ?1", [last], |r| r.get(0))
        .unwrap();
    // Links correctly, but the MAC is a guess (plain SHA-256 of the content
    // would be the best an attacker without the key could do).
    c.execute(
        "INSERT INTO audit (seq, time_ms, user, action, success, prev_mac, mac)
         VALUES (?1, 0, 'bob', 'code.fill', 1, ?2, ?3)",
        rusqlite::params![last + 1, prev, vec![0xAB_u8; 32]],
    )
    .unwrap();
    assert_eq!(verify(&tv).problem.unwrap().seq, last + 1);
}

#[test]
fn truncation_is_found_against_an_anchor() {
    let (tv, seqs) = populated();
    let report = verify(&tv);
    let anchor = (report.head_seq, parse_hex32(&report.head_mac).unwrap());
    // Still fine with the anchor.
    let v: Vault = tv.open();
    assert_eq!(v.verify_audit(Some(anchor)).unwrap().problem, None);
    drop(v);
    // Cut the last three records: the rest is a valid chain on its own...
    let keep = seqs[seqs.len() - 4];
    tamper(&tv, &format!("DELETE FROM audit WHERE seq > {keep}"));
    assert_eq!(verify(&tv).problem, None);
    // ...but not against the anchor taken earlier.
    let p = tv
        .open()
        .verify_audit(Some(anchor))
        .unwrap()
        .problem
        .unwrap();
    assert!(p.what.contains("cut off"), "{}", p.what);
    // And a wrong anchor MAC for a record that exists is caught too.
    let bogus = (keep, [0u8; 32]);
    assert!(
        tv.open()
            .verify_audit(Some(bogus))
            .unwrap()
            .problem
            .is_some()
    );
    assert_eq!(hex(&anchor.1).len(), 64);
}
