//! The fill rate limit, counted by the vault inside the code's write
//! transaction: per user and token, fills only, on record, and holding in
//! total across handles (host processes, server replicas) on one store.

use std::time::Duration;

use crate::support::{TempVault, bob_fills, kaspersky_code_only_for_bob};
use twofill_vault::{
    AuditAction, CodeRequest, Origin, Purpose, RateLimit, Refusal, Requester, Vault, VaultError,
};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SITE: &str = "https://my.kaspersky.com";

fn origin(s: &str) -> Origin {
    s.parse().unwrap()
}

fn limit(codes: u32, window_seconds: u32, burst: u32, burst_seconds: u32) -> RateLimit {
    RateLimit {
        codes,
        window_seconds,
        burst,
        burst_seconds,
    }
}

/// `Some(retry_after_ms)` when the fill was rate limited.
fn limited(r: &twofill_vault::Result<twofill_vault::IssuedCode>) -> Option<u64> {
    match r {
        Err(VaultError::Refused(Refusal::RateLimited { retry_after_ms, .. })) => {
            Some(*retry_after_ms)
        }
        _ => None,
    }
}

/// bob and carol code-only on the Kaspersky token (bound to my.kaspersky.com).
fn team() -> (TempVault, Vault, String) {
    let tv = TempVault::new();
    let mut v = tv.open();
    let id = kaspersky_code_only_for_bob(&mut v, SEED, "my.kaspersky.com");
    v.add_member("alice", "ops", "carol").unwrap();
    (tv, v, id)
}

fn fills_past_the_limit_are_refused_per_user_and_token_on_record() {
    let (_tv, mut v, id) = team();
    assert_eq!(v.rate_limit(), RateLimit::OFF, "opening sets no limit");
    v.set_rate_limit(limit(100, 60, 3, 60));
    for i in 0..3 {
        bob_fills(&mut v, &origin(SITE)).unwrap_or_else(|e| panic!("fill {i}: {e}"));
    }
    let head = v.audit_head_seq().unwrap();
    let refused = bob_fills(&mut v, &origin(SITE));
    let wait = limited(&refused).expect("the fourth fill is limited");
    assert!((1..=60_000).contains(&wait), "{wait}");
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("3 codes in 60 s") && message.contains("try again in"),
        "{message}"
    );
    // On record: bob, the fill, the site and why.
    let record = &v.audit_records(head, 10).unwrap()[0].event;
    assert_eq!(
        (record.action, record.user.as_str(), record.success),
        (AuditAction::CodeFill, "bob", false)
    );
    assert_eq!(record.origin.as_deref(), Some(SITE));
    assert!(
        record
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("rate_limited: ")),
        "{record:?}"
    );
    // A refused fill is not a fill: still three on record, still refused.
    assert!(limited(&bob_fills(&mut v, &origin(SITE))).is_some());

    // Per token (its other origins share the count), per user, and fills
    // only.
    assert!(limited(&bob_fills(&mut v, &origin("https://eu.my.kaspersky.com"))).is_some());
    v.issue_code(&CodeRequest::fill(&Requester::cli("carol"), &origin(SITE)))
        .unwrap();
    let (bob, site) = (Requester::cli("bob"), origin(SITE));
    let copy = CodeRequest {
        token: Some(&id),
        purpose: Purpose::Copy,
        ..CodeRequest::fill(&bob, &site)
    };
    v.issue_code(&copy).unwrap();

    // Off means off.
    v.set_rate_limit(RateLimit::OFF);
    for _ in 0..10 {
        bob_fills(&mut v, &origin(SITE)).unwrap();
    }
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

fn the_retry_hint_is_honest() {
    let (_tv, mut v, _) = team();
    v.set_rate_limit(limit(3, 60, 2, 1));
    bob_fills(&mut v, &origin(SITE)).unwrap();
    bob_fills(&mut v, &origin(SITE)).unwrap();
    let wait = limited(&bob_fills(&mut v, &origin(SITE))).expect("burst reached");
    assert!((1..=1000).contains(&wait), "{wait}");
    std::thread::sleep(Duration::from_millis(wait + 20));
    bob_fills(&mut v, &origin(SITE)).expect("the burst window has passed");
    // The per-minute limit applies whatever the burst says.
    std::thread::sleep(Duration::from_millis(1100));
    let wait = limited(&bob_fills(&mut v, &origin(SITE))).expect("3 a minute");
    assert!((50_000..=60_000).contains(&wait), "{wait}");
}

