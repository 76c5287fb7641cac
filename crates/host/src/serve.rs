//! The native-messaging loop: one request in, one reply out, until EOF.
//!
//! Every frame gets a reply, errors included, so the extension never waits on
//! a silent host. The only frames that end the loop are the ones after which
//! the stream cannot be trusted any more (oversized or truncated): the host
//! answers what it can and exits, and the browser starts a fresh one.
//!
//! Permission decisions and the audit log are the vault's job, under the
//! organization policy of the config in force ([`Vault::set_policy`]);
//! `twofill-answer` maps requests to vault calls and their outcomes back to
//! replies (the team server answers with the same crate). This module adds
//! what only the host can: the caller check, the browser's identity, the
//! config (its fill rate limit goes to the vault, [`Vault::set_rate_limit`],
//! which counts fills inside the code's write transaction) and the SIEM
//! kick.
//!
//! Every message is treated as hostile. Frames are at most
//! [`MAX_FRAME_BYTES`] both ways: a reply that would be larger becomes an
//! `internal` error ([`encode`]). A panic while answering becomes an
//! `internal` error too, and the host then exits rather than go on with
//! state it cannot trust.

use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

use twofill_answer::{Answerer, error};
use twofill_protocol::framing::{FrameError, read_frame, write_frame};
use twofill_protocol::{
    CodePurpose, CodeReply, ErrorBody, ErrorCode, HostPolicy, MAX_FRAME_BYTES, Request,
    RequestBody, Response, ResponseBody,
};
use twofill_team_api::{
    CODE_PATH, ClientContext, CodeRequest, RECOVERY_CODE_PATH, RecoveryCodeRequest, SEED_PATH,
    SMS_WAIT_PATH, SeedRequest, SmsWaitReply, SmsWaitRequest, TOKENS_PATH, TokensReply,
    TokensRequest,
};
use twofill_vault::{AuditAction, Requester, Vault};

use crate::caller::Caller;
use crate::config::{self, Settings};
use crate::identity;
use crate::server::Server;

pub fn run(caller: Caller) -> ExitCode {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut session = Session::new(caller);
    serve(&mut session, &mut stdin.lock(), &mut stdout.lock())
}

/// Per-process state: who is asking, the config, and the vault once opened.
struct Session {
    caller: Caller,
    browser: Option<String>,
    settings: Option<Settings>,
    vault: Option<Opened>,
    /// Team server mode: the server, as this device (opened on first use).
    server: Option<Server>,
    /// What the files behind `settings`, `vault` and `server` looked like
    /// when they were loaded ([`Session::forget_if_changed`]).
    loaded_from: Vec<FileStamp>,
}

/// A file's modification time and length; `None` when it does not exist.
type FileStamp = Option<(std::time::SystemTime, u64)>;

fn stamp(path: &std::path::Path) -> FileStamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

struct Opened {
    vault: Vault,
    user: String,
    /// SIEM sinks are configured and `siem.kick` is on.
    siem_kick: bool,
    /// Audit head when the last drain was kicked off.
    kicked_at: i64,
}

impl Session {
    fn new(caller: Caller) -> Session {
        Session {
            caller,
            browser: identity::launching_browser(),
            settings: None,
            vault: None,
            server: None,
            loaded_from: Vec::new(),
        }
    }

    /// The browser keeps one host running for many messages, so what this
    /// process loaded may have changed under it (an admin edits the config,
    /// `join` writes a device identity, `login` a session): when any of those
    /// files changed since the last message, everything is loaded anew, as
    /// a freshly started host would. A few `stat`s per message.
    fn forget_if_changed(&mut self) {
        if self.file_stamps() != self.loaded_from {
            self.settings = None;
            self.vault = None;
            self.server = None;
        }
    }

    /// Remembers the files behind what is loaded now, after a message.
    fn remember_files(&mut self) {
        self.loaded_from = self.file_stamps();
    }

