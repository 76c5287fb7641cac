//! `otpauth://` parsing (`Token::from_uri`) over arbitrary text.
//!
//! Properties:
//! - never panics;
//! - whatever it accepts passes `Token::validate` and yields codes of the
//!   advertised length without panicking;
//! - round trip: `to_uri` then `from_uri` gives an equal token. (A TOTP token
//!   whose issuer is "Steam" in any case is the documented exception: it
//!   re-parses as a Steam token, which is how Steam links are recognised.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofill_otp::{Kind, Token};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Inputs starting with byte 1 get the scheme for free, so the fuzzer
    // spends its time past the prefix check; others are used as they are.
    let owned;
    let uri = match text.strip_prefix('\u{1}') {
        Some(rest) => {
            owned = format!("otpauth://totp/{rest}");
            owned.as_str()
        }
        None => text,
    };
    let Ok(token) = Token::from_uri(uri) else {
        return;
    };
    token.validate().expect("from_uri only yields valid tokens");
    for t in [0, 59, 1_111_111_109, u64::MAX / 2] {
        let code = token.code_at(t);
        let want = match token.kind {
            Kind::Steam => twofill_otp::STEAM_DIGITS as usize,
            Kind::Totp | Kind::Hotp { .. } => token.digits as usize,
        };
        assert_eq!(code.chars().count(), want, "{code:?}");
    }
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
        assert_eq!(again.secret, token.secret);
        assert_eq!(again.account, token.account);
    } else {
        assert_eq!(again, token, "round trip through {canonical:?}");
    }
});
