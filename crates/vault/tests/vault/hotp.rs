//! HOTP (RFC 4226) tokens: enrolled anywhere, codes only where the counter
//! lives (the team server's vault, `Vault::set_hotp_allowed`), refused on
//! record everywhere else.

use twofill_otp::Token;
use twofill_vault::{
    Access, CodeRequest, Origin, Refusal, Requester, Scope, TokenKind, TokensRequest, VaultError,
};

use crate::support::{TempVault, both_stores};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SITE: &str = "https://vpn.example.com";

fn hotp(counter: u64) -> Token {
    Token::from_uri(&format!(
        "otpauth://hotp/VPN:team@example.com?secret={SEED}&issuer=VPN&counter={counter}"
    ))
    .unwrap()
}

/// Alice enrolls a HOTP token at `counter`, code-only for bob; its id.
fn hotp_code_only_for_bob(v: &mut twofill_vault::Vault, counter: u64) -> String {
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
            purpose: twofill_vault::Purpose::View,
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
            purpose: twofill_vault::Purpose::Copy,
            ..CodeRequest::fill(&bob, &origin)
        }),
        Err(VaultError::Refused(Refusal::HotpNeedsServer { .. }))
    ));
}

both_stores!(a_local_vault_refuses_hotp_codes_on_record);
