//! Who is asking: the device behind a request's client certificate, and
//! the requester the vault's rules see (the device's user, the browser and
//! extension the host reports).

use twofill_team_api::{ClientContext, DeviceInfo, ErrorCode};
use twofill_vault::{DeviceRecord, Requester, Vault};

use crate::http::ApiError;
use crate::refusal::vault_failure;

/// SHA-256 of the client certificate the TLS handshake verified against
/// the server's CA, if the client presented one.
pub type Peer = Option<[u8; 32]>;

/// The enrolled, unrevoked device holding `peer`'s certificate. Anything
/// else is a 401 that says how to enroll, and nothing more.
pub fn authenticate(vault: &mut Vault, peer: Peer) -> Result<DeviceRecord, ApiError> {
    let Some(cert_sha256) = peer else {
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
