//! The vault: tokens, who may use them, and the audit log of every use.
//!
//! Storage is one SQLite file (bundled SQLite, so every platform runs the
//! same engine). Seeds are sealed with the vault's data key
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
//! - every admin change requires an admin and is audited in the same
//!   transaction; refusals are audited too.
//!
//! A file that is not a twofill vault, is damaged, or comes from a newer
//! version is reported and left byte-for-byte untouched.

pub mod audit;
pub mod binding;
mod schema;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use serde::Serialize;
use twofill_otp::{CodeWindow, Token};
use twofill_seal::{DataKey, Protection};

pub use audit::{AuditEvent, AuditRecord, ChainReport};
pub use binding::{Origin, SiteBinding, SiteError};
pub use schema::SCHEMA_VERSION;

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
    #[error("{0}")]
    Refused(Refusal),
    #[error("vault database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
        }
    }
}

impl Refusal {
    fn short(&self) -> &'static str {
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
        }
    }
}

/// What a group's members may do with a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Access {
    /// Codes only: fill, copy, view. Never the seed.
    #[serde(rename = "code-only")]
    CodeOnly,
    /// Codes, and the seed itself (reveal, export, QR).
    #[serde(rename = "full-seed")]
    FullSeed,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::CodeOnly => "code-only",
            Access::FullSeed => "full-seed",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Access {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "code-only" => Ok(Access::CodeOnly),
            "full-seed" => Ok(Access::FullSeed),
            other => Err(format!(
                "unknown access level `{other}`; use `code-only` or `full-seed`"
            )),
        }
    }
}

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
    pub fn action(self) -> &'static str {
        match self {
            Purpose::Fill => "code.fill",
            Purpose::Copy => "code.copy",
            Purpose::View => "code.view",
            Purpose::Cli => "code.cli",
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
    /// Seeds may be revealed at all; when false, [`Vault::reveal_seed`]
    /// refuses everybody, full-seed holders and owners included.
    pub allow_seed_reveal: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow_personal_tokens: true,
            allow_seed_reveal: true,
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
        match &self.issuer {
            Some(i) => format!("{i} ({})", self.account),
            None => self.account.clone(),
        }
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
}

/// A code handed out, with the audit record that vouches for it.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub token: TokenSummary,
    pub window: CodeWindow,
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

pub struct Vault {
    conn: Connection,
    key: DataKey,
    audit_key: zeroize::Zeroizing<[u8; 32]>,
    policy: Policy,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

fn valid_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(VaultError::BadName(name.chars().take(70).collect()))
    }
}

