//! What can go wrong: [`VaultError`] for the caller, [`Refusal`] for a
//! request the rules turned down (always on record in the audit log).

use std::fmt;
use std::path::PathBuf;

use crate::{SCHEMA_VERSION, TokenSummary};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "{path} is not a readable twofill vault ({detail}). The file was left untouched; restore it from a backup or move it aside to start a new vault"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} was written by a newer twofill (schema {found}, this build knows up to {SCHEMA_VERSION}); upgrade twofill-host"
    )]
    TooNew { path: PathBuf, found: i64 },
    /// A healthy vault (or the place for a new one) this process cannot
    /// use as things stand: permissions, a read-only or full disk.
    #[error(
        "cannot use the vault {path} ({detail}): {fix}. The vault was not changed; do not move it aside"
    )]
    Unusable {
        path: PathBuf,
        detail: String,
        fix: &'static str,
    },
    #[error("cannot create the vault directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot unlock the vault: {0}")]
    Key(#[from] twofill_seal::SealError),
    #[error("no token with id `{0}`; `twofill-host token list` shows the ids")]
    NoSuchToken(String),
    #[error("no group named `{0}`; `twofill-host group list` shows them")]
    NoSuchGroup(String),
    #[error("no user named `{0}`; `twofill-host user list` shows them")]
    NoSuchUser(String),
    #[error("`{0}` already exists")]
    Exists(String),
    #[error("`{0}` is not a valid name: use 1–64 letters, digits, `.`, `_`, `-` or `@`")]
    BadName(String),
    #[error("token `{id}` has an unreadable seed ({detail}); re-enroll it")]
    BadSeed { id: String, detail: String },
    #[error("no device with id `{0}`; the device list shows every device's id")]
    NoSuchDevice(String),
    #[error(
        "device `{id}` was already revoked (at {revoked_at_ms} ms since the epoch); nothing changed"
    )]
    AlreadyRevoked { id: String, revoked_at_ms: i64 },
    /// A person may not read this (the audit log, the users and groups, a
    /// token they have no access to). Reads are not audited, so neither is
    /// this.
    #[error("{user} may not read {what}: {who_may}; ask a twofill admin")]
    ReadRefused {
        user: String,
        what: String,
        who_may: &'static str,
    },
    /// Input the vault cannot store as given; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(Refusal),
    /// An authorization row's MAC does not verify: it was written past the
    /// vault. Nothing is decided from it, and it is left as it is.
    #[error(
        "the vault's authorization data was changed outside twofill ({table}: {row}): restore from backup, then run `twofill-host audit verify`"
    )]
    Tampered { table: String, row: String },
    /// A SIEM streamer's lease on a sink ran out or another streamer took
    /// the sink; it must claim it again before delivering more.
    #[error(
        "this streamer no longer holds SIEM sink `{sink}` (its lease ran out or another replica took it over); it claims the sink again before sending more"
    )]
    SiemLeaseLost { sink: String },
    #[error("vault database error: {}{}", .0, sqlite_advice(.0))]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "vault database error: {}; check that PostgreSQL is running and the database URL is right",
        postgres_detail(.0)
    )]
    Postgres(#[from] postgres::Error),
}

/// What to do about an SQLite error that is not the vault's fault.
pub(crate) fn sqlite_fix(e: &rusqlite::Error) -> Option<&'static str> {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code()? {
        C::DiskFull => Some("the disk is full: free some space, then try again"),
        C::CannotOpen | C::PermissionDenied | C::ReadOnly => Some(
            "check that this user may read and write the vault file and create files in its directory (fix the permissions, or a read-only mount)",
        ),
        C::SystemIoFailure => Some(
            "the disk or file system failed a read or write: check it (and its free space), then try again",
        ),
        _ => None,
    }
}

fn sqlite_advice(e: &rusqlite::Error) -> String {
    sqlite_fix(e)
        .map(|fix| format!("; {fix}"))
        .unwrap_or_default()
}

/// A PostgreSQL error with what the server or the socket said (the
/// driver's own text is only "db error" or "error connecting to server").
fn postgres_detail(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.to_string();
    }
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

pub type Result<T, E = VaultError> = std::result::Result<T, E>;

