//! The secrets of one browser sign-in (RFC 7636 PKCE, OIDC `state` and
//! `nonce`), fresh per `twofill-host login`.
//!
//! The verifier is 32 random bytes, base64url without padding (43
//! characters, inside RFC 7636's 43–128), and the challenge its SHA-256
//! (`S256`; `plain` is never offered). `state` ties the callback to this
//! login, `nonce` ties the ID token the server validates to it.

use data_encoding::BASE64URL_NOPAD;
use sha2::{Digest, Sha256};

/// Random bytes behind each secret: 256 bits.
const SECRET_BYTES: usize = 32;

/// What one sign-in needs to keep until its callback.
pub struct SignInSecrets {
    pub code_verifier: String,
    pub state: String,
    pub nonce: String,
}

impl SignInSecrets {
    pub fn generate() -> SignInSecrets {
        SignInSecrets {
            code_verifier: random_text(),
            state: random_text(),
            nonce: random_text(),
        }
    }

    /// The `code_challenge` sent with `code_challenge_method=S256`.
    pub fn code_challenge(&self) -> String {
        s256_challenge(&self.code_verifier)
    }
}

/// RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))).
pub fn s256_challenge(verifier: &str) -> String {
    BASE64URL_NOPAD.encode(&Sha256::digest(verifier.as_bytes()))
}

fn random_text() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    BASE64URL_NOPAD.encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_challenge() {
        // RFC 7636 Appendix B.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn secrets_are_43_url_safe_characters_and_fresh() {
        let a = SignInSecrets::generate();
        let b = SignInSecrets::generate();
        for s in [&a.code_verifier, &a.state, &a.nonce] {
            assert_eq!(s.len(), 43, "{s}");
            assert!(
                s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            );
        }
        assert_ne!(a.code_verifier, b.code_verifier);
        assert_ne!(a.state, a.nonce);
        assert_ne!(a.code_challenge(), a.code_verifier);
    }
}
