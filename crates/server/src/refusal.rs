//! The vault's outcomes as API errors: refusals through the mapping the
//! host uses too (`twofill_answer::vault_error`), the caller's own mistakes
//! with their message, tampered authorization rows as `vault_tampered`
//! (the row in the log only), and storage failures as the generic 503 (the
//! pool logs the details and drops the handle).

use twofill_team_api::ErrorCode;
use twofill_vault::VaultError;

use crate::http::ApiError;

pub fn vault_failure(e: VaultError) -> ApiError {
    let message = e.to_string();
    match e {
        VaultError::Refused(_) => ApiError::from_body(twofill_answer::vault_error(e)),
        // The operator gets the row (in the log); the device gets what to
        // do, not the vault's table, group and token names.
        VaultError::Tampered { .. } => {
            eprintln!("twofill-server: {message}");
            ApiError::new(
                ErrorCode::VaultTampered,
                "the team server's authorization data was changed outside twofill, so nothing was issued; \
                 tell your twofill admin (the server's log names the row: restore it from a backup, \
                 then run `twofill-server audit verify`)",
            )
        }
        VaultError::BadName(_) => ApiError::new(ErrorCode::BadRequest, message),
        VaultError::NoSuchToken(_) => ApiError::new(ErrorCode::NoSuchToken, message),
        VaultError::NoSuchDevice(_) => {
            ApiError::new(ErrorCode::BadRequest, message).with_status(hyper::StatusCode::NOT_FOUND)
        }
        VaultError::AlreadyRevoked { .. } => {
            ApiError::new(ErrorCode::BadRequest, message).with_status(hyper::StatusCode::CONFLICT)
        }
        VaultError::Invalid(_) => ApiError::new(ErrorCode::BadRequest, message),
        VaultError::NoSuchUser(_) | VaultError::NoSuchGroup(_) => {
            ApiError::new(ErrorCode::BadRequest, message)
        }
        VaultError::Exists(_) => {
            ApiError::new(ErrorCode::BadRequest, message).with_status(hyper::StatusCode::CONFLICT)
        }
        VaultError::Corrupt { .. }
        | VaultError::TooNew { .. }
        | VaultError::CreateDir { .. }
        | VaultError::Key(_)
        | VaultError::BadSeed { .. }
        | VaultError::SiemLeaseLost { .. }
        | VaultError::Sqlite(_)
        | VaultError::Postgres(_) => ApiError::new(ErrorCode::VaultUnavailable, message),
    }
}
