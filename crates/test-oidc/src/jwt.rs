//! Reading a JWT's parts without verifying it (tests look at what the provider issued; verifying is the
//! code under test's job).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// A JWT split into its decoded header and payload and its raw signature part.
#[derive(Clone, Debug)]
pub struct Parts {
    pub header: Value,
    pub payload: Value,
    pub signature: String,
}

/// Decodes a compact JWS; `None` when it is not three base64url JSON parts.
pub fn decode(token: &str) -> Option<Parts> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = |part: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    Some(Parts {
        header: json(header)?,
        payload: json(payload)?,
        signature: signature.to_owned(),
    })
}

/// Re-encodes a header and payload with the given signature part (for building tampered or `alg: none` tokens).
pub fn encode(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    )
}
