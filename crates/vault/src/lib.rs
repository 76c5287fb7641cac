//! The vault: tokens, who may use them, and the audit log of every use.
//!
//! Storage is one SQLite file (bundled SQLite, so every platform runs the
//! same engine) or a PostgreSQL database ([`Vault::open_postgres`], for a
//! server whose replicas share it). Seeds are sealed with the vault's data key
//! (`twofill-seal`); names, bindings, grants and the audit log are not
//! secret and stay readable for listing.
//!
//! The vault is also where the rules live, so that no caller can forget
//! them:
//! - the only way to get a code is [`Vault::issue_code`], which checks the
//!   user's grant and the site binding and commits an audit record *before*
//!   returning the code;
//! - the only way to get a seed is [`Vault::reveal_seed`], which requires a
//!   `full-seed` grant and is audited the same way;
//! - a *personal* token (enrolled by a user for themselves,
//!   [`Vault::add_personal_token`]) is usable by its owner alone, as with
//!   `full-seed`, and can never be granted to a group; admins see it listed
//!   but get no code or seed from it;
//! - the organization's [`Policy`] (set by the host from its config) can
//!   forbid personal tokens and seed reveals for everybody;
//! - fills are limited per user and token ([`RateLimit`]), counted from
//!   the audit log inside the code's own write transaction;
//! - the audit log and the users and groups are read by admins only, a
//!   token's details by admins and its users ([`Vault::check_reader`]);
//! - every admin change requires an admin and is audited in the same
//!   transaction; refusals are audited too;
//! - a token's recovery codes are sealed like seeds and handed out one at
//!   a time, each marked used with its audit record, to `full-seed`
//!   holders only ([`Vault::take_recovery_code`]);
//! - a device (a teammate's laptop on a team server) is enrolled only by
//!   redeeming an unused, unexpired invite, once; a revoked device gets
//!   nothing ([`Vault::authenticate_device`]).
//!
//! A file that is not a twofill vault (an empty one included), is damaged,
//! or comes from a newer version is reported and left byte-for-byte
//! untouched; a new vault is built whole in a 0600 file and only then given
//! its name.
//!
//! Where each rule lives: `permission` (a user's level
//! on a token, personal-token ownership, scope and policy on it, the
//! first-admin bootstrap), `integrity` (the MACs on authorization rows:
//! every rule reads and writes those rows through it), `enrollment`
//! (invites and devices), `rate_limit` (the fill limit's count and
//! decision), `issue` (choosing a token by binding, codes and
//! seed reveals; the only module that opens a sealed seed), `recovery`
//! (recovery codes: the only module that seals or opens one), `sms_inbox`
//! (shared SMS inboxes, their messages and codes: the only module that
//! seals or opens a message), `admin` (admin
//! changes, each checked and recorded in its transaction), `listing`
//! (reading without secrets), [`audit`] (the HMAC chain: computing, appending,
//! verifying). They reach storage only through the `store` traits;
//! `store/sqlite.rs` and `store/schema.rs` (SQLite), `store/postgres.rs` and
//! `store/postgres_schema.rs` (PostgreSQL) hold all the SQL and no rule
//! (`invariants.rs` checks both).

mod admin;
pub mod audit;
pub mod binding;
mod enrollment;
mod error;
mod integrity;
#[cfg(test)]
mod invariants;
mod issue;
mod listing;
mod model;
mod permission;
mod rate_limit;
mod recovery;
mod siem_cursor;
mod sms_inbox;
mod sso;
mod store;

use std::path::Path;

use twofill_seal::{DataKey, Protection};

pub use audit::{AuditEvent, AuditRecord, ChainReport};
pub use binding::{Origin, SiteBinding, SiteError};
pub use error::{InviteProblem, Refusal, Result, VaultError};
pub use integrity::{IntegrityReport, TamperedRow};
pub use issue::PushSeed;
pub use listing::Reading;
pub use model::{
    Access, CodeRequest, DeviceRecord, GroupInfo, InviteRecord, IssuedCode, NewDevice,
    PermittedToken, Policy, Purpose, RecoveryStatus, Requester, Scope, TakenRecoveryCode,
    TokenDetails, TokenSummary, TokensRequest, UserInfo,
};
pub use rate_limit::RateLimit;
pub use recovery::{MAX_RECOVERY_CODE_CHARS, MAX_RECOVERY_CODES};
pub use siem_cursor::SiemCursor;
pub use sms_inbox::{
    DEFAULT_SMS_RETENTION_MS, FoundCode, MAX_SMS_LISTED, NewSms, PermittedInbox,
    SMS_PROVIDER_ACTOR_PREFIX, SMS_RETENTION_ACTOR, SmsArrivals, SmsCode, SmsInboxInfo, SmsIntake,
    SmsMessage, check_e164,
};
pub use sso::{OffboardingReport, SSO_PENDING_USER_PREFIX, SsoSessionRecord, SsoSignIn};
pub use store::schema::SCHEMA_VERSION;
pub use twofill_words::{AuditAction, SmsAccess, TokenKind};

