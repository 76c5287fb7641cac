//! The HTTP status each error code travels with, so both sides agree.

use twofill_protocol::ErrorCode;

/// The status of a reply carrying `code` (the body is an
/// [`crate::ErrorReply`] whatever the status).
pub fn http_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::BadJson
        | ErrorCode::BadRequest
        | ErrorCode::UnsupportedVersion
        | ErrorCode::BadOrigin
        | ErrorCode::OriginRequired => 400,
        ErrorCode::DeviceNotEnrolled
        | ErrorCode::DeviceRevoked
        | ErrorCode::SignedOut
        | ErrorCode::SessionExpired
        | ErrorCode::SignInAgain => 401,
        // RFC 8628 §3.5: a device grant still waiting is a 400 too.
        ErrorCode::SsoPending | ErrorCode::SsoSlowDown => 400,
        ErrorCode::SsoRefused => 403,
        // A server always owns its HOTP counters; the code exists for
        // completeness (a vault opened without them refuses on record).
        ErrorCode::NotPermitted
        | ErrorCode::CallerNotAllowed
        | ErrorCode::InviteInvalid
        | ErrorCode::HotpNeedsServer => 403,
        ErrorCode::NoSuchToken | ErrorCode::NoTokenForOrigin | ErrorCode::UnknownType => 404,
        // The token is there; its set of recovery codes is used up.
        ErrorCode::AmbiguousToken | ErrorCode::NoRecoveryCodes => 409,
        ErrorCode::PayloadTooLarge | ErrorCode::FrameTooLarge => 413,
        ErrorCode::RateLimited => 429,
        // The server's own data is at fault, not the request.
        ErrorCode::Internal | ErrorCode::VaultTampered => 500,
        ErrorCode::ServerUnreachable => 502,
        ErrorCode::VaultUnavailable => 503,
    }
}
