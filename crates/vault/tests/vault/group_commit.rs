//! `Vault::issue_codes`: many requests, one commit for all their records.
//! Each request must get exactly what it gets alone, and fall back to being
//! answered alone when the batch cannot be committed as one.

use std::process::Command;
use std::sync::Barrier;

use twofill_otp::Token;
use twofill_vault::{
    Access, CodeRequest, Origin, Purpose, RateLimit, Requester, Scope, Vault, VaultError,
};

use crate::support::{TempVault, both_stores, token};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const KASPERSKY: &str = "https://my.kaspersky.com";
const VPN: &str = "https://vpn.example.com";

/// alice (admin); bob code-only on a Kaspersky TOTP token and a VPN HOTP
/// token (counter 7); dave in no group; at most 3 fills a minute per site.
fn team(v: &mut Vault) -> (String, String) {
    let k = v
        .add_token(
            "alice",
            &token("Kaspersky", SEED),
            &[KASPERSKY.parse().unwrap()],
        )
        .unwrap();
    let hotp = Token::from_uri(&format!(
        "otpauth://hotp/VPN:team@example.com?secret={SEED}&issuer=VPN&counter=7"
    ))
    .unwrap();
    let h = v
        .add_token("alice", &hotp, &[VPN.parse().unwrap()])
        .unwrap();
    v.add_group("alice", "ops").unwrap();
    v.add_member("alice", "ops", "bob").unwrap();
    v.add_user("alice", "dave", false).unwrap();
    for id in [&k, &h] {
        v.set_grant("alice", id, "ops", Access::CodeOnly).unwrap();
    }
    v.set_hotp_allowed(true);
    v.set_rate_limit(RateLimit {
        codes: 100,
        window_seconds: 60,
        burst: 3,
        burst_seconds: 60,
    });
    (k, h)
}

fn origin(s: &str) -> Origin {
    s.parse().unwrap()
}

/// What a caller sees, without what differs between two vaults (ids,
/// sequence numbers, milliseconds in a retry time).
fn outcome(r: &twofill_vault::Result<twofill_vault::IssuedCode>) -> String {
    match r {
        Ok(i) => format!(
            "code {}: {} {:?}",
            i.token.label(),
            i.window.code,
            i.counter
        ),
        Err(VaultError::Refused(refusal)) => {
            let shape = format!("{refusal:?}");
            let variant = shape.split([' ', '(', '{']).next().unwrap().to_owned();
            format!("refused {variant}")
        }
        Err(other) => format!("error {other}"),
    }
}

/// The records after `seq`, as comparable text.
fn records_after(v: &Vault, seq: i64) -> Vec<String> {
    v.audit_records(seq, 1000)
        .unwrap()
        .into_iter()
        .map(|r| {
            let e = r.event;
            let reason: String = e
                .reason
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .collect();
            format!(
                "{} {} {} {:?} {:?} {reason}",
                e.user, e.action, e.success, e.token_label, e.origin
            )
        })
        .collect()
}

fn a_batch_answers_each_request_as_it_would_be_answered_alone() {
    let bob = Requester::cli("bob");
    let dave = Requester::cli("dave");
    let (kaspersky, vpn, unbound) = (
        origin(KASPERSKY),
        origin(VPN),
        origin("https://unbound.test"),
    );
    let fill = |who, o| CodeRequest::fill(who, o);
    let requests = [
        fill(&bob, &kaspersky),
        fill(&bob, &vpn),
        fill(&dave, &kaspersky),
        fill(&bob, &kaspersky),
        fill(&bob, &unbound),
        fill(&bob, &vpn),
        fill(&bob, &kaspersky),
        // Past the burst of 3 on this site: the count includes the batch's own.
        fill(&bob, &kaspersky),
        CodeRequest {
            who: &bob,
            token: Some("no-such-token"),
            origin: None,
            purpose: Purpose::View,
            scope: Scope::All,
        },
    ];
    let batched = TempVault::new();
    let alone = TempVault::new();
    let (mut b, mut a) = (batched.open(), alone.open());
    team(&mut b);
    team(&mut a);
    let (b_before, a_before) = (b.audit_head_seq().unwrap(), a.audit_head_seq().unwrap());

    let together: Vec<String> = b.issue_codes(&requests).iter().map(outcome).collect();
    let one_by_one: Vec<String> = requests.iter().map(|r| outcome(&a.issue_code(r))).collect();

    assert_eq!(together, one_by_one);
    assert_eq!(records_after(&b, b_before), records_after(&a, a_before));
    assert_eq!(
        records_after(&b, b_before).len(),
        requests.len(),
        "one record each"
    );
    // The mix really has codes, HOTP counters and each kind of refusal.
    for expected in [
        "code Kaspersky",
        "code VPN",
        "Some(7)",
        "Some(8)",
        "refused NotPermitted",
        "refused NoTokenForOrigin",
        "refused RateLimited",
        "refused NoSuchToken",
    ] {
        assert!(
            together.iter().any(|o| o.contains(expected)),
            "{expected} in {together:#?}"
        );
    }
    assert_eq!(
        together[1].split(": ").nth(1),
        Some(format!("{} Some(7)", oathtool(7)).as_str()),
        "the HOTP code at counter 7"
    );
    assert!(b.verify_audit(None).unwrap().problem.is_none());
}

