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
/// A token's access level travels as its words' text (`code-only`,
/// `full-seed`): the same JSON the host always sent.
pub use twofill_words::Access;
/// Name under which the host is registered with browsers.
pub use twofill_words::HOST_NAME;
/// A token's kind travels as its words' text (`totp`, `hotp`, `steam`).
pub use twofill_words::TokenKind;

/// Version of the message schema. Bumped on incompatible changes only.
pub const PROTOCOL_VERSION: u32 = 1;

/// Browsers refuse host→browser frames above 1 MiB; we hold both directions
/// to the same limit so a bug or a hostile caller cannot make us allocate more.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Longest request id we echo back, so a reply can never grow past a frame.
pub const MAX_ID_CHARS: usize = 64;

/// Longest token id a request may name (vault ids are 12 hex digits); longer
/// ones are refused before they reach the vault, its audit log or a reply.
pub const MAX_TOKEN_ID_CHARS: usize = 64;

/// Longest `origin` a request may carry. Browser origins are far shorter
/// (a host name is at most 253 characters).
pub const MAX_ORIGIN_CHARS: usize = 1024;

/// Longest error message in a decode error: parser messages can quote the
/// input (`unknown variant `…``), and a reply must stay far below a frame.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 512;

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
    /// the user the host acts for. A struct variant with no fields (not a
    /// unit variant, which serde lets carry any fields) so that unknown
    /// fields are refused here as in every other request.
    Hello {},
    /// The tokens this user may use, never with seeds. With `origin`, the
    /// ones bound to it come first and are marked `bound_here`. The user's
    /// personal tokens are included (marked `personal`) unless
    /// `exclude_personal` is set or the host's policy forbids them.
    ListTokens {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
        /// Treat the user's personal tokens as absent (the extension's
        /// `AllowPersonalTokens: false` policy). Sent only when true.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        exclude_personal: bool,
    },
    /// A current code. For `purpose: fill` (the default) `origin` is
    /// required and must be the origin the *browser* reported for the
    /// requesting frame, never a value taken from page content; the token
    /// must be bound to it. `token` picks one when several fit; for `copy`
    /// and `view` (the popup) it is required and `origin` is only recorded.
    /// With `exclude_personal` the user's personal tokens are treated as
    /// absent: a fill never picks one, and naming one is `no_such_token`
    /// (`no_token_for_origin` for a fill).
    GetCode {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default)]
        purpose: CodePurpose,
        /// As for `list_tokens`. Sent only when true.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        exclude_personal: bool,
    },
    /// The seed of a token: only for users with a `full-seed` grant.
    RevealSeed {
        token: String,
        #[serde(default)]
        purpose: SeedPurpose,
    },
    /// One unused recovery (backup) code of a token: only for users with a
    /// `full-seed` grant (or the owner of a personal token). Single-use:
    /// the host marks it used, on record, before replying; asking again
    /// gives another one.
    TakeRecoveryCode { token: String },
    /// Team server with single sign-on: the popup's "Sign in to <org>".
    /// The host starts `twofill-host login` on its own (the system browser
    /// opens at the organization's sign-in page) and answers at once with
    /// [`ResponseBody::LoginStarted`]; the popup asks again afterwards.
    /// `fresh` (step-up, after `sign_in_again`) asks the provider to make
    /// the person sign in anew rather than reuse its browser session.
    StartLogin {
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        fresh: bool,
    },
    /// Team server: the code of an SMS received at or after `since_ms` (ms
    /// since the epoch: when the SMS prompt appeared, less a short grace)
    /// in an inbox bound to `origin` (the origin the *browser* reported)
    /// and granted to this user. The host waits up to `timeout_ms`, at most
    /// [`MAX_SMS_WAIT_PER_ASK_MS`]; a longer wait asks again with the same
    /// `since_ms` (and stops when the prompt goes away). An older code is
    /// never offered; an origin-bound one only on its origin.
    WaitForSms {
        origin: String,
        since_ms: i64,
        timeout_ms: u64,
    },
}

/// The longest one `wait_for_sms` is held by the host (below the host's
/// own per-request limit to the server).
pub const MAX_SMS_WAIT_PER_ASK_MS: u64 = 8_000;

