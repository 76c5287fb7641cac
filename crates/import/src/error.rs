//! Errors are shown to admins by the host CLI, so each says what is wrong and
//! what to do next. None carries seed material: input is only ever echoed
//! through [`describe`], which drops query strings and masks anything that
//! looks like a key, and `Debug` shows the same fields as `Display`.

use std::path::PathBuf;

use twofill_otp::OtpError;

use crate::proto::ProtoError;

/// Everything that can go wrong while importing.
///
/// Variants marked *per entry* appear inside [`crate::Imported::tokens`] for
/// one account of a batch; the others fail the whole input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Empty or whitespace-only text.
    #[error(
        "nothing to import: the text is empty; paste an otpauth:// or otpauth-migration:// link"
    )]
    Empty,

    /// Text longer than [`crate::MAX_TEXT_LEN`].
    #[error(
        "the text is {len} characters long, more than the {max} a setup link can be; paste only the link"
    )]
    TooLong {
        /// Length of the rejected text, in characters.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// Neither `otpauth://` nor `otpauth-migration://`.
    #[error(
        "this is not a 2FA setup link but {what}; use the QR code or link the service shows for authenticator apps (it starts with otpauth://)"
    )]
    NotOtpauth {
        /// A safe description of what was found instead: scheme, host and
        /// path of a link, or a masked preview of text.
        what: String,
    },

    /// The text is a bare base32 key rather than a link.
    #[error(
        "this looks like a bare setup key, not an otpauth:// link; enter it as a setup key together with the issuer and account name"
    )]
    BareSecret,

    /// An `otpauth://` link that [`twofill_otp::Token::from_uri`] rejected.
    #[error(transparent)]
    Otpauth(#[from] OtpError),

    /// `otpauth-migration://` without a `data=` parameter.
    #[error(
        "the otpauth-migration:// link has no data= parameter; it was probably cut off, export the accounts from Google Authenticator again"
    )]
    MigrationNoData,

    /// `data=` given twice.
    #[error(
        "the otpauth-migration:// link contains data= more than once; export the accounts from Google Authenticator again"
    )]
    MigrationDuplicateData,

    /// `data=` is not base64.
    #[error(
        "the data= part of the otpauth-migration:// link is not valid base64 ({detail}); it was probably cut off or altered, export again"
    )]
    MigrationBase64 {
        /// What is wrong with it, e.g. "'!' at position 12 is not a base64 character".
        detail: String,
    },

    /// `data=` decodes, but not to a well-formed payload.
    #[error(
        "the Google Authenticator export is damaged: {0}; export the accounts from Google Authenticator again"
    )]
    MigrationProtobuf(#[from] ProtoError),

    /// A well-formed payload with no accounts in it.
    #[error(
        "the Google Authenticator export contains no accounts; select at least one account when exporting"
    )]
    MigrationEmpty,

    /// *Per entry:* an account using HMAC-MD5.
    #[error(
        "'{label}' uses the MD5 algorithm, which twofill does not support; skip it, or ask the service for a new (SHA1) setup"
    )]
    Md5 {
        /// "Issuer: account" of the entry.
        label: String,
    },

    /// *Per entry:* an enum value newer than this schema.
    #[error(
        "'{label}' has {field} value {value}, which this version of twofill does not know; update twofill, or set the account up from the service's own QR code"
    )]
    UnknownValue {
        /// "Issuer: account" of the entry.
        label: String,
        /// Which field: "type", "algorithm" or "digits".
        field: &'static str,
        /// The raw enum value.
        value: i32,
    },

    /// *Per entry:* the account fails [`twofill_otp::Token::validate`],
    /// e.g. an empty or too short secret.
    #[error("'{label}': {source}")]
    InvalidEntry {
        /// "Issuer: account" of the entry.
        label: String,
        /// Why.
        source: OtpError,
    },

    /// The image file cannot be read.
    #[error("cannot read {}: {source}; check the path and permissions", .path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// The file is not a PNG or JPEG image.
    #[error(
        "{} is not a PNG or JPEG image{}; save the screenshot as PNG (or JPEG) and try again",
        .path.display(),
        .format.as_ref().map(|f| format!(" (it is {f})")).unwrap_or_default()
    )]
    NotAnImage {
        /// The file.
        path: PathBuf,
        /// Another image format it was recognised as, e.g. "a WEBP image".
        format: Option<String>,
    },

    /// A PNG or JPEG that does not decode.
    #[error("{} is a damaged {format} image ({detail}); take the screenshot again", .path.display())]
    DamagedImage {
        /// The file.
        path: PathBuf,
        /// "PNG" or "JPEG".
        format: &'static str,
        /// The decoder's complaint.
        detail: String,
    },

    /// Larger than [`crate::MAX_IMAGE_BYTES`] or [`crate::MAX_IMAGE_PIXELS`].
    #[error(
        "{} is too large ({detail}); crop the screenshot to the QR code and try again",
        .path.display()
    )]
    ImageTooLarge {
        /// The file.
        path: PathBuf,
        /// Which limit, e.g. "12000x9000 pixels, the limit is 40000000".
        detail: String,
    },

    /// The image decodes, but no QR code is found in it.
    #[error(
        "no QR code found in {}; take a higher-resolution screenshot that shows the whole QR code with its white margin, or paste the setup link instead",
        .path.display()
    )]
    NoQrCode {
        /// The file.
        path: PathBuf,
    },

    /// A QR code is found but its content cannot be read.
    #[error(
        "found a QR code in {} but could not read it ({detail}); take a sharper, unscaled screenshot of it, or paste the setup link instead",
        .path.display()
    )]
    QrUnreadable {
        /// The file.
        path: PathBuf,
        /// The QR decoder's complaint.
        detail: String,
    },

    /// The image holds several QR codes and none of them is usable; `first`
    /// says what is wrong with the first one.
    #[error(
        "none of the {count} QR codes in {} is a usable 2FA setup code; the first: {first}",
        .path.display()
    )]
    NoUsableQrCode {
        /// The file.
        path: PathBuf,
        /// How many QR codes were found.
        count: usize,
        /// The first QR code's error.
        first: Box<ImportError>,
    },

    /// *Per entry:* one of several QR codes in an image failed while others
    /// were imported.
    #[error("QR code {index} of {count} in the image: {source}")]
    InQrCode {
        /// 1-based position of the QR code (top to bottom, left to right).
        index: usize,
        /// How many QR codes the image holds.
        count: usize,
        /// What is wrong with it.
        source: Box<ImportError>,
    },
}