fn seed_aad(id: &str) -> Vec<u8> {
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
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let version = schema::check(&conn, path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA secure_delete = ON;",
        )?;
        let mut conn = conn;
        let key = schema::migrate(&mut conn, version, protection)?;
        let audit_key = key.derive_subkey("twofill audit chain v1");
        Ok(Vault {
            conn,
            key,
            audit_key,
            policy: Policy::default(),
        })
    }

    /// Applies the organization's policy to every later request on this
    /// handle. Opening gives [`Policy::default`] (nothing beyond grants).
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    // ---- admin side ----------------------------------------------------

    /// Runs an admin change in one write transaction: checks `actor` is an
    /// admin (recording the refusal if not), applies `change`, commits.
    /// `change` records its own audit event so it can describe itself.
    fn admin<T>(
        &mut self,
        actor: &str,
        action: &str,
        change: impl FnOnce(&Transaction<'_>, &DataKey, &[u8; 32]) -> Result<T>,
    ) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Err(refusal) = check_admin(&tx, &self.audit_key, actor)? {
            refuse(
                &tx,
                &self.audit_key,
                &Requester::cli(actor),
                action,
                None,
                None,
                &refusal,
            )?;
            tx.commit()?;
            return Err(VaultError::Refused(refusal));
        }
        let out = change(&tx, &self.key, &self.audit_key)?;
        tx.commit()?;
        Ok(out)
    }

    /// Stores a token bound to `sites` and returns its new id.
    pub fn add_token(
        &mut self,
        actor: &str,
        token: &Token,
        sites: &[SiteBinding],
    ) -> Result<String> {
        self.admin(actor, "token.add", |tx, key, audit_key| {
            let id = insert_token(tx, key, actor, token, sites, None)?;
            let summary = summary_conn(tx, &id)?;
            let detail = format!("sites: {}", join(&summary.bindings));
            admin_audit(tx, audit_key, actor, "token.add", Some(&summary), detail)?;
            Ok(id)
        })
    }

    /// Stores a personal token of `actor`, bound to `sites`, and returns its
    /// new id. Any user the vault knows may; only they can use it (as with
    /// `full-seed`), and it can never be granted to a group. Refused when
    /// the [`Policy`] forbids personal tokens.
    pub fn add_personal_token(
        &mut self,
        actor: &str,
        token: &Token,
        sites: &[SiteBinding],
    ) -> Result<String> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let refusal = if !self.policy.allow_personal_tokens {
            Some(Refusal::Policy {
                what: "personal tokens".into(),
            })
        } else if !user_exists(&tx, actor)? {
            Some(Refusal::UnknownUser {
                user: actor.to_owned(),
            })
        } else {
            None
        };
        if let Some(refusal) = refusal {
            let who = Requester::cli(actor);
            refuse(
                &tx,
                &self.audit_key,
                &who,
                "token.add",
                None,
                None,
                &refusal,
            )?;
            tx.commit()?;
            return Err(VaultError::Refused(refusal));
        }
        let id = insert_token(&tx, &self.key, actor, token, sites, Some(actor))?;
        let summary = summary_conn(&tx, &id)?;
        let detail = format!(
            "personal token of {actor}; sites: {}",
            join(&summary.bindings)
        );
        admin_audit(
            &tx,
            &self.audit_key,
            actor,
            "token.add",
            Some(&summary),
            detail,
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Runs a change to one token in one write transaction: its owner may
    /// make it to their personal token, admins to any token; anyone else is
    /// refused as a non-admin (and recorded), without learning whether the
    /// token exists.
    fn manage_token<T>(
        &mut self,
        actor: &str,
        action: &str,
        id: &str,
        change: impl FnOnce(&Transaction<'_>, &TokenSummary, &[u8; 32]) -> Result<T>,
    ) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let summary = match summary_conn(&tx, id) {
            Ok(s) => Some(s),
            Err(VaultError::NoSuchToken(_)) => None,
            Err(e) => return Err(e),
        };
        let owner = summary
            .as_ref()
            .is_some_and(|s| s.owner.as_deref() == Some(actor));
        if !owner && let Err(refusal) = check_admin(&tx, &self.audit_key, actor)? {
            let who = Requester::cli(actor);
            refuse(&tx, &self.audit_key, &who, action, None, None, &refusal)?;
            tx.commit()?;
            return Err(VaultError::Refused(refusal));
        }
        let summary = summary.ok_or_else(|| VaultError::NoSuchToken(id.to_owned()))?;
        let out = change(&tx, &summary, &self.audit_key)?;
        tx.commit()?;
        Ok(out)
    }

    /// Removes a token: admins any, users their own personal tokens.
    pub fn remove_token(&mut self, actor: &str, id: &str) -> Result<()> {
        self.manage_token(actor, "token.remove", id, |tx, summary, audit_key| {
            tx.execute("DELETE FROM tokens WHERE id = ?1", [id])?;
            admin_audit(
                tx,
                audit_key,
                actor,
                "token.remove",
                Some(summary),
                personal_detail(summary, String::new()),
            )
        })
    }

    /// Binds another site to a token: admins any, users their own personal tokens.
    pub fn bind_site(&mut self, actor: &str, id: &str, site: &SiteBinding) -> Result<()> {
        self.manage_token(actor, "token.bind", id, |tx, summary, audit_key| {
            tx.execute(
                "INSERT OR IGNORE INTO token_sites (token_id, site) VALUES (?1, ?2)",
                params![id, site.to_string()],
            )?;
            let detail = personal_detail(summary, format!("site: {site}"));
            admin_audit(tx, audit_key, actor, "token.bind", Some(summary), detail)
        })
    }

    /// Removes a site from a token: admins any, users their own personal tokens.
    pub fn unbind_site(&mut self, actor: &str, id: &str, site: &SiteBinding) -> Result<()> {
        self.manage_token(actor, "token.unbind", id, |tx, summary, audit_key| {
            tx.execute(
                "DELETE FROM token_sites WHERE token_id = ?1 AND site = ?2",
                params![id, site.to_string()],
            )?;
            let detail = personal_detail(summary, format!("site: {site}"));
            admin_audit(tx, audit_key, actor, "token.unbind", Some(summary), detail)
        })
    }

    /// Adds a user, or sets the admin flag of an existing one.
    pub fn add_user(&mut self, actor: &str, name: &str, admin: bool) -> Result<()> {
        valid_name(name)?;
        self.admin(actor, "user.add", |tx, _, audit_key| {
            tx.execute(
                "INSERT INTO users (name, admin) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET admin = excluded.admin",
                params![name, admin],
            )?;
            let detail = format!("user: {name}; admin: {admin}");
            admin_audit(tx, audit_key, actor, "user.add", None, detail)
        })
    }

    /// Removes a user, and with them their personal tokens (named in the
    /// audit record).
    pub fn remove_user(&mut self, actor: &str, name: &str) -> Result<()> {
        self.admin(actor, "user.remove", |tx, _, audit_key| {
            let personal: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM tokens WHERE owner = ?1 ORDER BY issuer, account, id",
                )?;
                stmt.query_map([name], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let labels = personal
                .iter()
                .map(|id| Ok(format!("{id} {}", summary_conn(tx, id)?.label())))
                .collect::<Result<Vec<_>>>()?;
            // The foreign key removes the personal tokens with the user.
            if tx.execute("DELETE FROM users WHERE name = ?1", [name])? == 0 {
                return Err(VaultError::NoSuchUser(name.to_owned()));
            }
            let mut detail = format!("user: {name}");
            if !labels.is_empty() {
                detail.push_str(&format!("; personal tokens removed: {}", labels.join(", ")));
            }
            admin_audit(tx, audit_key, actor, "user.remove", None, detail)
        })
    }

    pub fn add_group(&mut self, actor: &str, name: &str) -> Result<()> {
        valid_name(name)?;
        self.admin(actor, "group.add", |tx, _, audit_key| {
            if tx.execute("INSERT OR IGNORE INTO groups (name) VALUES (?1)", [name])? == 0 {
                return Err(VaultError::Exists(name.to_owned()));
            }
            admin_audit(
                tx,
                audit_key,
                actor,
                "group.add",
                None,
                format!("group: {name}"),
            )
        })
    }

    pub fn remove_group(&mut self, actor: &str, name: &str) -> Result<()> {
        self.admin(actor, "group.remove", |tx, _, audit_key| {
            if tx.execute("DELETE FROM groups WHERE name = ?1", [name])? == 0 {
                return Err(VaultError::NoSuchGroup(name.to_owned()));
            }
            admin_audit(
                tx,
                audit_key,
                actor,
                "group.remove",
                None,
                format!("group: {name}"),
            )
        })
    }

    /// Adds `user` to `group`, creating the user (non-admin) if needed.
    pub fn add_member(&mut self, actor: &str, group: &str, user: &str) -> Result<()> {
        valid_name(user)?;
        self.admin(actor, "group.member.add", |tx, _, audit_key| {
            group_exists(tx, group)?;
            tx.execute("INSERT OR IGNORE INTO users (name) VALUES (?1)", [user])?;
            tx.execute(
                "INSERT OR IGNORE INTO members (group_name, user_name) VALUES (?1, ?2)",
                params![group, user],
            )?;
            let detail = format!("group: {group}; user: {user}");
            admin_audit(tx, audit_key, actor, "group.member.add", None, detail)
        })
    }

    pub fn remove_member(&mut self, actor: &str, group: &str, user: &str) -> Result<()> {
        self.admin(actor, "group.member.remove", |tx, _, audit_key| {
            group_exists(tx, group)?;
            tx.execute(
                "DELETE FROM members WHERE group_name = ?1 AND user_name = ?2",
                params![group, user],
            )?;
            let detail = format!("group: {group}; user: {user}");
            admin_audit(tx, audit_key, actor, "group.member.remove", None, detail)
        })
    }

    /// Grants `group` the `level` on token `id` (replacing any earlier level).
    /// Personal tokens are refused (and the refusal recorded).
    pub fn set_grant(&mut self, actor: &str, id: &str, group: &str, level: Access) -> Result<()> {
        self.admin(actor, "grant.set", |tx, _, audit_key| {
            let summary = summary_conn(tx, id)?;
            if summary.is_personal() {
                let refusal = Refusal::PersonalToken { id: id.to_owned() };
                let who = Requester::cli(actor);
                refuse(
                    tx,
                    audit_key,
                    &who,
                    "grant.set",
                    Some(&summary),
                    None,
                    &refusal,
                )?;
                return Ok(Err(refusal));
            }
            group_exists(tx, group)?;
            tx.execute(
                "INSERT INTO grants (token_id, group_name, level) VALUES (?1, ?2, ?3)
                 ON CONFLICT (token_id, group_name) DO UPDATE SET level = excluded.level",
                params![id, group, level.as_str()],
            )?;
            let detail = format!("group: {group}; level: {level}");
            admin_audit(tx, audit_key, actor, "grant.set", Some(&summary), detail)?;
            Ok(Ok(()))
        })?
        .map_err(VaultError::Refused)
    }

    pub fn revoke_grant(&mut self, actor: &str, id: &str, group: &str) -> Result<()> {
        self.admin(actor, "grant.revoke", |tx, _, audit_key| {
            let summary = summary_conn(tx, id)?;
            tx.execute(
                "DELETE FROM grants WHERE token_id = ?1 AND group_name = ?2",
                params![id, group],
            )?;
            let detail = format!("group: {group}");
            admin_audit(tx, audit_key, actor, "grant.revoke", Some(&summary), detail)
        })
    }

    // ---- reading (no secrets) ------------------------------------------

    /// All tokens, shared and personal, without seeds, in a stable order
    /// (the admin's view: listing a token gives no right to use it).
    pub fn tokens(&self) -> Result<Vec<TokenSummary>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM tokens ORDER BY issuer, account, id")?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.iter().map(|id| summary_conn(&self.conn, id)).collect()
    }

    pub fn token_details(&self, id: &str) -> Result<TokenDetails> {
        let summary = summary_conn(&self.conn, id)?;
        let (kind, created_at, created_by): (String, i64, Option<String>) = self.conn.query_row(
            "SELECT kind, created_at, created_by FROM tokens WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let token = self.load_token(id)?;
        Ok(TokenDetails {
            summary,
            kind,
            algorithm: token.algorithm.to_string(),
            digits: token.digits,
            period: token.period,
            created_at,
            created_by,
            grants: grants_of_token(&self.conn, id)?,
        })
    }

    /// The user's level on a token, if any: their grant on a shared token,
    /// `full-seed` on their own personal token (unless the policy forbids
    /// personal tokens).
    pub fn access(&self, user: &str, id: &str) -> Result<Option<Access>> {
        let summary = summary_conn(&self.conn, id)?;
        Ok(access_to(&self.conn, self.policy, Scope::All, user, &summary)?.ok())
    }

    /// Tokens the user may use (bound to `origin` first when one is given).
    pub fn permitted_tokens(
        &self,
        user: &str,
        origin: Option<&Origin>,
    ) -> Result<Vec<PermittedToken>> {
        self.permitted_tokens_scoped(user, origin, Scope::All)
    }

    /// [`Vault::permitted_tokens`], with the user's personal tokens left out
    /// for [`Scope::SharedOnly`] (and whenever the policy forbids them).
    pub fn permitted_tokens_scoped(
        &self,
        user: &str,
        origin: Option<&Origin>,
        scope: Scope,
    ) -> Result<Vec<PermittedToken>> {
        let mut out = Vec::new();
        for summary in self.tokens()? {
            if let Ok(access) = access_to(&self.conn, self.policy, scope, user, &summary)? {
                let token = self.load_token(&summary.id)?;
                out.push(PermittedToken {
                    summary,
                    access,
                    period: token.period,
                    digits: token.digits,
                });
            }
        }
        if let Some(origin) = origin {
            // Stable sort: bound tokens first, otherwise the usual order.
            out.sort_by_key(|t| !t.summary.bindings.iter().any(|b| b.matches(origin)));
        }
        Ok(out)
    }

    pub fn is_admin(&self, user: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT admin FROM users WHERE name = ?1", [user], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(false))
    }

    pub fn users(&self) -> Result<Vec<UserInfo>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, admin FROM users ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(name, admin)| {
                let mut g = self.conn.prepare_cached(
                    "SELECT group_name FROM members WHERE user_name = ?1 ORDER BY group_name",
                )?;
                let groups = g
                    .query_map([&name], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()?;
                Ok(UserInfo {
                    name,
                    admin,
                    groups,
                })
            })
            .collect()
    }

    pub fn groups(&self) -> Result<Vec<GroupInfo>> {
        let mut stmt = self.conn.prepare("SELECT name FROM groups ORDER BY name")?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        names
            .into_iter()
            .map(|name| {
                let mut m = self.conn.prepare_cached(
                    "SELECT user_name FROM members WHERE group_name = ?1 ORDER BY user_name",
                )?;
                let members = m
                    .query_map([&name], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()?;
                let mut g = self.conn.prepare_cached(
                    "SELECT token_id, level FROM grants WHERE group_name = ?1 ORDER BY token_id",
                )?;
                let grants = g
                    .query_map([&name], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?
                    .into_iter()
                    .filter_map(|(t, l)| Some((t, l.parse().ok()?)))
                    .collect();
                Ok(GroupInfo {
                    name,
                    members,
                    grants,
                })
            })
            .collect()
    }

    // ---- codes and seeds: permission-checked and audited ---------------

    /// Computes the current code for a token the requester may use, after a
    /// durable audit record. For [`Purpose::Fill`] the token must be bound
    /// to `origin`; with `token = None` the single permitted token bound to
    /// the origin is chosen.
    pub fn issue_code(
        &mut self,
        who: &Requester,
        token: Option<&str>,
        origin: Option<&Origin>,
        purpose: Purpose,
    ) -> Result<IssuedCode> {
        self.issue_code_scoped(who, token, origin, purpose, Scope::All)
    }

    /// [`Vault::issue_code`] over the tokens in `scope`: with
    /// [`Scope::SharedOnly`] a fill never picks a personal token and naming
    /// one is refused as if it did not exist.
    pub fn issue_code_scoped(
        &mut self,
        who: &Requester,
        token: Option<&str>,
        origin: Option<&Origin>,
        purpose: Purpose,
        scope: Scope,
    ) -> Result<IssuedCode> {
        let time_ms = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let chosen = match choose_token(&tx, self.policy, scope, &who.user, token, origin, purpose)
        {
            Ok(summary) => summary,
            Err(refusal) => {
                let summary = token.and_then(|id| summary_conn(&tx, id).ok());
                refuse(
                    &tx,
                    &self.audit_key,
                    who,
                    purpose.action(),
                    summary.as_ref(),
                    origin,
                    &refusal,
                )?;
                tx.commit()?;
                return Err(VaultError::Refused(refusal));
            }
        };
        let seed = load_token_conn(&tx, &self.key, &chosen.id)?;
        let window = seed.window_at((time_ms / 1000) as u64);
        let record = audit::append(
            &tx,
            &self.audit_key,
            time_ms,
            &event(who, purpose.action(), true, Some(&chosen), origin, None),
        )?;
        // Durable (synchronous=FULL) before the code exists outside this function.
        tx.commit()?;
        Ok(IssuedCode {
            token: chosen,
            window,
            audit_seq: record.seq,
        })
    }

    /// The token with its seed, for `full-seed` holders (and the owner of a
    /// personal token) only, and only if the [`Policy`] allows seed reveals.
    /// `action` is the audit action (`seed.reveal`, `seed.export`, `seed.qr`).
    pub fn reveal_seed(&mut self, who: &Requester, id: &str, action: &str) -> Result<Token> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let summary = match summary_conn(&tx, id) {
            Ok(s) => s,
            Err(VaultError::NoSuchToken(_)) => {
                let refusal = Refusal::NoSuchToken { id: id.to_owned() };
                refuse(&tx, &self.audit_key, who, action, None, None, &refusal)?;
                tx.commit()?;
                return Err(VaultError::Refused(refusal));
            }
            Err(e) => return Err(e),
        };
        let refused = if !self.policy.allow_seed_reveal {
            Some(Refusal::Policy {
                what: "revealing seeds".into(),
            })
        } else {
            match access_to(&tx, self.policy, Scope::All, &who.user, &summary)? {
                Ok(Access::FullSeed) => None,
                Ok(Access::CodeOnly) | Err(Refusal::NotPermitted { .. }) => {
                    Some(Refusal::NotPermitted {
                        user: who.user.clone(),
                        what: format!(
                            "see the seed of {} (needs a full-seed grant)",
                            summary.label()
                        ),
                    })
                }
                Err(other) => Some(other),
            }
        };
        if let Some(refusal) = refused {
            refuse(
                &tx,
                &self.audit_key,
                who,
                action,
                Some(&summary),
                None,
                &refusal,
            )?;
            tx.commit()?;
            return Err(VaultError::Refused(refusal));
        }
        let token = load_token_conn(&tx, &self.key, id)?;
        audit::append(
            &tx,
            &self.audit_key,
            now_ms(),
            &event(who, action, true, Some(&summary), None, None),
        )?;
        tx.commit()?;
        Ok(token)
    }

    // ---- audit ---------------------------------------------------------

    /// Records after `after_seq`, oldest first, at most `limit`.
    pub fn audit_records(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        audit::read(&self.conn, after_seq, limit)
    }

    /// Sequence number of the newest record (0 when the log is empty).
    pub fn audit_head_seq(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM audit", [], |r| r.get(0))?)
    }

    /// Walks the whole chain; with an anchor `(seq, mac)` also checks that
    /// the log still reaches it unchanged.
    pub fn verify_audit(&self, anchor: Option<(i64, [u8; 32])>) -> Result<ChainReport> {
        audit::verify(&self.conn, &self.audit_key, anchor)
    }

    /// Appends a record for something that happened outside the vault
    /// (e.g. a request refused before it reached the vault).
    pub fn record(&mut self, event: &AuditEvent) -> Result<AuditRecord> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let r = audit::append(&tx, &self.audit_key, now_ms(), event)?;
        tx.commit()?;
        Ok(r)
    }

    fn load_token(&self, id: &str) -> Result<Token> {
        load_token_conn(&self.conn, &self.key, id)
    }
}

