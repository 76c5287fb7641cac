//! `twofill-host login` / `logout`: sign this device's user in to the team
//! server with the organization's identity provider, or out again.
//!
//! The server is the OpenID Connect relying party; this side only drives
//! the browser and hands the server what came back. The browser flow is
//! Authorization Code + PKCE with a loopback redirect (RFC 8252): fresh
//! secrets ([`SignInSecrets`]), a listener on `127.0.0.1:<random port>`
//! ([`CallbackListener`]: exactly one request with this login's `state`),
//! the system browser (or, with `--no-browser`, the address printed), then
//! the code, verifier and nonce to the server, which validates the ID token
//! and answers a session bound to this device. `--device` uses the device
//! authorization grant (RFC 8628) through the server for machines without
//! a browser. Prompts go to standard error, the result to standard output.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Serialize;
use twofill_protocol::{ErrorBody, ErrorCode};

use super::{Invocation, JsonFlag, Report, emit};
use crate::server::Server;
use crate::server::callback::{CallbackListener, CallbackOutcome};
use crate::server::pkce::SignInSecrets;
use twofill_team_api::{
    SSO_DEVICE_POLL_PATH, SSO_DEVICE_START_PATH, SSO_EXCHANGE_PATH, SSO_LOGOUT_PATH,
    SsoConfigReply, SsoDevicePollRequest, SsoDeviceStart, SsoDeviceStartRequest,
    SsoExchangeRequest, SsoLogoutReply, SsoLogoutRequest, SsoSession,
};

#[derive(Args)]
pub(super) struct LoginArgs {
    /// Sign in on another device's browser with a code (RFC 8628), for a
    /// computer without a browser.
    #[arg(long)]
    device: bool,
    /// Print the sign-in address instead of opening the system browser.
    #[arg(long)]
    no_browser: bool,
    /// Make the provider ask for the sign-in again instead of reusing its
    /// browser session (`prompt=login`, `max_age=0`): for seed reveals,
    /// which need a recent sign-in.
    #[arg(long)]
    fresh: bool,
    /// How long to wait for the sign-in to complete, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    #[command(flatten)]
    out: JsonFlag,
}

#[derive(Args)]
pub(super) struct LogoutArgs {
    #[command(flatten)]
    out: JsonFlag,
}

#[derive(Serialize)]
struct SignedIn {
    server: String,
    org: String,
    user: String,
    groups: Vec<String>,
    admin: bool,
    /// `browser` or `device`.
    flow: &'static str,
    /// Unix ms: the ticket is refreshed by itself after this.
    expires_at_ms: i64,
    /// Unix ms: sign in again after this.
    session_max_at_ms: i64,
    /// Where the refresh token's key is (`None`: the server gave none).
    refresh_token_key: Option<String>,
    /// How long the sign-in took, from start to a stored session.
    elapsed_ms: u64,
}

