//! Two server processes on one PostgreSQL database: a device enrolled on
//! one is known to the other, the rate limit holds in total, a revocation
//! on one holds on the other at once, and the audit chain stays one.

use crate::support::*;

#[test]
fn two_replicas_share_devices_limits_revocations_and_one_chain() {
    let state = ServerState::new(Backend::Postgres);
    let first = state.serve();
    let second = state.serve();
    let (bob_first, device_id) = first.device(&state, "bob");
    // The same device, talking to the other replica.
    let bob_second = second.client_for(&bob_first);

    // The default burst (5 fills per 10 s) counts both replicas' fills.
    for i in 0..5 {
        let replica = if i % 2 == 0 { &bob_first } else { &bob_second };
        assert_eq!(replica.fill(KASPERSKY_SITE).status, 200);
    }
    assert_eq!(bob_second.fill(KASPERSKY_SITE).code(), "rate_limited");
    assert_eq!(bob_first.fill(KASPERSKY_SITE).code(), "rate_limited");

    state.cli_ok(&["revoke", &device_id]);
    assert_eq!(bob_second.fill(KASPERSKY_SITE).code(), "device_revoked");
    assert_eq!(bob_first.fill(KASPERSKY_SITE).code(), "device_revoked");
    assert!(state.cli_ok(&["audit", "verify"]).contains("audit log OK"));
}
