//! Token model and one-time-code generation for twofill.
//!
//! This crate knows what a 2FA token *is* (an `otpauth://` setup link turned
//! into a [`Token`]) and how to turn it into the code for a given instant
//! ([`Token::code_at`], [`Token::window_at`]). It is used by the native host,
//! which owns the vault and computes codes; only the resulting short-lived
//! codes cross native messaging to the browser extension. Seeds never go to
//! the extension.
//!
//! Design constraints that shape the API:
//! - **No clock access.** Callers pass Unix time explicitly; `SystemTime`
//!   traps on `wasm32-unknown-unknown`, and explicit time makes codes testable.
//! - **Small and portable.** The `otpauth://` parser and base32 are
//!   hand-rolled so the crate pulls neither `url` nor `std`-only features of
//!   totp-rs, and builds for wasm32.
//! - **Secrets stay secret.** [`Secret`] is zeroized on drop, compares in
//!   constant time and never prints its bytes, so `{:?}` on a [`Token`] is
//!   safe to log.
//! - **HOTP is a token like any other here.** [`Kind::Hotp`] carries the
//!   counter of its next code and [`Token::code_for_counter`] computes
//!   RFC 4226 codes; *who* may advance a shared counter (only the team
//!   server, in one transaction with the audit record) is the vault's rule,
//!   not this crate's.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod base32;
mod error;
mod uri;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

pub use error::OtpError;
pub use twofill_words::TokenKind;

/// Longest setup link accepted, in characters. Real links are a few hundred;
/// the cap bounds work done on hostile clipboard or QR input.
pub const MAX_URI_LEN: usize = 4096;

/// Shortest accepted secret: 80 bits. RFC 4226 asks for 128, but many
/// services (and Google's own examples) still issue 80-bit keys.
pub const MIN_SECRET_BYTES: usize = 10;

/// Steam Guard codes are always this many characters.
pub const STEAM_DIGITS: u32 = 5;

/// HMAC hash used by a TOTP token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA1, the default and by far the most common.
    #[default]
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

impl Algorithm {
    /// Canonical name as used in `otpauth://` links.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    fn to_totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Algorithm::Sha1 => totp_rs::Algorithm::SHA1,
            Algorithm::Sha256 => totp_rs::Algorithm::SHA256,
            Algorithm::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = OtpError;

    /// Case-insensitive, because links in the wild use `sha1`, `SHA1` and `Sha1`.
    fn from_str(s: &str) -> Result<Self, OtpError> {
        [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| OtpError::UnsupportedAlgorithm(error::echo(s)))
    }
}

/// How codes are derived from the HMAC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// RFC 6238 decimal codes.
    #[default]
    Totp,
    /// RFC 4226 decimal codes from a counter rather than the clock.
    /// [`Token::period`] is ignored for this kind.
    Hotp {
        /// The counter of the next code to issue (`counter=` in the link).
        counter: u64,
    },
    /// Steam Guard: HMAC-SHA1 like TOTP, but rendered as 5 characters from
    /// Steam's own alphabet. [`Token::algorithm`] and [`Token::digits`] are
    /// ignored for this kind.
    Steam,
}

impl Kind {
    /// The shared word for this kind (`totp`, `hotp`, `steam`), as the vault
    /// stores it and the wire carries it.
    pub const fn word(self) -> TokenKind {
        match self {
            Kind::Totp => TokenKind::Totp,
            Kind::Hotp { .. } => TokenKind::Hotp,
            Kind::Steam => TokenKind::Steam,
        }
    }

    /// The kind for a stored word; `counter` is used only for HOTP.
    pub const fn from_word(word: TokenKind, counter: u64) -> Kind {
        match word {
            TokenKind::Totp => Kind::Totp,
            TokenKind::Hotp => Kind::Hotp { counter },
            TokenKind::Steam => Kind::Steam,
        }
    }
}

