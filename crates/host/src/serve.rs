//! The native-messaging loop: one request in, one reply out, until EOF.
//!
//! Every frame gets a reply, errors included, so the extension never waits on
//! a silent host. The only frames that end the loop are the ones after which
//! the stream cannot be trusted any more (oversized or truncated): the host
//! answers what it can and exits, and the browser starts a fresh one.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use twofill_protocol::framing::{FrameError, read_frame, write_frame};
use twofill_protocol::{
    CodeReply, ErrorBody, ErrorCode, Request, RequestBody, Response, ResponseBody, TokenInfo,
};
use twofill_vault::{Origin, TokenSummary, Vault};

use crate::caller::Caller;
use crate::paths;

pub fn run(caller: Caller) -> ExitCode {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    serve(&caller, &mut stdin.lock(), &mut stdout.lock())
}

fn serve(caller: &Caller, input: &mut impl Read, output: &mut impl Write) -> ExitCode {
    loop {
        let (reply, keep_going) = match read_frame(input) {
            Ok(None) => return ExitCode::SUCCESS,
            Ok(Some(payload)) => (respond(caller, &payload), true),
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

fn respond(caller: &Caller, payload: &[u8]) -> Response {
    let request = match Request::decode(payload) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let id = Some(request.id.clone());
    if !caller.is_allowed() {
        return Response::error(
            id,
            ErrorCode::CallerNotAllowed,
            format!("{caller} is not allowed to use this host"),
        );
    }
    let body = match request.body {
        RequestBody::Hello => Ok(ResponseBody::Hello {
            host_version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: twofill_protocol::PROTOCOL_VERSION,
        }),
        RequestBody::GetCode { origin, token } => get_code(&origin, token.as_deref()),
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

fn get_code(origin: &str, wanted: Option<&str>) -> Result<ResponseBody, ErrorBody> {
    let origin: Origin = origin
        .parse()
        .map_err(|e| error(ErrorCode::BadOrigin, format!("{e}")))?;
    let vault = open_vault()?;
    let bound = vault
        .tokens_for_origin(&origin)
        .map_err(|e| error(ErrorCode::VaultUnavailable, e.to_string()))?;
    let chosen = match (wanted, bound.as_slice()) {
        (_, []) => {
            return Err(error(
                ErrorCode::NoTokenForOrigin,
                format!("no token is bound to {origin}"),
            ));
        }
        (Some(id), _) => bound.iter().find(|t| t.id == id).ok_or_else(|| {
            error(
                ErrorCode::NoTokenForOrigin,
                format!("token `{id}` is not bound to {origin}"),
            )
        })?,
        (None, [only]) => only,
        (None, several) => {
            return Err(ErrorBody {
                code: ErrorCode::AmbiguousToken,
                message: format!("{} tokens are bound to {origin}; name one", several.len()),
                candidates: several.iter().map(info).collect(),
            });
        }
    };
    let token = vault
        .load_token(&chosen.id)
        .map_err(|e| error(ErrorCode::VaultUnavailable, e.to_string()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let window = token.window_at(now);
    Ok(ResponseBody::Code(CodeReply {
        token: info(chosen),
        code: window.code,
        valid_from: window.valid_from,
        valid_until: window.valid_until,
    }))
}

fn open_vault() -> Result<Vault, ErrorBody> {
    let path = paths::vault().map_err(|e| error(ErrorCode::VaultUnavailable, e.to_string()))?;
    Vault::open(&path).map_err(|e| error(ErrorCode::VaultUnavailable, e.to_string()))
}