fn a_tampered_row_in_a_batch_leaves_the_other_requests_their_answers() {
    let tv = TempVault::new();
    let mut v = tv.open();
    let (_, vpn_id) = team(&mut v);
    v.set_rate_limit(RateLimit::OFF);
    // A binding added in the database, stored as the vault stores sites.
    tv.sql(&format!(
        "INSERT INTO token_sites (token_id, site) VALUES ('{vpn_id}', 'https://evil.example')"
    ))
    .unwrap();
    let bob = Requester::cli("bob");
    let (kaspersky, evil) = (origin(KASPERSKY), origin("https://evil.example"));
    let outcomes = v.issue_codes(&[
        CodeRequest::fill(&bob, &kaspersky),
        CodeRequest::fill(&bob, &evil),
        CodeRequest::fill(&bob, &kaspersky),
    ]);
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
    assert!(
        matches!(outcomes[1], Err(VaultError::Tampered { .. })),
        "{:?}",
        outcomes[1]
    );
    assert!(outcomes[2].is_ok(), "{:?}", outcomes[2]);
    let reasons: Vec<String> = v
        .audit_records(0, 1000)
        .unwrap()
        .into_iter()
        .filter_map(|r| r.event.reason)
        .filter(|r| r.starts_with("tampered: "))
        .collect();
    assert_eq!(
        reasons.len(),
        1,
        "the tampered request is on record: {reasons:?}"
    );
}

fn concurrent_batches_give_distinct_counters_each_on_record() {
    const HANDLES: usize = 4;
    const PER_BATCH: usize = 5;
    let tv = TempVault::new();
    let (id, before) = {
        let mut v = tv.open();
        let (_, h) = team(&mut v);
        (h, v.audit_head_seq().unwrap())
    };
    let barrier = Barrier::new(HANDLES);
    let bob = Requester::cli("bob");
    let view = CodeRequest {
        who: &bob,
        token: Some(&id),
        origin: None,
        purpose: Purpose::View,
        scope: Scope::All,
    };
    let mut counters: Vec<u64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..HANDLES)
            .map(|_| {
                s.spawn(|| {
                    let mut v = tv.open();
                    v.set_hotp_allowed(true);
                    barrier.wait();
                    v.issue_codes(&[view; PER_BATCH])
                        .into_iter()
                        .map(|r| {
                            let issued = r.unwrap();
                            assert_eq!(issued.window.code, oathtool(issued.counter.unwrap()));
                            issued.counter.unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    counters.sort();
    let n = (HANDLES * PER_BATCH) as u64;
    assert_eq!(counters, (7..7 + n).collect::<Vec<_>>());
    let v = tv.open();
    assert_eq!(v.audit_records(before, 1000).unwrap().len() as u64, n);
    assert!(v.verify_audit(None).unwrap().problem.is_none());
}

fn oathtool(counter: u64) -> String {
    let out = Command::new("oathtool")
        .args(["--hotp", "-b", SEED, "-c", &counter.to_string()])
        .output()
        .expect("oathtool runs (apt-get install oathtool)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

both_stores!(
    a_batch_answers_each_request_as_it_would_be_answered_alone,
    a_tampered_row_in_a_batch_leaves_the_other_requests_their_answers,
    concurrent_batches_give_distinct_counters_each_on_record,
);
