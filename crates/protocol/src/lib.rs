//! The contract between the extension's service worker and the native host.
//!
//! Both sides compile this crate, so a message shape can only change in one
//! place. Every request carries the protocol version `v` and a caller-chosen
//! `id` that the reply echoes; a reply is either a result or a structured
//! [`ErrorBody`] with a stable machine-readable [`ErrorCode`].
//!
//! Requests are decoded in two steps ([`Request::decode`]): first as
//! untyped JSON, then by `type`. That lets the host answer *every* malformed
//! message with a precise error instead of a generic parse failure.

pub mod framing;

use serde::{Deserialize, Serialize};

/// Version of the message schema. Bumped on incompatible changes only.
pub const PROTOCOL_VERSION: u32 = 1;

/// Name under which the host is registered with browsers.
pub const HOST_NAME: &str = "com.twofill.host";

/// Browsers refuse host→browser frames above 1 MiB; we hold both directions
/// to the same limit so a bug or a hostile caller cannot make us allocate more.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Longest request id we echo back, so a reply can never grow past a frame.
pub const MAX_ID_CHARS: usize = 64;

/// A request from the extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub v: u32,
    pub id: String,
    #[serde(flatten)]
    pub body: RequestBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RequestBody {
    /// Liveness and version check; the reply names the host version and
    /// the user the host acts for.
    Hello,
    /// The tokens this user may use, never with seeds. With `origin`, the
    /// ones bound to it come first and are marked `bound_here`.
    ListTokens {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
    },
    /// A current code. For `purpose: fill` (the default) `origin` is
    /// required and must be the origin the *browser* reported for the
    /// requesting frame, never a value taken from page content; the token
    /// must be bound to it. `token` picks one when several fit; for `copy`
    /// and `view` (the popup) it is required and `origin` is only recorded.
    GetCode {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default)]
        purpose: CodePurpose,
    },
    /// The seed of a token: only for users with a `full-seed` grant.
    RevealSeed {
        token: String,
        #[serde(default)]
        purpose: SeedPurpose,
    },
}

/// Why a code is requested; recorded in the audit log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodePurpose {
    /// Filled into the page by the extension.
    #[default]
    Fill,
    /// Copied to the clipboard from the popup.
    Copy,
    /// Shown in the popup.
    View,
}

/// Why a seed is requested; recorded in the audit log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedPurpose {
    /// Shown as text.
    #[default]
    Reveal,
    /// Shown as a QR code to enroll another authenticator.
    Qr,
    /// Exported as an otpauth:// URI.
    Export,
}

/// A reply from the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub v: u32,
    /// Echo of the request id; `None` when the request was too broken to have one.
    pub id: Option<String>,
    #[serde(flatten)]
    pub body: ResponseBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseBody {
    Hello {
        host_version: String,
        protocol: u32,
        /// The user the host acts for (as resolved by the host).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    Tokens {
        user: String,
        tokens: Vec<TokenEntry>,
    },
    Code(CodeReply),
    Seed(SeedReply),
    Error {
        error: ErrorBody,
    },
}

/// One token in a listing: what the popup shows. Never carries the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    #[serde(flatten)]
    pub token: TokenInfo,
    /// Sites the token is bound to, e.g. `https://kaspersky.com`.
    pub sites: Vec<String>,
    /// `code-only` or `full-seed`.
    pub access: String,
    pub period: u64,
    pub digits: u32,
    /// Bound to the origin named in the request.
    pub bound_here: bool,
}

/// A seed, for full-seed holders who asked for it explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedReply {
    pub token: TokenInfo,
    /// Base32, as authenticator apps take it.
    pub secret: String,
    /// The full otpauth:// URI (for a QR code).
    pub uri: String,
}

/// A code and the window it is valid in. Never carries the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeReply {
    pub token: TokenInfo,
    pub code: String,
    /// Unix seconds; the code is valid in `[valid_from, valid_until)`.
    pub valid_from: u64,
    pub valid_until: u64,
}

