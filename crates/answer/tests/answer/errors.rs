//! Refusals as protocol errors: the right code, candidates, and a record.

use twofill_answer::{Answerer, vault_error};
use twofill_protocol::{CodePurpose, ErrorCode};
use twofill_vault::{AuditAction, VaultError};

use crate::support::{KASPERSKY_SEED, KASPERSKY_SITE, bob, last_record, team, token};

#[test]
fn an_origin_that_is_not_one_is_refused_and_recorded_shortened() {
    let mut t = team();
    let before = t.vault.audit_head_seq().unwrap();
    let hostile = format!("javascript:{}", "a".repeat(5000));
    let refused = Answerer::new(&mut t.vault, bob())
        .get_code(Some(&hostile), None, CodePurpose::Fill, false)
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadOrigin);
    let record = last_record(&t.vault);
    assert_eq!(record.seq, before + 1, "the refusal is on record");
    assert_eq!(record.event.action, AuditAction::CodeFill);
    assert!(!record.event.success);
    assert_eq!(record.event.origin.as_ref().unwrap().chars().count(), 200);
    assert!(
        record
            .event
            .reason
            .as_deref()
            .unwrap()
            .starts_with("bad_origin: "),
        "{:?}",
        record.event.reason
    );

    let refused = Answerer::new(&mut t.vault, bob())
        .list_tokens(Some("null"), false)
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadOrigin);
    assert_eq!(last_record(&t.vault).event.action, AuditAction::TokenList);
}

#[test]
fn two_tokens_on_one_site_name_their_candidates() {
    let mut t = team();
    let second = t
        .vault
        .add_token(
            "alice",
            &token("Kaspersky2", KASPERSKY_SEED),
            &[KASPERSKY_SITE.parse().unwrap()],
        )
        .unwrap();
    t.vault
        .set_grant("alice", &second, "ops", twofill_vault::Access::CodeOnly)
        .unwrap();
    let refused = Answerer::new(&mut t.vault, bob())
        .get_code(Some(KASPERSKY_SITE), None, CodePurpose::Fill, false)
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::AmbiguousToken);
    let mut ids: Vec<&str> = refused.candidates.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    let mut want = vec![t.kaspersky.as_str(), second.as_str()];
    want.sort();
    assert_eq!(ids, want);
    // Naming one works.
    let reply = Answerer::new(&mut t.vault, bob())
        .get_code(
            Some(KASPERSKY_SITE),
            Some(&second),
            CodePurpose::Fill,
            false,
        )
        .unwrap();
    assert_eq!(reply.token.id, second);
}

#[test]
fn a_fill_without_origin_and_unknown_tokens_have_their_codes() {
    let mut t = team();
    let mut a = Answerer::new(&mut t.vault, bob());
    let e = a
        .get_code(None, None, CodePurpose::Fill, false)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OriginRequired);
    let e = a
        .get_code(None, Some("nope"), CodePurpose::Copy, false)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSuchToken);
    let e = a
        .reveal_seed("nope", twofill_protocol::SeedPurpose::Reveal)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NoSuchToken);
}

#[test]
fn a_failing_vault_is_unavailable_not_a_refusal() {
    let e = vault_error(VaultError::BadSeed {
        id: "t1".into(),
        detail: "x".into(),
    });
    assert_eq!(e.code, ErrorCode::VaultUnavailable);
    assert!(e.message.contains("re-enroll"), "{}", e.message);
}

#[test]
fn a_hotp_code_from_a_local_vault_is_hotp_needs_server() {
    let mut t = team();
    let hotp = twofill_otp::Token::from_uri(&format!(
        "otpauth://hotp/VPN:team@example.com?secret={KASPERSKY_SEED}&issuer=VPN&counter=3"
    ))
    .unwrap();
    let id = t.vault.add_token("alice", &hotp, &[]).unwrap();
    t.vault
        .set_grant("alice", &id, "ops", twofill_vault::Access::CodeOnly)
        .unwrap();
    let listed = Answerer::new(&mut t.vault, bob())
        .list_tokens(None, false)
        .unwrap();
    let entry = listed.tokens.iter().find(|e| e.token.id == id).unwrap();
    assert_eq!(entry.kind, twofill_protocol::TokenKind::Hotp);
    let refused = Answerer::new(&mut t.vault, bob())
        .get_code(None, Some(&id), CodePurpose::View, false)
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::HotpNeedsServer);
    assert!(
        refused
            .message
            .contains("a HOTP counter cannot be shared without the team server"),
        "{}",
        refused.message
    );
    assert!(!last_record(&t.vault).event.success);
}

#[test]
fn a_rate_limited_fill_carries_its_retry_hint() {
    let mut t = team();
    t.vault.set_rate_limit(twofill_vault::RateLimit {
        codes: 0,
        window_seconds: 0,
        burst: 1,
        burst_seconds: 60,
    });
    let mut answerer = Answerer::new(&mut t.vault, bob());
    answerer
        .get_code(Some(KASPERSKY_SITE), None, CodePurpose::Fill, false)
        .unwrap();
    let e = answerer
        .get_code(Some(KASPERSKY_SITE), None, CodePurpose::Fill, false)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    let retry = e.retry_after_ms.expect("a retry hint");
    assert!((1..=60_000).contains(&retry), "{retry}");
    assert!(e.message.contains("1 codes in 60 s"), "{}", e.message);
}

#[test]
fn enrollment_refusals_have_their_server_mode_codes() {
    use twofill_vault::{InviteProblem, Refusal};
    let code = |r: Refusal| vault_error(VaultError::Refused(r)).code;
    assert_eq!(
        code(Refusal::InviteInvalid {
            problem: InviteProblem::Expired
        }),
        ErrorCode::InviteInvalid
    );
    assert_eq!(
        code(Refusal::DeviceNotEnrolled),
        ErrorCode::DeviceNotEnrolled
    );
    assert_eq!(
        code(Refusal::DeviceRevoked { id: "d1".into() }),
        ErrorCode::DeviceRevoked
    );
}
