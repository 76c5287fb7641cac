//! HOTP (RFC 4226) tokens: enrolled anywhere, codes only where the counter
//! lives (the team server's vault, `Vault::set_hotp_allowed`), refused on
//! record everywhere else.

use std::process::Command;
use std::sync::Barrier;

use twofill_otp::{Kind, Token};
use twofill_vault::{
    Access, AuditAction, CodeRequest, IssuedCode, Origin, Purpose, Refusal, Requester, Scope,
    TokenKind, TokensRequest, Vault, VaultError,
};

use crate::support::{TempVault, both_stores, fixture_copy};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SITE: &str = "https://vpn.example.com";

fn hotp(counter: u64) -> Token {
    Token::from_uri(&format!(
        "otpauth://hotp/VPN:team@example.com?secret={SEED}&issuer=VPN&counter={counter}"
    ))
    .unwrap()
}

/// Alice enrolls a HOTP token at `counter`, code-only for bob; its id.
fn hotp_code_only_for_bob(v: &mut Vault, counter: u64) -> String {
    let id = v
        .add_token("alice", &hotp(counter), &[SITE.parse().unwrap()])
        .unwrap();
    v.add_group("alice", "ops").unwrap();
    v.add_member("alice", "ops", "bob").unwrap();
    v.set_grant("alice", &id, "ops", Access::CodeOnly).unwrap();
    id
}

fn a_local_vault_refuses_hotp_codes_on_record() {
    let tv = TempVault::new();
    let mut v = tv.open();
    // Enrolling works locally, so the token can be pushed to the server later.
    let id = hotp_code_only_for_bob(&mut v, 5);
    let listed = v
        .permitted_tokens(&TokensRequest {
            user: "bob",
            origin: None,
            scope: Scope::All,
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].kind, TokenKind::Hotp);
    assert_eq!(v.token_details(&id).unwrap().kind, "hotp");

    let origin: Origin = SITE.parse().unwrap();
    let bob = Requester::cli("bob");
    let before = v.audit_head_seq().unwrap();
    for request in [
        CodeRequest::fill(&bob, &origin),
        CodeRequest {
            token: Some(&id),
            purpose: Purpose::View,
            ..CodeRequest::fill(&bob, &origin)
        },
    ] {
        match v.issue_code(&request) {
            Err(VaultError::Refused(r @ Refusal::HotpNeedsServer { .. })) => assert_eq!(
                r.to_string(),
                "VPN (team@example.com) is a counter-based (HOTP) token, and a HOTP counter cannot be shared without the team server; move it to the team server (`twofill-host vault push`) and use it from there, or ask the service for a time-based (TOTP) setup"
            ),
            other => panic!("expected a HOTP refusal, got {other:?}"),
        }
    }
    let records = v.audit_records(before, 10).unwrap();
    assert_eq!(records.len(), 2, "each refusal is on record");
    for r in &records {
        assert!(!r.event.success);
        assert_eq!(r.event.token_id.as_deref(), Some(id.as_str()));
        let reason = r.event.reason.as_deref().unwrap();
        assert!(reason.starts_with("hotp_needs_server: "), "{reason}");
    }
    assert_eq!(v.verify_audit(None).unwrap().problem, None);

    // The owner of a personal HOTP token is refused the same way.
    let mine = v.add_personal_token("bob", &hotp(0), &[]).unwrap();
    assert!(matches!(
        v.issue_code(&CodeRequest {
            token: Some(&mine),
            purpose: Purpose::Copy,
            ..CodeRequest::fill(&bob, &origin)
        }),
        Err(VaultError::Refused(Refusal::HotpNeedsServer { .. }))
    ));
}

