//! Enrollment text (`twofill_import::from_text`): `otpauth-migration://`
//! exports from Google Authenticator, and `otpauth://` links.
//!
//! Input starting with byte 1: the rest is the *decoded* export payload
//! (protobuf), wrapped as `otpauth-migration://offline?data=<percent-encoded
//! base64>`, so the fuzzer reaches the protobuf decoder directly instead of
//! having to discover base64. Anything else: the pasted text, as it is.
//!
//! Properties: never panics; every error has a message; every token it
//! yields is valid, computes codes, and round-trips through `to_uri`;
//! batch positions are consistent.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use twofill_otp::{Kind, Token};

fuzz_target!(|data: &[u8]| {
    let text = if let Some(rest) = data.strip_prefix(&[1]) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(rest);
        let encoded = b64
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        format!("otpauth-migration://offline?data={encoded}")
    } else {
        match std::str::from_utf8(data) {
            Ok(s) => s.to_owned(),
            Err(_) => return,
        }
    };
    let imported = match twofill_import::from_text(&text) {
        Ok(i) => i,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    for batch in &imported.batches {
        assert!(batch.size >= 1 && batch.index < batch.size, "{batch:?}");
        assert!(!batch.to_string().is_empty());
    }
    for token in &imported.tokens {
        match token {
            Ok(t) => check(t),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});

fn check(token: &Token) {
    token.validate().expect("imports only yield valid tokens");
    let _ = token.code_at(1_111_111_109);
    let canonical = token.to_uri();
    // Known issue in twofill-otp (reported, not ours to fix here): issuer
    // and account are percent-encoded, and the issuer written twice, so the
    // canonical link of a token with a long label can exceed MAX_URI_LEN,
    // which `from_uri` then refuses. Reproducer: `otpauth://totp/` + 1300 ×
    // `%01` + `:a?secret=JBSWY3DPEHPK3PXP`. Every other failure is a bug.
    if canonical.chars().count() > twofill_otp::MAX_URI_LEN {
        return;
    }
    let again = Token::from_uri(&canonical)
        .unwrap_or_else(|e| panic!("canonical URI {canonical:?} does not re-parse: {e}"));
    let steam_issuer = token.kind == Kind::Totp
        && token
            .issuer
            .as_deref()
            .is_some_and(|i| i.trim().eq_ignore_ascii_case("steam"));
    if steam_issuer {
        assert_eq!(again.kind, Kind::Steam);
    } else {
        assert_eq!(&again, token, "round trip through {canonical:?}");
    }
}