/// What the extension may know about a token: enough to show and pick it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub issuer: Option<String>,
    pub account: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// Human-readable, says what to do next.
    pub message: String,
    /// For [`ErrorCode::AmbiguousToken`]: the tokens to choose from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<TokenInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not UTF-8 JSON.
    BadJson,
    /// The frame was JSON but not a valid request (missing/ill-typed field).
    BadRequest,
    /// `v` names a protocol this host does not speak.
    UnsupportedVersion,
    /// `type` is not a request this host knows.
    UnknownType,
    /// The frame's length header exceeds [`MAX_FRAME_BYTES`].
    FrameTooLarge,
    /// The browser launched the host for an extension it does not serve.
    CallerNotAllowed,
    /// The origin is not an http(s) origin the host will serve.
    BadOrigin,
    /// No token is bound to the requesting origin (or the named token is not).
    NoTokenForOrigin,
    /// Several tokens are bound to the origin and none was named.
    AmbiguousToken,
    /// Policy refuses this user the requested thing.
    NotPermitted,
    /// A fill request without the page's origin.
    OriginRequired,
    /// The named token does not exist.
    NoSuchToken,
    /// The vault could not be opened or read.
    VaultUnavailable,
    Internal,
}

impl Response {
    pub fn new(id: Option<String>, body: ResponseBody) -> Self {
        Response {
            v: PROTOCOL_VERSION,
            id,
            body,
        }
    }

    pub fn error(id: Option<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(
            id,
            ResponseBody::Error {
                error: ErrorBody {
                    code,
                    message: message.into(),
                    candidates: Vec::new(),
                },
            },
        )
    }
}

/// Why a frame could not be turned into a [`Request`]; carries the id when
/// one could be recovered so the reply can still be matched by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

impl DecodeError {
    pub fn into_response(self) -> Response {
        Response::error(self.id, self.code, self.message)
    }
}

impl Request {
    pub fn new(id: impl Into<String>, body: RequestBody) -> Self {
        Request {
            v: PROTOCOL_VERSION,
            id: id.into(),
            body,
        }
    }

    /// Decodes one frame's payload, classifying every failure.
    pub fn decode(payload: &[u8]) -> Result<Request, DecodeError> {
        let fail = |id: Option<String>, code, message: String| DecodeError { id, code, message };
        let text = std::str::from_utf8(payload).map_err(|e| {
            fail(
                None,
                ErrorCode::BadJson,
                format!("message is not UTF-8 ({e}); native messages must be UTF-8 JSON"),
            )
        })?;
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            fail(
                None,
                ErrorCode::BadJson,
                format!("message is not valid JSON: {e}"),
            )
        })?;
        let serde_json::Value::Object(map) = &value else {
            return Err(fail(
                None,
                ErrorCode::BadRequest,
                "message must be a JSON object with fields v, id and type".into(),
            ));
        };
        // Recover the id first so that every later error can be correlated.
        let id = match map.get("id") {
            Some(serde_json::Value::String(s))
                if !s.is_empty() && s.chars().count() <= MAX_ID_CHARS =>
            {
                Some(s.clone())
            }
            Some(serde_json::Value::String(_)) => {
                return Err(fail(
                    None,
                    ErrorCode::BadRequest,
                    format!("field `id` must be 1 to {MAX_ID_CHARS} characters"),
                ));
            }
            Some(_) => {
                return Err(fail(
                    None,
                    ErrorCode::BadRequest,
                    "field `id` must be a string".into(),
                ));
            }
            None => {
                return Err(fail(
                    None,
                    ErrorCode::BadRequest,
                    "missing field `id`".into(),
                ));
            }
        };
        match map.get("v") {
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(PROTOCOL_VERSION as u64) => {}
            Some(serde_json::Value::Number(n)) => {
                return Err(fail(
                    id,
                    ErrorCode::UnsupportedVersion,
                    format!(
                        "protocol version {n} is not supported; this host speaks version {PROTOCOL_VERSION}. Update the extension and the host together"
                    ),
                ));
            }
            _ => {
                return Err(fail(
                    id,
                    ErrorCode::BadRequest,
                    "field `v` (protocol version, a number) is missing or not a number".into(),
                ));
            }
        }
        let kind = match map.get("type") {
            Some(serde_json::Value::String(s)) => s.as_str(),
            _ => {
                return Err(fail(
                    id,
                    ErrorCode::BadRequest,
                    "field `type` (a string) is missing".into(),
                ));
            }
        };
        if !KNOWN_REQUEST_TYPES.contains(&kind) {
            return Err(fail(
                id,
                ErrorCode::UnknownType,
                format!(
                    "unknown request type `{}`; known types: {}",
                    truncate(kind, 40),
                    KNOWN_REQUEST_TYPES.join(", ")
                ),
            ));
        }
        serde_json::from_value::<Request>(value.clone()).map_err(|e| {
            fail(
                id,
                ErrorCode::BadRequest,
                format!("invalid `{kind}` request: {e}"),
            )
        })
    }
}

