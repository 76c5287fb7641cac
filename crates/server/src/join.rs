//! `POST /v1/join`: a new device redeems its invite and gets a certificate.
//!
//! No client certificate is needed (the device has none yet); the invite's
//! one-time secret is the credential. The server names the device, signs
//! its CSR, and only then asks the vault to redeem the invite for that
//! certificate's hash, in one transaction; a refused invite leaves the
//! certificate unknown to the vault, so it authenticates nothing.

use twofill_team_api::{ErrorCode, Invite, JoinReply, JoinRequest};

use crate::App;
use crate::device::device_info;
use crate::http::{ApiError, Reply, decode, ok};
use crate::invite::secret_sha256;
use crate::refusal::vault_failure;

/// The longest device name, in characters.
const MAX_DEVICE_NAME: usize = 64;

pub async fn join(app: &App, body: &[u8]) -> Result<Reply, ApiError> {
    let request: JoinRequest = decode(body)?;
    let secret = Invite::parse_secret(&request.invite)
        .map_err(|e| ApiError::new(ErrorCode::InviteInvalid, e.to_string()))?;
    let name = device_name(&request.device_name)?;
    let device_id = crate::random::device_id();
    let certificate = app
        .ca
        .sign_device(&request.csr_pem, &device_id)
        .map_err(|refused| ApiError::new(ErrorCode::BadRequest, refused.0))?;
    let cert_sha256 = certificate.sha256;
    let device = app
        .pool
        .run(move |vault| {
            vault
                .redeem_invite(
                    secret_sha256(&secret),
                    &twofill_vault::NewDevice {
                        id: &device_id,
                        name: &name,
                        cert_sha256,
                    },
                )
                .map_err(vault_failure)
        })
        .await?;
    Ok(ok(&JoinReply {
        user: device.user.clone(),
        device: device_info(&device),
        certificate_pem: certificate.pem,
        ca_pem: app.ca.pem().to_owned(),
    }))
}

fn device_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_DEVICE_NAME
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "a device name is 1 to {MAX_DEVICE_NAME} characters without control characters; \
                 name this laptop so you will recognise it in a device list"
            ),
        ));
    }
    Ok(name.to_owned())
}