    fn file_stamps(&self) -> Vec<FileStamp> {
        let mut files = vec![config::system_config_path()];
        files.extend(std::env::var_os("TWOFILL_CONFIG").map(std::path::PathBuf::from));
        files.extend(config::default_user_config_path());
        if let Some(Ok(Some(target))) = self.settings.as_ref().map(Settings::server) {
            if let Ok(entries) = std::fs::read_dir(&target.identity) {
                files.extend(entries.flatten().map(|e| e.path()));
            }
            files.push(target.identity);
        }
        files.iter().map(|p| stamp(p)).collect()
    }

    /// The config in force has `[server]`: every request goes to the team
    /// server and the local vault is never opened.
    fn in_server_mode(&mut self) -> bool {
        self.settings().is_ok_and(|s| s.config.server.is_some())
    }

    /// The team server, this device's identity loaded on first use.
    fn server(&mut self) -> Result<&Server, ErrorBody> {
        if self.server.is_none() {
            let settings = self.settings()?;
            let config = settings.config_display();
            let target = settings
                .server()
                .map_err(|e| error(ErrorCode::DeviceNotEnrolled, format!("{e:#}")))?
                .ok_or_else(|| error(ErrorCode::Internal, "not in team server mode"))?;
            self.server = Some(Server::open(&target, &config)?);
        }
        Ok(self.server.as_ref().expect("opened above"))
    }

    /// Who is asking, for the server's audit log.
    fn client_context(&self) -> ClientContext {
        ClientContext {
            browser: self.browser.clone(),
            extension_id: Some(self.caller.id().to_owned()),
        }
    }

    /// Reads the config on first use.
    fn settings(&mut self) -> Result<&Settings, ErrorBody> {
        if self.settings.is_none() {
            let settings =
                config::load().map_err(|e| error(ErrorCode::VaultUnavailable, format!("{e:#}")))?;
            self.settings = Some(settings);
        }
        Ok(self.settings.as_ref().expect("loaded above"))
    }

    /// Opens the vault on first use, under the config's policy, and
    /// resolves the user.
    fn vault(&mut self) -> Result<(&mut Vault, Requester), ErrorBody> {
        if self.vault.is_none() {
            let unavailable =
                |e: anyhow::Error| error(ErrorCode::VaultUnavailable, format!("{e:#}"));
            let settings = self.settings()?.clone();
            // The invariant's gate: with `[server]` no local vault is opened,
            // whatever asks (refusal records included).
            if let Some(server) = &settings.config.server {
                return Err(error(
                    ErrorCode::Internal,
                    format!(
                        "this host is in team server mode ({}); it has no local vault",
                        server.url
                    ),
                ));
            }
            let user = identity::current_user(&settings.config.user).map_err(unavailable)?;
            let protection = settings.protection(false).map_err(unavailable)?;
            let mut vault = settings
                .open_vault(&protection)
                .map_err(|e| error(ErrorCode::VaultUnavailable, e.to_string()))?;
            vault.set_policy(settings.config.policy);
            vault.set_rate_limit(settings.config.rate_limit.for_vault());
            vault.set_unverified_identity(identity::unverified_reason(
                &settings.config.user,
                &user,
                &settings,
            ));
            self.vault = Some(Opened {
                vault,
                user,
                siem_kick: settings.config.siem.kick && !settings.config.siem.sinks.is_empty(),
                kicked_at: 0,
            });
        }
        let opened = self.vault.as_mut().expect("opened above");
        let who = Requester {
            user: opened.user.clone(),
            browser: self.browser.clone(),
            extension_id: Some(self.caller.id().to_owned()),
        };
        Ok((&mut opened.vault, who))
    }

    /// The vault, opened on first use, answering for this user.
    fn answerer(&mut self) -> Result<Answerer<'_>, ErrorBody> {
        let (vault, who) = self.vault()?;
        Ok(Answerer::new(vault, who))
    }

    /// Records a refusal that happened before the vault's own checks
    /// (best effort: if the vault cannot be opened there is nowhere to
    /// record it, and the reply already says why).
    fn record_refusal(&mut self, action: AuditAction, origin: Option<&str>, reason: String) {
        if let Ok(mut answerer) = self.answerer() {
            answerer.record_refusal(action, origin, reason);
        }
    }
}

