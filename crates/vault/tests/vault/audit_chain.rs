//! The audit chain catches edits, deletions, insertions and truncation, even
//! by someone with full write access to the vault file.

use crate::support::{TempVault, bob_fills, kaspersky_code_only_for_bob};
use twofill_vault::Vault;
use twofill_vault::audit::{hex, parse_hex32};

fn populated() -> (TempVault, Vec<i64>) {
    let tv = TempVault::new();
    let mut v = tv.open();
    kaspersky_code_only_for_bob(&mut v, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "kaspersky.com");
    let origin = "https://my.kaspersky.com".parse().unwrap();
    for _ in 0..20 {
        bob_fills(&mut v, &origin).unwrap();
    }
    let seqs = v
        .audit_records(0, 1000)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    (tv, seqs)
}

fn verify(tv: &TempVault) -> twofill_vault::ChainReport {
    tv.open().verify_audit(None).unwrap()
}

fn intact_chain_verifies() {
    let (tv, seqs) = populated();
    let r = verify(&tv);
    assert_eq!(r.problem, None);
    assert_eq!(r.records as usize, seqs.len());
    assert_eq!(r.head_seq, *seqs.last().unwrap());
}

fn sql_cannot_edit_or_delete_by_accident() {
    let (tv, _) = populated();
    let e = tv.sql(r#"UPDATE audit SET "user" = 'x' WHERE seq = 3"#);
    assert!(e.unwrap_err().contains("append-only"));
    let e = tv.sql("DELETE FROM audit WHERE seq = 3");
    assert!(e.unwrap_err().contains("append-only"));
}

fn edited_record_is_found() {
    let (tv, _) = populated();
    tv.tamper(r#"UPDATE audit SET "user" = 'carol' WHERE seq = 7"#);
    let p = verify(&tv).problem.expect("tampering must be detected");
    assert_eq!(p.seq, 7);
    assert!(p.what.contains("altered"), "{}", p.what);
}

fn flipped_outcome_is_found() {
    let (tv, _) = populated();
    tv.tamper("UPDATE audit SET success = false WHERE seq = 12");
    assert_eq!(verify(&tv).problem.unwrap().seq, 12);
}

fn deleted_record_is_found() {
    let (tv, _) = populated();
    tv.tamper("DELETE FROM audit WHERE seq = 5");
    let p = verify(&tv).problem.unwrap();
    assert_eq!(p.seq, 6);
    assert!(p.what.contains("deleted"), "{}", p.what);
}

fn deleted_and_renumbered_records_are_found() {
    let (tv, _) = populated();
    // Delete 5 and shift the rest down so the numbering has no gap.
    tv.tamper("DELETE FROM audit WHERE seq = 5; UPDATE audit SET seq = seq - 1 WHERE seq > 5;");
    assert_eq!(verify(&tv).problem.unwrap().seq, 5);
}

fn forged_record_without_the_key_is_found() {
    let (tv, seqs) = populated();
    let last = *seqs.last().unwrap();
    // Links correctly (it copies the last record's MAC as its prev_mac), but
    // the MAC is a guess (plain SHA-256 of the content would be the best an
    // attacker without the key could do).
    tv.sql(&format!(
        r#"INSERT INTO audit (seq, time_ms, "user", action, success, prev_mac, mac)
           SELECT {next}, 0, 'bob', 'code.fill', true, mac, {guess} FROM audit WHERE seq = {last}"#,
        next = last + 1,
        guess = tv.blob_literal(&[0xAB; 32]),
    ))
    .unwrap();
    assert_eq!(verify(&tv).problem.unwrap().seq, last + 1);
}

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
    tv.tamper(&format!("DELETE FROM audit WHERE seq > {keep}"));
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

/// A batch extends the chain like single records do, in order, and the
/// chain still verifies and catches an edit inside the batch.
fn a_batch_of_records_extends_the_chain() {
    let (tv, seqs) = populated();
    let mut v = tv.open();
    let events: Vec<_> = (0..50)
        .map(|i| {
            twofill_vault::AuditEvent::new(
                format!("u{i}"),
                twofill_vault::AuditAction::CodeFill,
                true,
            )
        })
        .collect();
    let head = v.record_batch(&events).unwrap();
    let last = *seqs.last().unwrap();
    assert_eq!(head, last + 50);
    let added = v.audit_records(last, 100).unwrap();
    let users: Vec<_> = added.iter().map(|r| r.event.user.clone()).collect();
    assert_eq!(users, (0..50).map(|i| format!("u{i}")).collect::<Vec<_>>());
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
    drop(v);
    let edited = last + 25;
    tv.tamper(&format!(
        r#"UPDATE audit SET "user" = 'x' WHERE seq = {edited}"#
    ));
    assert_eq!(verify(&tv).problem.unwrap().seq, edited);
}

crate::support::both_stores!(
    a_batch_of_records_extends_the_chain,
    intact_chain_verifies,
    sql_cannot_edit_or_delete_by_accident,
    edited_record_is_found,
    flipped_outcome_is_found,
    deleted_record_is_found,
    deleted_and_renumbered_records_are_found,
    forged_record_without_the_key_is_found,
    truncation_is_found_against_an_anchor,
);
