//! Who is asking: the device behind a request's client certificate, and
//! the requester the vault's rules see (the device's user, the browser and
//! extension the host reports).

use std::sync::Arc;

use sha2::{Digest, Sha256};
use twofill_team_api::{ClientContext, DeviceInfo, ErrorCode};
use twofill_vault::{DeviceRecord, Refusal, Requester, SsoSessionRecord, Vault, VaultError};
use twofill_words::unix_now_ms;

use crate::http::ApiError;
use crate::refusal::vault_failure;
use crate::sso::Sso;

/// SHA-256 of the client certificate the TLS handshake verified against
/// the server's CA, if the client presented one.
pub type CertHash = Option<[u8; 32]>;

/// Who a request says it is: the device's certificate, the session ticket
/// it carries (header `SESSION_HEADER`), and the server's sign-in rules.
#[derive(Clone)]
pub struct Peer {
    pub cert: CertHash,
    pub ticket: Option<String>,
    pub sso: Option<Arc<Sso>>,
}

/// What a request needs besides the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The device and, where sign-in applies, a valid session.
    Session,
    /// As `Session`, and a sign-in recent enough for a seed reveal.
    FreshSignIn,
}

/// The enrolled, unrevoked device of an enabled user, with its session when
/// single sign-on applies to it: always under `[sso] required`, and for any
/// user who signs in through the provider (or any request carrying a
/// ticket). A missing or bad ticket is `signed_out`, an old one
/// `session_expired`, a seed reveal without a recent sign-in `sign_in_again`.
pub fn authenticate(vault: &mut Vault, peer: &Peer) -> Result<DeviceRecord, ApiError> {
    authenticate_session(vault, peer, Need::Session).map(|(device, _)| device)
}

pub fn authenticate_session(
    vault: &mut Vault,
    peer: &Peer,
    need: Need,
) -> Result<(DeviceRecord, Option<SsoSessionRecord>), ApiError> {
    let device = authenticate_device(vault, peer.cert)?;
    if vault.user_disabled(&device.user).map_err(vault_failure)? {
        return Err(vault_failure(VaultError::Refused(Refusal::UserDisabled {
            user: device.user.clone(),
        })));
    }
    let Some(sso) = &peer.sso else {
        return Ok((device, None));
    };
    let applies = sso.config.required
        || peer.ticket.is_some()
        || vault.is_sso_user(&device.user).map_err(vault_failure)?;
    if !applies {
        return Ok((device, None));
    }
    let Some(ticket) = &peer.ticket else {
        return Err(sso.signed_out(vault_failure(VaultError::Refused(Refusal::SignedOut))));
    };
    let ticket_sha256: [u8; 32] = Sha256::digest(ticket.as_bytes()).into();
    let session = vault
        .sso_session(&device, &ticket_sha256)
        .map_err(|e| sso.signed_out(vault_failure(e)))?;
    if need == Need::FreshSignIn
        && !session.signed_in_within(sso.config.reveal_fresh_ms(), unix_now_ms())
    {
        let why = format!(
            "showing a seed needs a sign-in within the last {} s",
            sso.config.reveal_fresh_ms() / 1000
        );
        return Err(
            sso.signed_out(vault_failure(VaultError::Refused(Refusal::SignInAgain {
                why,
            }))),
        );
    }
    Ok((device, Some(session)))
}

/// The enrolled, unrevoked device holding the certificate `cert`. Anything
/// else is a 401 that says how to enroll, and nothing more.
pub fn authenticate_device(vault: &mut Vault, cert: CertHash) -> Result<DeviceRecord, ApiError> {
    let Some(cert_sha256) = cert else {
        return Err(not_enrolled(ErrorCode::DeviceNotEnrolled));
    };
    vault.authenticate_device(&cert_sha256).map_err(|e| {
        let e = vault_failure(e);
        match e.body.code {
            code @ (ErrorCode::DeviceNotEnrolled | ErrorCode::DeviceRevoked) => not_enrolled(code),
            _ => e,
        }
    })
}

fn not_enrolled(code: ErrorCode) -> ApiError {
    let why = match code {
        ErrorCode::DeviceRevoked => "this device's enrollment with the team server was revoked",
        _ => "this device is not enrolled with the team server",
    };
    ApiError::new(
        code,
        format!(
            "{why}: ask your twofill admin for an invite, then enroll this device with \
             `twofill-host join https://SERVER --invite INVITE`"
        ),
    )
}

/// Browser and extension names as the host reports them, kept short: the
/// audit log is no place for megabytes of client input.
fn short(text: &Option<String>) -> Option<String> {
    text.as_ref().map(|t| t.chars().take(100).collect())
}

pub fn requester(device: &DeviceRecord, client: &ClientContext) -> Requester {
    Requester {
        user: device.user.clone(),
        browser: short(&client.browser),
        extension_id: short(&client.extension_id),
    }
}

pub fn device_info(device: &DeviceRecord) -> DeviceInfo {
    DeviceInfo {
        id: device.id.clone(),
        user: device.user.clone(),
        name: device.name.clone(),
        joined_at_ms: device.joined_at_ms,
        revoked_at_ms: device.revoked_at_ms,
    }
}