fn serve(session: &mut Session, input: &mut impl Read, output: &mut impl Write) -> ExitCode {
    loop {
        let (reply, keep_going) = match read_frame(input) {
            Ok(None) => return ExitCode::SUCCESS,
            Ok(Some(payload)) => {
                session.forget_if_changed();
                let answered = catch_unwind(AssertUnwindSafe(|| respond(session, &payload)));
                session.remember_files();
                match answered {
                    Ok(reply) => (reply, true),
                    // The panic message went to stderr (the browser's log).
                    Err(_) => (
                        Response::error(
                            None,
                            ErrorCode::Internal,
                            "twofill-host hit an internal error answering this message and is closing this connection; please report it",
                        ),
                        false,
                    ),
                }
            }
            Err(FrameError::TooLarge { len }) => (
                Response::error(
                    None,
                    ErrorCode::FrameTooLarge,
                    format!(
                        "message of {len} bytes exceeds the {MAX_FRAME_BYTES} byte limit; the host is closing this connection"
                    ),
                ),
                false,
            ),
            // The browser closed the pipe inside a frame: answer if the other
            // direction is still open (it may well not be), then exit.
            Err(e @ FrameError::Truncated { .. }) => (
                Response::error(
                    None,
                    ErrorCode::BadRequest,
                    format!("{e}; the host is closing this connection"),
                ),
                false,
            ),
            Err(e) => {
                eprintln!("twofill-host: {e}; exiting");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = write_frame(output, &encode(&reply)) {
            eprintln!("twofill-host: cannot reply: {e}");
            return ExitCode::FAILURE;
        }
        kick_siem_drain(session);
        if !keep_going {
            return ExitCode::FAILURE;
        }
    }
}

/// After a reply that added audit records, starts a best-effort
/// `audit stream --once --kick` in the background so SIEMs see them within
/// moments. The reply has already gone out; failures here are ignored (the
/// `audit stream` service or the next kick delivers what this one did not).
fn kick_siem_drain(session: &mut Session) {
    let Some(opened) = session.vault.as_mut().filter(|o| o.siem_kick) else {
        return;
    };
    let head = opened.vault.audit_head_seq().unwrap_or(0);
    if head <= opened.kicked_at {
        return;
    }
    opened.kicked_at = head;
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let child = std::process::Command::new(exe)
        .args(["audit", "stream", "--once", "--kick"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Ok(mut child) = child {
        // Reaped by a thread so it never blocks this loop; if the host
        // exits first the drain carries on by itself.
        std::thread::spawn(move || child.wait());
    }
}

/// Serialises a reply for the wire. One that would exceed [`MAX_FRAME_BYTES`]
/// (browsers drop larger host→browser frames, and the extension would wait
/// for nothing) is replaced by an `internal` error with the same id.
fn encode(reply: &Response) -> Vec<u8> {
    let bytes = serde_json::to_vec(reply).expect("replies always serialise");
    if bytes.len() <= MAX_FRAME_BYTES {
        return bytes;
    }
    eprintln!(
        "twofill-host: a {} byte reply exceeds the frame limit; sent an error instead",
        bytes.len()
    );
    let fallback = Response::error(
        reply.id.clone(),
        ErrorCode::Internal,
        format!(
            "the reply would be {} bytes, more than the {MAX_FRAME_BYTES} bytes a native message may carry; ask for less (e.g. name an origin)",
            bytes.len()
        ),
    );
    serde_json::to_vec(&fallback).expect("replies always serialise")
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
            AuditAction::HostConnect,
            None,
            format!("caller_not_allowed: {message}"),
        );
        return Response::error(id, ErrorCode::CallerNotAllowed, message);
    }
    if session.in_server_mode() {
        return match from_server(session, request.body) {
            Ok(body) => Response::new(id, body),
            Err(error) => Response::new(id, ResponseBody::Error { error }),
        };
    }
    let body = match request.body {
        RequestBody::Hello {} => {
            let user = session.vault().ok().map(|(_, who)| who.user);
            Ok(hello(session.settings().ok(), user, None))
        }
        RequestBody::ListTokens {
            origin,
            exclude_personal,
        } => session
            .answerer()
            .and_then(|mut a| a.list_tokens(origin.as_deref(), exclude_personal))
            .map(|reply| ResponseBody::Tokens {
                user: reply.user,
                tokens: reply.tokens,
            }),
        RequestBody::GetCode {
            origin,
            token,
            purpose,
            exclude_personal,
        } => get_code(
            session,
            origin.as_deref(),
            token.as_deref(),
            purpose,
            exclude_personal,
        )
        .map(ResponseBody::Code),
        RequestBody::RevealSeed { token, purpose } => session
            .answerer()
            .and_then(|mut a| a.reveal_seed(&token, purpose))
            .map(ResponseBody::Seed),
        RequestBody::TakeRecoveryCode { token } => session
            .answerer()
            .and_then(|mut a| a.take_recovery_code(&token))
            .map(ResponseBody::RecoveryCode),
        RequestBody::StartLogin { .. } => Err(error(
            ErrorCode::BadRequest,
            "this host answers from a local vault on this computer; there is no organization to sign in to",
        )),
        RequestBody::WaitForSms { .. } => Err(error(
            ErrorCode::BadRequest,
            "shared SMS inboxes live on a team server; this host answers from a local vault (join one with `twofill-host join`)",
        )),
    };
    match body {
        Ok(body) => Response::new(id, body),
        Err(error) => Response::new(id, ResponseBody::Error { error }),
    }
}

/// Team server mode: the request goes to the server as this device, with
/// the origin the browser reported and who is asking; the reply comes back
/// in the same shape as a local vault's.
fn from_server(session: &mut Session, body: RequestBody) -> Result<ResponseBody, ErrorBody> {
    let client = session.client_context();
    if matches!(body, RequestBody::Hello {}) {
        let opened = session
            .server()
            .map(|s| (s.enrollment().user.clone(), s.url()));
        let (user, url) = match opened {
            Ok((user, url)) => (Some(user), url),
            // Not joined yet: say which server all the same.
            Err(_) => (
                None,
                session
                    .settings()?
                    .config
                    .server
                    .as_ref()
                    .map(|s| s.url.clone())
                    .unwrap_or_default(),
            ),
        };
        return Ok(hello(session.settings().ok(), user, Some(url)));
    }
    let server = session.server()?;
    if let RequestBody::StartLogin { fresh } = body {
        spawn_login(fresh)?;
        return Ok(ResponseBody::LoginStarted);
    }
    Ok(match body {
        RequestBody::Hello {} | RequestBody::StartLogin { .. } => unreachable!("answered above"),
        RequestBody::ListTokens {
            origin,
            exclude_personal,
        } => {
            let request = TokensRequest {
                origin,
                exclude_personal,
                client,
            };
            let reply: TokensReply = server.call_signed_in(TOKENS_PATH, &request)?;
            ResponseBody::Tokens {
                user: reply.user,
                tokens: reply.tokens,
            }
        }
        RequestBody::GetCode {
            origin,
            token,
            purpose,
            exclude_personal,
        } => {
            let request = CodeRequest {
                origin,
                token,
                purpose,
                exclude_personal,
                client,
            };
            ResponseBody::Code(server.call_signed_in(CODE_PATH, &request)?)
        }
        RequestBody::RevealSeed { token, purpose } => {
            let request = SeedRequest {
                token,
                purpose,
                client,
            };
            ResponseBody::Seed(server.call_signed_in(SEED_PATH, &request)?)
        }
        RequestBody::TakeRecoveryCode { token } => {
            let request = RecoveryCodeRequest { token, client };
            ResponseBody::RecoveryCode(server.call_signed_in(RECOVERY_CODE_PATH, &request)?)
        }
        RequestBody::WaitForSms {
            origin,
            since_ms,
            timeout_ms,
        } => {
            let request = SmsWaitRequest {
                origin,
                since_ms,
                // Held below the host's own limit on a request to the server.
                timeout_ms: timeout_ms.min(twofill_protocol::MAX_SMS_WAIT_PER_ASK_MS),
                client,
            };
            let reply: SmsWaitReply = server.call_signed_in(SMS_WAIT_PATH, &request)?;
            ResponseBody::SmsCode { code: reply.code }
        }
    })
}

/// `start_login`: `twofill-host login` in its own process group, so it
/// outlives this host (the browser ends a host once it has replied) and
/// opens the system browser at the organization's sign-in page.
fn spawn_login(fresh: bool) -> Result<(), ErrorBody> {
    let failed = |e: std::io::Error| {
        error(
            ErrorCode::Internal,
            format!("cannot start `twofill-host login` ({e}); run it in a terminal instead"),
        )
    };
    let exe = std::env::current_exe().map_err(failed)?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("login")
        .args(fresh.then_some("--fresh"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(failed)?;
    // Reaped by a thread while this host lives; after that by init.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// The `hello` reply: the host, the user, the config in force (`None`
/// when it cannot be read: then nothing else works either, and the reply
/// says only whether a system config is there) and, in team server mode,
/// the server.
fn hello(
    settings: Option<&Settings>,
    user: Option<String>,
    server: Option<String>,
) -> ResponseBody {
    let (managed, audit_sinks, policy) = match settings {
        Some(s) => (
            s.managed(),
            s.audit_sinks(),
            crate::config::wire_policy(s.config.policy),
        ),
        None => (
            config::system_config_path().exists(),
            Vec::new(),
            HostPolicy::default(),
        ),
    };
    ResponseBody::Hello {
        host_version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol: twofill_protocol::PROTOCOL_VERSION,
        user,
        managed,
        audit_sinks,
        policy,
        server,
    }
}

/// A code; fills past the rate limit are refused by the vault.
fn get_code(
    session: &mut Session,
    origin: Option<&str>,
    token: Option<&str>,
    purpose: CodePurpose,
    exclude_personal: bool,
) -> Result<CodeReply, ErrorBody> {
    let purpose = twofill_answer::purpose(purpose);
    let mut answerer = session.answerer()?;
    let origin = answerer.parse_origin(purpose.action(), origin)?;
    answerer.issue_code(origin.as_ref(), token, purpose, exclude_personal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use twofill_protocol::{TokenEntry, TokenInfo};

    fn entry(i: usize) -> TokenEntry {
        TokenEntry {
            token: TokenInfo {
                id: format!("{i:012x}"),
                issuer: Some("Issuer".repeat(20)),
                account: format!("account-{i}@example.com"),
            },
            sites: vec!["https://example.com".into()],
            access: twofill_protocol::Access::CodeOnly,
            period: 30,
            digits: 6,
            kind: Default::default(),
            bound_here: false,
            personal: false,
            recovery_codes: None,
        }
    }

    #[test]
    fn replies_within_the_limit_are_sent_as_they_are() {
        let reply = Response::new(
            Some("a".into()),
            ResponseBody::Tokens {
                user: "bob".into(),
                tokens: (0..10).map(entry).collect(),
            },
        );
        assert_eq!(encode(&reply), serde_json::to_vec(&reply).unwrap());
    }

    #[test]
    fn a_reply_over_one_mebibyte_becomes_an_internal_error() {
        let reply = Response::new(
            Some("big".into()),
            ResponseBody::Tokens {
                user: "bob".into(),
                tokens: (0..10_000).map(entry).collect(),
            },
        );
        assert!(serde_json::to_vec(&reply).unwrap().len() > MAX_FRAME_BYTES);
        let bytes = encode(&reply);
        assert!(bytes.len() < 1024, "{} bytes", bytes.len());
        let sent: Response = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(sent.id.as_deref(), Some("big"));
        match sent.body {
            ResponseBody::Error { error } => {
                assert_eq!(error.code, ErrorCode::Internal);
                assert!(
                    error.message.contains("native message"),
                    "{}",
                    error.message
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hello_reports_the_system_config_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("host.toml");
        std::fs::write(
            &system,
            "[policy]\nallow_seed_reveal = false\n\n[[siem.sink]]\nkind = \"file\"\npath = \"/var/log/twofill.jsonl\"\n",
        )
        .unwrap();
        let user = dir.path().join("user.toml");
        std::fs::write(&user, "[policy]\nallow_seed_reveal = true\n").unwrap();
        let settings = config::load_from(&system, None, |name| {
            (name == "TWOFILL_CONFIG").then(|| user.clone().into_os_string())
        })
        .unwrap();
        let reply = Response::new(
            Some("h".into()),
            hello(Some(&settings), Some("bob".into()), None),
        );
        let json: serde_json::Value = serde_json::to_value(&reply).unwrap();
        assert_eq!(json["type"], "hello");
        assert_eq!(json["user"], "bob");
        assert_eq!(json["managed"], true);
        assert_eq!(json["audit_sinks"], serde_json::json!(["file"]));
        assert_eq!(
            json["policy"],
            serde_json::json!({"allow_personal_tokens": true, "allow_seed_reveal": false})
        );
    }

    fn run(input: &[u8]) -> (ExitCode, Vec<Response>) {
        run_with(input, None)
    }

    /// With `settings` (a config the test wrote), as the real extension;
    /// without, as an unknown one, so nothing reaches the vault of whoever
    /// runs the tests.
    fn run_with(input: &[u8], settings: Option<Settings>) -> (ExitCode, Vec<Response>) {
        let extension_id = match settings {
            Some(_) => twofill_words::CHROMIUM_EXTENSION_ID,
            None => "aaaabbbbccccddddeeeeffffgggghhhh",
        };
        let mut session = Session::new(Caller::Chromium {
            extension_id: extension_id.into(),
        });
        session.settings = settings;
        // Loaded "now": unchanged files keep the test's settings.
        session.remember_files();
        let mut out = Vec::new();
        let code = serve(&mut session, &mut std::io::Cursor::new(input), &mut out);
        let mut replies = Vec::new();
        let mut r = std::io::Cursor::new(out);
        while let Some(frame) = read_frame(&mut r).unwrap() {
            assert!(frame.len() <= MAX_FRAME_BYTES);
            replies.push(serde_json::from_slice(&frame).unwrap());
        }
        (code, replies)
    }

    fn code_of(r: &Response) -> ErrorCode {
        match &r.body {
            ResponseBody::Error { error } => error.code,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn broken_streams_get_a_reply_then_the_loop_ends() {
        // An oversized header.
        let input = ((MAX_FRAME_BYTES + 1) as u32).to_ne_bytes();
        let (code, replies) = run(&input);
        assert_eq!(code, ExitCode::FAILURE);
        assert_eq!(replies.len(), 1);
        assert_eq!(code_of(&replies[0]), ErrorCode::FrameTooLarge);

        // A frame cut short: a bad-request reply, then exit.
        let mut input = 100u32.to_ne_bytes().to_vec();
        input.extend(b"0123456789");
        let (code, replies) = run(&input);
        assert_eq!(code, ExitCode::FAILURE);
        assert_eq!(replies.len(), 1);
        assert_eq!(code_of(&replies[0]), ErrorCode::BadRequest);

        // A header cut short.
        let (code, replies) = run(&[1, 0]);
        assert_eq!(code, ExitCode::FAILURE);
        assert_eq!(code_of(&replies[0]), ErrorCode::BadRequest);
    }

    /// The browser keeps the host running; a `join` (or a new sign-in)
    /// meanwhile writes the device identity, which the next message sees.
    #[test]
    fn a_changed_device_identity_is_loaded_anew() {
        let dir = tempfile::tempdir().unwrap();
        let identity = dir.path().join("device");
        std::fs::create_dir(&identity).unwrap();
        let config = dir.path().join("host.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nurl = \"https://vault.corp.example:8443\"\nidentity = {:?}\n",
                identity.display().to_string()
            ),
        )
        .unwrap();
        let mut session = Session::new(Caller::Chromium {
            extension_id: twofill_words::CHROMIUM_EXTENSION_ID.into(),
        });
        session.settings = Some(config::load_from(&config, None, |_| None).unwrap());
        session.remember_files();
        session.forget_if_changed();
        assert!(
            session.settings.is_some(),
            "nothing changed, nothing dropped"
        );
        std::fs::write(identity.join("device.crt"), b"joined since").unwrap();
        session.forget_if_changed();
        assert!(
            session.settings.is_none(),
            "the new identity is loaded anew"
        );
    }

    #[test]
    fn a_system_server_table_means_no_local_vault_is_ever_opened() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("vault.sqlite3");
        let system = dir.path().join("host.toml");
        std::fs::write(
            &system,
            format!(
                "vault = {:?}\n[server]\nurl = \"https://vault.corp.example:8443\"\nidentity = {:?}\n",
                vault.display().to_string(),
                dir.path().join("device").display().to_string()
            ),
        )
        .unwrap();
        let settings = config::load_from(&system, None, |_| None).unwrap();
        let mut input = Vec::new();
        for payload in [
            r#"{"v":1,"id":"h","type":"hello"}"#,
            r#"{"v":1,"id":"l","type":"list_tokens","origin":"https://my.kaspersky.com"}"#,
            r#"{"v":1,"id":"c","type":"get_code","origin":"https://my.kaspersky.com"}"#,
            r#"{"v":1,"id":"s","type":"reveal_seed","token":"0123456789ab"}"#,
        ] {
            write_frame(&mut input, payload.as_bytes()).unwrap();
        }
        let (code, replies) = run_with(&input, Some(settings));
        assert_eq!(code, ExitCode::SUCCESS);
        match &replies[0].body {
            ResponseBody::Hello {
                server,
                user,
                managed,
                ..
            } => {
                assert_eq!(server.as_deref(), Some("https://vault.corp.example:8443"));
                assert_eq!((user, *managed), (&None, true));
            }
            other => panic!("{other:?}"),
        }
        for reply in &replies[1..] {
            assert_eq!(code_of(reply), ErrorCode::DeviceNotEnrolled, "{reply:?}");
            let ResponseBody::Error { error } = &reply.body else {
                unreachable!()
            };
            assert!(
                error
                    .message
                    .contains("twofill-host join https://vault.corp.example:8443 --invite"),
                "{}",
                error.message
            );
        }
        assert!(!vault.exists(), "no local vault may be created or opened");
    }

    /// Only messages that fail before the vault is opened: a unit test must
    /// not open the vault of the person running it.
    #[test]
    fn malformed_messages_get_structured_errors_and_the_loop_goes_on() {
        let mut input = Vec::new();
        for payload in [
            &br#"{"v":2,"id":"a","type":"hello"}"#[..],
            b"\xff",
            b"[[[[",
            br#"{"v":1,"id":"a","type":"nope"}"#,
        ] {
            write_frame(&mut input, payload).unwrap();
        }
        let (code, replies) = run(&input);
        assert_eq!(code, ExitCode::SUCCESS);
        let codes: Vec<ErrorCode> = replies.iter().map(code_of).collect();
        assert_eq!(
            codes,
            [
                ErrorCode::UnsupportedVersion,
                ErrorCode::BadJson,
                ErrorCode::BadJson,
                ErrorCode::UnknownType
            ]
        );
    }
}