/// Two handles on one store (two host processes, or two server replicas on
/// one PostgreSQL) fill at once: the limit holds in total.
fn two_handles_filling_at_once_cannot_exceed_the_limit_together() {
    const HANDLES: usize = 2;
    const TRIES: usize = 10;
    const BURST: u32 = 5;
    let (tv, v, _) = team();
    drop(v);
    let start = std::sync::Barrier::new(HANDLES);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..HANDLES)
            .map(|_| {
                s.spawn(|| {
                    let mut v = tv.open();
                    v.set_rate_limit(limit(100, 60, BURST, 60));
                    start.wait();
                    (0..TRIES)
                        .map(|_| bob_fills(&mut v, &origin(SITE)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let issued = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(issued, BURST as usize, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| limited(r).is_some()),
        "{results:?}"
    );
    let v = tv.open();
    let fills = v
        .audit_records(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action == AuditAction::CodeFill && r.event.success)
        .count();
    assert_eq!(fills, BURST as usize);
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

/// A token bound to a bare host fills on its subdomains and ports: they
/// share one count (one bucket per origin multiplied the limit). A caller
/// with no grant piling up refusals, more than the log holds in a window,
/// stops nobody else's fills.
fn one_tokens_origins_share_a_count_and_anothers_refusals_stop_nobody() {
    let (_tv, mut v, id) = team();
    v.bind_site("alice", &id, &"my.kaspersky.com:*".parse().unwrap())
        .unwrap();
    v.set_rate_limit(limit(3, 60, 0, 0));
    for site in [
        SITE,
        "https://my.kaspersky.com:8443",
        "https://eu.my.kaspersky.com",
    ] {
        bob_fills(&mut v, &origin(site)).unwrap_or_else(|e| panic!("{site}: {e}"));
    }
    let fourth = bob_fills(&mut v, &origin("https://a.my.kaspersky.com:444"));
    assert!(limited(&fourth).is_some(), "{fourth:?}");

    let mallory = Requester::cli("mallory");
    let site = origin(SITE);
    let mut refused = 0;
    for _ in 0..41 {
        let batch = vec![CodeRequest::fill(&mallory, &site); 500];
        for outcome in v.issue_codes(&batch) {
            assert!(
                matches!(
                    outcome,
                    Err(VaultError::Refused(Refusal::NotPermitted { .. }))
                ),
                "{outcome:?}"
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 20_500);
    let carol = v.issue_code(&CodeRequest::fill(&Requester::cli("carol"), &site));
    assert_eq!(carol.unwrap().token.id, id);
}

/// A vault from before schema 13 counted per origin (index
/// `audit_recent`); migrated, it counts its earlier fills per token.
fn a_schema_11_vault_keeps_its_fills_in_the_per_token_count() {
    let (tv, mut v, _) = team();
    for _ in 0..2 {
        bob_fills(&mut v, &origin(SITE)).unwrap();
    }
    drop(v);
    tv.sql(tv.back_to_schema_11()).unwrap();
    let mut v = tv.open();
    v.set_rate_limit(limit(3, 60, 0, 0));
    bob_fills(&mut v, &origin("https://eu.my.kaspersky.com")).unwrap();
    assert!(limited(&bob_fills(&mut v, &origin(SITE))).is_some());
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

crate::support::both_stores!(
    a_schema_11_vault_keeps_its_fills_in_the_per_token_count,
    one_tokens_origins_share_a_count_and_anothers_refusals_stop_nobody,
    fills_past_the_limit_are_refused_per_user_and_token_on_record,
    the_retry_hint_is_honest,
    two_handles_filling_at_once_cannot_exceed_the_limit_together,
);