#[derive(Serialize)]
struct SignedOut {
    server: String,
    /// The server ended the session too (else it had ended already, or
    /// could not be reached, and only this computer forgot it).
    server_session_ended: bool,
    /// Why the server did not, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

fn fail(e: ErrorBody) -> anyhow::Error {
    anyhow!("{}", e.message)
}

fn open_server(cx: &Invocation) -> Result<Server> {
    let target = cx.settings.server()?.ok_or_else(|| {
        anyhow!(
            "this computer has not joined a team server, so there is nothing to sign in to; run `twofill-host join URL --invite …` first"
        )
    })?;
    Server::open(&target, &cx.settings.config_display()).map_err(fail)
}

pub(super) fn login(cx: Invocation, args: LoginArgs) -> Result<()> {
    let started = Instant::now();
    let server = open_server(&cx)?;
    let config = server.sso_config().map_err(fail)?;
    if !config.enabled {
        bail!(
            "the team server {} does not use single sign-on; this device needs no sign-in",
            server.url()
        );
    }
    let timeout = Duration::from_secs(args.timeout);
    let session = if args.device {
        device_flow(&server, &config, timeout)?
    } else {
        browser_flow(&server, &config, args.no_browser, args.fresh, timeout)?
    };
    let storage = server
        .keep_session(&session, Some(config.org_name.clone()))
        .context("signed in, but cannot keep the session on this computer")?;
    let report = SignedIn {
        server: server.url(),
        org: config.org_name,
        user: session.user,
        groups: session.groups,
        admin: session.admin,
        flow: if args.device { "device" } else { "browser" },
        expires_at_ms: session.expires_at_ms,
        session_max_at_ms: session.session_max_at_ms,
        refresh_token_key: storage.map(|s| s.to_string()),
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    emit(args.out, &report)
}

/// The address the browser opens: the provider's authorization endpoint
/// with this login's parameters.
pub fn authorization_url(
    config: &SsoConfigReply,
    secrets: &SignInSecrets,
    redirect_uri: &str,
) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", &config.client_id),
        ("redirect_uri", redirect_uri),
        ("scope", &config.scopes),
        ("state", &secrets.state),
        ("nonce", &secrets.nonce),
        ("code_challenge", &secrets.code_challenge()),
        ("code_challenge_method", "S256"),
    ];
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect();
    let joiner = if config.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}{joiner}{}",
        config.authorization_endpoint,
        query.join("&")
    )
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn browser_flow(
    server: &Server,
    config: &SsoConfigReply,
    no_browser: bool,
    fresh: bool,
    timeout: Duration,
) -> Result<SsoSession> {
    let secrets = SignInSecrets::generate();
    let listener = CallbackListener::bind(&secrets.state)
        .context("cannot listen on 127.0.0.1 for the sign-in's redirect")?;
    let redirect_uri = listener.redirect_uri();
    let mut url = authorization_url(config, &secrets, &redirect_uri);
    if fresh {
        url.push_str("&prompt=login&max_age=0");
    }
    let opened = !no_browser && open_browser(&url).is_ok();
    let mut err = std::io::stderr().lock();
    if opened {
        writeln!(
            err,
            "Sign in to {} in the browser window that opened. If none did, open this address:\n{url}",
            config.org_name
        )?;
    } else {
        writeln!(
            err,
            "Open this address in a browser on this computer to sign in to {}:\n{url}",
            config.org_name
        )?;
    }
    writeln!(
        err,
        "Waiting for the sign-in (up to {} s)…",
        timeout.as_secs()
    )?;
    err.flush()?;
    drop(err);
    let code = match listener.wait(timeout)? {
        CallbackOutcome::Code(code) => code,
        CallbackOutcome::Refused { error, description } => bail!(
            "{} refused the sign-in: {error}{}; run `twofill-host login` again, or ask your IT department",
            config.org_name,
            description.map(|d| format!(" ({d})")).unwrap_or_default()
        ),
    };
    let exchange = SsoExchangeRequest {
        code,
        code_verifier: secrets.code_verifier.clone(),
        redirect_uri,
        nonce: secrets.nonce.clone(),
    };
    server.call(SSO_EXCHANGE_PATH, &exchange).map_err(fail)
}

/// Opens `url` in the system browser: `$BROWSER` when set (its first
/// entry; `%s` stands for the address), else the platform's opener.
fn open_browser(url: &str) -> std::io::Result<()> {
    let mut command = match std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        Some(browser) => {
            let first = browser.split(':').next().unwrap_or_default().to_owned();
            let mut words = first.split_whitespace().map(str::to_owned);
            let program = words.next().unwrap_or_default();
            let mut args: Vec<String> = words.collect();
            if args.iter().any(|a| a.contains("%s")) {
                args = args.iter().map(|a| a.replace("%s", url)).collect();
            } else {
                args.push(url.to_owned());
            }
            let mut c = std::process::Command::new(program);
            c.args(args);
            c
        }
        None if cfg!(target_os = "macos") => {
            let mut c = std::process::Command::new("open");
            c.arg(url);
            c
        }
        None if cfg!(windows) => {
            let mut c = std::process::Command::new("cmd");
            c.args(["/C", "start", ""]).arg(url);
            c
        }
        None => {
            let mut c = std::process::Command::new("xdg-open");
            c.arg(url);
            c
        }
    };
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = command.spawn()?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