use store::Store;
use store::postgres::PostgresStore;
use store::sqlite::SqliteStore;

pub struct Vault {
    /// Where the rows live; every rule above it is storage-agnostic.
    store: Box<dyn Store>,
    key: DataKey,
    audit_key: zeroize::Zeroizing<[u8; 32]>,
    /// MACs the authorization rows (`integrity`).
    authz_key: integrity::AuthzKey,
    policy: Policy,
    /// Whether HOTP codes may be issued: only by the one vault that owns
    /// the counter (the team server's), never by a copy on a laptop.
    hotp_allowed: bool,
    rate_limit: RateLimit,
    /// Why the requester's name cannot be trusted for admin changes, seeds
    /// and recovery codes (`None`: it can).
    unverified_identity: Option<String>,
}

pub(crate) fn seed_aad(id: &str) -> Vec<u8> {
    format!("twofill token seed v1\0{id}").into_bytes()
}

impl Vault {
    /// Opens (creating if needed) the vault at `path`, unlocks it with
    /// `protection` and migrates it to the current schema.
    pub fn open(path: &Path, protection: &Protection) -> Result<Vault> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|source| VaultError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let (store, key) = SqliteStore::open(path, protection, &issue::code_params_of_sealed)?;
        Ok(Vault::over(Box::new(store), key))
    }

    /// Opens the vault in the PostgreSQL database at `url`
    /// (`postgres://user@host:port/database`), creating its schema in an
    /// empty database, and unlocks it with `protection`. Several processes
    /// may open one database: their writes take turns, so the audit chain
    /// stays one sequence.
    pub fn open_postgres(url: &str, protection: &Protection) -> Result<Vault> {
        let (store, key) = PostgresStore::open(url, protection)?;
        Ok(Vault::over(Box::new(store), key))
    }

    fn over(store: Box<dyn Store>, key: DataKey) -> Vault {
        let audit_key = key.derive_subkey("twofill audit chain v1");
        Vault {
            store,
            authz_key: integrity::AuthzKey::of(&key),
            key,
            audit_key,
            policy: Policy::default(),
            hotp_allowed: false,
            rate_limit: RateLimit::OFF,
            unverified_identity: None,
        }
    }

    /// Lets this handle issue HOTP codes (advancing the counter). Only the
    /// team server calls this: its vault is the one place a counter lives.
    /// Opening gives `false`, and HOTP codes are refused on record
    /// ([`Refusal::HotpNeedsServer`]); enrolling HOTP tokens works either way.
    pub fn set_hotp_allowed(&mut self, allowed: bool) {
        self.hotp_allowed = allowed;
    }

    /// Applies the organization's policy to every later request on this
    /// handle. Opening gives [`Policy::default`] (nothing beyond grants).
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Limits fills per user and token on every later request on this
    /// handle, counted across every handle on the same store. Opening
    /// gives [`RateLimit::OFF`].
    pub fn set_rate_limit(&mut self, limit: RateLimit) {
        self.rate_limit = limit;
    }

    pub fn rate_limit(&self) -> RateLimit {
        self.rate_limit
    }

    /// Says the names this handle is given come from a source the caller
    /// could set (`why` says which): codes are still issued to them, but
    /// every change, seed reveal and recovery-code take is refused on
    /// record ([`Refusal::UnverifiedIdentity`]). Opening gives `None`.
    pub fn set_unverified_identity(&mut self, why: Option<String>) {
        self.unverified_identity = why;
    }

    /// The refusal for a change, seed or recovery code under an
    /// unverified identity.
    pub(crate) fn unverified(&self, user: &str) -> Option<Refusal> {
        self.unverified_identity
            .as_ref()
            .map(|why| Refusal::UnverifiedIdentity {
                user: user.to_owned(),
                why: why.clone(),
            })
    }
}

pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}
