//! Hand-rolled `otpauth://` parser and writer.
//!
//! A real URL parser (`url` + idna) would multiply the wasm size by ten and
//! still not give us the otpauth-specific leniency (case-insensitive scheme,
//! `Issuer: account` labels, `+` in the label) or strictness (duplicate
//! parameters) we want, so the grammar is parsed directly here.

use zeroize::Zeroizing;

use crate::error::echo;
use crate::{Algorithm, Kind, MAX_URI_LEN, MIN_SECRET_BYTES, OtpError, Secret, Token, TokenKind};

const SCHEME: &str = "otpauth://";
const STEAM_ISSUER: &str = "Steam";

/// Percent-decode `s`. An invalid escape (`%zz`, trailing `%`) is kept
/// literally, as browsers do, rather than failing the whole paste.
fn percent_decode(s: &str, plus_as_space: bool, what: &'static str) -> Result<String, OtpError> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    // Never longer than the input: no reallocation, so decoding a secret
    // leaves no unzeroed copy behind.
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => match (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_as_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|e| {
        drop(Zeroizing::new(e.into_bytes()));
        OtpError::InvalidEncoding(what)
    })
}

/// Percent-encode everything but RFC 3986 unreserved characters and `@`
/// (kept readable, as authenticator apps and Google's examples do). `+`,
/// `:`, `&`, `=` and spaces are always escaped so the output re-parses
/// unambiguously.
fn percent_encode(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Known query parameters, collected before interpretation so that
/// duplicates can be rejected whatever their order.
#[derive(Default)]
struct Params {
    secret: Option<Zeroizing<String>>,
    issuer: Option<String>,
    algorithm: Option<String>,
    digits: Option<String>,
    period: Option<String>,
    encoder: Option<String>,
    counter: Option<String>,
}

fn parse_params(query: &str) -> Result<Params, OtpError> {
    let mut p = Params::default();
    for pair in query.split('&').filter(|s| !s.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(raw_key, true, "parameter name")?.to_ascii_lowercase();
        let duplicate = || OtpError::DuplicateParam(key.clone());
        if key == "secret" {
            let v = Zeroizing::new(percent_decode(raw_value, true, "secret")?);
            if p.secret.replace(v).is_some() {
                return Err(duplicate());
            }
            continue;
        }
        let (slot, what) = match key.as_str() {
            "issuer" => (&mut p.issuer, "issuer"),
            "algorithm" => (&mut p.algorithm, "algorithm"),
            "digits" => (&mut p.digits, "digits"),
            "period" => (&mut p.period, "period"),
            "encoder" => (&mut p.encoder, "encoder"),
            "counter" => (&mut p.counter, "counter"),
            // Unknown parameters (image=, vendor extensions) are harmless.
            _ => continue,
        };
        if slot
            .replace(percent_decode(raw_value, true, what)?)
            .is_some()
        {
            return Err(duplicate());
        }
    }
    Ok(p)
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Split a decoded label into (issuer prefix, account).
fn split_label(label: &str, param_issuer: Option<&str>) -> (Option<String>, String) {
    // An issuer that itself contains ':' can only round-trip if we match the
    // whole `issuer=` value as the prefix before falling back to the first ':'.
    if let Some(rest) = param_issuer
        .filter(|p| p.contains(':'))
        .and_then(|p| label.strip_prefix(p))
        .and_then(|r| r.strip_prefix(':'))
    {
        return (param_issuer.map(str::to_owned), rest.trim().to_owned());
    }
    match label.split_once(':') {
        Some((issuer, account)) => (non_empty(issuer), account.trim().to_owned()),
        None => (None, label.trim().to_owned()),
    }
}

pub(crate) fn parse(uri: &str) -> Result<Token, OtpError> {
    let len = uri.chars().count();
    if len > MAX_URI_LEN {
        return Err(OtpError::UriTooLong {
            len,
            max: MAX_URI_LEN,
        });
    }
    let rest = strip_prefix_ignore_ascii_case(uri.trim(), SCHEME).ok_or(OtpError::NotOtpauth)?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (kind_str, raw_label) = path.split_once('/').unwrap_or((path, ""));

    let host = TokenKind::ALL
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(kind_str))
        .ok_or_else(|| OtpError::UnknownType(echo(kind_str)))?;

    let label = percent_decode(raw_label, false, "account name")?;
    let params = parse_params(query)?;

    let param_issuer = params.issuer.as_deref().and_then(non_empty);
    let (label_issuer, account) = split_label(&label, param_issuer.as_deref());
    // The issuer= parameter wins: it is what the service explicitly set,
    // whereas labels are often user-editable display text.
    let issuer = param_issuer.or(label_issuer);

    let algorithm_is_steam = params
        .algorithm
        .as_deref()
        .is_some_and(|a| a.trim().eq_ignore_ascii_case("steam"));
    let algorithm = match params.algorithm.as_deref() {
        Some(_) if algorithm_is_steam => Algorithm::Sha1,
        Some(a) => a.trim().parse()?,
        None => Algorithm::Sha1,
    };

    let kind = if host == TokenKind::Hotp {
        // A counter-based link stays counter-based whatever its issuer: Steam
        // Guard is time-based, so a Steam-looking HOTP link is just HOTP.
        if algorithm_is_steam {
            return Err(OtpError::UnsupportedAlgorithm(echo("steam")));
        }
        let counter = params.counter.as_deref().ok_or(OtpError::MissingCounter)?;
        Kind::Hotp {
            counter: counter
                .trim()
                .parse::<u64>()
                .map_err(|_| OtpError::InvalidCounter(echo(counter)))?,
        }
    } else if host == TokenKind::Steam
        || algorithm_is_steam
        || params
            .encoder
            .as_deref()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("steam"))
        || issuer
            .as_deref()
            .is_some_and(|i| i.eq_ignore_ascii_case(STEAM_ISSUER))
    {
        Kind::Steam
    } else {
        Kind::Totp
    };

    let period = match params.period.as_deref() {
        // Meaningless for a counter; kept at the default so equal tokens compare equal.
        _ if matches!(kind, Kind::Hotp { .. }) => 30,
        None => 30,
        Some(p) => p
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|p| (1..=3600).contains(p))
            .ok_or_else(|| OtpError::InvalidPeriod(echo(p)))?,
    };

    let secret_text = params.secret.ok_or(OtpError::MissingSecret)?;
    let secret = Secret::from_base32(&secret_text)?;
    drop(secret_text);
    if secret.as_bytes().len() < MIN_SECRET_BYTES {
        return Err(OtpError::SecretTooShort {
            bytes: secret.as_bytes().len(),
        });
    }

    Ok(match kind {
        // Steam fixes the hash and length; whatever algorithm=/digits= say
        // is ignored, as every Steam-aware authenticator does.
        Kind::Steam => Token {
            kind,
            algorithm: Algorithm::Sha1,
            digits: crate::STEAM_DIGITS,
            period,
            secret,
            issuer: Some(STEAM_ISSUER.to_owned()),
            account,
        },
        Kind::Totp | Kind::Hotp { .. } => {
            let digits = match params.digits.as_deref() {
                None => 6,
                Some(d) => d
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|d| (6..=10).contains(d))
                    .ok_or_else(|| OtpError::InvalidDigits(echo(d)))?,
            };
            Token {
                kind,
                algorithm,
                digits,
                period,
                secret,
                issuer,
                account,
            }
        }
    })
}