/// Why a request was refused. Every refusal is also an audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No token is bound to the requesting site.
    NoTokenForOrigin { origin: String },
    /// Tokens are bound to the site, or the token exists, but the user has no grant for it.
    NotPermitted { user: String, what: String },
    /// Several permitted tokens are bound to the site; the caller must pick one.
    Ambiguous { candidates: Vec<TokenSummary> },
    /// A fill needs the page's origin.
    OriginRequired,
    /// Admin changes need an admin.
    NotAdmin { user: String },
    /// The named token does not exist (or is not visible to this user).
    NoSuchToken { id: String },
    /// The token is another user's personal token: only its owner may use it.
    NotOwner { user: String, id: String },
    /// Personal tokens cannot be granted to groups.
    PersonalToken { id: String },
    /// The organization's policy forbids this for everybody.
    Policy { what: String },
    /// Only users the vault knows may enroll personal tokens.
    UnknownUser { user: String },
    /// The vault's last admin cannot be removed or lose the flag: once a
    /// vault has had an admin, nobody becomes one by asking first.
    LastAdmin { user: String },
    /// The vault has had an admin and has none now.
    NoAdmin { first_admin: String },
    /// A HOTP token's code from a vault that is not the team server's: its
    /// counter would fork between the vaults that hold it.
    HotpNeedsServer { token: String },
    /// An invite that does not exist, was used, or has expired.
    InviteInvalid { problem: InviteProblem },
    /// A client certificate no device was enrolled with.
    DeviceNotEnrolled,
    /// The device was enrolled, and an admin revoked it.
    DeviceRevoked { id: String },
    /// Every recovery code of the token was used (or none was attached).
    NoRecoveryCodes { token: String },
    /// Single sign-on: this device has no session, or the ticket is not
    /// its current one.
    SignedOut,
    /// The session's ticket ran out: refresh it.
    SessionExpired,
    /// Step-up, or the session's maximum age: a new sign-in is needed.
    SignInAgain { why: String },
    /// The identity provider, its token or the sign-in was refused;
    /// `reason` is a short word (expired, wrong_audience, unknown_key, …).
    SsoRefused { reason: String, detail: String },
    /// An admin disabled the user.
    UserDisabled { user: String },
    /// The host named the user from a source anyone can set (an
    /// environment variable) for a vault that belongs to another account:
    /// good for codes, not for admin changes, seeds or recovery codes.
    UnverifiedIdentity { user: String, why: String },
    /// Too many fills of this token for this user recently.
    RateLimited {
        /// When the next fill for this origin can succeed.
        retry_after_ms: u64,
        /// The limit that was reached ("5 codes in 10 s").
        why: String,
    },
}

/// What is wrong with an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteProblem {
    /// No invite has this secret (mistyped, or never made here).
    Unknown,
    /// The invite was redeemed already: invites are one-time.
    Used,
    /// The invite's time ran out before it was redeemed.
    Expired,
}

