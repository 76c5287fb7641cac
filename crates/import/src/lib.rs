//! Enrollment inputs for twofill: turn what an admin has in hand when adding
//! a shared token into [`twofill_otp::Token`]s.
//!
//! Three inputs are understood:
//!
//! 1. **`otpauth://totp/...` (and `hotp`) setup links**, as shown (or
//!    encoded in a QR code) by a service's 2FA setup page. [`from_text`]
//!    hands them to [`Token::from_uri`], so the rules are those of
//!    `twofill-otp` (a HOTP link needs its counter, Steam links give Steam
//!    tokens, …).
//! 2. **Google Authenticator exports**,
//!    `otpauth-migration://offline?data=<base64 protobuf>`, from the app's
//!    "Transfer accounts" screen. One link holds up to about ten accounts;
//!    larger exports are split over several QR codes, and [`Batch`] says
//!    which one this was ("QR code 2 of 3"). HOTP accounts import with
//!    their counter; accounts twofill cannot use (MD5, a bad secret) come
//!    back as per-entry errors while the rest import.
//!    The base64 may be percent-encoded or raw, padded or not, URL-safe or
//!    standard, and line-wrapped.
//! 3. **Screenshots or photos of QR codes** (PNG or JPEG): [`from_image_file`]
//!    finds every QR code in the image (also light-on-dark ones) and reads
//!    each as 1. or 2.
//!
//! ```no_run
//! # fn main() -> Result<(), twofill_import::ImportError> {
//! let imported = twofill_import::from_image_file("setup-screenshot.png".as_ref())?;
//! for batch in &imported.batches {
//!     println!("Google Authenticator export, {batch}");
//! }
//! for token in &imported.tokens {
//!     match token {
//!         Ok(t) => println!("imported {}", t.account),
//!         Err(e) => eprintln!("skipped: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Recovery (backup) codes, pasted or in the file a service lets you
//! download, are read by [`recovery_codes`] (headers, numbering and
//! columns dropped; duplicates and files of the wrong kind refused).
//!
//! Errors ([`ImportError`]) say what is wrong and what to do about it. No
//! error message and no `Debug` output contains seed material: foreign text
//! is described with its query string dropped and key-like runs masked, and
//! [`Token`]'s `Debug` redacts the secret. Decoded export payloads and QR
//! contents are zeroized after parsing.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod migration;
mod proto;
mod qr;
mod recovery;

use std::fmt;
use std::path::Path;

use twofill_otp::Token;

pub use error::ImportError;
pub use proto::ProtoError;
pub use recovery::{MAX_RECOVERY_INPUT_BYTES, RecoveryCodes, RecoveryInputError, recovery_codes};

/// Longest text [`from_text`] accepts, in characters. A QR code holds at most
/// about 4 KB; the cap bounds work done on a hostile paste.
pub const MAX_TEXT_LEN: usize = 16 * 1024;

/// Largest image file [`from_image_file`] reads, in bytes.
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// Largest image [`from_image_file`] decodes, in pixels (an 8K screenshot is
/// 33 million).
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;

/// What one input yielded.
#[derive(Debug)]
pub struct Imported {
    /// One entry per account, in input order. An `otpauth://` link gives
    /// exactly one `Ok`; a Google Authenticator export gives one entry per
    /// account, `Err` for those twofill cannot use (MD5, bad secret);
    /// an image with several QR codes also gives an `Err`
    /// ([`ImportError::InQrCode`]) for each unusable QR code.
    pub tokens: Vec<Result<Token, ImportError>>,
    /// For each Google Authenticator export read, which part of the export
    /// it was. Empty for plain `otpauth://` links (and for exports that do
    /// not say).
    pub batches: Vec<Batch>,
}

/// Position of one QR code in a multi-part Google Authenticator export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Batch {
    /// 0-based index of this QR code in the export.
    pub index: u32,
    /// Number of QR codes in the export (at least 1, more than `index`).
    pub size: u32,
    /// Random id shared by the QR codes of one export, to tell exports apart.
    pub id: i32,
}

impl fmt::Display for Batch {
    /// "QR code 2 of 3".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QR code {} of {}", u64::from(self.index) + 1, self.size)
    }
}

fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Import an `otpauth://` setup link or an `otpauth-migration://` export.
///
/// Surrounding whitespace is ignored; the scheme is case-insensitive. An
/// `otpauth://` link that [`Token::from_uri`] rejects fails as a whole
/// ([`ImportError::Otpauth`]); in an export, accounts fail one by one.
pub fn from_text(text: &str) -> Result<Imported, ImportError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ImportError::Empty);
    }
    // Byte length bounds the char count from above: count only when needed.
    if text.len() > MAX_TEXT_LEN {
        let len = text.chars().count();
        if len > MAX_TEXT_LEN {
            return Err(ImportError::TooLong {
                len,
                max: MAX_TEXT_LEN,
            });
        }
    }
    if strip_prefix_ignore_ascii_case(text, migration::SCHEME).is_some() {
        return migration::parse(text);
    }
    if strip_prefix_ignore_ascii_case(text, "otpauth:").is_some() {
        return Ok(Imported {
            tokens: vec![Ok(Token::from_uri(text)?)],
            batches: Vec::new(),
        });
    }
    if error::looks_like_bare_secret(text) {
        return Err(ImportError::BareSecret);
    }
    Err(ImportError::NotOtpauth {
        what: error::describe(text),
    })
}

/// Import every QR code in a PNG or JPEG image (the format is recognised
/// from the content, not the file name).
///
/// Each QR code's text goes through [`from_text`]; the results are merged in
/// reading order (top to bottom, left to right). Fails if the file cannot be
/// read or decoded, holds no QR code, or none of its QR codes is usable;
/// otherwise unusable QR codes are reported per entry.
pub fn from_image_file(path: &Path) -> Result<Imported, ImportError> {
    qr::from_image_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_can_cross_threads() {
        fn check<T: Send + Sync + 'static>() {}
        check::<ImportError>();
        check::<Imported>();
    }

    #[test]
    fn batch_display() {
        let b = Batch {
            index: 0,
            size: 1,
            id: 7,
        };
        assert_eq!(b.to_string(), "QR code 1 of 1");
        let b = Batch {
            index: u32::MAX,
            size: u32::MAX,
            id: 7,
        };
        assert_eq!(b.to_string(), "QR code 4294967296 of 4294967295");
    }
}