fn device_flow(server: &Server, config: &SsoConfigReply, timeout: Duration) -> Result<SsoSession> {
    if !config.device_flow {
        bail!(
            "{} does not offer sign-in with a code on another device; run `twofill-host login` on a computer with a browser",
            config.org_name
        );
    }
    let start: SsoDeviceStart = server
        .call(SSO_DEVICE_START_PATH, &SsoDeviceStartRequest::default())
        .map_err(fail)?;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "To sign in to {}, open {} on any device and enter the code {}",
        config.org_name, start.verification_uri, start.user_code
    )?;
    if let Some(complete) = &start.verification_uri_complete {
        writeln!(err, "(or open {complete})")?;
    }
    err.flush()?;
    drop(err);
    let deadline = Instant::now() + timeout.min(Duration::from_secs(start.expires_in_s.max(1)));
    // RFC 8628 §3.5: at least the server's interval, 5 s more on slow_down.
    let mut interval = Duration::from_secs(start.interval_s.max(1));
    let poll = SsoDevicePollRequest {
        device_code: start.device_code.clone(),
    };
    loop {
        if Instant::now() + interval > deadline {
            bail!(
                "the code {} was not approved in time; run `twofill-host login --device` again",
                start.user_code
            );
        }
        std::thread::sleep(interval);
        match server.call::<_, SsoSession>(SSO_DEVICE_POLL_PATH, &poll) {
            Ok(session) => return Ok(session),
            Err(e) if e.code == ErrorCode::SsoPending => {}
            Err(e) if e.code == ErrorCode::SsoSlowDown => interval += Duration::from_secs(5),
            Err(e) => return Err(fail(e)),
        }
    }
}

pub(super) fn logout(cx: Invocation, args: LogoutArgs) -> Result<()> {
    let server = open_server(&cx)?;
    let store = server.sessions();
    let (server_session_ended, note) = if server.session().is_some() {
        let ended = server
            .call_signed_in::<_, SsoLogoutReply>(SSO_LOGOUT_PATH, &SsoLogoutRequest::default());
        match ended {
            Ok(reply) => (reply.ended, None),
            Err(e) => (false, Some(e.message)),
        }
    } else {
        (false, Some("this computer was not signed in".to_owned()))
    };
    store
        .remove()
        .context("cannot remove the sign-in session from this computer")?;
    emit(
        args.out,
        &SignedOut {
            server: server.url(),
            server_session_ended,
            note,
        },
    )
}

fn at(ms: i64) -> String {
    twofill_siem::format::rfc3339_utc(ms)
}

impl Report for SignedIn {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "Signed in to {} as {}.", self.org, self.user)?;
        if !self.groups.is_empty() {
            writeln!(out, "groups:  {}", self.groups.join(", "))?;
        }
        writeln!(out, "server:  {}", self.server)?;
        writeln!(
            out,
            "session: renewed by itself until {} (then sign in again)",
            at(self.session_max_at_ms)
        )?;
        if let Some(k) = &self.refresh_token_key {
            writeln!(out, "refresh token sealed; its key is in {k}")?;
        }
        Ok(())
    }
}

impl Report for SignedOut {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.server_session_ended {
            writeln!(out, "Signed out of {}.", self.server)
        } else {
            writeln!(
                out,
                "Signed out on this computer ({}).",
                self.note
                    .as_deref()
                    .unwrap_or("the server's session had ended")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_url_carries_pkce_state_nonce_and_the_loopback_redirect() {
        let config = SsoConfigReply {
            enabled: true,
            required: false,
            org_name: "Example".into(),
            issuer: "https://idp.example".into(),
            authorization_endpoint: "https://idp.example/auth".into(),
            client_id: "twofill cli".into(),
            scopes: "openid email".into(),
            device_flow: false,
        };
        let secrets = SignInSecrets::generate();
        let url = authorization_url(&config, &secrets, "http://127.0.0.1:5000/callback");
        assert!(
            url.starts_with("https://idp.example/auth?response_type=code&"),
            "{url}"
        );
        for part in [
            "client_id=twofill%20cli".to_owned(),
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback".to_owned(),
            "scope=openid%20email".to_owned(),
            format!("state={}", secrets.state),
            format!("nonce={}", secrets.nonce),
            format!("code_challenge={}", secrets.code_challenge()),
            "code_challenge_method=S256".to_owned(),
        ] {
            assert!(url.contains(&part), "{part} not in {url}");
        }
        assert!(
            !url.contains(&secrets.code_verifier),
            "the verifier stays here"
        );
    }
}
