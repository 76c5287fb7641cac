//! The vault's plain types: what callers pass in (who asks, why, in which
//! scope, under which policy) and what they get back (tokens without seeds,
//! users, groups, issued codes).

use serde::Serialize;
use std::collections::BTreeMap;
use twofill_otp::CodeWindow;
pub use twofill_words::Access;
use twofill_words::{AuditAction, TokenKind, token_label};

use crate::{Origin, SiteBinding};

/// Why a code is being handed out; becomes the audit action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Filled into a page by the extension (needs the page's origin and a binding).
    Fill,
    /// Copied to the clipboard from the popup.
    Copy,
    /// Shown in the popup.
    View,
    /// Printed by the command line.
    Cli,
}

impl Purpose {
    pub fn action(self) -> AuditAction {
        match self {
            Purpose::Fill => AuditAction::CodeFill,
            Purpose::Copy => AuditAction::CodeCopy,
            Purpose::View => AuditAction::CodeView,
            Purpose::Cli => AuditAction::CodeCli,
        }
    }
}

/// What the organization allows, on top of grants (the host config's
/// `[policy]`, read straight into this type). The default allows
/// everything grants allow; unknown keys are errors, so a misspelt
/// restriction is never silently ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Users may enroll personal tokens, see them listed and get codes from
    /// them. When false, personal tokens are neither listed nor usable (they
    /// stay in the vault, and their owners and admins can remove them).
    pub allow_personal_tokens: bool,
    /// Seeds may be revealed at all; when false, [`crate::Vault::reveal_seed`]
    /// refuses everybody, full-seed holders and owners included.
    pub allow_seed_reveal: bool,
    /// A token with this many unused recovery codes or fewer is listed to
    /// admins with a warning to regenerate them at the service.
    pub recovery_codes_warn_at: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow_personal_tokens: true,
            allow_seed_reveal: true,
            recovery_codes_warn_at: 2,
        }
    }
}

/// Which tokens a request considers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scope {
    /// The shared tokens the user has a grant for, and their own personal tokens.
    #[default]
    All,
    /// Shared tokens only: the user's personal tokens are treated as absent
    /// (the extension's `AllowPersonalTokens: false`).
    SharedOnly,
}

/// Who is asking, for permission checks and the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    pub user: String,
    pub browser: Option<String>,
    pub extension_id: Option<String>,
}

impl Requester {
    pub fn cli(user: &str) -> Requester {
        Requester {
            user: user.to_owned(),
            browser: None,
            extension_id: None,
        }
    }
}

/// A request for a code ([`crate::Vault::issue_code`]).
#[derive(Debug, Clone, Copy)]
pub struct CodeRequest<'a> {
    pub who: &'a Requester,
    /// The token asked for; `None` lets a fill pick the one bound to `origin`.
    pub token: Option<&'a str>,
    /// The page's origin (required for [`Purpose::Fill`]).
    pub origin: Option<&'a Origin>,
    pub purpose: Purpose,
    pub scope: Scope,
}

impl<'a> CodeRequest<'a> {
    /// The common case: a fill on `origin` with whichever token is bound
    /// there, over every token the user may use.
    pub fn fill(who: &'a Requester, origin: &'a Origin) -> CodeRequest<'a> {
        CodeRequest {
            who,
            token: None,
            origin: Some(origin),
            purpose: Purpose::Fill,
            scope: Scope::All,
        }
    }
}

/// A request for the tokens a user may use ([`crate::Vault::permitted_tokens`]).
#[derive(Debug, Clone, Copy)]
pub struct TokensRequest<'a> {
    pub user: &'a str,
    /// Tokens bound to this origin come first.
    pub origin: Option<&'a Origin>,
    pub scope: Scope,
}

/// A token as listed: everything except the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenSummary {
    pub id: String,
    pub issuer: Option<String>,
    pub account: String,
    #[serde(serialize_with = "display_list")]
    pub bindings: Vec<SiteBinding>,
    /// The user a personal token belongs to; `None` for the team's shared tokens.
    pub owner: Option<String>,
}

fn display_list<S: serde::Serializer>(v: &[SiteBinding], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|b| b.to_string()))
}

impl TokenSummary {
    pub fn label(&self) -> String {
        token_label(self.issuer.as_deref(), &self.account)
    }

    pub fn is_personal(&self) -> bool {
        self.owner.is_some()
    }
}

/// A token the user may use, with their level and the code parameters the
/// popup needs for its countdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermittedToken {
    #[serde(flatten)]
    pub summary: TokenSummary,
    pub access: Access,
    pub period: u64,
    pub digits: u32,
    /// HOTP tokens have no countdown: each code advances their counter.
    pub kind: TokenKind,
    /// For `full-seed` access to a token with recovery codes attached, how
    /// many are unused; `None` otherwise (code-only users learn nothing).
    pub recovery_codes: Option<u32>,
}

/// A code handed out, with the audit record that vouches for it.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub token: TokenSummary,
    pub window: CodeWindow,
    /// For a HOTP token, the counter the code was computed from (its audit
    /// record names it too).
    pub counter: Option<u64>,
    pub audit_seq: i64,
}

/// A token's recovery codes as an admin sees them: counts, never codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecoveryStatus {
    /// Which set is in force (one more at each replace; 0: none attached).
    pub set: i64,
    pub total: u32,
    pub remaining: u32,
    /// Few remain (at most the policy's `recovery_codes_warn_at`): time to
    /// regenerate them at the service and replace the set.
    pub low: bool,
}

/// A recovery code handed out: single-use, already marked used and on
/// record ([`crate::Vault::take_recovery_code`]).
#[derive(Debug, Clone)]
pub struct TakenRecoveryCode {
    pub token: TokenSummary,
    pub code: zeroize::Zeroizing<String>,
    /// Its slot (1-based) in set `set`: what the audit record names.
    pub slot: i64,
    pub set: i64,
    /// Unused codes left after this one.
    pub remaining: u32,
    pub audit_seq: i64,
}

/// Everything an admin sees about one token.
#[derive(Debug, Clone, Serialize)]
pub struct TokenDetails {
    #[serde(flatten)]
    pub summary: TokenSummary,
    pub kind: String,
    pub algorithm: String,
    pub digits: u32,
    pub period: u64,
    pub created_at: i64,
    pub created_by: Option<String>,
    /// Group → level.
    pub grants: BTreeMap<String, Access>,
    pub recovery_codes: RecoveryStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub admin: bool,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    pub name: String,
    pub members: Vec<String>,
    /// Token id → level.
    pub grants: BTreeMap<String, Access>,
}

/// A device (a teammate's laptop) enrolled with an invite; it proves
/// itself with the client certificate whose SHA-256 is `cert_sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRecord {
    pub id: String,
    pub user: String,
    pub name: String,
    pub joined_at_ms: i64,
    /// When an admin revoked it; a revoked device gets nothing.
    pub revoked_at_ms: Option<i64>,
    #[serde(skip)]
    pub cert_sha256: [u8; 32],
}

/// An invite as made: whom it enrolls a device for, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InviteRecord {
    pub user: String,
    pub expires_at_ms: i64,
}

/// The device an invite is redeemed for.
#[derive(Debug, Clone, Copy)]
pub struct NewDevice<'a> {
    pub id: &'a str,
    /// What the user calls it (shown in device lists).
    pub name: &'a str,
    /// SHA-256 of the device certificate the server issues it.
    pub cert_sha256: [u8; 32],
}
