//! The `/v1/sso*` paths. Each one needs the device's certificate (not a
//! session: these are how a device gets one). The provider is called on
//! the blocking pool without holding a vault handle; the vault then
//! applies the validated sign-in, or records the refusal with its reason.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use twofill_team_api::{
    ErrorCode, SsoConfigReply, SsoDevicePollRequest, SsoDeviceStart, SsoDeviceStartRequest,
    SsoExchangeRequest, SsoLogoutReply, SsoLogoutRequest, SsoRefreshRequest, SsoSession,
};
use twofill_vault::{DeviceRecord, Refusal, SsoSessionRecord, SsoSignIn, VaultError};
use twofill_words::unix_now_ms;

use super::grant::{GrantError, TokenAnswer};
use super::{Refused, Sso, unavailable};
use crate::App;
use crate::device::{Peer, authenticate_device};
use crate::http::{ApiError, Reply, ok};
use crate::refusal::vault_failure;

fn sso_of(peer: &Peer) -> Result<Arc<Sso>, ApiError> {
    peer.sso.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotPermitted,
            "this team server has no single sign-on configured ([sso] in server.toml); \
             the device certificate alone is enough here",
        )
        .with_status(hyper::StatusCode::NOT_FOUND)
    })
}

async fn device_of(app: &App, peer: &Peer) -> Result<DeviceRecord, ApiError> {
    let cert = peer.cert;
    app.pool
        .run(move |vault| authenticate_device(vault, cert))
        .await
}

/// Runs provider work on the blocking pool.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(job).await.map_err(|e| {
        eprintln!("twofill-server: identity provider call failed: {e}");
        ApiError::internal()
    })
}

pub async fn config(app: &App, peer: Peer) -> Result<Reply, ApiError> {
    let sso = sso_of(&peer)?;
    device_of(app, &peer).await?;
    let endpoints = {
        let sso = Arc::clone(&sso);
        blocking(move || sso.provider.endpoints()).await?
    }
    .map_err(|e| refused_error(&unavailable(&e)))?;
    let c = &sso.config;
    Ok(ok(&SsoConfigReply {
        enabled: true,
        required: c.required,
        org_name: c.org_name.clone(),
        issuer: c.issuer.clone(),
        authorization_endpoint: endpoints.authorization,
        client_id: c.client_id.clone(),
        scopes: c.scopes.join(" "),
        device_flow: endpoints.device_authorization.is_some(),
    }))
}

pub async fn exchange(
    app: &App,
    peer: Peer,
    request: SsoExchangeRequest,
) -> Result<Reply, ApiError> {
    let sso = sso_of(&peer)?;
    let device = device_of(app, &peer).await?;
    // RFC 8252 §7.3: the laptop's redirect is a loopback one.
    if !request.redirect_uri.starts_with("http://127.0.0.1:") {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "redirect_uri must be the loopback callback http://127.0.0.1:PORT/callback",
        ));
    }
    let validated = {
        let sso = Arc::clone(&sso);
        blocking(move || {
            let answer =
                sso.exchange_code(&request.code, &request.code_verifier, &request.redirect_uri);
            validate(&sso, answer, Some(&request.nonce))
        })
        .await?
    };
    finish(app, sso, device, validated, None).await
}

pub async fn device_start(
    app: &App,
    peer: Peer,
    _request: SsoDeviceStartRequest,
) -> Result<Reply, ApiError> {
    let sso = sso_of(&peer)?;
    let device = device_of(app, &peer).await?;
    let started = {
        let sso = Arc::clone(&sso);
        blocking(move || sso.device_start()).await?
    };
    match started {
        Ok(a) => Ok(ok(&SsoDeviceStart {
            device_code: a.device_code,
            user_code: a.user_code,
            verification_uri: a.verification_uri,
            verification_uri_complete: a.verification_uri_complete,
            interval_s: a.interval_s,
            expires_in_s: a.expires_in_s,
        })),
        Err(e) => Err(grant_failure(app, &device, e).await),
    }
}

pub async fn device_poll(
    app: &App,
    peer: Peer,
    request: SsoDevicePollRequest,
) -> Result<Reply, ApiError> {
    let sso = sso_of(&peer)?;
    let device = device_of(app, &peer).await?;
    let validated = {
        let sso = Arc::clone(&sso);
        blocking(move || {
            // Device flow ID tokens carry no nonce (RFC 8628 has none).
            let answer = sso.device_poll(&request.device_code);
            validate(&sso, answer, None)
        })
        .await?
    };
    finish(app, sso, device, validated, None).await
}

pub async fn refresh(app: &App, peer: Peer, request: SsoRefreshRequest) -> Result<Reply, ApiError> {
    let sso = sso_of(&peer)?;
    let device = device_of(app, &peer).await?;
    // The session this refresh continues: it keeps its sign-in time and its
    // maximum age. Without one, the device must sign in.
    let device_id = device.id.clone();
    let previous = app
        .pool
        .run(move |vault| {
            vault
                .sso_session_of_device(&device_id)
                .map_err(vault_failure)
        })
        .await?;
    let Some(previous) = previous else {
        return Err(sso.signed_out(vault_failure(VaultError::Refused(Refusal::SignedOut))));
    };
    if unix_now_ms() >= previous.max_at_ms {
        return Err(
            sso.signed_out(vault_failure(VaultError::Refused(Refusal::SignInAgain {
                why: "the session reached the organization's maximum age".into(),
            }))),
        );
    }
    let validated = {
        let sso = Arc::clone(&sso);
        blocking(move || {
            let answer = sso.refresh(&request.refresh_token);
            validate(&sso, answer, None)
        })
        .await?
    };
    finish(app, sso, device, validated, Some(previous)).await
}

