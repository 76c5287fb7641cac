//! The vault's outcomes as API errors: refusals through the mapping the
//! host uses too (`twofill_answer::vault_error`), the caller's own mistakes
//! with their message, tampered authorization rows as `vault_tampered`,
//! and storage failures as the generic 503 (the pool logs the details and
//! drops the handle).

use twofill_team_api::ErrorCode;
use twofill_vault::VaultError;

use crate::http::ApiError;

pub fn vault_failure(e: VaultError) -> ApiError {
    let message = e.to_string();
    match e {
        VaultError::Refused(_) => ApiError::from_body(twofill_answer::vault_error(e)),
        // The pool logs the row and tells the device less (`ApiError::tampered`).
        VaultError::Tampered { .. } => ApiError::from_body(twofill_answer::vault_error(e)),
        VaultError::BadName(_) => ApiError::new(ErrorCode::BadRequest, message),
        VaultError::NoSuchToken(_) => ApiError::new(ErrorCode::NoSuchToken, message),
        VaultError::NoSuchDevice(_) => {
            ApiError::new(ErrorCode::BadRequest, message).with_status(hyper::StatusCode::NOT_FOUND)
        }
        VaultError::AlreadyRevoked { .. } => {
            ApiError::new(ErrorCode::BadRequest, message).with_status(hyper::StatusCode::CONFLICT)
        }
        VaultError::Invalid(_) => ApiError::new(ErrorCode::BadRequest, message),
        VaultError::ReadRefused { .. } => {
            ApiError::new(ErrorCode::BadRequest, message).with_status(hyper::StatusCode::FORBIDDEN)
        }
        VaultError::NoSuchUser(_) | VaultError::NoSuchGroup(_) => {
            ApiError::new(ErrorCode::BadRequest, message)
        }
        VaultError::Exists(_) => {
            ApiError::new(ErrorCode::BadRequest, message).with_status(hyper::StatusCode::CONFLICT)
        }
        VaultError::Corrupt { .. }
        | VaultError::Unusable { .. }
        | VaultError::TooNew { .. }
        | VaultError::CreateDir { .. }
        | VaultError::Key(_)
        | VaultError::BadSeed { .. }
        | VaultError::SiemLeaseLost { .. }
        | VaultError::Sqlite(_)
        | VaultError::Postgres(_) => ApiError::new(ErrorCode::VaultUnavailable, message),
    }
}
