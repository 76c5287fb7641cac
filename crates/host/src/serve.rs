//! The native-messaging loop: one request in, one reply out, until EOF.
//!
//! Every frame gets a reply, errors included, so the extension never waits on
//! a silent host. The only frames that end the loop are the ones after which
//! the stream cannot be trusted any more (oversized or truncated): the host
//! answers what it can and exits, and the browser starts a fresh one.
//!
//! Permission decisions and the audit log are the vault's job
//! ([`Vault::issue_code`], [`Vault::reveal_seed`]); this module maps
//! messages to those calls and their outcomes back to messages.

use std::io::{Read, Write};
use std::process::ExitCode;

use twofill_protocol::framing::{FrameError, read_frame, write_frame};
use twofill_protocol::{
    CodePurpose, CodeReply, ErrorBody, ErrorCode, Request, RequestBody, Response, ResponseBody,
    SeedPurpose, SeedReply, TokenEntry, TokenInfo,
};
use twofill_vault::{
    AuditEvent, Origin, Purpose, Refusal, Requester, TokenSummary, Vault, VaultError,
};

use crate::caller::Caller;
use crate::config::{self, Settings};
use crate::identity;

pub fn run(caller: Caller) -> ExitCode {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut session = Session::new(caller);
    serve(&mut session, &mut stdin.lock(), &mut stdout.lock())
}

/// Per-process state: who is asking, and the vault once opened.
struct Session {
    caller: Caller,
    browser: Option<String>,
    vault: Option<(Vault, String)>,
}

impl Session {
    fn new(caller: Caller) -> Session {
        Session {
            caller,
            browser: identity::launching_browser(),
            vault: None,
        }
    }

    /// Opens the vault on first use and resolves the user.
    fn vault(&mut self) -> Result<(&mut Vault, Requester), ErrorBody> {
        if self.vault.is_none() {
            let unavailable =
                |e: anyhow::Error| error(ErrorCode::VaultUnavailable, format!("{e:#}"));
            let settings: Settings = config::load().map_err(unavailable)?;
            let user = identity::current_user(&settings.config.user).map_err(unavailable)?;
            let protection = settings.protection(false).map_err(unavailable)?;
            let vault = Vault::open(&settings.vault, &protection)
                .map_err(|e| error(ErrorCode::VaultUnavailable, e.to_string()))?;
            self.vault = Some((vault, user));
        }
        let (vault, user) = self.vault.as_mut().expect("opened above");
        let who = Requester {
            user: user.clone(),
            browser: self.browser.clone(),
            extension_id: Some(self.caller.id().to_owned()),
        };
        Ok((vault, who))
    }

    /// Records a refusal that happened before the vault's own checks
    /// (best effort: if the vault cannot be opened there is nowhere to
    /// record it, and the reply already says why).
    fn record_refusal(&mut self, action: &str, origin: Option<&str>, reason: String) {
        if let Ok((vault, who)) = self.vault() {
            let _ = vault.record(&AuditEvent {
                user: who.user,
                action: action.to_owned(),
                success: false,
                origin: origin.map(str::to_owned),
                browser: who.browser,
                extension_id: who.extension_id,
                reason: Some(reason),
                ..AuditEvent::default()
            });
        }
    }
}

fn serve(session: &mut Session, input: &mut impl Read, output: &mut impl Write) -> ExitCode {
    loop {
        let (reply, keep_going) = match read_frame(input) {
            Ok(None) => return ExitCode::SUCCESS,
            Ok(Some(payload)) => (respond(session, &payload), true),
            Err(FrameError::TooLarge { len }) => (
                Response::error(
                    None,
                    ErrorCode::FrameTooLarge,
                    format!(
                        "message of {len} bytes exceeds the {} byte limit; the host is closing this connection",
                        twofill_protocol::MAX_FRAME_BYTES
                    ),
                ),
                false,
            ),
            Err(e) => {
                eprintln!("twofill-host: {e}; exiting");
                return ExitCode::FAILURE;
            }
        };
        let bytes = serde_json::to_vec(&reply).expect("replies always serialise");
        if let Err(e) = write_frame(output, &bytes) {
            eprintln!("twofill-host: cannot reply: {e}");
            return ExitCode::FAILURE;
        }
        if !keep_going {
            return ExitCode::FAILURE;
        }
    }
}

fn respond(session: &mut Session, payload: &[u8]) -> Response {
    let request = match Request::decode(payload) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let id = Some(request.id.clone());
    if !session.caller.is_allowed() {
        let message = format!("{} is not allowed to use this host", session.caller);
        session.record_refusal(
            "host.connect",
            None,
            format!("caller_not_allowed: {message}"),
        );
        return Response::error(id, ErrorCode::CallerNotAllowed, message);
    }
    let body = match request.body {
        RequestBody::Hello => Ok(ResponseBody::Hello {
            host_version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: twofill_protocol::PROTOCOL_VERSION,
            user: session.vault().ok().map(|(_, who)| who.user),
        }),
        RequestBody::ListTokens { origin } => list_tokens(session, origin.as_deref()),
        RequestBody::GetCode {
            origin,
            token,
            purpose,
        } => get_code(session, origin.as_deref(), token.as_deref(), purpose),
        RequestBody::RevealSeed { token, purpose } => reveal_seed(session, &token, purpose),
    };
    match body {
        Ok(body) => Response::new(id, body),
        Err(error) => Response::new(id, ResponseBody::Error { error }),
    }
}