pub async fn logout(app: &App, peer: Peer, _request: SsoLogoutRequest) -> Result<Reply, ApiError> {
    sso_of(&peer)?;
    let cert = peer.cert;
    let ended = app
        .pool
        .run(move |vault| {
            let device = authenticate_device(vault, cert)?;
            vault.sso_logout(&device).map_err(vault_failure)
        })
        .await?;
    Ok(ok(&SsoLogoutReply { ended }))
}

/// A validated sign-in, or why not.
type Validated = Result<(super::jwt::Verified, Option<String>), GrantError>;

fn validate(sso: &Sso, answer: Result<TokenAnswer, GrantError>, nonce: Option<&str>) -> Validated {
    let answer = answer?;
    match sso.validate(&answer.id_token, nonce) {
        Ok(facts) => Ok((facts, answer.refresh_token)),
        Err(Refused { reason, detail }) => Err(GrantError::Refused { reason, detail }),
    }
}

/// Opens the session (or records the refusal) and answers it.
async fn finish(
    app: &App,
    sso: Arc<Sso>,
    device: DeviceRecord,
    validated: Validated,
    previous: Option<SsoSessionRecord>,
) -> Result<Reply, ApiError> {
    let (facts, refresh_token) = match validated {
        Ok(v) => v,
        Err(e) => return Err(grant_failure(app, &device, e).await),
    };
    let mut ticket_bytes = [0u8; 32];
    crate::random::fill(&mut ticket_bytes);
    let ticket = ticket_text(&ticket_bytes);
    let ticket_sha256: [u8; 32] = Sha256::digest(ticket.as_bytes()).into();
    let now = unix_now_ms();
    let (signed_in_at_ms, max_at_ms) = match &previous {
        Some(p) => (p.signed_in_at_ms, p.max_at_ms),
        None => {
            // The provider's auth_time (an earlier sign-in it remembered);
            // never a time in the future.
            let auth = facts
                .auth_time_s
                .map(|s| s.saturating_mul(1000))
                .unwrap_or(now);
            (auth.min(now), now + sso.config.session_max_ms())
        }
    };
    let expires_at_ms = (now + sso.config.refresh_ms()).min(max_at_ms);
    let issuer = sso.config.issuer.clone();
    let (groups, managed) = sso.config.map_groups(&facts.groups);
    let admin = sso.config.is_admin(&facts.groups);
    let record = app
        .pool
        .run(move |vault| {
            vault
                .sso_sign_in(&SsoSignIn {
                    issuer: &issuer,
                    subject: &facts.subject,
                    email: &facts.email,
                    device: &device,
                    ticket_sha256,
                    signed_in_at_ms,
                    expires_at_ms,
                    max_at_ms,
                    groups: &groups,
                    managed_groups: &managed,
                    admin,
                    refresh: previous.is_some(),
                })
                .map_err(vault_failure)
        })
        .await?;
    Ok(ok(&SsoSession {
        ticket,
        user: record.user,
        groups: record.groups,
        admin: record.admin,
        expires_at_ms: record.expires_at_ms,
        session_max_at_ms: record.max_at_ms,
        signed_in_at_ms: record.signed_in_at_ms,
        refresh_token,
    }))
}

/// A grant that did not end in a sign-in: polling goes on, or the refusal
/// is recorded under the device's user with its reason.
async fn grant_failure(app: &App, device: &DeviceRecord, e: GrantError) -> ApiError {
    let refused = match e {
        GrantError::Pending => {
            return ApiError::new(
                ErrorCode::SsoPending,
                "the sign-in has not been approved yet; keep polling",
            );
        }
        GrantError::SlowDown => {
            return ApiError::new(
                ErrorCode::SsoSlowDown,
                "polling too fast; wait 5 s longer between polls",
            );
        }
        GrantError::Refused { reason, detail } => Refused { reason, detail },
        GrantError::Provider(e) => unavailable(&e),
    };
    let user = device.user.clone();
    let recorded = refused.clone();
    let noted = app
        .pool
        .run(move |vault| {
            vault
                .record_sso_refusal(&user, &recorded.reason, &recorded.detail)
                .map_err(vault_failure)
        })
        .await;
    match noted {
        Ok(()) => refused_error(&refused),
        Err(e) => e,
    }
}

fn refused_error(refused: &Refused) -> ApiError {
    let e = ApiError::new(
        ErrorCode::SsoRefused,
        format!(
            "the sign-in was refused ({}): {}",
            refused.reason, refused.detail
        ),
    );
    if refused.reason == "provider_unavailable" {
        e.with_status(hyper::StatusCode::BAD_GATEWAY)
    } else {
        e
    }
}

/// A ticket as it travels in the session header: 32 random bytes, base64url.
fn ticket_text(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
