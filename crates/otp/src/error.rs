//! Errors are shown to end users (in the extension popup or the host CLI), so
//! every message says what is wrong *and* what to do about it. No message
//! ever contains the secret; [`OtpError::InvalidBase32Char`] names a single
//! offending character, which is useless to an attacker but tells the user
//! exactly where their copy-paste went wrong.

/// Everything that can go wrong while reading a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OtpError {
    /// The input exceeds [`crate::MAX_URI_LEN`]; real setup links are a few hundred bytes.
    #[error(
        "the setup link is {len} characters long, more than the {max} allowed; paste only the otpauth:// link itself"
    )]
    UriTooLong {
        /// Length of the rejected input, in characters.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The token's canonical link (issuer and account percent-encoded, the
    /// issuer written twice) would not fit [`crate::MAX_URI_LEN`], so it
    /// could not be exported and imported again.
    #[error(
        "the issuer and account name are too long: as a setup link they take {len} characters, more than the {max} allowed; shorten them"
    )]
    LabelTooLong {
        /// Length of the canonical link, in characters.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The input does not start with `otpauth://`.
    #[error(
        "this is not an otpauth:// setup link; scan the QR code again or paste the link that starts with otpauth://"
    )]
    NotOtpauth,

    /// `otpauth://hotp/...` without `counter=`: the first code depends on it,
    /// and guessing 0 would desynchronise a token already in use.
    #[error(
        "the HOTP setup link has no counter= parameter; copy the complete link, or add counter=0 for a token never used before"
    )]
    MissingCounter,

    /// `counter=` that is not a non-negative integer below 2^64.
    #[error(
        "counter={0} is not a valid HOTP counter; it must be a whole number from 0, check the setup link"
    )]
    InvalidCounter(String),

    /// A type other than `totp`, `hotp` or `steam`.
    #[error(
        "unknown token type '{0}'; only otpauth://totp/, otpauth://hotp/ (and otpauth://steam/) links are supported, check the link"
    )]
    UnknownType(String),

    /// No `secret=` parameter.
    #[error(
        "the setup link has no secret= parameter; copy the complete link or enter the setup key manually"
    )]
    MissingSecret,

    /// A security-relevant parameter appears twice; different apps would pick
    /// different values, so we refuse to guess.
    #[error(
        "the setup link contains '{0}=' more than once; get a fresh setup link or QR code from the service"
    )]
    DuplicateParam(String),

    /// The secret is empty once separators are removed.
    #[error("the secret is empty; paste the setup key shown by the service")]
    EmptySecret,

    /// A character outside the base32 alphabet (after lenient normalisation).
    #[error(
        "secret contains '{}', which is not base32 (A-Z, 2-7); check you copied the whole setup key",
        .ch.escape_debug()
    )]
    InvalidBase32Char {
        /// The first offending character.
        ch: char,
    },

    /// A base32 length that no byte string encodes to, i.e. a truncated copy.
    #[error(
        "the secret has {len} base32 characters, a length no valid key has; part of the setup key is probably missing, copy it again"
    )]
    InvalidBase32Length {
        /// Number of base32 characters (separators excluded).
        len: usize,
    },

    /// Fewer than [`crate::MIN_SECRET_BYTES`] bytes: too weak to be a real key.
    #[error(
        "the secret is only {bytes} bytes long; at least 10 bytes (16 base32 characters) are required, check you copied the whole setup key"
    )]
    SecretTooShort {
        /// Decoded length of the rejected secret.
        bytes: usize,
    },

    /// `digits=` missing a number or outside 6..=10.
    #[error(
        "digits={0} is not supported; codes must have 6 to 10 digits, check the setup link or ask the service"
    )]
    InvalidDigits(String),

    /// `period=` not a number or outside 1..=3600.
    #[error(
        "period={0} is not supported; the period must be 1 to 3600 seconds, check the setup link or ask the service"
    )]
    InvalidPeriod(String),

    /// Unknown hash algorithm name.
    #[error(
        "algorithm '{0}' is not supported; use SHA1, SHA256 or SHA512 (SHA1 if the service does not say)"
    )]
    UnsupportedAlgorithm(String),

    /// Percent-decoding produced bytes that are not UTF-8.
    #[error(
        "the {0} in the setup link is not valid text after percent-decoding; copy the link again"
    )]
    InvalidEncoding(&'static str),
}

/// Cap on how much user input an error message echoes back, so a hostile or
/// garbled 4 KiB link cannot turn into a 4 KiB error popup.
const ECHO_MAX: usize = 32;

/// Shorten `s` for inclusion in an error message.
pub(crate) fn echo(s: &str) -> String {
    match s.char_indices().nth(ECHO_MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}