fn error(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
    ErrorBody {
        code,
        message: message.into(),
        candidates: Vec::new(),
    }
}

fn info(t: &TokenSummary) -> TokenInfo {
    TokenInfo {
        id: t.id.clone(),
        issuer: t.issuer.clone(),
        account: t.account.clone(),
    }
}

/// Maps the vault's answer to a protocol error.
fn vault_error(e: VaultError) -> ErrorBody {
    match e {
        VaultError::Refused(r) => {
            let message = r.to_string();
            match r {
                Refusal::NoTokenForOrigin { .. } => error(ErrorCode::NoTokenForOrigin, message),
                Refusal::NotPermitted { .. } | Refusal::NotAdmin { .. } => {
                    error(ErrorCode::NotPermitted, message)
                }
                Refusal::OriginRequired => error(ErrorCode::OriginRequired, message),
                Refusal::NoSuchToken { .. } => error(ErrorCode::NoSuchToken, message),
                Refusal::Ambiguous { candidates } => ErrorBody {
                    code: ErrorCode::AmbiguousToken,
                    message,
                    candidates: candidates.iter().map(info).collect(),
                },
            }
        }
        other => error(ErrorCode::VaultUnavailable, other.to_string()),
    }
}

fn parse_origin(
    session: &mut Session,
    action: &str,
    origin: Option<&str>,
) -> Result<Option<Origin>, ErrorBody> {
    match origin {
        None => Ok(None),
        Some(o) => o.parse::<Origin>().map(Some).map_err(|e| {
            let message = e.to_string();
            let shown: String = o.chars().take(200).collect();
            session.record_refusal(action, Some(&shown), format!("bad_origin: {message}"));
            error(ErrorCode::BadOrigin, message)
        }),
    }
}

fn list_tokens(session: &mut Session, origin: Option<&str>) -> Result<ResponseBody, ErrorBody> {
    let origin = parse_origin(session, "token.list", origin)?;
    let (vault, who) = session.vault()?;
    let tokens = vault
        .permitted_tokens(&who.user, origin.as_ref())
        .map_err(vault_error)?
        .into_iter()
        .map(|t| TokenEntry {
            bound_here: origin
                .as_ref()
                .is_some_and(|o| t.summary.bindings.iter().any(|b| b.matches(o))),
            token: info(&t.summary),
            sites: t.summary.bindings.iter().map(|b| b.to_string()).collect(),
            access: t.access.as_str().to_owned(),
            period: t.period,
            digits: t.digits,
        })
        .collect();
    Ok(ResponseBody::Tokens {
        user: who.user,
        tokens,
    })
}

fn get_code(
    session: &mut Session,
    origin: Option<&str>,
    token: Option<&str>,
    purpose: CodePurpose,
) -> Result<ResponseBody, ErrorBody> {
    let purpose = match purpose {
        CodePurpose::Fill => Purpose::Fill,
        CodePurpose::Copy => Purpose::Copy,
        CodePurpose::View => Purpose::View,
    };
    let origin = parse_origin(session, purpose.action(), origin)?;
    let (vault, who) = session.vault()?;
    let issued = vault
        .issue_code(&who, token, origin.as_ref(), purpose)
        .map_err(vault_error)?;
    Ok(ResponseBody::Code(CodeReply {
        token: info(&issued.token),
        code: issued.window.code,
        valid_from: issued.window.valid_from,
        valid_until: issued.window.valid_until,
    }))
}

fn reveal_seed(
    session: &mut Session,
    token: &str,
    purpose: SeedPurpose,
) -> Result<ResponseBody, ErrorBody> {
    let action = match purpose {
        SeedPurpose::Reveal => "seed.reveal",
        SeedPurpose::Qr => "seed.qr",
        SeedPurpose::Export => "seed.export",
    };
    let (vault, who) = session.vault()?;
    let seed = vault
        .reveal_seed(&who, token, action)
        .map_err(vault_error)?;
    let summary = vault
        .tokens()
        .map_err(vault_error)?
        .into_iter()
        .find(|t| t.id == token);
    Ok(ResponseBody::Seed(SeedReply {
        token: TokenInfo {
            id: token.to_owned(),
            issuer: summary.as_ref().and_then(|s| s.issuer.clone()),
            account: seed.account.clone(),
        },
        secret: seed.secret.to_base32(),
        uri: seed.to_uri(),
    }))
}
