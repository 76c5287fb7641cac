//! The admin endpoints: invites, the device list, revocation. The device's
//! user must be an admin; the vault checks that itself for invites and
//! revocations (and records refusals), the device list checks here.

use twofill_team_api::{
    DevicesReply, ErrorCode, InviteRequest, OffboardingReply, OffboardingToken,
};

use crate::App;
use crate::device::{Peer, authenticate, device_info};
use crate::http::{ApiError, Reply, ok};
use crate::refusal::vault_failure;

pub async fn invite(app: &App, peer: Peer, request: InviteRequest) -> Result<Reply, ApiError> {
    let ttl = match request.ttl_secs {
        None => app.limits.invite_ttl_secs,
        Some(t) if (1..=crate::invite::MAX_TTL_SECS).contains(&t) => t,
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "an invite lasts 1 s to {} days; pick a `ttl_secs` in that range or leave it out",
                    crate::invite::MAX_TTL_SECS / 86400
                ),
            ));
        }
    };
    let pin = app.ca.pin();
    let reply = app
        .pool
        .run(move |vault| {
            let device = authenticate(vault, &peer)?;
            crate::invite::create(vault, pin, &device.user, &request.user, ttl)
                .map_err(vault_failure)
        })
        .await?;
    Ok(ok(&reply))
}

pub async fn devices(app: &App, peer: Peer, query: Option<&str>) -> Result<Reply, ApiError> {
    let user = user_filter(query)?;
    let reply = app
        .pool
        .run(move |vault| {
            let device = authenticate(vault, &peer)?;
            if !vault.is_admin(&device.user).map_err(vault_failure)? {
                return Err(ApiError::new(
                    ErrorCode::NotPermitted,
                    format!(
                        "{} is not a twofill admin, and only admins list devices; \
                         ask an admin (`twofill-server devices` on the server)",
                        device.user
                    ),
                ));
            }
            let devices = vault.devices(user.as_deref()).map_err(vault_failure)?;
            Ok(DevicesReply {
                devices: devices.iter().map(device_info).collect(),
            })
        })
        .await?;
    Ok(ok(&reply))
}

pub async fn revoke(app: &App, peer: Peer, id: String) -> Result<Reply, ApiError> {
    let reply = app
        .pool
        .run(move |vault| {
            let device = authenticate(vault, &peer)?;
            let revoked = vault
                .revoke_device(&device.user, &id)
                .map_err(vault_failure)?;
            Ok(device_info(&revoked))
        })
        .await?;
    Ok(ok(&reply))
}

/// `?user=NAME` (the only query the device list takes).
fn user_filter(query: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    match query.split_once('=') {
        Some(("user", name)) if !name.is_empty() && !name.contains('&') && !name.contains('%') => {
            Ok(Some(name.to_owned()))
        }
        _ => Err(ApiError::new(
            ErrorCode::BadRequest,
            "the device list takes one query, `?user=NAME` (a user name as the vault spells it)",
        )),
    }
}

/// `GET OFFBOARDING_PATH?user=NAME` (admins only; the vault checks).
pub async fn offboarding(app: &App, peer: Peer, query: Option<&str>) -> Result<Reply, ApiError> {
    let Some(user) = user_filter(query)? else {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "the offboarding report needs `?user=NAME`",
        ));
    };
    let reply = app
        .pool
        .run(move |vault| {
            let device = authenticate(vault, &peer)?;
            let report = vault
                .offboarding(&device.user, &user)
                .map_err(vault_failure)?;
            Ok(offboarding_reply(report))
        })
        .await?;
    Ok(ok(&reply))
}

pub fn offboarding_reply(report: twofill_vault::OffboardingReport) -> OffboardingReply {
    OffboardingReply {
        user: report.user,
        disabled: report.disabled,
        rotate: report
            .revealed
            .into_iter()
            .map(|(id, label, at)| OffboardingToken {
                id,
                label,
                last_revealed_ms: Some(at),
            })
            .collect(),
        code_only: report
            .code_only
            .into_iter()
            .map(|(id, label)| OffboardingToken {
                id,
                label,
                last_revealed_ms: None,
            })
            .collect(),
        devices: report.devices.iter().map(device_info).collect(),
        last_activity_ms: report.last_activity_ms,
    }
}