/// The shared HMAC key of a token. Zeroized on drop; `Debug` shows only its length.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Parse a base32 setup key as users paste it: case-insensitive, with
    /// spaces, dashes and `=` padding ignored. Length policy (e.g. the 80-bit
    /// minimum) is [`Token`]'s business, not this function's.
    pub fn from_base32(s: &str) -> Result<Secret, OtpError> {
        base32::decode(s).map(Secret)
    }

    /// Wrap raw key bytes (e.g. from the vault).
    pub fn from_bytes(b: Vec<u8>) -> Secret {
        Secret(b)
    }

    /// The raw key. Avoid copying it; copies are not zeroized.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32, uppercase, unpadded: the form authenticator apps expect.
    /// The returned string is secret material.
    pub fn to_base32(&self) -> String {
        base32::encode(&self.0)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for Secret {}

impl PartialEq for Secret {
    /// Constant-time in the content (length is not secret), so comparing a
    /// candidate key does not leak how many leading bytes matched.
    fn eq(&self, other: &Self) -> bool {
        if self.0.len() != other.0.len() {
            return false;
        }
        let diff = self
            .0
            .iter()
            .zip(&other.0)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted, {} bytes>)", self.0.len())
    }
}

/// One 2FA account: everything needed to compute its codes.
///
/// Fields are public for the vault's convenience; [`Token::from_uri`] always
/// produces a token that passes [`Token::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// TOTP, HOTP (with its counter) or Steam.
    pub kind: Kind,
    /// HMAC hash (always SHA1 for Steam).
    pub algorithm: Algorithm,
    /// Code length, 6..=10 for TOTP and HOTP; [`STEAM_DIGITS`] for Steam.
    pub digits: u32,
    /// Time step in seconds, 1..=3600 (kept at 30 and unused for HOTP).
    pub period: u64,
    /// The shared key.
    pub secret: Secret,
    /// Service name, e.g. "GitHub"; `None` if the link had none.
    pub issuer: Option<String>,
    /// Account name: the label part after `Issuer:`.
    pub account: String,
}

impl Token {
    /// Parse an `otpauth://totp/...`, `otpauth://hotp/...?counter=N` or
    /// `otpauth://steam/...` setup link.
    ///
    /// Lenient where users paste things (scheme case, `Issuer: account`
    /// labels, lowercase/spaced/padded secrets, unknown parameters), strict
    /// where it matters for security (duplicate parameters, short secrets,
    /// out-of-range digits/period, a HOTP link without its counter,
    /// oversized input).
    pub fn from_uri(uri: &str) -> Result<Token, OtpError> {
        let token = uri::parse(uri)?;
        // Export must always be importable again (found by fuzzing).
        let len = token.to_uri().chars().count();
        if len > MAX_URI_LEN {
            return Err(OtpError::LabelTooLong {
                len,
                max: MAX_URI_LEN,
            });
        }
        Ok(token)
    }

    /// Canonical setup link, e.g. for export or showing a QR code. Always
    /// spells out algorithm, digits and period so that apps with different
    /// defaults agree. Contains the secret.
    ///
    /// A TOTP token whose issuer is "Steam" re-parses as a Steam token, since
    /// that is how Steam links are recognised.
    pub fn to_uri(&self) -> String {
        uri::write(self)
    }

    /// Check the invariants that [`Token::from_uri`] enforces, for tokens
    /// assembled field by field (e.g. from the vault or an import).
    pub fn validate(&self) -> Result<(), OtpError> {
        if self.kind != Kind::Steam && !(6..=10).contains(&self.digits) {
            return Err(OtpError::InvalidDigits(self.digits.to_string()));
        }
        if !(1..=3600).contains(&self.period) {
            return Err(OtpError::InvalidPeriod(self.period.to_string()));
        }
        if self.secret.as_bytes().len() < MIN_SECRET_BYTES {
            return Err(OtpError::SecretTooShort {
                bytes: self.secret.as_bytes().len(),
            });
        }
        Ok(())
    }

    /// The code valid at `unix_secs`. For a HOTP token the clock plays no
    /// part: this is the code of its current counter ([`Kind::Hotp`]).
    ///
    /// Never panics, even for a token that fails [`Token::validate`]: a
    /// period of 0 is treated as 1 and digits are clamped to 1..=10, so a
    /// corrupt vault entry yields a wrong code rather than crashing the host.
    pub fn code_at(&self, unix_secs: u64) -> String {
        match self.kind {
            Kind::Hotp { counter } => self.code_for_counter(counter),
            Kind::Totp | Kind::Steam => self.code_for_counter(unix_secs / self.period.max(1)),
        }
    }

