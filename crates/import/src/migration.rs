//! Google Authenticator's "Transfer accounts" export:
//! `otpauth-migration://offline?data=<base64 protobuf>`.
//!
//! The payload schema (reverse-engineered, stable since 2020):
//!
//! ```text
//! message MigrationPayload { repeated OtpParameters otp_parameters = 1; int32 version = 2;
//!                            int32 batch_size = 3; int32 batch_index = 4; int32 batch_id = 5; }
//! message OtpParameters { bytes secret = 1; string name = 2; string issuer = 3;
//!                         Algorithm algorithm = 4; DigitCount digits = 5; OtpType type = 6;
//!                         int64 counter = 7; }
//! enum Algorithm { UNSPECIFIED = 0; SHA1 = 1; SHA256 = 2; SHA512 = 3; MD5 = 4; }
//! enum DigitCount { UNSPECIFIED = 0; SIX = 1; EIGHT = 2; }
//! enum OtpType { UNSPECIFIED = 0; HOTP = 1; TOTP = 2; }
//! ```

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use twofill_otp::{Algorithm, Kind, STEAM_DIGITS, Secret, Token};
use zeroize::Zeroizing;

use crate::error::{ImportError, entry_name};
use crate::proto::{ProtoError, Reader, Value};
use crate::{Batch, Imported};

pub(crate) const SCHEME: &str = "otpauth-migration://";

/// Standard alphabet; `=` padding optional (some tools strip it), trailing
/// bits tolerated. URL-safe `-`/`_` are mapped to `+`/`/` before decoding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Time step of every exported account: the export has no period field and
/// Google Authenticator only supports 30 s.
const PERIOD: u64 = 30;

/// Parse a whole `otpauth-migration://` link (scheme already checked).
pub(crate) fn parse(link: &str) -> Result<Imported, ImportError> {
    let rest = &link[SCHEME.len()..];
    let rest = rest.split('#').next().unwrap_or_default();
    let query = rest.split_once('?').map_or("", |(_, q)| q);
    let mut data = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key.trim().eq_ignore_ascii_case("data") && data.replace(value).is_some() {
            return Err(ImportError::MigrationDuplicateData);
        }
    }
    let b64 = clean_base64(data.ok_or(ImportError::MigrationNoData)?);
    if b64.is_empty() {
        return Err(ImportError::MigrationNoData);
    }
    let payload = Zeroizing::new(BASE64.decode(&*b64).map_err(base64_error)?);
    decode_payload(&payload)
}

/// Drop whitespace from line-wrapped copies, percent-decode (`+` stays `+`:
/// it is a base64 character, and Google encodes it as `%2B` anyway), and
/// map the URL-safe alphabet to the standard one.
fn clean_base64(s: &str) -> Zeroizing<Vec<u8>> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    // Whitespace first, so a line break inside a %2F escape does not split it.
    // Neither buffer outgrows the input, so no reallocation leaves a copy behind.
    let mut b = Zeroizing::new(Vec::with_capacity(s.len()));
    b.extend(s.bytes().filter(|c| !c.is_ascii_whitespace()));
    let mut out = Zeroizing::new(Vec::with_capacity(b.len()));
    let mut i = 0;
    while i < b.len() {
        let mut c = b[i];
        i += 1;
        if c == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i).copied().and_then(hex),
                b.get(i + 1).copied().and_then(hex),
            )
        {
            c = h << 4 | l;
            i += 2;
        }
        match c {
            b'-' => out.push(b'+'),
            b'_' => out.push(b'/'),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

fn base64_error(e: base64::DecodeError) -> ImportError {
    use base64::DecodeError as E;
    let detail = match e {
        E::InvalidByte(pos, b'=') => format!("'=' at position {pos} before the end"),
        E::InvalidByte(pos, b) if b.is_ascii_graphic() => {
            format!(
                "'{}' at position {pos} is not a base64 character",
                b as char
            )
        }
        E::InvalidByte(pos, b) => {
            format!("byte 0x{b:02x} at position {pos} is not a base64 character")
        }
        E::InvalidLength(len) => {
            format!("{len} characters is not a possible length, some are missing")
        }
        E::InvalidLastSymbol(..) => "its last character does not fit, some are missing".into(),
        E::InvalidPadding => "its '=' padding is wrong".into(),
    };
    ImportError::MigrationBase64 { detail }
}

/// Decode a `MigrationPayload`. Structural damage fails the whole payload;
/// an account twofill cannot use fails only its own entry.
pub(crate) fn decode_payload(payload: &[u8]) -> Result<Imported, ImportError> {
    let mut r = Reader::new(payload);
    let mut tokens = Vec::new();
    let (mut size, mut index, mut id) = (0i32, 0i32, 0i32);
    while let Some((field, value)) = r.next_field()? {
        // int32 is the low 32 bits of the varint (negatives are sign-extended to 64).
        match (field, value) {
            (1, Value::Bytes(sub)) => tokens.push(entry(r.nested(sub))?),
            (3, Value::Varint(v)) => size = v as i32,
            (4, Value::Varint(v)) => index = v as i32,
            (5, Value::Varint(v)) => id = v as i32,
            // version (2), fields added later, and wire-type mismatches.
            _ => {}
        }
    }
    if tokens.is_empty() {
        return Err(ImportError::MigrationEmpty);
    }
    // Exports that leave the batch fields out (or fill them nonsensically)
    // still import; they just cannot say which part they are.
    let batch = (0..size).contains(&index).then_some(Batch {
        index: index as u32,
        size: size as u32,
        id,
    });
    Ok(Imported {
        tokens,
        batches: batch.into_iter().collect(),
    })
}

/// The raw fields of one `OtpParameters`, borrowed from the payload.
#[derive(Default)]
struct RawEntry<'a> {
    secret: &'a [u8],
    name: &'a [u8],
    issuer: &'a [u8],
    algorithm: i32,
    digits: i32,
    kind: i32,
    counter: u64,
}

