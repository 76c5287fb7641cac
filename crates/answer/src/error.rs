//! The vault's outcomes as protocol errors.

use twofill_protocol::{ErrorBody, ErrorCode};
use twofill_vault::{Refusal, VaultError};

use crate::info;

pub fn error(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
    ErrorBody {
        code,
        message: message.into(),
        candidates: Vec::new(),
        retry_after_ms: None,
        org: None,
    }
}

/// Maps the vault's answer to a protocol error: a refusal to its code
/// (candidates for an ambiguous fill), tampered authorization rows to
/// `vault_tampered`, anything else to `vault_unavailable`.
pub fn vault_error(e: VaultError) -> ErrorBody {
    match e {
        VaultError::Refused(r) => {
            let message = r.to_string();
            match r {
                Refusal::NoTokenForOrigin { .. } => error(ErrorCode::NoTokenForOrigin, message),
                Refusal::NotPermitted { .. }
                | Refusal::NotAdmin { .. }
                | Refusal::NotOwner { .. }
                | Refusal::PersonalToken { .. }
                | Refusal::Policy { .. }
                | Refusal::UnknownUser { .. }
                | Refusal::LastAdmin { .. }
                | Refusal::NoAdmin { .. } => error(ErrorCode::NotPermitted, message),
                Refusal::OriginRequired => error(ErrorCode::OriginRequired, message),
                Refusal::NoSuchToken { .. } => error(ErrorCode::NoSuchToken, message),
                Refusal::HotpNeedsServer { .. } => error(ErrorCode::HotpNeedsServer, message),
                Refusal::NoRecoveryCodes { .. } => error(ErrorCode::NoRecoveryCodes, message),
                Refusal::InviteInvalid { .. } => error(ErrorCode::InviteInvalid, message),
                Refusal::DeviceNotEnrolled => error(ErrorCode::DeviceNotEnrolled, message),
                Refusal::DeviceRevoked { .. } => error(ErrorCode::DeviceRevoked, message),
                Refusal::SignedOut => error(ErrorCode::SignedOut, message),
                Refusal::SessionExpired => error(ErrorCode::SessionExpired, message),
                Refusal::SignInAgain { .. } => error(ErrorCode::SignInAgain, message),
                Refusal::SsoRefused { .. } => error(ErrorCode::SsoRefused, message),
                Refusal::UserDisabled { .. } | Refusal::UnverifiedIdentity { .. } => {
                    error(ErrorCode::NotPermitted, message)
                }
                Refusal::RateLimited { retry_after_ms, .. } => ErrorBody {
                    retry_after_ms: Some(retry_after_ms),
                    ..error(ErrorCode::RateLimited, message)
                },
                Refusal::Ambiguous { candidates } => ErrorBody {
                    candidates: candidates.iter().map(info).collect(),
                    ..error(ErrorCode::AmbiguousToken, message)
                },
            }
        }
        e @ VaultError::Tampered { .. } => error(ErrorCode::VaultTampered, e.to_string()),
        other => error(ErrorCode::VaultUnavailable, other.to_string()),
    }
}