pub(crate) fn write(token: &Token) -> String {
    let issuer = match token.kind {
        Kind::Steam => Some(STEAM_ISSUER),
        Kind::Totp | Kind::Hotp { .. } => token.issuer.as_deref().filter(|i| !i.trim().is_empty()),
    };
    // Steam links are written as TOTP with `encoder=steam`, which more apps read.
    let host = match token.kind {
        Kind::Hotp { .. } => TokenKind::Hotp,
        Kind::Totp | Kind::Steam => TokenKind::Totp,
    };
    let mut s = format!("{SCHEME}{host}/");
    match issuer {
        Some(i) => {
            percent_encode(i, &mut s);
            s.push(':');
        }
        // A bare "a:b" label would re-parse as issuer "a"; an empty prefix keeps
        // the whole thing as the account.
        None if token.account.contains(':') => s.push(':'),
        None => {}
    }
    percent_encode(&token.account, &mut s);
    s.push_str("?secret=");
    s.push_str(&token.secret.to_base32());
    if let Some(i) = issuer {
        s.push_str("&issuer=");
        percent_encode(i, &mut s);
    }
    match token.kind {
        Kind::Steam => {
            s.push_str("&encoder=steam");
            if token.period != 30 {
                s.push_str(&format!("&period={}", token.period));
            }
        }
        Kind::Totp => s.push_str(&format!(
            "&algorithm={}&digits={}&period={}",
            token.algorithm, token.digits, token.period
        )),
        Kind::Hotp { counter } => s.push_str(&format!(
            "&algorithm={}&digits={}&counter={counter}",
            token.algorithm, token.digits
        )),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decode_basics() {
        assert_eq!(percent_decode("a%20b", false, "x").unwrap(), "a b");
        assert_eq!(percent_decode("a+b", false, "x").unwrap(), "a+b");
        assert_eq!(percent_decode("a+b", true, "x").unwrap(), "a b");
        assert_eq!(percent_decode("%3a%3A", false, "x").unwrap(), "::");
        assert_eq!(percent_decode("%C3%A9", false, "x").unwrap(), "é");
        // Invalid escapes are kept literally.
        assert_eq!(percent_decode("100%", false, "x").unwrap(), "100%");
        assert_eq!(percent_decode("%zz%4", false, "x").unwrap(), "%zz%4");
        assert_eq!(
            percent_decode("%FF", false, "issuer").unwrap_err(),
            OtpError::InvalidEncoding("issuer")
        );
    }

    #[test]
    fn percent_encode_reserved() {
        let mut s = String::new();
        percent_encode("a b+c:d&e=f@g.h~é", &mut s);
        assert_eq!(s, "a%20b%2Bc%3Ad%26e%3Df@g.h~%C3%A9");
        assert_eq!(percent_decode(&s, true, "x").unwrap(), "a b+c:d&e=f@g.h~é");
    }

    #[test]
    fn label_split() {
        assert_eq!(
            split_label("ACME: bob", None),
            (Some("ACME".into()), "bob".into())
        );
        assert_eq!(split_label("bob", None), (None, "bob".into()));
        assert_eq!(split_label(":a:b", None), (None, "a:b".into()));
        assert_eq!(
            split_label("A:B:bob", Some("A:B")),
            (Some("A:B".into()), "bob".into())
        );
    }
}