/// Longest preview of foreign text put into an error message.
const PREVIEW_CHARS: usize = 40;
/// Runs of key-alphabet characters at least this long are masked.
const MASK_RUN: usize = 12;

/// A short, quoted preview of `s` with every run of [`MASK_RUN`] or more
/// key-like characters (base32, base64, hex, percent-encoding) replaced by
/// `…`, so no secret can leak through it. In link paths `/` separates
/// segments, each masked on its own; in text it counts as base64.
fn preview(s: &str, slash_separates: bool) -> String {
    let is_key_char = |c: char| {
        c.is_ascii_alphanumeric() || "+=_-%".contains(c) || (c == '/' && !slash_separates)
    };
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| is_key_char(**c)).count();
        if run >= MASK_RUN {
            out.push('…');
            i += run;
        } else if run > 0 {
            out.extend(&chars[i..i + run]);
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    let mut shown: String = out.chars().take(PREVIEW_CHARS).collect();
    if out.chars().count() > PREVIEW_CHARS {
        shown.push('…');
    }
    format!("\"{}\"", shown.escape_debug())
}

/// The URL scheme of `s`, if it starts with one (RFC 3986 syntax).
fn scheme(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once(':')?;
    let mut chars = scheme.chars();
    (chars.next()?.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && scheme.len() <= 32)
        .then_some(scheme)
}

