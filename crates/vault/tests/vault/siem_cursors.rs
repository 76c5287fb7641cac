//! SIEM sinks shared by a team server's replicas: one holder at a time,
//! a lease that runs out, and a cursor only the holder moves — over both
//! stores, with two handles on one vault standing for two replicas.

use std::time::Duration;

use twofill_vault::{SiemCursor, VaultError};

use crate::support::{TempVault, both_stores};

const SINK: &str = "soc";

fn one_holder_at_a_time_until_the_lease_runs_out() {
    let tv = TempVault::new();
    let mut a = tv.open();
    let mut b = tv.open();
    assert_eq!(a.siem_cursor(SINK).unwrap(), SiemCursor::default());
    assert!(a.claim_siem_sink(SINK, "a", 400).unwrap());
    assert!(!b.claim_siem_sink(SINK, "b", 400).unwrap(), "a holds it");
    // Renewing is claiming again.
    assert!(a.claim_siem_sink(SINK, "a", 400).unwrap());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        b.claim_siem_sink(SINK, "b", 60_000).unwrap(),
        "a's lease ran out"
    );
    assert!(
        !a.claim_siem_sink(SINK, "a", 400).unwrap(),
        "b holds it now"
    );
    b.release_siem_sink(SINK, "b").unwrap();
    assert!(a.claim_siem_sink(SINK, "a", 400).unwrap(), "released");
}

fn only_the_holder_moves_the_cursor() {
    let tv = TempVault::new();
    let mut a = tv.open();
    let mut b = tv.open();
    assert!(a.claim_siem_sink(SINK, "a", 300).unwrap());
    a.advance_siem_cursor(SINK, "a", 3, [3; 32]).unwrap();
    let not_holding = b.advance_siem_cursor(SINK, "b", 9, [9; 32]).unwrap_err();
    assert!(
        matches!(not_holding, VaultError::SiemLeaseLost { .. }),
        "{not_holding}"
    );
    // a pauses past its lease; b takes over and goes on from a's cursor.
    std::thread::sleep(Duration::from_millis(400));
    let expired = a.advance_siem_cursor(SINK, "a", 4, [4; 32]).unwrap_err();
    assert!(
        matches!(expired, VaultError::SiemLeaseLost { .. }),
        "{expired}"
    );
    assert!(b.claim_siem_sink(SINK, "b", 60_000).unwrap());
    assert_eq!(b.siem_cursor(SINK).unwrap().seq, 3);
    b.advance_siem_cursor(SINK, "b", 5, [5; 32]).unwrap();
    // a, back, cannot move the cursor b owns (back or forward).
    assert!(a.advance_siem_cursor(SINK, "a", 4, [4; 32]).is_err());
    assert!(a.reset_siem_cursor(SINK, "a").is_err());
    let c = a.siem_cursor(SINK).unwrap();
    assert_eq!(
        (c.seq, c.mac, c.holder.as_deref()),
        (5, Some([5; 32]), Some("b"))
    );
    // Reopening keeps it (it is in the vault, not in a process).
    drop((a, b));
    assert_eq!(tv.open().siem_cursor(SINK).unwrap().seq, 5);
}

both_stores!(
    one_holder_at_a_time_until_the_lease_runs_out,
    only_the_holder_moves_the_cursor
);
