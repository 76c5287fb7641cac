//! The one way to the native host: a typed client for the requests the
//! extension makes (`hello`, `list_tokens`, `get_code`, `reveal_seed`,
//! `take_recovery_code`, `wait_for_sms` for SMS prompts, and `start_login`
//! for the popup's "Sign in to <org>").
//!
//! Each call returns the reply it expects or a [`HostError`]; callers never
//! match on a raw [`ResponseBody`]. The organization policy decides two
//! things here and nowhere else: which host is asked (`NativeHostName`) and
//! whether the user's personal tokens are treated as absent
//! (`AllowPersonalTokens: false` → `exclude_personal`).

use std::fmt;

use twofill_protocol::{
    CodePurpose, CodeReply, ErrorBody, ErrorCode, HostPolicy, RecoveryCodeReply, Request,
    RequestBody, Response, ResponseBody, SeedPurpose, SeedReply, SmsCodeReply, TokenEntry,
};
use wasm_bindgen_futures::JsFuture;

use crate::browser;
use crate::policy::ManagedPolicy;

/// Why a host call gave no answer of the expected kind.
#[derive(Debug)]
pub enum HostError {
    /// The browser knows no host of that name: it is not installed.
    NotInstalled(String),
    /// The browser could not start or talk to the host (crashed, or the
    /// organization's `NativeHostName` is invalid).
    Unreachable(String),
    /// The browser's own policy forbids starting the host.
    RefusedByPolicy(String),
    /// The host answered with an error.
    Host(ErrorBody),
    /// The reply was unreadable, of the wrong kind or for another request.
    Unexpected(String),
}

impl HostError {
    /// What to tell a user in a sentence: the host's own message for its
    /// errors, the browser's for the others.
    pub fn message(&self) -> &str {
        match self {
            HostError::Host(error) => &error.message,
            HostError::NotInstalled(m)
            | HostError::Unreachable(m)
            | HostError::RefusedByPolicy(m)
            | HostError::Unexpected(m) => m,
        }
    }

    /// For a sign-in error (signed out, session expired, sign in again):
    /// the organization to sign in to, `""` when the host did not say.
    pub fn sign_in_needed(&self) -> Option<&str> {
        match self {
            HostError::Host(error)
                if matches!(
                    error.code,
                    ErrorCode::SignedOut | ErrorCode::SessionExpired | ErrorCode::SignInAgain
                ) =>
            {
                Some(error.org.as_deref().unwrap_or_default())
            }
            _ => None,
        }
    }

    /// The host's error code, when the host answered.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            HostError::Host(error) => Some(error.code),
            _ => None,
        }
    }
}

/// The host's message with its error code (`… (no_such_token)`), else the
/// browser's message.
impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Host(error) => write!(f, "{} ({})", error.message, code_name(error.code)),
            other => f.write_str(other.message()),
        }
    }
}

/// `no_such_token`: the wire name of an error code.
fn code_name(code: ErrorCode) -> String {
    serde_json::to_string(&code)
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned()
}

/// What `hello` tells the extension about the host.
pub struct Hello {
    /// The organization policy the host enforces.
    pub policy: HostPolicy,
    /// The SIEM sinks the host streams its audit log to.
    pub audit_sinks: Vec<String>,
}

/// A client for the host the organization's policy names.
pub struct HostClient {
    /// `Err`: the policy names an invalid host; every call fails with it.
    host: Result<String, String>,
    exclude_personal: bool,
}

impl HostClient {
    pub fn new(policy: &ManagedPolicy) -> HostClient {
        HostClient {
            host: policy.host_name().map(str::to_owned),
            exclude_personal: !policy.allow_personal_tokens(),
        }
    }