fn entry(mut r: Reader<'_>) -> Result<Result<Token, ImportError>, ProtoError> {
    let mut e = RawEntry::default();
    while let Some((field, value)) = r.next_field()? {
        match (field, value) {
            (1, Value::Bytes(b)) => e.secret = b,
            (2, Value::Bytes(b)) => e.name = b,
            (3, Value::Bytes(b)) => e.issuer = b,
            (4, Value::Varint(v)) => e.algorithm = v as i32,
            (5, Value::Varint(v)) => e.digits = v as i32,
            (6, Value::Varint(v)) => e.kind = v as i32,
            // HOTP only: the counter of the next code. Unknown fields are skipped.
            (7, Value::Varint(v)) => e.counter = v,
            _ => {}
        }
    }
    Ok(to_token(&e))
}

fn to_token(e: &RawEntry<'_>) -> Result<Token, ImportError> {
    // Names are display text: a stray invalid byte should not block an import.
    let name = String::from_utf8_lossy(e.name);
    let issuer = String::from_utf8_lossy(e.issuer);
    let (issuer, account) = split_name(&name, &issuer);
    let label = entry_name(issuer.as_deref(), &account);
    let unknown = |field, value| ImportError::UnknownValue {
        label: label.clone(),
        field,
        value,
    };
    let kind = match e.kind {
        0 | 2 => Kind::Totp,
        1 => Kind::Hotp { counter: e.counter },
        v => return Err(unknown("type", v)),
    };
    let algorithm = match e.algorithm {
        0 | 1 => Algorithm::Sha1,
        2 => Algorithm::Sha256,
        3 => Algorithm::Sha512,
        4 => return Err(ImportError::Md5 { label }),
        v => return Err(unknown("algorithm", v)),
    };
    let digits = match e.digits {
        0 | 1 => 6,
        2 => 8,
        v => return Err(unknown("digits", v)),
    };
    let secret = Secret::from_bytes(e.secret.to_vec());
    // Same rule as `Token::from_uri`: a time-based account issued by Steam
    // gets Steam codes, whatever Google Authenticator itself displayed (Steam
    // Guard has no counter, so a HOTP account stays HOTP).
    let token = if kind == Kind::Totp
        && issuer
            .as_deref()
            .is_some_and(|i| i.eq_ignore_ascii_case("Steam"))
    {
        Token {
            kind: Kind::Steam,
            algorithm: Algorithm::Sha1,
            digits: STEAM_DIGITS,
            period: PERIOD,
            secret,
            issuer: Some("Steam".to_owned()),
            account,
        }
    } else {
        Token {
            kind,
            algorithm,
            digits,
            period: PERIOD,
            secret,
            issuer,
            account,
        }
    };
    token
        .validate()
        .map_err(|source| ImportError::InvalidEntry { label, source })?;
    Ok(token)
}

/// Split an exported `name` into (issuer, account) the way `otpauth://`
/// labels are split: `Issuer:account` gives up its prefix when the issuer
/// field is empty or names the same issuer (ASCII case-insensitively).
fn split_name(name: &str, issuer: &str) -> (Option<String>, String) {
    let name = name.trim();
    let issuer = issuer.trim();
    if !issuer.is_empty() {
        let account = name
            .get(..issuer.len())
            .filter(|head| head.eq_ignore_ascii_case(issuer))
            .and_then(|_| name[issuer.len()..].strip_prefix(':'))
            .unwrap_or(name);
        return (Some(issuer.to_owned()), account.trim().to_owned());
    }
    match name.split_once(':') {
        Some((prefix, account)) => {
            let prefix = prefix.trim();
            (
                (!prefix.is_empty()).then(|| prefix.to_owned()),
                account.trim().to_owned(),
            )
        }
        None => (None, name.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(name: &str, issuer: &str) -> (Option<&'static str>, String) {
        let (i, a) = split_name(name, issuer);
        (i.map(|s| &*s.leak()), a)
    }

    #[test]
    fn names() {
        assert_eq!(split("ACME:bob", ""), (Some("ACME"), "bob".into()));
        assert_eq!(split("ACME: bob", "ACME"), (Some("ACME"), "bob".into()));
        assert_eq!(split("acme:bob", "ACME"), (Some("ACME"), "bob".into()));
        assert_eq!(
            split("Other:bob", "ACME"),
            (Some("ACME"), "Other:bob".into())
        );
        assert_eq!(split("bob", ""), (None, "bob".into()));
        assert_eq!(split(":bob", ""), (None, "bob".into()));
        assert_eq!(split("A:B:bob", "A:B"), (Some("A:B"), "bob".into()));
        assert_eq!(split("A:b:c", ""), (Some("A"), "b:c".into()));
        // The issuer is longer than the name, or cuts a multi-byte char.
        assert_eq!(split("é", "ACME"), (Some("ACME"), "é".into()));
        assert_eq!(split("éx:bob", "e"), (Some("e"), "éx:bob".into()));
    }

    #[test]
    fn cleaning() {
        assert_eq!(&**clean_base64("ab%2Bc%2fd+e%3D"), b"ab+c/d+e=");
        assert_eq!(&**clean_base64("ab\n cd-_"), b"abcd+/");
        assert_eq!(&**clean_base64("ab%2\nF"), b"ab/");
        assert_eq!(&**clean_base64("%zz%4"), b"%zz%4");
    }
}
