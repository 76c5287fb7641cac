//! Single sign-on (OIDC): the server is the relying party. The laptop opens
//! the browser, receives the authorization code on a loopback redirect (or
//! runs the device flow) and hands the code to the server, which exchanges
//! it, validates the ID token and answers a short-lived session ticket bound
//! to this device. The laptop never holds a client secret nor validates a
//! token itself.

use serde::{Deserialize, Serialize};

/// Header carrying the session ticket on every request after sign-in,
/// beside the device certificate. The server keeps only its SHA-256.
pub const SESSION_HEADER: &str = "twofill-session";

/// `GET` → [`SsoConfigReply`]: what the host needs to open the browser.
pub const SSO_CONFIG_PATH: &str = "/v1/sso";
/// `POST` [`SsoExchangeRequest`] → [`SsoSession`]: the loopback flow's code.
pub const SSO_EXCHANGE_PATH: &str = "/v1/sso/exchange";
/// `POST` [`SsoDeviceStartRequest`] → [`SsoDeviceStart`]: begin the device flow.
pub const SSO_DEVICE_START_PATH: &str = "/v1/sso/device";
/// `POST` [`SsoDevicePollRequest`] → [`SsoSession`], or `sso_pending` /
/// `sso_slow_down` (keep polling) or a final refusal.
pub const SSO_DEVICE_POLL_PATH: &str = "/v1/sso/device/poll";
/// `POST` [`SsoRefreshRequest`] → [`SsoSession`] (new ticket, rotated refresh token).
pub const SSO_REFRESH_PATH: &str = "/v1/sso/refresh";
/// `POST` [`SsoLogoutRequest`] → [`SsoLogoutReply`]: ends this device's session.
pub const SSO_LOGOUT_PATH: &str = "/v1/sso/logout";
/// `GET` with `?user=NAME` → [`OffboardingReply`] (admins only): what a
/// leaver could reach, and what to rotate.
pub const OFFBOARDING_PATH: &str = "/v1/admin/offboarding";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConfigReply {
    /// The server has an `[sso]` section.
    pub enabled: bool,
    /// A device certificate alone gets nothing: every request needs a ticket.
    pub required: bool,
    /// Shown as "Sign in to <org_name>".
    pub org_name: String,
    pub issuer: String,
    /// Where the browser goes (from the issuer's discovery document).
    pub authorization_endpoint: String,
    pub client_id: String,
    /// Space-separated, as the `scope` parameter wants them.
    pub scopes: String,
    /// The identity provider offers the device flow (`login --device`).
    pub device_flow: bool,
}

/// The loopback flow's result, for the server to redeem at the IdP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoExchangeRequest {
    pub code: String,
    /// The PKCE verifier whose S256 challenge went to the IdP.
    pub code_verifier: String,
    /// Exactly the `redirect_uri` the browser was sent with.
    pub redirect_uri: String,
    /// The nonce the browser was sent with; the ID token must carry it.
    pub nonce: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoDeviceStartRequest {}

/// RFC 8628's device authorization answer, relayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoDeviceStart {
    /// Opaque; the host polls with it.
    pub device_code: String,
    /// What the user types at `verification_uri`.
    pub user_code: String,
    pub verification_uri: String,
    /// The URI with the code filled in, when the IdP gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri_complete: Option<String>,
    /// Seconds between polls (more after `sso_slow_down`).
    pub interval_s: u64,
    pub expires_in_s: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoDevicePollRequest {
    pub device_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoRefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoLogoutRequest {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoLogoutReply {
    /// A session was open and is now ended (false: there was none).
    pub ended: bool,
}

/// A signed-in session, bound to the device that asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSession {
    /// Goes in [`SESSION_HEADER`]; valid until `expires_at_ms`, on this device only.
    pub ticket: String,
    /// The twofill user (the email claim).
    pub user: String,
    /// The twofill groups the sign-in mapped the user into.
    pub groups: Vec<String>,
    pub admin: bool,
    /// Unix milliseconds: refresh by then ([`SSO_REFRESH_PATH`]).
    pub expires_at_ms: i64,
    /// Unix milliseconds: no refresh goes past this; sign in again.
    pub session_max_at_ms: i64,
    /// Unix milliseconds: when the user last authenticated at the IdP
    /// (seed reveals need this to be recent).
    pub signed_in_at_ms: i64,
    /// For [`SSO_REFRESH_PATH`]; keep it secret (OS keyring or a 0600 file).
    /// Rotated by every refresh; `None` when the IdP gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// The session part of [`crate::WhoAmIReply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: String,
    pub groups: Vec<String>,
    pub expires_at_ms: i64,
    pub session_max_at_ms: i64,
    pub signed_in_at_ms: i64,
}

/// What an admin needs when someone leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffboardingReply {
    pub user: String,
    pub disabled: bool,
    /// Tokens whose seed this person was handed (audit log): rotate them.
    pub rotate: Vec<OffboardingToken>,
    /// Tokens they could only get codes for: nothing to rotate.
    pub code_only: Vec<OffboardingToken>,
    pub devices: Vec<crate::DeviceInfo>,
    /// Unix milliseconds of their last audited action, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffboardingToken {
    pub id: String,
    pub label: String,
    /// Unix milliseconds of the last seed reveal (for `rotate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_revealed_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_without_refresh_token_omits_it_and_round_trips() {
        let session = SsoSession {
            ticket: "t".into(),
            user: "ana@example.com".into(),
            groups: vec!["ops".into()],
            admin: false,
            expires_at_ms: 2,
            session_max_at_ms: 3,
            signed_in_at_ms: 1,
            refresh_token: None,
        };
        let json = serde_json::to_string(&session).unwrap();
        assert!(!json.contains("refresh_token"), "{json}");
        assert_eq!(serde_json::from_str::<SsoSession>(&json).unwrap(), session);
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        assert!(
            serde_json::from_str::<SsoRefreshRequest>(r#"{"refresh_token":"r","x":1}"#).is_err()
        );
        assert!(serde_json::from_str::<SsoExchangeRequest>(
            r#"{"code":"c","code_verifier":"v","redirect_uri":"http://127.0.0.1:1/callback","nonce":"n"}"#
        )
        .is_ok());
    }
}
