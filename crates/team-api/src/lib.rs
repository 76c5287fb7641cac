//! The contract between the native host (a thin client on a teammate's
//! laptop) and the team server.
//!
//! Both sides compile this crate, so a path, a body or an error code can
//! only change in one place. Replies reuse the native protocol's shapes
//! ([`TokenEntry`], [`CodeReply`], [`SeedReply`], [`ErrorBody`]) so that the
//! host forwards them to the extension unchanged; every error, whatever its
//! HTTP status, is an [`ErrorReply`] with a stable [`ErrorCode`] and a
//! message that says what to do.
//!
//! Transport: HTTPS (TLS 1.3/1.2, rustls on both sides). Every path under
//! `/v1/` except [`CA_PATH`] and [`JOIN_PATH`] needs the device's client
//! certificate, issued by the server's own CA at [`JOIN_PATH`]; the client
//! pins that CA (its SHA-256 travels in the [`Invite`]).

mod invite;
mod sso;
mod status;

use serde::{Deserialize, Serialize};
pub use twofill_protocol::{
    CodePurpose, CodeReply, ErrorBody, ErrorCode, RecoveryCodeReply, SeedPurpose, SeedReply,
    TokenEntry,
};

pub use invite::{INVITE_SECRET_BYTES, Invite, InviteError, ca_pin};
pub use sso::{
    OFFBOARDING_PATH, OffboardingReply, OffboardingToken, SESSION_HEADER, SSO_CONFIG_PATH,
    SSO_DEVICE_POLL_PATH, SSO_DEVICE_START_PATH, SSO_EXCHANGE_PATH, SSO_LOGOUT_PATH,
    SSO_REFRESH_PATH, SessionInfo, SsoConfigReply, SsoDevicePollRequest, SsoDeviceStart,
    SsoDeviceStartRequest, SsoExchangeRequest, SsoLogoutReply, SsoLogoutRequest, SsoRefreshRequest,
    SsoSession,
};
pub use status::http_status;

/// Version of this API: the `/v1/` in every path. Bumped on incompatible
/// changes only; a server may serve several.
pub const API_VERSION: u32 = 1;

/// `GET`: the server's CA certificate (PEM). No client certificate needed;
/// a joining host checks it against the pin in its invite.
pub const CA_PATH: &str = "/v1/ca";
/// `POST` [`JoinRequest`] → [`JoinReply`]: redeem an invite, get a device certificate.
pub const JOIN_PATH: &str = "/v1/join";
/// `POST` [`WhoAmIRequest`] → [`WhoAmIReply`].
pub const WHOAMI_PATH: &str = "/v1/whoami";
/// `POST` [`TokensRequest`] → [`TokensReply`].
pub const TOKENS_PATH: &str = "/v1/tokens";
/// `POST` [`CodeRequest`] → [`CodeReply`].
pub const CODE_PATH: &str = "/v1/code";
/// `POST` [`SeedRequest`] → [`SeedReply`] (full-seed holders only; audited).
pub const SEED_PATH: &str = "/v1/seed";
/// `POST` [`RecoveryCodeRequest`] → [`RecoveryCodeReply`] (full-seed
/// holders only; marks the code used, on record).
pub const RECOVERY_CODE_PATH: &str = "/v1/recovery-code";
/// `POST` [`InviteRequest`] → [`InviteReply`] (admins only).
pub const INVITES_PATH: &str = "/v1/admin/invites";
/// `GET` (optionally `?user=NAME`) → [`DevicesReply`] (admins only).
pub const DEVICES_PATH: &str = "/v1/admin/devices";
/// `POST` to `/v1/admin/devices/{id}/revoke` → [`DeviceInfo`] (admins only).
pub const REVOKE_DEVICE_PATH: &str = "/v1/admin/devices/{id}/revoke";

/// `POST` [`PushRequest`] → [`PushReply`] (admins only): a local vault
/// moved to the server (`twofill-host vault push`).
pub const PUSH_PATH: &str = "/v1/admin/push";
/// SMS providers' webhooks: the provider's name (`twilio`, `vonage`,
/// `android-sms-gateway`, `sms-forwarder`) follows. No device certificate:
/// each request is checked by its provider's signature instead.
pub const SMS_INBOUND_PATH_PREFIX: &str = "/v1/sms/inbound/";
/// `POST` [`SmsWaitRequest`] → [`SmsWaitReply`]: the code of an SMS that
/// arrives (or arrived) at or after `since_ms` in an inbox bound to the
/// origin and granted to the device's user; answers at once when there is
/// one, else when one arrives, else `code: null` after `timeout_ms`.
pub const SMS_WAIT_PATH: &str = "/v1/sms/wait";
/// `POST` [`SmsInboxesRequest`] → [`SmsInboxesReply`]: the inboxes the
/// device's user holds a grant on, each with its newest messages (the code
/// for `code-only`, sender and text too for `full`), every one on record.
pub const SMS_INBOXES_PATH: &str = "/v1/sms/inboxes";
/// The longest an SMS wait is held open.
pub const MAX_SMS_WAIT_MS: u64 = 120_000;

/// Largest request body the server reads; larger ones get `413`
/// ([`ErrorCode::PayloadTooLarge`]) without being read further.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The one larger limit, for [`PUSH_PATH`] alone: a whole vault's tokens
/// (an otpauth link is well under 1 KiB, so thousands fit).
pub const MAX_PUSH_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most tokens, groups or grants one push may carry.
pub const MAX_PUSH_ITEMS: usize = 10_000;