/// `oathtool --hotp`'s code for `SEED` at `counter` (OATH Toolkit, an
/// independent implementation).
fn oathtool(counter: u64) -> String {
    let out = Command::new("oathtool")
        .args(["--hotp", "-b", SEED, "-c", &counter.to_string()])
        .output()
        .expect("oathtool runs (apt-get install oathtool)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Bob's view of the token on the server's vault (HOTP allowed).
fn bob_views(v: &mut Vault, id: &str) -> twofill_vault::Result<IssuedCode> {
    v.issue_code(&CodeRequest {
        who: &Requester::cli("bob"),
        token: Some(id),
        origin: None,
        purpose: Purpose::View,
        scope: Scope::All,
    })
}

fn the_servers_vault_advances_the_counter_with_each_record() {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.set_hotp_allowed(true);
    let id = hotp_code_only_for_bob(&mut v, 7);
    for expected in 7..10 {
        let issued = bob_views(&mut v, &id).unwrap();
        assert_eq!(issued.counter, Some(expected));
        assert_eq!(issued.window.code, oathtool(expected), "counter {expected}");
        let record = &v.audit_records(issued.audit_seq - 1, 1).unwrap()[0];
        assert_eq!(record.seq, issued.audit_seq);
        assert_eq!(record.event.action, AuditAction::CodeView);
        assert_eq!(
            record.event.reason.as_deref(),
            Some(format!("counter: {expected}").as_str())
        );
    }
    // A fill on the bound site takes the next counter, like any request.
    let origin: Origin = SITE.parse().unwrap();
    let filled = v
        .issue_code(&CodeRequest::fill(&Requester::cli("bob"), &origin))
        .unwrap();
    assert_eq!(filled.counter, Some(10));
    assert_eq!(filled.window.code, oathtool(10));

    // A reopened handle continues where the counter is; a refusal (the
    // counter not allowed on this handle) does not move it.
    drop(v);
    let mut local = tv.open();
    assert!(matches!(
        bob_views(&mut local, &id),
        Err(VaultError::Refused(Refusal::HotpNeedsServer { .. }))
    ));
    local.set_hotp_allowed(true);
    assert_eq!(bob_views(&mut local, &id).unwrap().counter, Some(11));

    // The seed's link, for a full-seed holder, names the vault's counter,
    // not the one it was enrolled with.
    local.add_group("alice", "admins").unwrap();
    local.add_member("alice", "admins", "alice").unwrap();
    local
        .set_grant("alice", &id, "admins", Access::FullSeed)
        .unwrap();
    let token = local
        .reveal_seed(&Requester::cli("alice"), &id, AuditAction::SeedExport)
        .unwrap();
    assert_eq!(token.kind, Kind::Hotp { counter: 12 });
    assert!(
        token.to_uri().ends_with("&counter=12"),
        "{}",
        token.to_uri()
    );
    assert_eq!(local.verify_audit(None).unwrap().problem, None);
}

/// N threads, each with its own handle (as N server workers or replicas),
/// ask for a code at the same moment: N distinct, consecutive counters,
/// N records naming them, and oathtool's code for each.
fn concurrent_requests_get_distinct_counters_each_on_record() {
    const N: usize = 12;
    const FIRST: u64 = 1_000;
    let tv = TempVault::new();
    let (id, before) = {
        let mut v = tv.open();
        let id = hotp_code_only_for_bob(&mut v, FIRST);
        (id, v.audit_head_seq().unwrap())
    };
    let barrier = Barrier::new(N);
    let mut issued: Vec<IssuedCode> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..N)
            .map(|_| {
                s.spawn(|| {
                    let mut v = tv.open();
                    v.set_hotp_allowed(true);
                    barrier.wait();
                    bob_views(&mut v, &id).unwrap()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    issued.sort_by_key(|i| i.counter);
    let counters: Vec<u64> = issued.iter().map(|i| i.counter.unwrap()).collect();
    assert_eq!(
        counters,
        (FIRST..FIRST + N as u64).collect::<Vec<_>>(),
        "every request its own counter"
    );
    for i in &issued {
        assert_eq!(i.window.code, oathtool(i.counter.unwrap()));
    }

    let v = tv.open();
    let records = v.audit_records(before, 100).unwrap();
    assert_eq!(records.len(), N, "one record per code");
    for i in &issued {
        let record = records.iter().find(|r| r.seq == i.audit_seq).unwrap();
        assert!(record.event.success);
        assert_eq!(
            record.event.reason.as_deref(),
            Some(format!("counter: {}", i.counter.unwrap()).as_str()),
            "the code's own record names its counter"
        );
    }
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

/// The counter is not an authorization field: advancing it leaves the
/// token's MAC valid. Its kind is one: a HOTP token edited into a
/// time-based one in the database (so a popup would fetch its codes on a
/// timer, burning counters) is refused, not listed.
fn the_counter_moves_under_the_tokens_mac_and_its_kind_is_protected() {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.set_hotp_allowed(true);
    let id = hotp_code_only_for_bob(&mut v, 0);
    for expected in 0..3 {
        assert_eq!(bob_views(&mut v, &id).unwrap().counter, Some(expected));
    }
    let report = v.verify_authorization().unwrap();
    assert!(report.is_intact(), "{:?}", report.tampered);

    tv.sql(&format!(
        "UPDATE tokens SET kind = 'totp' WHERE id = '{id}'"
    ))
    .unwrap();
    let listed = v.permitted_tokens(&TokensRequest {
        user: "bob",
        origin: None,
        scope: Scope::All,
    });
    assert!(
        matches!(&listed, Err(VaultError::Tampered { table, .. }) if table == "tokens"),
        "{listed:?}"
    );
    assert!(matches!(
        bob_views(&mut v, &id),
        Err(VaultError::Tampered { .. })
    ));
    let report = v.verify_authorization().unwrap();
    assert_eq!(report.tampered.len(), 1, "{:?}", report.tampered);
    assert_eq!(report.tampered[0].table, "tokens");
}

both_stores!(
    a_local_vault_refuses_hotp_codes_on_record,
    the_servers_vault_advances_the_counter_with_each_record,
    concurrent_requests_get_distinct_counters_each_on_record,
    the_counter_moves_under_the_tokens_mac_and_its_kind_is_protected,
);

/// A vault from before HOTP (schema 4) migrates and then keeps a counter.
#[test]
fn a_migrated_vault_takes_hotp_tokens() {
    let tv = fixture_copy("vault-v4");
    let mut v = tv.open();
    v.set_hotp_allowed(true);
    let admin = v
        .users()
        .unwrap()
        .into_iter()
        .find(|u| u.admin)
        .unwrap()
        .name;
    let id = v.add_token(&admin, &hotp(3), &[]).unwrap();
    v.add_group(&admin, "hotp-users").unwrap();
    v.add_member(&admin, "hotp-users", "bob").unwrap();
    v.set_grant(&admin, &id, "hotp-users", Access::CodeOnly)
        .unwrap();
    assert_eq!(bob_views(&mut v, &id).unwrap().counter, Some(3));
    assert_eq!(bob_views(&mut v, &id).unwrap().window.code, oathtool(4));
    // Migrated through 5, 6 and 7: the old rows and the new ones verify.
    let report = v.verify_authorization().unwrap();
    assert!(report.is_intact(), "{:?}", report.tampered);
}
