//! Twilio inbound SMS webhooks and `X-Twilio-Signature`.
//!
//! The signed string is the full URL Twilio was configured with (query
//! included), then for each parameter name in sorted order, each of its
//! distinct values in sorted order, `name + value`; the signature is
//! base64(HMAC-SHA1(auth token, string)). As Twilio's SDK validators do
//! (`twilio-python` `RequestValidator.validate`, `twilio-node`
//! `validateRequest`), the URL is tried both with an explicit port (the
//! scheme's default added when there is none) and with none, because
//! Twilio's signing side is not consistent about it. A JSON body is signed
//! with no parameters and covered by `bodySHA256` (hex SHA-256) in the URL's
//! query instead.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::params::{Params, parse_form, query_of, single};
use crate::{InboundSms, IntakeError, Provider, Sender, checked_body, mac};

pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";
const SIGNATURE_WHAT: &str = "X-Twilio-Signature header";
const BODY_HASH_PARAM: &str = "bodySHA256";

/// The signature Twilio computes for `url` and `params`.
pub fn signature(url: &str, params: &[(String, String)], auth_token: &str) -> String {
    let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut signed = url.to_owned();
    for name in names {
        let mut values: Vec<&str> = params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        // As the SDKs do: each distinct value once, in sorted order.
        values.sort_unstable();
        values.dedup();
        for value in values {
            signed.push_str(name);
            signed.push_str(value);
        }
    }
    STANDARD.encode(mac::hmac_sha1(auth_token.as_bytes(), signed.as_bytes()))
}

/// Check a form-encoded webhook; its parameters once it verified.
pub fn verify_form(
    url: &str,
    body: &[u8],
    signature_header: Option<&str>,
    auth_token: &str,
) -> Result<Params, IntakeError> {
    let text = checked_body(body)?;
    let given = signature_header.ok_or(IntakeError::MissingSignature {
        header: SIGNATURE_WHAT,
    })?;
    let params = parse_form(text);
    check_signature(url, &params, given, auth_token)?;
    Ok(params)
}

/// Check a JSON-body webhook: the URL's `bodySHA256` must be the body's
/// hash, and the URL alone (no parameters) is signed.
pub fn verify_json(
    url: &str,
    body: &[u8],
    signature_header: Option<&str>,
    auth_token: &str,
) -> Result<(), IntakeError> {
    if body.len() > crate::MAX_BODY_BYTES {
        return Err(IntakeError::TooLarge {
            len: body.len(),
            max: crate::MAX_BODY_BYTES,
        });
    }
    let given = signature_header.ok_or(IntakeError::MissingSignature {
        header: SIGNATURE_WHAT,
    })?;
    let query = query_of(url);
    // Without it nothing covers the body: as unsigned as no signature.
    let claimed = single(&query, BODY_HASH_PARAM).map_err(|_| IntakeError::MissingSignature {
        header: "bodySHA256 query parameter",
    })?;
    check_signature(url, &[], given, auth_token)?;
    if !mac::same_hex(&mac::sha256(body), claimed) {
        return Err(IntakeError::BadSignature {
            header: "bodySHA256 query parameter",
        });
    }
    Ok(())
}

/// Verify and read an inbound SMS webhook (form-encoded, as Twilio sends
/// them): `MessageSid`, `From`, `To`, `Body`.
pub fn inbound_sms(
    url: &str,
    body: &[u8],
    signature_header: Option<&str>,
    auth_token: &str,
    now: u64,
) -> Result<InboundSms, IntakeError> {
    let params = verify_form(url, body, signature_header, auth_token)?;
    let message_id = single(&params, "MessageSid")?;
    if message_id.is_empty() || !message_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(IntakeError::InvalidField {
            field: "MessageSid",
            reason: "expected letters and digits (SM…)".into(),
        });
    }
    let from = Sender::parse(single(&params, "From")?).map_err(|e| e.field("From"))?;
    let to = crate::E164::parse(single(&params, "To")?).map_err(|e| e.field("To"))?;
    Ok(InboundSms {
        provider: Provider::Twilio,
        message_id: message_id.to_owned(),
        from,
        to,
        text: single(&params, "Body")?.to_owned(),
        received_at: now,
        provider_timestamp: None,
        segment: None,
    })
}

fn check_signature(
    url: &str,
    params: &[(String, String)],
    given: &str,
    auth_token: &str,
) -> Result<(), IntakeError> {
    let (with_port, without_port) = port_variants(url)?;
    let given = given.trim().as_bytes();
    // Both are computed and compared, so timing does not tell which form matched.
    let a = mac::same(signature(&with_port, params, auth_token).as_bytes(), given);
    let b = mac::same(
        signature(&without_port, params, auth_token).as_bytes(),
        given,
    );
    if a | b {
        Ok(())
    } else {
        Err(IntakeError::BadSignature {
            header: SIGNATURE_WHAT,
        })
    }
}

/// `url` with an explicit port (the scheme's default added if it has none)
/// and with no port at all.
fn port_variants(url: &str) -> Result<(String, String), IntakeError> {
    let bad = |reason: &str| IntakeError::InvalidField {
        field: "webhook URL",
        reason: format!("{reason} (configure the full https:// URL Twilio posts to)"),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return Err(bad("the scheme is neither https nor http")),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    // An IPv6 literal's colons are inside its brackets.
    let host_end = match hostport.strip_prefix('[') {
        Some(inner) => inner
            .find(']')
            .map(|i| i + 2)
            .ok_or_else(|| bad("unclosed ["))?,
        None => hostport.find(':').unwrap_or(hostport.len()),
    };
    let (host, port) = hostport.split_at(host_end);
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = port.strip_prefix(':').unwrap_or(port);
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the port is not a number"));
    }
    let port = if port.is_empty() { default_port } else { port };
    Ok((
        format!("{scheme}://{userinfo}{host}:{port}{tail}"),
        format!("{scheme}://{userinfo}{host}{tail}"),
    ))
}