/// Where a request comes from on the teammate's laptop, for the audit log
/// (the device and its user come from the client certificate).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientContext {
    /// The browser that launched the host (`chromium`, `firefox`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// The extension the browser says is calling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_id: Option<String>,
}

/// Redeems an invite. The CSR's key becomes the device key; its subject is
/// ignored (the server names the certificate itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The invite's secret part ([`Invite::secret_text`]), never the pin.
    pub invite: String,
    /// What the user calls this laptop (shown in device lists).
    pub device_name: String,
    /// A PKCS#10 certificate signing request, PEM.
    pub csr_pem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinReply {
    pub user: String,
    pub device: DeviceInfo,
    /// The device certificate, PEM, signed by the server's CA.
    pub certificate_pem: String,
    /// The CA to pin from now on, PEM.
    pub ca_pem: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhoAmIRequest {
    #[serde(flatten)]
    pub client: ClientContext,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmIReply {
    pub user: String,
    pub admin: bool,
    pub device: DeviceInfo,
    /// The single sign-on session this request carried, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionInfo>,
}

/// The native `list_tokens`, on the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensRequest {
    /// The origin the browser reported, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude_personal: bool,
    #[serde(flatten)]
    pub client: ClientContext,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensReply {
    pub user: String,
    pub tokens: Vec<TokenEntry>,
}

/// The native `get_code`, on the server: the same rules (origin the
/// browser reported, binding, grant), checked and audited there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default)]
    pub purpose: CodePurpose,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude_personal: bool,
    #[serde(flatten)]
    pub client: ClientContext,
}

/// A wait for an SMS code on a page (`SMS_WAIT_PATH`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsWaitRequest {
    /// The origin the browser reported for the frame with the SMS prompt.
    pub origin: String,
    /// Only messages received at or after this (ms since the epoch): the
    /// prompt's appearance, less a short grace.
    pub since_ms: i64,
    /// At most [`MAX_SMS_WAIT_MS`].
    pub timeout_ms: u64,
    #[serde(flatten)]
    pub client: ClientContext,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsWaitReply {
    /// `None` when the wait ran out.
    pub code: Option<SmsCodeReply>,
}

/// The reply is the protocol's, so the host passes it on unchanged.
pub use twofill_protocol::SmsCodeReply;

/// The popup's inbox view (`SMS_INBOXES_PATH`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsInboxesRequest {
    /// Newest messages per inbox (at most 50).
    #[serde(default = "default_sms_messages")]
    pub messages: u32,
    #[serde(flatten)]
    pub client: ClientContext,
}

fn default_sms_messages() -> u32 {
    10
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsInboxesReply {
    pub inboxes: Vec<SmsInboxEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsInboxEntry {
    pub number: String,
    pub level: twofill_words::SmsAccess,
    pub sites: Vec<String>,
    pub messages: Vec<SmsMessageEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsMessageEntry {
    pub id: i64,
    pub received_at_ms: i64,
    pub code: Option<String>,
    /// `https://host` of an origin-bound code.
    pub bound_origin: Option<String>,
    /// `full` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// `full` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// The native `reveal_seed`, on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRequest {
    pub token: String,
    #[serde(default)]
    pub purpose: SeedPurpose,
    #[serde(flatten)]
    pub client: ClientContext,
}

/// The native `take_recovery_code`, on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodeRequest {
    pub token: String,
    #[serde(flatten)]
    pub client: ClientContext,
}

/// An admin invites a user (created if new) to enroll one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub user: String,
    /// How long the invite stays valid; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteReply {
    pub user: String,
    /// The whole invite ([`Invite`]'s text): give it to the user once.
    pub invite: String,
    /// Unix milliseconds.
    pub expires_at_ms: i64,
}

/// An enrolled device, as listed to admins and to its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub id: String,
    pub user: String,
    pub name: String,
    /// Unix milliseconds.
    pub joined_at_ms: i64,
    /// Unix milliseconds; `None` while the device may be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesReply {
    pub devices: Vec<DeviceInfo>,
}

/// A local vault's team tokens (and, when asked, personal ones), groups and
/// grants, for the server to import as the pushing admin. Seeds travel only
/// inside mutual TLS, in `otpauth://` links.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    #[serde(default)]
    pub tokens: Vec<PushedToken>,
    #[serde(default)]
    pub groups: Vec<PushedGroup>,
    #[serde(default)]
    pub grants: Vec<PushedGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushedToken {
    /// The token's id in the local vault (grants name it).
    pub local_id: String,
    /// The token with its seed, as an `otpauth://` link.
    pub uri: String,
    /// Its site bindings, as the vault spells them.
    #[serde(default)]
    pub sites: Vec<String>,
    /// The owner of a personal token; `None` for a team token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushedGroup {
    pub name: String,
    /// User names; users the server does not know are created (not admin).
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushedGrant {
    /// A [`PushedToken::local_id`] of the same push.
    pub token: String,
    pub group: String,
    pub access: twofill_protocol::Access,
}

/// What a push did. Pushing the same vault again changes nothing: a token
/// already on the server (same kind, issuer, account and seed) is reused,
/// not duplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReply {
    pub tokens: Vec<PushedTokenId>,
    pub users_created: Vec<String>,
    pub groups_created: Vec<String>,
    pub members_added: usize,
    pub bindings_added: usize,
    pub grants_set: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedTokenId {
    pub local_id: String,
    pub server_id: String,
    /// It was on the server already (an earlier push).
    pub existed: bool,
}

/// Every error reply's body, whatever the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub error: ErrorBody,
}

/// The revoke path for one device.
pub fn revoke_device_path(id: &str) -> String {
    REVOKE_DEVICE_PATH.replace("{id}", id)
}
