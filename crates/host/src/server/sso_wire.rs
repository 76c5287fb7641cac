//! PROVISIONAL: the SSO wire types of the contract (notes/sso-contract.md)
//! until the team-api commit of the sso-server branch lands; then this file
//! goes and `twofill_team_api` is used instead.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};

pub const SSO_CONFIG_PATH: &str = "/v1/sso";
pub const SSO_EXCHANGE_PATH: &str = "/v1/sso/exchange";
pub const SSO_DEVICE_START_PATH: &str = "/v1/sso/device";
pub const SSO_DEVICE_POLL_PATH: &str = "/v1/sso/device/poll";
pub const SSO_REFRESH_PATH: &str = "/v1/sso/refresh";
pub const SSO_LOGOUT_PATH: &str = "/v1/sso/logout";
pub const SESSION_HEADER: &str = "twofill-session";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoConfigReply {
    pub enabled: bool,
    pub required: bool,
    pub org_name: String,
    pub issuer: String,
    pub authorization_endpoint: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub device_flow: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoExchangeRequest {
    pub code: String,
    pub code_verifier: String,
    pub redirect_uri: String,
    pub nonce: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoSession {
    pub ticket: String,
    pub user: String,
    pub groups: Vec<String>,
    pub admin: bool,
    pub expires_at_ms: i64,
    pub session_max_at_ms: i64,
    pub signed_in_at_ms: i64,
    pub refresh_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SsoDeviceStartRequest {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoDeviceStartReply {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub interval_s: u64,
    pub expires_in_s: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoDevicePollRequest {
    pub device_code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoRefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SsoLogoutRequest {}