/// Inserts a token (personal when `owner` is set) and its bindings; returns its new id.
fn insert_token(
    tx: &Transaction<'_>,
    key: &DataKey,
    actor: &str,
    token: &Token,
    sites: &[SiteBinding],
    owner: Option<&str>,
) -> Result<String> {
    let id: String = tx.query_row("SELECT lower(hex(randomblob(6)))", [], |r| r.get(0))?;
    let sealed = key.seal(token.to_uri().as_bytes(), &seed_aad(&id));
    tx.execute(
        "INSERT INTO tokens (id, issuer, account, sealed_seed, kind, created_by, owner)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            token.issuer,
            token.account,
            sealed,
            format!("{:?}", token.kind).to_lowercase(),
            actor,
            owner
        ],
    )?;
    for site in sites {
        tx.execute(
            "INSERT OR IGNORE INTO token_sites (token_id, site) VALUES (?1, ?2)",
            params![id, site.to_string()],
        )?;
    }
    Ok(id)
}

/// Prefixes an audit detail with the owner of a personal token.
fn personal_detail(summary: &TokenSummary, detail: String) -> String {
    match (&summary.owner, detail.is_empty()) {
        (None, _) => detail,
        (Some(owner), true) => format!("personal token of {owner}"),
        (Some(owner), false) => format!("personal token of {owner}; {detail}"),
    }
}