/// An SMS inbox's code for a page. Never carries the message's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsCodeReply {
    pub code: String,
    pub received_at_ms: i64,
    /// The inbox's number (E.164).
    pub inbox: String,
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
        /// A system (IT-managed) host config is in force; users cannot
        /// override it.
        #[serde(default)]
        managed: bool,
        /// Names of the SIEM sinks the audit log is streamed to, from the
        /// config in force (a sink's `name`, or its kind when it has none).
        #[serde(default)]
        audit_sinks: Vec<String>,
        /// The organization policy the host enforces.
        #[serde(default)]
        policy: HostPolicy,
        /// Team server mode: the server the host asks for codes (its URL);
        /// `None` when the host answers from a local vault.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server: Option<String>,
    },
    Tokens {
        user: String,
        tokens: Vec<TokenEntry>,
    },
    Code(CodeReply),
    Seed(SeedReply),
    RecoveryCode(RecoveryCodeReply),
    /// `start_login`: the sign-in runs in the system browser now.
    LoginStarted,
    /// `wait_for_sms`: the code, or `None` when the wait ran out.
    SmsCode {
        code: Option<SmsCodeReply>,
    },
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
    pub access: Access,
    pub period: u64,
    pub digits: u32,
    /// How its codes advance: `hotp` tokens get a new code per request (no
    /// countdown, `period` means nothing); absent from older hosts, which
    /// had time-based tokens only.
    #[serde(default)]
    pub kind: TokenKind,
    /// Bound to the origin named in the request.
    pub bound_here: bool,
    /// The user's own personal token (enrolled by them, shared with nobody;
    /// `access` is then `full-seed`). `false` for tokens the organization shares.
    #[serde(default)]
    pub personal: bool,
    /// For `full-seed` entries with recovery codes attached: how many are
    /// unused (`take_recovery_code` gives one). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<u32>,
}

/// What the host's organization policy allows (the `[policy]` table of the
/// host config). The host enforces it whatever the extension does; the
/// extension uses it to hide what would be refused anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostPolicy {
    /// Users may enroll and use personal tokens.
    pub allow_personal_tokens: bool,
    /// `reveal_seed` may be granted at all (still only to full-seed holders
    /// and owners of personal tokens).
    pub allow_seed_reveal: bool,
}

impl Default for HostPolicy {
    fn default() -> Self {
        HostPolicy {
            allow_personal_tokens: true,
            allow_seed_reveal: true,
        }
    }
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

/// A single-use recovery code, already marked used (and on record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryCodeReply {
    pub token: TokenInfo,
    pub code: String,
    /// Unused codes left after this one.
    pub remaining: u32,
}

/// A code and the window it is valid in. Never carries the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeReply {
    pub token: TokenInfo,
    pub code: String,
    /// Unix seconds; the code is valid in `[valid_from, valid_until)`. For a
    /// HOTP code (with `counter`) the window is only how long it is worth
    /// showing: the service accepts it until a later one is used.
    pub valid_from: u64,
    pub valid_until: u64,
    /// A HOTP code's counter, the one it was computed from (the token's next
    /// code uses a higher one). Absent for time-based codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
}

/// What the extension may know about a token: enough to show and pick it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub issuer: Option<String>,
    pub account: String,
}