impl InviteProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            InviteProblem::Unknown => "unknown",
            InviteProblem::Used => "used",
            InviteProblem::Expired => "expired",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoTokenForOrigin { origin } => write!(f, "no token is bound to {origin}"),
            Refusal::NotPermitted { user, what } => write!(
                f,
                "{user} may not {what}; ask a twofill admin for a grant (`twofill-host grant set …`)"
            ),
            Refusal::Ambiguous { candidates } => write!(
                f,
                "{} tokens fit; name one ({})",
                candidates.len(),
                candidates
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Refusal::OriginRequired => write!(f, "filling a code needs the page's origin"),
            Refusal::NotAdmin { user } => write!(
                f,
                "{user} is not a twofill admin; ask an admin to run `twofill-host user add {user} --admin`"
            ),
            Refusal::NoSuchToken { id } => write!(f, "no token with id `{id}`"),
            Refusal::NotOwner { user, id } => write!(
                f,
                "{user} may not use token `{id}`: it is another user's personal token, which only its owner can use"
            ),
            Refusal::PersonalToken { id } => write!(
                f,
                "token `{id}` is a personal token: only its owner uses it and it cannot be granted to groups; to share it, enroll it as a team token (`twofill-host token add` by an admin)"
            ),
            Refusal::Policy { what } => {
                write!(f, "the organization's twofill policy does not allow {what}")
            }
            Refusal::UnknownUser { user } => write!(
                f,
                "{user} is not a user of this vault; ask a twofill admin to run `twofill-host user add {user}`"
            ),
            Refusal::LastAdmin { user } => write!(
                f,
                "{user} is the vault's last admin; make another admin first (`twofill-host user add NAME --admin`)"
            ),
            Refusal::NoAdmin { first_admin } => write!(
                f,
                "this vault has no admin left (its first admin was {first_admin}), and nobody becomes one by asking first once a vault has had one; restore the vault's users from a backup, then run `twofill-host audit verify`"
            ),
            Refusal::HotpNeedsServer { token } => write!(
                f,
                "{token} is a counter-based (HOTP) token, and a HOTP counter cannot be shared without the team server; move it to the team server (`twofill-host vault push`) and use it from there, or ask the service for a time-based (TOTP) setup"
            ),
            Refusal::InviteInvalid { problem } => {
                let what = match problem {
                    InviteProblem::Unknown => "is not known to this server",
                    InviteProblem::Used => "was already used (each invite enrolls one device)",
                    InviteProblem::Expired => "has expired",
                };
                write!(
                    f,
                    "this invite {what}; ask your admin for a new invite and run `twofill-host join` with it"
                )
            }
            Refusal::DeviceNotEnrolled => write!(
                f,
                "this device is not enrolled; ask your admin for an invite and run `twofill-host join` with it"
            ),
            Refusal::DeviceRevoked { id } => write!(
                f,
                "this device (`{id}`) was revoked by an admin; ask your admin for a new invite to enroll it again"
            ),
            Refusal::NoRecoveryCodes { token } => write!(
                f,
                "{token} has no unused recovery codes; an admin regenerates them at the service and attaches the new ones (`twofill-host token recovery set`)"
            ),
            Refusal::SignedOut => write!(
                f,
                "this device is not signed in to your organization; sign in with `twofill-host login`"
            ),
            Refusal::SessionExpired => write!(
                f,
                "your sign-in session expired; refresh it (twofill-host does so by itself) or sign in again with `twofill-host login`"
            ),
            Refusal::SignInAgain { why } => {
                write!(f, "{why}; sign in again with `twofill-host login`")
            }
            Refusal::SsoRefused { reason, detail } => {
                write!(f, "{reason}: the sign-in was refused: {detail}")
            }
            Refusal::UserDisabled { user } => write!(
                f,
                "{user}'s twofill account is disabled; ask your twofill admin"
            ),
            Refusal::UnverifiedIdentity { user, why } => write!(
                f,
                "twofill cannot verify that you are {user} ({why}): admin changes, seeds and recovery codes need an identity nobody else can claim. Run this as the account that owns the vault, or set `user = \"os\"` in the config"
            ),
            Refusal::RateLimited {
                retry_after_ms,
                why,
            } => write!(
                f,
                "too many codes of this token: the limit is {why} per user and token; try again in {} s",
                retry_after_ms.div_ceil(1000)
            ),
        }
    }
}

impl Refusal {
    pub(crate) fn short(&self) -> &'static str {
        match self {
            Refusal::NoTokenForOrigin { .. } => "no_token_for_origin",
            Refusal::NotPermitted { .. } => "not_permitted",
            Refusal::Ambiguous { .. } => "ambiguous_token",
            Refusal::OriginRequired => "origin_required",
            Refusal::NotAdmin { .. } => "not_admin",
            Refusal::NoSuchToken { .. } => "no_such_token",
            Refusal::NotOwner { .. } => "not_owner",
            Refusal::PersonalToken { .. } => "personal_token",
            Refusal::Policy { .. } => "not_permitted_by_policy",
            Refusal::UnknownUser { .. } => "unknown_user",
            Refusal::LastAdmin { .. } => "last_admin",
            Refusal::NoAdmin { .. } => "no_admin",
            Refusal::HotpNeedsServer { .. } => "hotp_needs_server",
            Refusal::InviteInvalid { .. } => "invite_invalid",
            Refusal::DeviceNotEnrolled => "device_not_enrolled",
            Refusal::DeviceRevoked { .. } => "device_revoked",
            Refusal::NoRecoveryCodes { .. } => "no_recovery_codes",
            Refusal::SignedOut => "signed_out",
            Refusal::SessionExpired => "session_expired",
            Refusal::SignInAgain { .. } => "sign_in_again",
            Refusal::SsoRefused { .. } => "sso_refused",
            Refusal::UserDisabled { .. } => "user_disabled",
            Refusal::UnverifiedIdentity { .. } => "unverified_identity",
            Refusal::RateLimited { .. } => "rate_limited",
        }
    }
}