fn user_exists(conn: &Connection, user: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM users WHERE name = ?1", [user], |_| Ok(()))
        .optional()?
        .is_some())
}

fn join(b: &[SiteBinding]) -> String {
    b.iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn event(
    who: &Requester,
    action: &str,
    success: bool,
    token: Option<&TokenSummary>,
    origin: Option<&Origin>,
    reason: Option<String>,
) -> AuditEvent {
    AuditEvent {
        user: who.user.clone(),
        action: action.to_owned(),
        success,
        token_id: token.map(|t| t.id.clone()),
        token_label: token.map(|t| t.label()),
        origin: origin.map(|o| o.to_string()),
        browser: who.browser.clone(),
        extension_id: who.extension_id.clone(),
        reason,
    }
}

fn refuse(
    tx: &Transaction<'_>,
    key: &[u8; 32],
    who: &Requester,
    action: &str,
    token: Option<&TokenSummary>,
    origin: Option<&Origin>,
    refusal: &Refusal,
) -> Result<()> {
    let reason = format!("{}: {refusal}", refusal.short());
    audit::append(
        tx,
        key,
        now_ms(),
        &event(who, action, false, token, origin, Some(reason)),
    )?;
    Ok(())
}

fn admin_audit(
    tx: &Transaction<'_>,
    key: &[u8; 32],
    actor: &str,
    action: &str,
    token: Option<&TokenSummary>,
    detail: String,
) -> Result<()> {
    let reason = (!detail.is_empty()).then_some(detail);
    audit::append(
        tx,
        key,
        now_ms(),
        &event(&Requester::cli(actor), action, true, token, None, reason),
    )?;
    Ok(())
}

/// Admin changes need an admin. The first person to administer a vault
/// with no admin becomes its admin (and that is audited).
fn check_admin(tx: &Transaction<'_>, key: &[u8; 32], actor: &str) -> Result<Result<(), Refusal>> {
    let admins: i64 = tx.query_row("SELECT count(*) FROM users WHERE admin", [], |r| r.get(0))?;
    if admins == 0 {
        valid_name(actor)?;
        tx.execute(
            "INSERT INTO users (name, admin) VALUES (?1, 1)
             ON CONFLICT (name) DO UPDATE SET admin = 1",
            [actor],
        )?;
        admin_audit(
            tx,
            key,
            actor,
            "vault.init",
            None,
            format!("first admin: {actor}"),
        )?;
        return Ok(Ok(()));
    }
    let is_admin: bool = tx
        .query_row("SELECT admin FROM users WHERE name = ?1", [actor], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(false);
    Ok(if is_admin {
        Ok(())
    } else {
        Err(Refusal::NotAdmin {
            user: actor.to_owned(),
        })
    })
}

fn choose_token(
    tx: &Transaction<'_>,
    policy: Policy,
    scope: Scope,
    user: &str,
    token: Option<&str>,
    origin: Option<&Origin>,
    purpose: Purpose,
) -> Result<TokenSummary, Refusal> {
    let db = |_e: VaultError| Refusal::NoSuchToken {
        id: token.unwrap_or_default().to_owned(),
    };
    if purpose != Purpose::Fill {
        let id = token.ok_or(Refusal::NoSuchToken { id: String::new() })?;
        let summary = summary_conn(tx, id).map_err(db)?;
        return access_to(tx, policy, scope, user, &summary)
            .map_err(db)?
            .map(|_| summary);
    }
    let origin = origin.ok_or(Refusal::OriginRequired)?;
    let mut ids: Vec<String> = {
        let mut stmt = tx
            .prepare_cached("SELECT id FROM tokens ORDER BY issuer, account, id")
            .map_err(|e| db(e.into()))?;
        stmt.query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| db(e.into()))?
    };
    if let Some(id) = token {
        ids.retain(|i| i == id);
    }
    // Other users' personal tokens, and the user's own outside the scope,
    // are not there at all for a fill.
    let mut bound: Vec<TokenSummary> = ids
        .iter()
        .filter_map(|id| summary_conn(tx, id).ok())
        .filter(|s| match &s.owner {
            None => true,
            Some(owner) => owner == user && scope == Scope::All,
        })
        .filter(|s| s.bindings.iter().any(|b| b.matches(origin)))
        .collect();
    let had_personal = bound.iter().any(TokenSummary::is_personal);
    if !policy.allow_personal_tokens {
        bound.retain(|s| !s.is_personal());
    }
    if bound.is_empty() {
        return Err(if had_personal {
            Refusal::Policy {
                what: "personal tokens".into(),
            }
        } else {
            Refusal::NoTokenForOrigin {
                origin: origin.to_string(),
            }
        });
    }
    let permitted: Vec<TokenSummary> = bound
        .iter()
        .filter(|s| matches!(access_to(tx, policy, scope, user, s), Ok(Ok(_))))
        .cloned()
        .collect();
    match permitted.len() {
        0 => Err(Refusal::NotPermitted {
            user: user.to_owned(),
            what: format!(
                "use {} on {origin}",
                bound
                    .iter()
                    .map(|b| b.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        1 => Ok(permitted.into_iter().next().expect("one")),
        _ => Err(Refusal::Ambiguous {
            candidates: permitted,
        }),
    }
}

/// What `user` may do with a token, or why not: their grant on a shared
/// token; `full-seed` on their own personal token; nothing on anyone
/// else's. Personal tokens are absent for [`Scope::SharedOnly`] and refused
/// when the policy forbids them.
fn access_to(
    conn: &Connection,
    policy: Policy,
    scope: Scope,
    user: &str,
    summary: &TokenSummary,
) -> Result<Result<Access, Refusal>> {
    let Some(owner) = &summary.owner else {
        return Ok(match access_conn(conn, user, &summary.id)? {
            Some(access) => Ok(access),
            None => Err(Refusal::NotPermitted {
                user: user.to_owned(),
                what: format!("use {}", summary.label()),
            }),
        });
    };
    Ok(if scope == Scope::SharedOnly {
        Err(Refusal::NoSuchToken {
            id: summary.id.clone(),
        })
    } else if !policy.allow_personal_tokens {
        Err(Refusal::Policy {
            what: "personal tokens".into(),
        })
    } else if owner != user {
        Err(Refusal::NotOwner {
            user: user.to_owned(),
            id: summary.id.clone(),
        })
    } else {
        Ok(Access::FullSeed)
    })
}

fn group_exists(conn: &Connection, group: &str) -> Result<()> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM groups WHERE name = ?1",
        [group],
        |r| r.get(0),
    )?;
    if n == 0 {
        return Err(VaultError::NoSuchGroup(group.to_owned()));
    }
    Ok(())
}

fn access_conn(conn: &Connection, user: &str, id: &str) -> Result<Option<Access>> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.level FROM grants g JOIN members m ON m.group_name = g.group_name
         WHERE m.user_name = ?1 AND g.token_id = ?2",
    )?;
    let levels = stmt
        .query_map(params![user, id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(levels.iter().filter_map(|l| l.parse::<Access>().ok()).max())
}

fn grants_of_token(conn: &Connection, id: &str) -> Result<BTreeMap<String, Access>> {
    let mut stmt =
        conn.prepare_cached("SELECT group_name, level FROM grants WHERE token_id = ?1")?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(g, l)| Some((g, l.parse().ok()?)))
        .collect())
}

fn summary_conn(conn: &Connection, id: &str) -> Result<TokenSummary> {
    let row: Option<(Option<String>, String, Option<String>)> = conn
        .query_row(
            "SELECT issuer, account, owner FROM tokens WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (issuer, account, owner) = row.ok_or_else(|| VaultError::NoSuchToken(id.to_owned()))?;
    let mut stmt =
        conn.prepare_cached("SELECT site FROM token_sites WHERE token_id = ?1 ORDER BY site")?;
    let sites = stmt
        .query_map([id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(TokenSummary {
        id: id.to_owned(),
        issuer,
        account,
        // Bindings were validated on the way in; one that no longer parses
        // (hand-edited file) matches nothing rather than failing open.
        bindings: sites.iter().filter_map(|s| s.parse().ok()).collect(),
        owner,
    })
}

fn load_token_conn(conn: &Connection, key: &DataKey, id: &str) -> Result<Token> {
    let sealed: Vec<u8> = conn
        .query_row("SELECT sealed_seed FROM tokens WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| VaultError::NoSuchToken(id.to_owned()))?;
    let bad = |detail: String| VaultError::BadSeed {
        id: id.to_owned(),
        detail,
    };
    let plain = key
        .open(&sealed, &seed_aad(id))
        .map_err(|e| bad(e.to_string()))?;
    let uri = std::str::from_utf8(&plain).map_err(|_| bad("not UTF-8".into()))?;
    Token::from_uri(uri).map_err(|e| bad(e.to_string()))
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