    /// The RFC 4226 code for moving factor `counter`: a HOTP token's code
    /// for that counter, or a time-based token's code for that time step.
    /// Never panics (see [`Token::code_at`]).
    pub fn code_for_counter(&self, counter: u64) -> String {
        let (algorithm, digits) = match self.kind {
            Kind::Steam => (totp_rs::Algorithm::Steam, STEAM_DIGITS),
            Kind::Totp | Kind::Hotp { .. } => {
                (self.algorithm.to_totp_rs(), self.digits.clamp(1, 10))
            }
        };
        // totp-rs keeps the value in a u32 and panics above 9 digits; the
        // 31-bit truncated value always fits in 10 digits, so do that case here.
        // A step of one second makes totp-rs's "time" the counter itself.
        let totp = totp_rs::Builder::new()
            .with_algorithm(algorithm)
            .with_digits(digits.min(9) as u8)
            .with_step_duration(1)
            .with_secret(self.secret.as_bytes())
            // Noncompliant: accepts the 80-bit secrets and 9-digit codes
            // that `build()` rejects.
            .build_noncompliant();
        if digits == 10 {
            let sig = totp.sign(counter);
            let sig = sig.as_ref();
            let offset = usize::from(sig[sig.len() - 1] & 0x0f);
            let mut word = [0u8; 4];
            word.copy_from_slice(&sig[offset..offset + 4]);
            format!("{:010}", u32::from_be_bytes(word) & 0x7fff_ffff)
        } else {
            totp.generate(counter).to_string()
        }
    }

    /// The code valid at `unix_secs` together with the time step it belongs
    /// to, so callers can show a countdown or pre-compute the next code.
    /// Meaningful for time-based kinds only: a HOTP code has no window (it
    /// stays valid until used), so issue those with [`Token::code_for_counter`].
    pub fn window_at(&self, unix_secs: u64) -> CodeWindow {
        let period = self.period.max(1);
        let valid_from = unix_secs - unix_secs % period;
        CodeWindow {
            code: self.code_at(unix_secs),
            valid_from,
            valid_until: valid_from.saturating_add(period),
        }
    }
}

/// A code and the time step it is valid for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CodeWindow {
    /// The code, as the user would type it.
    pub code: String,
    /// First second (Unix time) of the step, inclusive.
    pub valid_from: u64,
    /// First second of the next step, exclusive.
    pub valid_until: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(digits: u32, period: u64) -> Token {
        Token {
            kind: Kind::Totp,
            algorithm: Algorithm::Sha1,
            digits,
            period,
            secret: Secret::from_bytes(b"12345678901234567890".to_vec()),
            issuer: None,
            account: "a".into(),
        }
    }

    #[test]
    fn algorithm_names() {
        for a in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            assert_eq!(a.to_string().parse::<Algorithm>().unwrap(), a);
            assert_eq!(
                a.to_string().to_lowercase().parse::<Algorithm>().unwrap(),
                a
            );
        }
        assert_eq!("Sha256".parse::<Algorithm>().unwrap(), Algorithm::Sha256);
        assert!(matches!(
            "MD5".parse::<Algorithm>(),
            Err(OtpError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn window_bounds() {
        let t = token(6, 30);
        let w = t.window_at(1_111_111_109);
        assert_eq!(w.valid_from, 1_111_111_080);
        assert_eq!(w.valid_until, 1_111_111_110);
        assert_eq!(w.code, t.code_at(1_111_111_080));
        assert_eq!(w.code, t.code_at(1_111_111_109));
        assert_ne!(w.code, t.code_at(1_111_111_110));
        let w = t.window_at(u64::MAX);
        assert_eq!(w.valid_until, u64::MAX);
    }

    #[test]
    fn invalid_tokens_do_not_panic() {
        assert_eq!(token(6, 0).code_at(59).len(), 6);
        assert_eq!(token(0, 30).code_at(59).len(), 1);
        assert_eq!(token(99, 30).code_at(59).len(), 10);
        let mut short = token(6, 30);
        short.secret = Secret::from_bytes(Vec::new());
        assert_eq!(short.code_at(59).len(), 6);
        assert_eq!(
            short.validate().unwrap_err(),
            OtpError::SecretTooShort { bytes: 0 }
        );
        assert!(token(6, 0).validate().is_err());
        assert!(token(11, 30).validate().is_err());
        assert!(token(10, 3600).validate().is_ok());
    }

    #[test]
    fn secret_eq_and_debug() {
        let a = Secret::from_bytes(vec![1, 2, 3]);
        assert_eq!(a, a.clone());
        assert_ne!(a, Secret::from_bytes(vec![1, 2, 4]));
        assert_ne!(a, Secret::from_bytes(vec![1, 2]));
        assert_eq!(format!("{a:?}"), "Secret(<redacted, 3 bytes>)");
    }
}
