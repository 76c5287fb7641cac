//! The API's routes: which path and method runs which handler, and the
//! device endpoints (`whoami`, `tokens`, `code`, `seed`, `recovery-code`),
//! which answer
//! through `twofill_answer` with the same rules as the native host.
//!
//! Every path but [`CA_PATH`] and [`JOIN_PATH`] needs an enrolled device's
//! client certificate; the device's user is who asks.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use twofill_answer::{Answerer, CodeAsk};
use twofill_team_api::{
    CA_PATH, CODE_PATH, CodeRequest, DEVICES_PATH, ErrorCode, INVITES_PATH, JOIN_PATH,
    MAX_BODY_BYTES, MAX_PUSH_BODY_BYTES, OFFBOARDING_PATH, PUSH_PATH, RECOVERY_CODE_PATH,
    REVOKE_DEVICE_PATH, RecoveryCodeRequest, SEED_PATH, SESSION_HEADER, SMS_INBOUND_PATH_PREFIX,
    SMS_INBOXES_PATH, SMS_WAIT_PATH, SSO_CONFIG_PATH, SSO_DEVICE_POLL_PATH, SSO_DEVICE_START_PATH,
    SSO_EXCHANGE_PATH, SSO_LOGOUT_PATH, SSO_REFRESH_PATH, SeedRequest, SessionInfo, TOKENS_PATH,
    TokensRequest, WHOAMI_PATH, WhoAmIReply, WhoAmIRequest,
};

use crate::App;
use crate::device::{
    CertHash, Need, Peer, authenticate, authenticate_session, device_info, requester,
};
use crate::http::{ApiError, Reply, decode, ok, pem, read_body};
use crate::refusal::vault_failure;
use crate::sso::endpoints as sso;

/// What a path names.
enum Endpoint {
    Ca,
    Join,
    WhoAmI,
    Tokens,
    Code,
    Seed,
    RecoveryCode,
    Invites,
    Devices,
    Revoke(String),
    Push,
    SsoConfig,
    SsoExchange,
    SsoDeviceStart,
    SsoDevicePoll,
    SsoRefresh,
    SsoLogout,
    Offboarding,
    SmsWait,
    SmsInboxes,
}

impl Endpoint {
    fn of(path: &str) -> Option<Endpoint> {
        Some(match path {
            CA_PATH => Endpoint::Ca,
            JOIN_PATH => Endpoint::Join,
            WHOAMI_PATH => Endpoint::WhoAmI,
            TOKENS_PATH => Endpoint::Tokens,
            CODE_PATH => Endpoint::Code,
            SEED_PATH => Endpoint::Seed,
            RECOVERY_CODE_PATH => Endpoint::RecoveryCode,
            INVITES_PATH => Endpoint::Invites,
            DEVICES_PATH => Endpoint::Devices,
            PUSH_PATH => Endpoint::Push,
            SSO_CONFIG_PATH => Endpoint::SsoConfig,
            SSO_EXCHANGE_PATH => Endpoint::SsoExchange,
            SSO_DEVICE_START_PATH => Endpoint::SsoDeviceStart,
            SSO_DEVICE_POLL_PATH => Endpoint::SsoDevicePoll,
            SSO_REFRESH_PATH => Endpoint::SsoRefresh,
            SSO_LOGOUT_PATH => Endpoint::SsoLogout,
            OFFBOARDING_PATH => Endpoint::Offboarding,
            SMS_WAIT_PATH => Endpoint::SmsWait,
            SMS_INBOXES_PATH => Endpoint::SmsInboxes,
            _ => {
                let (prefix, suffix) = REVOKE_DEVICE_PATH.split_once("{id}")?;
                let id = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
                if id.is_empty() || id.contains('/') {
                    return None;
                }
                Endpoint::Revoke(id.to_owned())
            }
        })
    }

    fn method(&self) -> Method {
        match self {
            Endpoint::Ca | Endpoint::Devices | Endpoint::SsoConfig | Endpoint::Offboarding => {
                Method::GET
            }
            _ => Method::POST,
        }
    }
}

