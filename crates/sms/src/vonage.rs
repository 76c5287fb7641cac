//! Vonage (Nexmo) signed inbound SMS.
//!
//! Vonage signs with the account's signature secret, by the method chosen
//! in its dashboard: drop `sig`, sort the rest by key, join as
//! `&key=value` with `&` and `=` inside values replaced by `_`; then
//! `md5hash` is hex MD5 of that string followed by the secret, and the
//! HMAC methods are hex HMAC(secret, string). Hex is compared in either
//! case. The signed `timestamp` (unix seconds) must be fresh: Vonage
//! retries for 24 hours, but each retry is signed anew.

use serde_json::Value;

use crate::params::{Params, parse_form, single};
use crate::{
    DEFAULT_FRESHNESS_SECS, E164, InboundSms, IntakeError, Provider, Segment, Sender, check_fresh,
    checked_body, mac,
};

const SIG: &str = "sig";
const SIGNATURE_WHAT: &str = "`sig` parameter";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureMethod {
    Md5Hash,
    HmacMd5,
    HmacSha1,
    HmacSha256,
    HmacSha512,
}

impl SignatureMethod {
    /// The names Vonage's dashboard and SDKs use.
    pub fn parse(name: &str) -> Option<SignatureMethod> {
        Some(match name.to_ascii_lowercase().as_str() {
            "md5hash" => SignatureMethod::Md5Hash,
            "md5" => SignatureMethod::HmacMd5,
            "sha1" => SignatureMethod::HmacSha1,
            "sha256" => SignatureMethod::HmacSha256,
            "sha512" => SignatureMethod::HmacSha512,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct VonageConfig {
    pub signature_secret: String,
    pub method: SignatureMethod,
    pub freshness_secs: u64,
}

impl VonageConfig {
    pub fn new(signature_secret: impl Into<String>, method: SignatureMethod) -> VonageConfig {
        VonageConfig {
            signature_secret: signature_secret.into(),
            method,
            freshness_secs: DEFAULT_FRESHNESS_SECS,
        }
    }
}

/// The string Vonage signs: every parameter but `sig`, sorted by key.
fn signed_string(params: &Params) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != SIG).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (key, value) in sorted {
        out.push('&');
        out.push_str(key);
        out.push('=');
        out.push_str(&value.replace(['&', '='], "_"));
    }
    out
}

fn digest(method: SignatureMethod, secret: &str, signed: &str) -> Vec<u8> {
    let (key, msg) = (secret.as_bytes(), signed.as_bytes());
    match method {
        SignatureMethod::Md5Hash => mac::md5(format!("{signed}{secret}").as_bytes()),
        SignatureMethod::HmacMd5 => mac::hmac_md5(key, msg),
        SignatureMethod::HmacSha1 => mac::hmac_sha1(key, msg),
        SignatureMethod::HmacSha256 => mac::hmac_sha256(key, msg),
        SignatureMethod::HmacSha512 => mac::hmac_sha512(key, msg),
    }
}

/// Check `sig` and the signed timestamp's freshness.
pub fn verify(params: &Params, config: &VonageConfig, now: u64) -> Result<(), IntakeError> {
    let mut keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if let Some(pair) = keys.windows(2).find(|w| w[0] == w[1]) {
        // The scheme signs one value per key; two would be ambiguous.
        return Err(IntakeError::DuplicateField(pair[0].to_owned()));
    }
    let given = match single(params, SIG) {
        Ok(sig) => sig,
        Err(IntakeError::MissingField(_)) => {
            return Err(IntakeError::MissingSignature {
                header: SIGNATURE_WHAT,
            });
        }
        Err(e) => return Err(e),
    };
    let expected = digest(
        config.method,
        &config.signature_secret,
        &signed_string(params),
    );
    if !mac::same_hex(&expected, given) {
        return Err(IntakeError::BadSignature {
            header: SIGNATURE_WHAT,
        });
    }
    let stamp = single(params, "timestamp")?;
    let stamp: u64 = stamp.parse().map_err(|_| IntakeError::InvalidField {
        field: "timestamp",
        reason: "expected unix seconds".into(),
    })?;
    check_fresh(stamp, now, config.freshness_secs)
}

/// A form-encoded POST body or a GET query string (Vonage's two
/// non-JSON methods).
pub fn inbound_form(
    body: &[u8],
    config: &VonageConfig,
    now: u64,
) -> Result<InboundSms, IntakeError> {
    let text = checked_body(body)?;
    let params = parse_form(text.strip_prefix('?').unwrap_or(text));
    inbound(&params, config, now)
}

/// A POST-JSON body: a flat object; strings, numbers and booleans are
/// signed as their text.
pub fn inbound_json(
    body: &[u8],
    config: &VonageConfig,
    now: u64,
) -> Result<InboundSms, IntakeError> {
    let text = checked_body(body)?;
    let malformed = |reason: String| IntakeError::Malformed {
        expected: "a JSON object",
        reason,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(malformed("the body is not an object".into()));
    };
    let mut params = Params::new();
    for (key, value) in map {
        let value = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(malformed(format!("`{key}` is not a string or number"))),
        };
        params.push((key, value));
    }
    inbound(&params, config, now)
}

/// `concat=true` with `concat-ref`, `concat-part` and `concat-total`.
fn segment(params: &Params) -> Result<Option<Segment>, IntakeError> {
    if single(params, "concat").ok() != Some("true") {
        return Ok(None);
    }
    let number = |field: &'static str| -> Result<u32, IntakeError> {
        single(params, field)?
            .parse()
            .map_err(|_| IntakeError::InvalidField {
                field,
                reason: "expected a number".into(),
            })
    };
    let (part, total) = (number("concat-part")?, number("concat-total")?);
    if part == 0 || part > total {
        return Err(IntakeError::InvalidField {
            field: "concat-part",
            reason: format!("part {part} of {total}"),
        });
    }
    Ok(Some(Segment {
        reference: single(params, "concat-ref")?.to_owned(),
        part,
        total,
    }))
}

fn inbound(params: &Params, config: &VonageConfig, now: u64) -> Result<InboundSms, IntakeError> {
    verify(params, config, now)?;
    let kind = single(params, "type")?;
    if !matches!(kind, "text" | "unicode") {
        return Err(IntakeError::Unsupported(format!(
            "a `{kind}` message (only text and unicode SMS carry text)"
        )));
    }
    let message_id = single(params, "messageId")?;
    if message_id.is_empty() || message_id.len() > 64 {
        return Err(IntakeError::InvalidField {
            field: "messageId",
            reason: "expected 1 to 64 characters".into(),
        });
    }
    let from = Sender::parse(single(params, "msisdn")?).map_err(|e| e.field("msisdn"))?;
    let to = E164::parse(single(params, "to")?).map_err(|e| e.field("to"))?;
    let stamp = single(params, "timestamp")?.parse().ok();
    Ok(InboundSms {
        provider: Provider::Vonage,
        message_id: message_id.to_owned(),
        from,
        to,
        text: single(params, "text")?.to_owned(),
        received_at: now,
        provider_timestamp: stamp,
        segment: segment(params)?,
    })
}