/// True if `s` is plausibly a bare base32 setup key.
pub(crate) fn looks_like_bare_secret(s: &str) -> bool {
    let key: Vec<char> = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let key_len = key.iter().filter(|c| **c != '=').count();
    let has_digit = key.iter().any(|c| c.is_ascii_digit());
    let upper = key.iter().any(|c| c.is_ascii_uppercase());
    let lower = key.iter().any(|c| c.is_ascii_lowercase());
    key_len >= 16
        && key
            .iter()
            .all(|c| c.is_ascii_alphabetic() || ('2'..='7').contains(c) || *c == '=')
        // Keys are printed in one case; spaced groups of letters only are
        // more likely words.
        && !(upper && lower)
        && (has_digit || !s.trim().contains(char::is_whitespace))
}

/// Describe non-otpauth text for an error message without leaking it: a
/// link shows only its scheme, host and path (the query and fragment, where
/// keys go, are dropped), text a masked preview.
pub(crate) fn describe(text: &str) -> String {
    let t = text.trim();
    let n = t.chars().count();
    match scheme(t) {
        Some(_) => {
            let head = t.split(['?', '#']).next().unwrap_or_default();
            format!("a link {}", preview(head, true))
        }
        None if n == 1 => format!("1 character of text {}", preview(t, false)),
        None => format!("{n} characters of text {}", preview(t, false)),
    }
}

/// "Issuer: account", bounded and never empty: names an export entry that
/// could not be imported in its error (not secret). Not a token label
/// (`twofill_words::token_label` names enrolled tokens): the Google
/// Authenticator export shows entries this way, and an entry's name can be
/// empty or very long.
pub(crate) fn entry_name(issuer: Option<&str>, account: &str) -> String {
    const MAX: usize = 64;
    let full = match (issuer, account.is_empty()) {
        (Some(i), false) => format!("{i}: {account}"),
        (Some(i), true) => i.to_owned(),
        (None, false) => account.to_owned(),
        (None, true) => "(unnamed account)".to_owned(),
    };
    match full.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &full[..cut]),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_drops_queries_and_masks_keys() {
        assert_eq!(
            describe("https://example.com/enroll?secret=JBSWY3DPEHPK3PXP"),
            "a link \"https://example.com/enroll\""
        );
        assert_eq!(
            describe("HTTPS://example.com/k/JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP/x"),
            "a link \"HTTPS://example.com/k/…/x\""
        );
        assert_eq!(
            describe("  hello world "),
            "11 characters of text \"hello world\""
        );
        assert_eq!(describe("x"), "1 character of text \"x\"");
        // In text, '/' is part of a base64 run.
        let d = describe("code ABCDEFGH/IJKLMNOPQRS+TUV= end");
        assert!(d.contains("code … end"), "{d}");
        // A long run is masked even inside otherwise harmless text.
        let d = describe("key: 3132333435363738393031323334353637383930 ok");
        assert!(d.contains("key: … ok"), "{d}");
        // Long text is cut.
        let d = describe(&"word ".repeat(100));
        assert!(d.ends_with("…\""), "{d}");
        assert!(d.chars().count() < 80, "{d}");
        // Control characters are escaped, not printed.
        assert!(describe("a\u{1b}[2Jb").contains("\\u{1b}"));
    }

    #[test]
    fn bare_secrets() {
        assert!(looks_like_bare_secret("JBSWY3DPEHPK3PXP"));
        assert!(looks_like_bare_secret("jbsw y3dp ehpk 3pxp"));
        assert!(looks_like_bare_secret("JBSW-Y3DP-EHPK-3PXP===="));
        assert!(!looks_like_bare_secret("JBSWY3DPEHPK3PX"));
        assert!(!looks_like_bare_secret("hello world, how are you"));
        assert!(!looks_like_bare_secret("0123456789012345678"));
        assert!(!looks_like_bare_secret("hello world how are you"));
        assert!(!looks_like_bare_secret("HelloWorldHowAreYou"));
    }

    #[test]
    fn entry_names() {
        assert_eq!(entry_name(Some("ACME"), "bob"), "ACME: bob");
        assert_eq!(entry_name(None, "bob"), "bob");
        assert_eq!(entry_name(Some("ACME"), ""), "ACME");
        assert_eq!(entry_name(None, ""), "(unnamed account)");
        assert_eq!(entry_name(None, &"x".repeat(100)).chars().count(), 65);
    }
}