/// Answers one request. Its body must arrive within the request time
/// limit (else 408); the whole answer gets twice that (else 503: the
/// database is too slow, and the client should try again).
pub async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
    cert: CertHash,
    source: std::net::IpAddr,
) -> Reply {
    // The ticket is a short printable string; anything else is no ticket.
    let ticket = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .map(str::to_owned);
    let peer = Peer {
        cert,
        ticket,
        sso: app.sso.clone(),
    };
    // An SMS wait is held open for up to its own limit.
    let limit = if request.uri().path() == SMS_WAIT_PATH {
        std::time::Duration::from_millis(twofill_team_api::MAX_SMS_WAIT_MS) + app.limits.request()
    } else {
        app.limits.request() * 2
    };
    match tokio::time::timeout(limit, route(app, request, peer, source)).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => e.into_reply(),
        Err(_) => {
            eprintln!(
                "twofill-server: a request took over {} ms",
                limit.as_millis()
            );
            ApiError::storage_unavailable().into_reply()
        }
    }
}

async fn route(
    app: Arc<App>,
    request: Request<Incoming>,
    peer: Peer,
    source: std::net::IpAddr,
) -> Result<Reply, ApiError> {
    if let Some(provider) = request.uri().path().strip_prefix(SMS_INBOUND_PATH_PREFIX) {
        let provider = provider.to_owned();
        return crate::sms::inbound(&app, &provider, request, source).await;
    }
    let Some(endpoint) = Endpoint::of(request.uri().path()) else {
        return Err(ApiError::new(
            ErrorCode::UnknownType,
            format!(
                "there is no {} on this server; update twofill-host to the server's version",
                shown(request.uri().path())
            ),
        ));
    };
    let allowed = endpoint.method();
    if request.method() != allowed {
        let mut reply = ApiError::new(
            ErrorCode::BadRequest,
            format!("{} takes {allowed} only", shown(request.uri().path())),
        )
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
        .into_reply();
        reply.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_str(allowed.as_str()).expect("a method is a header value"),
        );
        return Ok(reply);
    }
    let query = request.uri().query().map(str::to_owned);
    match endpoint {
        Endpoint::Ca => return Ok(pem(app.ca.pem())),
        Endpoint::Devices => return crate::admin_api::devices(&app, peer, query.as_deref()).await,
        Endpoint::SsoConfig => return sso::config(&app, peer).await,
        Endpoint::Offboarding => {
            return crate::admin_api::offboarding(&app, peer, query.as_deref()).await;
        }
        _ => {}
    }
    // Every other endpoint is a POST with a JSON body.
    // A push carries a whole vault; nothing else needs more than 64 KiB.
    let max = match endpoint {
        Endpoint::Push => MAX_PUSH_BODY_BYTES,
        _ => MAX_BODY_BYTES,
    };
    let body = read_body(request, app.limits.request(), max).await?;
    match endpoint {
        Endpoint::Ca | Endpoint::Devices | Endpoint::SsoConfig | Endpoint::Offboarding => {
            unreachable!("answered above")
        }
        Endpoint::SsoExchange => sso::exchange(&app, peer, decode(&body)?).await,
        Endpoint::SsoDeviceStart => sso::device_start(&app, peer, decode(&body)?).await,
        Endpoint::SsoDevicePoll => sso::device_poll(&app, peer, decode(&body)?).await,
        Endpoint::SsoRefresh => sso::refresh(&app, peer, decode(&body)?).await,
        Endpoint::SsoLogout => sso::logout(&app, peer, decode(&body)?).await,
        Endpoint::Join => crate::join::join(&app, &body).await,
        Endpoint::WhoAmI => whoami(&app, peer, decode(&body)?).await,
        Endpoint::Tokens => tokens(&app, peer, decode(&body)?).await,
        Endpoint::Code => code(&app, peer, decode(&body)?).await,
        Endpoint::Seed => seed(&app, peer, decode(&body)?).await,
        Endpoint::RecoveryCode => recovery_code(&app, peer, decode(&body)?).await,
        Endpoint::Invites => crate::admin_api::invite(&app, peer, decode(&body)?).await,
        Endpoint::Revoke(id) => crate::admin_api::revoke(&app, peer, id).await,
        Endpoint::Push => crate::push::push(&app, peer, decode(&body)?).await,
        Endpoint::SmsWait => crate::sms::wait(&app, peer, decode(&body)?).await,
        Endpoint::SmsInboxes => crate::sms::inboxes(&app, peer, decode(&body)?).await,
    }
}

