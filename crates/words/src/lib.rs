//! The words twofill's crates share, each spelled once.
//!
//! A string that two crates must agree on (an access level on the wire and
//! in the vault, an audit action in the vault and in a SIEM event, a token's
//! kind in an `otpauth://` link, the vault and on the wire, the extension ids
//! the host trusts and the packager writes) lives here as a type or a
//! constant, so a typo is a compile error instead of a silent
//! mismatch. This crate knows no storage, no wire format and no browser API,
//! and builds for wasm32 as well (the extension uses it).

mod access;
mod action;
mod clock;
mod ids;
mod label;
mod token_kind;

pub use access::{Access, SmsAccess};
pub use action::AuditAction;
#[cfg(not(target_arch = "wasm32"))]
pub use clock::{unix_now_ms, unix_now_secs};
pub use ids::{CHROMIUM_EXTENSION_ID, GECKO_EXTENSION_ID, HOST_NAME, SERVER_LISTENING};
pub use label::token_label;
pub use token_kind::TokenKind;

/// Returned by the `FromStr` impls here: the word that was not understood and
/// the ones that would have been.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWord {
    pub kind: &'static str,
    pub word: String,
    pub expected: &'static [&'static str],
}

impl std::fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let expected: Vec<String> = self.expected.iter().map(|w| format!("`{w}`")).collect();
        write!(
            f,
            "unknown {} `{}`; use {}",
            self.kind,
            self.word,
            expected.join(" or ")
        )
    }
}

impl std::error::Error for UnknownWord {}