impl TokenInfo {
    /// How the token is named to people ([`twofill_words::token_label`]).
    pub fn label(&self) -> String {
        twofill_words::token_label(self.issuer.as_deref(), &self.account)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// Human-readable, says what to do next.
    pub message: String,
    /// For [`ErrorCode::AmbiguousToken`]: the tokens to choose from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<TokenInfo>,
    /// For [`ErrorCode::RateLimited`]: milliseconds until a request for the
    /// same origin can succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// For [`ErrorCode::SignedOut`], [`ErrorCode::SessionExpired`] and
    /// [`ErrorCode::SignInAgain`]: the organization to sign in to, when
    /// known ("Sign in to <org>").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
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
    /// The vault's authorization data (grants, bindings, admin flags,
    /// memberships, token owners) was changed outside twofill: nothing is
    /// decided from it until it is restored from a backup.
    VaultTampered,
    /// Too many codes for this origin recently; `retry_after_ms` says when
    /// to try again.
    RateLimited,
    /// Team server mode: this laptop has no device certificate (run
    /// `twofill-host join` with an invite), or the server no longer knows it.
    DeviceNotEnrolled,
    /// Team server mode: the server refused this device's certificate,
    /// which it had accepted before (an admin revoked it).
    DeviceRevoked,
    /// Team server mode: the host could not reach the server, or the server
    /// was not the one this device pinned.
    ServerUnreachable,
    /// An invite that is unknown, expired or already used.
    InviteInvalid,
    /// A request body over the server's limit.
    PayloadTooLarge,
    /// A HOTP (counter-based) token's code asked of a vault that is not the
    /// team server's: a counter cannot be shared between vaults.
    HotpNeedsServer,
    /// The token has no unused recovery codes (an admin attaches new ones).
    NoRecoveryCodes,
    /// Team server with single sign-on: this device has no session (never
    /// signed in, signed out, or the server no longer knows its ticket), or
    /// the organization requires a sign-in: run `twofill-host login`.
    SignedOut,
    /// The session's ticket ran out and could not be refreshed: sign in again.
    SessionExpired,
    /// Step-up: this needs a sign-in more recent than the organization
    /// allows (seed reveals), or the session reached its maximum age.
    SignInAgain,
    /// Device sign-in: the user has not approved it yet; keep polling.
    SsoPending,
    /// Device sign-in: polling too fast; wait longer between polls.
    SsoSlowDown,
    /// The identity provider or its token was refused; the message says
    /// why, without the token's contents.
    SsoRefused,
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
                    retry_after_ms: None,
                    org: None,
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
    ///
    /// Hostile input is expected: nesting deeper than serde_json's limit
    /// (128) and duplicate keys (which parsers resolve differently) are
    /// refused, and error messages are cut to [`MAX_ERROR_MESSAGE_CHARS`]
    /// so that quoting the input cannot blow up the reply.
    pub fn decode(payload: &[u8]) -> Result<Request, DecodeError> {
        let fail = |id: Option<String>, code, message: String| DecodeError {
            id,
            code,
            message: bounded(message),
        };
        let text = std::str::from_utf8(payload).map_err(|e| {
            fail(
                None,
                ErrorCode::BadJson,
                format!("message is not UTF-8 ({e}); native messages must be UTF-8 JSON"),
            )
        })?;
        let value: serde_json::Value = strict::from_str(text).map_err(|e| {
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
        let kind = kind.to_owned();
        let request = serde_json::from_value::<Request>(value).map_err(|e| {
            fail(
                id.clone(),
                ErrorCode::BadRequest,
                format!("invalid `{kind}` request: {e}"),
            )
        })?;
        let too_long = |field: &str, max: usize| {
            fail(
                id.clone(),
                ErrorCode::BadRequest,
                format!("invalid `{kind}` request: field `{field}` must be 1 to {max} characters"),
            )
        };
        let (origin, token) = match &request.body {
            RequestBody::Hello {} | RequestBody::StartLogin { .. } => (None, None),
            RequestBody::ListTokens { origin, .. } => (origin.as_deref(), None),
            RequestBody::WaitForSms { origin, .. } => (Some(origin.as_str()), None),
            RequestBody::GetCode { origin, token, .. } => (origin.as_deref(), token.as_deref()),
            RequestBody::RevealSeed { token, .. } | RequestBody::TakeRecoveryCode { token } => {
                (None, Some(token.as_str()))
            }
        };
        if origin.is_some_and(|o| o.chars().count() > MAX_ORIGIN_CHARS) {
            return Err(too_long("origin", MAX_ORIGIN_CHARS));
        }
        if token.is_some_and(|t| t.is_empty() || t.chars().count() > MAX_TOKEN_ID_CHARS) {
            return Err(too_long("token", MAX_TOKEN_ID_CHARS));
        }
        Ok(request)
    }
}

/// Cuts a message to [`MAX_ERROR_MESSAGE_CHARS`], marking the cut.
fn bounded(message: String) -> String {
    if message.chars().count() <= MAX_ERROR_MESSAGE_CHARS {
        return message;
    }
    let mut cut: String = message.chars().take(MAX_ERROR_MESSAGE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// JSON parsing that refuses duplicate object keys at any depth.
///
/// `serde_json::Value` silently keeps the last of duplicate keys, and other
/// parsers keep the first: a message that means different things to
/// different readers is refused instead. Depth stays bounded by serde_json's
/// recursion limit, which applies to any visitor.
mod strict {
    use std::fmt;

    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    pub fn from_str(text: &str) -> serde_json::Result<Value> {
        serde_json::from_str::<Strict>(text).map(|s| s.0)
    }

    struct Strict(Value);

    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
            d.deserialize_any(StrictVisitor).map(Strict)
        }
    }

    struct StrictVisitor;

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
            Number::from_f64(v)
                .map(Value::Number)
                .ok_or_else(|| E::custom("number out of range"))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(Strict(v)) = seq.next_element()? {
                items.push(v);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let Strict(value) = map.next_value()?;
                if out.contains_key(&key) {
                    let shown: String = key.chars().take(40).collect();
                    return Err(de::Error::custom(format_args!("duplicate key `{shown}`")));
                }
                out.insert(key, value);
            }
            Ok(Value::Object(out))
        }
    }
}

const KNOWN_REQUEST_TYPES: &[&str] = &[
    "hello",
    "list_tokens",
    "get_code",
    "reveal_seed",
    "take_recovery_code",
    "start_login",
    "wait_for_sms",
];

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
                exclude_personal: false,
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
    fn exclude_personal_is_sent_only_when_set_and_round_trips() {
        let list = Request::new(
            "l",
            RequestBody::ListTokens {
                origin: Some("https://github.com".into()),
                exclude_personal: true,
            },
        );
        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"id":"l","type":"list_tokens","origin":"https://github.com","exclude_personal":true}"#
        );
        assert_eq!(decode(&json).unwrap(), list);

        let code = Request::new(
            "c",
            RequestBody::GetCode {
                origin: Some("https://github.com".into()),
                token: None,
                purpose: CodePurpose::Fill,
                exclude_personal: true,
            },
        );
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"id":"c","type":"get_code","origin":"https://github.com","purpose":"fill","exclude_personal":true}"#
        );
        assert_eq!(decode(&json).unwrap(), code);

        // false is the default and is not sent, so older hosts (which refuse
        // unknown fields) see exactly the requests they know.
        let plain = Request::new(
            "l",
            RequestBody::ListTokens {
                origin: None,
                exclude_personal: false,
            },
        );
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"v":1,"id":"l","type":"list_tokens"}"#
        );
        assert_eq!(
            decode(r#"{"v":1,"id":"l","type":"list_tokens","exclude_personal":false}"#).unwrap(),
            plain
        );
    }

    #[test]
    fn exclude_personal_is_a_boolean_and_only_where_it_means_something() {
        for input in [
            r#"{"v":1,"id":"a","type":"list_tokens","exclude_personal":"true"}"#,
            r#"{"v":1,"id":"a","type":"list_tokens","exclude_personal":1}"#,
            r#"{"v":1,"id":"a","type":"get_code","token":"t","purpose":"copy","exclude_personal":null}"#,
            r#"{"v":1,"id":"a","type":"reveal_seed","token":"t","exclude_personal":true}"#,
        ] {
            let err = decode(input).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{input}: {}", err.message);
            assert_eq!(err.id.as_deref(), Some("a"));
        }
    }

    #[test]
    fn hello_reply_shape_and_defaults_for_older_hosts() {
        let reply = Response::new(
            Some("h".into()),
            ResponseBody::Hello {
                host_version: "0.1.0".into(),
                protocol: PROTOCOL_VERSION,
                user: Some("bob".into()),
                managed: true,
                audit_sinks: vec!["soc-syslog".into(), "hec".into()],
                policy: HostPolicy {
                    allow_personal_tokens: false,
                    allow_seed_reveal: true,
                },
                server: None,
            },
        );
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"id":"h","type":"hello","host_version":"0.1.0","protocol":1,"user":"bob","managed":true,"audit_sinks":["soc-syslog","hec"],"policy":{"allow_personal_tokens":false,"allow_seed_reveal":true}}"#
        );
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), reply);

        // A host from before these fields: unmanaged, no sinks, nothing restricted.
        let old: Response = serde_json::from_str(
            r#"{"v":1,"id":"h","type":"hello","host_version":"0.0.9","protocol":1,"user":"bob"}"#,
        )
        .unwrap();
        match old.body {
            ResponseBody::Hello {
                managed,
                audit_sinks,
                policy,
                server,
                ..
            } => {
                assert!(!managed);
                assert!(audit_sinks.is_empty());
                assert_eq!(policy, HostPolicy::default());
                assert!(policy.allow_personal_tokens && policy.allow_seed_reveal);
                assert_eq!(server, None, "older hosts answer from a local vault");
            }
            other => panic!("{other:?}"),
        }
        // A host in team server mode names its server.
        let team: Response = serde_json::from_str(
            r#"{"v":1,"id":"h","type":"hello","host_version":"0.2.0","protocol":1,"server":"https://vault.example:8443"}"#,
        )
        .unwrap();
        match &team.body {
            ResponseBody::Hello { server, .. } => {
                assert_eq!(server.as_deref(), Some("https://vault.example:8443"))
            }
            other => panic!("{other:?}"),
        }
        assert!(
            serde_json::to_string(&team)
                .unwrap()
                .contains(r#""server":"https://vault.example:8443""#)
        );
        // A policy naming only one rule leaves the other at its default.
        let partial: HostPolicy = serde_json::from_str(r#"{"allow_seed_reveal":false}"#).unwrap();
        assert!(partial.allow_personal_tokens);
        assert!(!partial.allow_seed_reveal);
    }

    #[test]
    fn token_entries_say_whether_they_are_personal() {
        let old = r#"{"id":"0123456789ab","issuer":"GitHub","account":"me","sites":["https://github.com"],"access":"code-only","period":30,"digits":6,"bound_here":false}"#;
        let entry: TokenEntry = serde_json::from_str(old).unwrap();
        assert!(
            !entry.personal,
            "entries from older hosts are shared tokens"
        );
        let mine = TokenEntry {
            personal: true,
            access: Access::FullSeed,
            ..entry
        };
        let json = serde_json::to_string(&mine).unwrap();
        assert!(
            json.ends_with(r#""bound_here":false,"personal":true}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<TokenEntry>(&json).unwrap(), mine);
    }

    #[test]
    fn token_entries_and_codes_say_whether_they_are_hotp() {
        // Older hosts sent neither `kind` nor `counter`: time-based tokens.
        let old = r#"{"id":"0123456789ab","issuer":"GitHub","account":"me","sites":[],"access":"code-only","period":30,"digits":6,"bound_here":false,"personal":false}"#;
        let entry: TokenEntry = serde_json::from_str(old).unwrap();
        assert_eq!(entry.kind, TokenKind::Totp);
        let hotp = TokenEntry {
            kind: TokenKind::Hotp,
            ..entry
        };
        let json = serde_json::to_string(&hotp).unwrap();
        assert!(json.contains(r#""digits":6,"kind":"hotp","#), "{json}");
        assert_eq!(serde_json::from_str::<TokenEntry>(&json).unwrap(), hotp);

        let old = r#"{"token":{"id":"0123456789ab","issuer":null,"account":"me"},"code":"123456","valid_from":30,"valid_until":60}"#;
        let code: CodeReply = serde_json::from_str(old).unwrap();
        assert_eq!(code.counter, None);
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            old,
            "no counter, no field"
        );
        let hotp = CodeReply {
            counter: Some(7),
            ..code
        };
        let json = serde_json::to_string(&hotp).unwrap();
        assert!(json.ends_with(r#""valid_until":60,"counter":7}"#), "{json}");
        assert_eq!(serde_json::from_str::<CodeReply>(&json).unwrap(), hotp);
    }

    #[test]
    fn hello_round_trips() {
        let req = decode(r#"{"v":1,"id":"x","type":"hello"}"#).unwrap();
        assert_eq!(req.body, RequestBody::Hello {});
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
            (
                br#"{"v":1,"id":"a","type":"hello","extra":1}"#,
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
    fn duplicate_keys_are_refused_at_any_depth() {
        for input in [
            r#"{"v":1,"id":"a","type":"get_code","origin":"https://evil.example","origin":"https://good.example"}"#,
            r#"{"v":1,"id":"a","id":"b","type":"hello"}"#,
            r#"{"v":1,"id":"a","type":"hello","x":{"k":1,"k":2}}"#,
            r#"{"v":1,"id":"a","type":"hello","\u0074ype":"hello"}"#,
        ] {
            let err = decode(input).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadJson, "{input}: {}", err.message);
            assert!(err.message.contains("duplicate key"), "{}", err.message);
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for depth in [129, 10_000, 1_000_000] {
            let input = "[".repeat(depth);
            let err = decode(&input).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadJson);
            assert!(err.message.contains("recursion limit"), "{}", err.message);
            let input = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
            assert_eq!(decode(&input).unwrap_err().code, ErrorCode::BadJson);
        }
    }

    #[test]
    fn error_messages_are_bounded_even_when_they_quote_the_input() {
        let huge = "x".repeat(1 << 20);
        for input in [
            format!(r#"{{"v":1,"id":"a","type":"get_code","purpose":"{huge}"}}"#),
            format!(r#"{{"v":1,"id":"a","type":"get_code","{huge}":1}}"#),
            format!(r#"{{"v":1,"id":"a","type":"{huge}"}}"#),
            format!(r#"{{"v":1,"id":"a","type":"get_code","origin":["{huge}"]}}"#),
            format!(r#"{{"v":"{huge}","id":"a","type":"hello"}}"#),
        ] {
            let err = decode(&input).unwrap_err();
            assert_eq!(err.id.as_deref(), Some("a"));
            assert!(
                err.message.chars().count() <= MAX_ERROR_MESSAGE_CHARS,
                "{} chars",
                err.message.len()
            );
        }
    }

    #[test]
    fn token_and_origin_lengths_are_bounded() {
        let long_token = "t".repeat(MAX_TOKEN_ID_CHARS + 1);
        let long_origin = format!("https://{}.example", "a".repeat(MAX_ORIGIN_CHARS));
        for input in [
            format!(
                r#"{{"v":1,"id":"a","type":"get_code","token":"{long_token}","purpose":"copy"}}"#
            ),
            r#"{"v":1,"id":"a","type":"get_code","token":"","purpose":"copy"}"#.to_owned(),
            format!(r#"{{"v":1,"id":"a","type":"reveal_seed","token":"{long_token}"}}"#),
            format!(r#"{{"v":1,"id":"a","type":"get_code","origin":"{long_origin}"}}"#),
            format!(r#"{{"v":1,"id":"a","type":"list_tokens","origin":"{long_origin}"}}"#),
            format!(
                r#"{{"v":1,"id":"a","type":"wait_for_sms","origin":"{long_origin}","since_ms":1,"timeout_ms":1}}"#
            ),
            // The prompt's time is required: without it an older code could be offered.
            r#"{"v":1,"id":"a","type":"wait_for_sms","origin":"https://a.example","timeout_ms":1}"#
                .to_owned(),
        ] {
            let err = decode(&input).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{}", err.message);
            assert_eq!(err.id.as_deref(), Some("a"));
        }
        let ok = format!(
            r#"{{"v":1,"id":"a","type":"reveal_seed","token":"{}"}}"#,
            "t".repeat(MAX_TOKEN_ID_CHARS)
        );
        assert!(decode(&ok).is_ok());
    }

    #[test]
    fn rate_limited_reply_carries_the_retry_hint() {
        let mut resp = Response::error(Some("a".into()), ErrorCode::RateLimited, "slow down");
        if let ResponseBody::Error { error } = &mut resp.body {
            error.retry_after_ms = Some(1500);
        }
        let json = serde_json::to_string(&resp).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"id":"a","type":"error","error":{"code":"rate_limited","message":"slow down","retry_after_ms":1500}}"#
        );
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), resp);
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
        assert_eq!(
            serde_json::to_string(&ErrorCode::HotpNeedsServer).unwrap(),
            r#""hotp_needs_server""#
        );
    }

    #[test]
    fn start_login_and_the_sign_in_errors_round_trip() {
        let request = decode(r#"{"v":1,"id":"l","type":"start_login"}"#).unwrap();
        assert_eq!(request.body, RequestBody::StartLogin { fresh: false });
        let fresh = decode(r#"{"v":1,"id":"l","type":"start_login","fresh":true}"#).unwrap();
        assert_eq!(fresh.body, RequestBody::StartLogin { fresh: true });
        assert!(decode(r#"{"v":1,"id":"l","type":"start_login","org":"x"}"#).is_err());
        let started = Response::new(Some("l".into()), ResponseBody::LoginStarted);
        let json = serde_json::to_string(&started).unwrap();
        assert_eq!(json, r#"{"v":1,"id":"l","type":"login_started"}"#);
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), started);
        let mut signed_out = Response::error(Some("a".into()), ErrorCode::SignedOut, "sign in");
        if let ResponseBody::Error { error } = &mut signed_out.body {
            error.org = Some("Example Corp".into());
        }
        let json = serde_json::to_string(&signed_out).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"id":"a","type":"error","error":{"code":"signed_out","message":"sign in","org":"Example Corp"}}"#
        );
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), signed_out);
        for (code, text) in [
            (ErrorCode::SessionExpired, "session_expired"),
            (ErrorCode::SignInAgain, "sign_in_again"),
            (ErrorCode::SsoPending, "sso_pending"),
            (ErrorCode::SsoSlowDown, "sso_slow_down"),
            (ErrorCode::SsoRefused, "sso_refused"),
        ] {
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{text}\""));
        }
    }
}