/// A path as echoed in a message: short, and only printable ASCII.
fn shown(path: &str) -> String {
    path.chars()
        .take(100)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

async fn whoami(app: &App, peer: Peer, _request: WhoAmIRequest) -> Result<Reply, ApiError> {
    let reply = app
        .pool
        .run(move |vault| {
            let (device, session) = authenticate_session(vault, &peer, Need::Session)?;
            let admin = vault.is_admin(&device.user).map_err(vault_failure)?;
            Ok(WhoAmIReply {
                user: device.user.clone(),
                admin,
                device: device_info(&device),
                session: session.map(|s| SessionInfo {
                    user: s.user,
                    groups: s.groups,
                    expires_at_ms: s.expires_at_ms,
                    session_max_at_ms: s.max_at_ms,
                    signed_in_at_ms: s.signed_in_at_ms,
                }),
            })
        })
        .await?;
    Ok(ok(&reply))
}

async fn tokens(app: &App, peer: Peer, request: TokensRequest) -> Result<Reply, ApiError> {
    let reply = app
        .pool
        .run(move |vault| {
            let device = authenticate(vault, &peer)?;
            Answerer::new(vault, requester(&device, &request.client))
                .list_tokens(request.origin.as_deref(), request.exclude_personal)
                .map_err(ApiError::from_body)
        })
        .await?;
    Ok(ok(&reply))
}

async fn code(app: &App, peer: Peer, request: CodeRequest) -> Result<Reply, ApiError> {
    // Who is asking and from where, read by any handle at once; then the
    // decision and its record, in the next batch (`code_batch.rs`).
    let ask = app
        .pool
        .run(move |vault| {
            let device = authenticate(vault, &peer)?;
            let who = requester(&device, &request.client);
            let purpose = twofill_answer::purpose(request.purpose);
            let origin = Answerer::new(vault, who.clone())
                .parse_origin(purpose.action(), request.origin.as_deref())
                .map_err(ApiError::from_body)?;
            Ok(CodeAsk {
                who,
                origin,
                token: request.token,
                purpose,
                exclude_personal: request.exclude_personal,
            })
        })
        .await?;
    Ok(ok(&app.codes.issue(ask).await?))
}

async fn seed(app: &App, peer: Peer, request: SeedRequest) -> Result<Reply, ApiError> {
    let reply = app
        .pool
        .run(move |vault| {
            let (device, _) = authenticate_session(vault, &peer, Need::FreshSignIn)?;
            Answerer::new(vault, requester(&device, &request.client))
                .reveal_seed(&request.token, request.purpose)
                .map_err(ApiError::from_body)
        })
        .await?;
    Ok(ok(&reply))
}

async fn recovery_code(
    app: &App,
    peer: Peer,
    request: RecoveryCodeRequest,
) -> Result<Reply, ApiError> {
    let reply = app
        .pool
        .run(move |vault| {
            // A recovery code is as sensitive as the seed: the same step-up.
            let (device, _) = authenticate_session(vault, &peer, Need::FreshSignIn)?;
            Answerer::new(vault, requester(&device, &request.client))
                .take_recovery_code(&request.token)
                .map_err(ApiError::from_body)
        })
        .await?;
    Ok(ok(&reply))
}