const KNOWN_REQUEST_TYPES: &[&str] = &["hello", "list_tokens", "get_code", "reveal_seed"];

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<Request, DecodeError> {
        Request::decode(s.as_bytes())
    }

    #[test]
    fn get_code_round_trips() {
        let req = Request::new(
            "r1",
            RequestBody::GetCode {
                origin: Some("https://my.kaspersky.com".into()),
                token: None,
                purpose: CodePurpose::Fill,
            },
        );
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"id":"r1","type":"get_code","origin":"https://my.kaspersky.com","purpose":"fill"}"#
        );
        assert_eq!(decode(&json).unwrap(), req);
    }

    #[test]
    fn hello_round_trips() {
        let req = decode(r#"{"v":1,"id":"x","type":"hello"}"#).unwrap();
        assert_eq!(req.body, RequestBody::Hello);
    }

    #[test]
    fn every_malformed_message_is_classified() {
        let cases: &[(&[u8], ErrorCode, Option<&str>)] = &[
            (b"\xff\xfe", ErrorCode::BadJson, None),
            (b"{not json", ErrorCode::BadJson, None),
            (b"[1,2]", ErrorCode::BadRequest, None),
            (br#"{"v":1,"type":"hello"}"#, ErrorCode::BadRequest, None),
            (
                br#"{"v":1,"id":7,"type":"hello"}"#,
                ErrorCode::BadRequest,
                None,
            ),
            (
                br#"{"v":1,"id":"","type":"hello"}"#,
                ErrorCode::BadRequest,
                None,
            ),
            (
                br#"{"id":"a","type":"hello"}"#,
                ErrorCode::BadRequest,
                Some("a"),
            ),
            (
                br#"{"v":"1","id":"a","type":"hello"}"#,
                ErrorCode::BadRequest,
                Some("a"),
            ),
            (
                br#"{"v":2,"id":"a","type":"hello"}"#,
                ErrorCode::UnsupportedVersion,
                Some("a"),
            ),
            (br#"{"v":1,"id":"a"}"#, ErrorCode::BadRequest, Some("a")),
            (
                br#"{"v":1,"id":"a","type":"get_seed"}"#,
                ErrorCode::UnknownType,
                Some("a"),
            ),
            (
                br#"{"v":1,"id":"a","type":"reveal_seed"}"#,
                ErrorCode::BadRequest,
                Some("a"),
            ),
            (
                br#"{"v":1,"id":"a","type":"get_code","origin":5}"#,
                ErrorCode::BadRequest,
                Some("a"),
            ),
            (
                br#"{"v":1,"id":"a","type":"get_code","origin":"https://x","extra":1}"#,
                ErrorCode::BadRequest,
                Some("a"),
            ),
        ];
        for (input, code, id) in cases {
            let err = Request::decode(input).unwrap_err();
            assert_eq!(
                err.code,
                *code,
                "input {:?}: {}",
                String::from_utf8_lossy(input),
                err.message
            );
            assert_eq!(
                err.id.as_deref(),
                *id,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
            assert!(!err.message.is_empty());
        }
    }

    #[test]
    fn overlong_id_is_rejected_not_echoed() {
        let id = "x".repeat(MAX_ID_CHARS + 1);
        let err = decode(&format!(r#"{{"v":1,"id":"{id}","type":"hello"}}"#)).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadRequest);
        assert_eq!(err.id, None);
    }

    #[test]
    fn error_reply_shape_is_stable() {
        let resp = Response::error(
            Some("a".into()),
            ErrorCode::NoTokenForOrigin,
            "nothing here",
        );
        assert_eq!(
            serde_json::to_string(&resp).unwrap(),
            r#"{"v":1,"id":"a","type":"error","error":{"code":"no_token_for_origin","message":"nothing here"}}"#
        );
    }
}