    pub async fn hello(&self) -> Result<Hello, HostError> {
        match self.ask(RequestBody::Hello {}).await? {
            ResponseBody::Hello {
                policy,
                audit_sinks,
                ..
            } => Ok(Hello {
                policy,
                audit_sinks,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// The tokens this user may use; with `origin`, that site's first.
    pub async fn list_tokens(&self, origin: Option<&str>) -> Result<Vec<TokenEntry>, HostError> {
        let body = RequestBody::ListTokens {
            origin: origin.map(str::to_owned),
            exclude_personal: self.exclude_personal,
        };
        match self.ask(body).await? {
            ResponseBody::Tokens { tokens, .. } => Ok(tokens),
            other => Err(unexpected(&other)),
        }
    }

    /// A current code. For a fill `origin` must be the one the browser
    /// reported for the frame; `token` picks one when several fit.
    pub async fn get_code(
        &self,
        purpose: CodePurpose,
        origin: Option<&str>,
        token: Option<&str>,
    ) -> Result<CodeReply, HostError> {
        let body = RequestBody::GetCode {
            origin: origin.map(str::to_owned),
            token: token.map(str::to_owned),
            purpose,
            exclude_personal: self.exclude_personal,
        };
        match self.ask(body).await? {
            ResponseBody::Code(code) => Ok(code),
            other => Err(unexpected(&other)),
        }
    }

    /// A token's seed, after the user asked for it explicitly.
    pub async fn reveal_seed(
        &self,
        token: &str,
        purpose: SeedPurpose,
    ) -> Result<SeedReply, HostError> {
        let body = RequestBody::RevealSeed {
            token: token.to_owned(),
            purpose,
        };
        match self.ask(body).await? {
            ResponseBody::Seed(seed) => Ok(seed),
            other => Err(unexpected(&other)),
        }
    }

    /// One single-use recovery code of `token`, after the user asked for it
    /// with a click; the host marks it used before it answers.
    pub async fn take_recovery_code(&self, token: &str) -> Result<RecoveryCodeReply, HostError> {
        let body = RequestBody::TakeRecoveryCode {
            token: token.to_owned(),
        };
        match self.ask(body).await? {
            ResponseBody::RecoveryCode(code) => Ok(code),
            other => Err(unexpected(&other)),
        }
    }

    /// The code of an SMS received at or after `since_ms` in an inbox
    /// bound to `origin`, waiting up to `timeout_ms` (the host holds one ask
    /// at most `MAX_SMS_WAIT_PER_ASK_MS`); `None` when none came.
    pub async fn wait_for_sms(
        &self,
        origin: &str,
        since_ms: i64,
        timeout_ms: u64,
    ) -> Result<Option<SmsCodeReply>, HostError> {
        let body = RequestBody::WaitForSms {
            origin: origin.to_owned(),
            since_ms,
            timeout_ms,
        };
        match self.ask(body).await? {
            ResponseBody::SmsCode { code } => Ok(code),
            other => Err(unexpected(&other)),
        }
    }

    /// Team server with single sign-on: the host starts `twofill-host
    /// login`, which opens the system browser at the organization's
    /// sign-in page.
    /// `fresh`: the provider must make the person sign in anew (step-up).
    pub async fn start_login(&self, fresh: bool) -> Result<(), HostError> {
        match self.ask(RequestBody::StartLogin { fresh }).await? {
            ResponseBody::LoginStarted => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// One request, one reply; an error reply becomes [`HostError::Host`].
    async fn ask(&self, body: RequestBody) -> Result<ResponseBody, HostError> {
        let host = self
            .host
            .as_deref()
            .map_err(|why| HostError::Unreachable(why.clone()))?;
        let mut reply = ask_named_host(host, &body).await;
        // A host older than personal tokens refuses the `exclude_personal`
        // field as unknown. It cannot have personal tokens, so asking again
        // without the field excludes exactly the same (no) tokens.
        if let Ok(ResponseBody::Error { error }) = &reply
            && error.code == ErrorCode::BadRequest
            && error.message.contains("exclude_personal")
            && let Some(older) = without_exclude_personal(&body)
        {
            reply = ask_named_host(host, &older).await;
        }
        match reply? {
            ResponseBody::Error { error } => Err(HostError::Host(error)),
            body => Ok(body),
        }
    }
}

/// Names the reply's kind only: its fields may hold a code or a seed, and
/// `Debug` for every protocol type would weigh on the WASM.
fn unexpected(reply: &ResponseBody) -> HostError {
    let kind = serde_json::to_value(reply)
        .ok()
        .and_then(|v| v.get("type")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    HostError::Unexpected(format!("unexpected host reply ({kind})"))
}

fn without_exclude_personal(body: &RequestBody) -> Option<RequestBody> {
    match body.clone() {
        RequestBody::ListTokens {
            origin,
            exclude_personal: true,
        } => Some(RequestBody::ListTokens {
            origin,
            exclude_personal: false,
        }),
        RequestBody::GetCode {
            origin,
            token,
            purpose,
            exclude_personal: true,
        } => Some(RequestBody::GetCode {
            origin,
            token,
            purpose,
            exclude_personal: false,
        }),
        _ => None,
    }
}

fn next_request_id() -> String {
    format!(
        "{:x}",
        (js_sys::Math::random() * f64::from(u32::MAX)) as u64
    )
}

/// Sorts a browser's transport failure by what the user can do about it.
fn transport_error(browser_message: String) -> HostError {
    let message = format!("cannot reach the twofill host: {browser_message}");
    let lower = message.to_lowercase();
    if lower.contains("host not found") {
        HostError::NotInstalled(message)
    } else if lower.contains("forbidden") || lower.contains("administrator") {
        HostError::RefusedByPolicy(message)
    } else {
        HostError::Unreachable(message)
    }
}

async fn ask_named_host(host: &str, body: &RequestBody) -> Result<ResponseBody, HostError> {
    let request = Request::new(next_request_id(), body.clone());
    // Through JSON text, not serde-wasm-bindgen: the flattened message types
    // would become JS `Map`s, which the browser sends to the host as `{}`.
    // The JSON route yields exactly the bytes the host's serde expects.
    let json = serde_json::to_string(&request).map_err(|e| HostError::Unexpected(e.to_string()))?;
    let message =
        js_sys::JSON::parse(&json).map_err(|e| HostError::Unexpected(browser::js_error(&e)))?;
    // An SMS wait holds its host for up to MAX_SMS_WAIT_PER_ASK_MS; on the
    // shared port, whose host answers in turn, it would hold up every fill.
    let alone = matches!(body, RequestBody::WaitForSms { .. });
    let promise = browser::ask_native_host(host, &message, alone)
        .map_err(|e| transport_error(browser::js_error(&e)))?;
    let reply = JsFuture::from(promise)
        .await
        .map_err(|e| transport_error(browser::js_error(&e)))?;
    let text: String = js_sys::JSON::stringify(&reply)
        .map_err(|e| HostError::Unexpected(browser::js_error(&e)))?
        .into();
    let response: Response = serde_json::from_str(&text).map_err(|e| {
        HostError::Unexpected(format!("unreadable reply from the twofill host: {e}"))
    })?;
    if response.id.as_deref() != Some(request.id.as_str())
        && !matches!(response.body, ResponseBody::Error { .. })
    {
        return Err(HostError::Unexpected(
            "the twofill host answered a different request".into(),
        ));
    }
    Ok(response.body)
}
