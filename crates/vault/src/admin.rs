//! Admin changes: tokens, bindings, users, groups and grants. Each one runs
//! in one write transaction that checks the actor first and records the
//! change (or the refusal) in the audit log before it commits.

use rusqlite::{Transaction, TransactionBehavior, params};
use twofill_otp::Token;
use twofill_seal::DataKey;
use twofill_words::AuditAction;

use crate::audit::{admin_audit, refuse};
use crate::permission::check_admin;
use crate::store::{group_exists, summary_conn, user_exists};
use crate::{
    Access, Refusal, Requester, Result, SiteBinding, TokenSummary, Vault, VaultError, seed_aad,
};

impl Vault {
    /// Runs an admin change in one write transaction: checks `actor` is an
    /// admin (recording the refusal if not), applies `change`, commits.
    /// `change` records its own audit event so it can describe itself.
    fn admin<T>(
        &mut self,
        actor: &str,
        action: AuditAction,
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
        self.admin(actor, AuditAction::TokenAdd, |tx, key, audit_key| {
            let id = insert_token(tx, key, actor, token, sites, None)?;
            let summary = summary_conn(tx, &id)?;
            let detail = format!("sites: {}", join(&summary.bindings));
            admin_audit(
                tx,
                audit_key,
                actor,
                AuditAction::TokenAdd,
                Some(&summary),
                detail,
            )?;
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
                AuditAction::TokenAdd,
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
            AuditAction::TokenAdd,
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
        action: AuditAction,
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
        self.manage_token(
            actor,
            AuditAction::TokenRemove,
            id,
            |tx, summary, audit_key| {
                tx.execute("DELETE FROM tokens WHERE id = ?1", [id])?;
                admin_audit(
                    tx,
                    audit_key,
                    actor,
                    AuditAction::TokenRemove,
                    Some(summary),
                    personal_detail(summary, String::new()),
                )
            },
        )
    }

    /// Binds another site to a token: admins any, users their own personal tokens.
    pub fn bind_site(&mut self, actor: &str, id: &str, site: &SiteBinding) -> Result<()> {
        self.manage_token(
            actor,
            AuditAction::TokenBind,
            id,
            |tx, summary, audit_key| {
                tx.execute(
                    "INSERT OR IGNORE INTO token_sites (token_id, site) VALUES (?1, ?2)",
                    params![id, site.to_string()],
                )?;
                let detail = personal_detail(summary, format!("site: {site}"));
                admin_audit(
                    tx,
                    audit_key,
                    actor,
                    AuditAction::TokenBind,
                    Some(summary),
                    detail,
                )
            },
        )
    }

    /// Removes a site from a token: admins any, users their own personal tokens.
    pub fn unbind_site(&mut self, actor: &str, id: &str, site: &SiteBinding) -> Result<()> {
        self.manage_token(
            actor,
            AuditAction::TokenUnbind,
            id,
            |tx, summary, audit_key| {
                tx.execute(
                    "DELETE FROM token_sites WHERE token_id = ?1 AND site = ?2",
                    params![id, site.to_string()],
                )?;
                let detail = personal_detail(summary, format!("site: {site}"));
                admin_audit(
                    tx,
                    audit_key,
                    actor,
                    AuditAction::TokenUnbind,
                    Some(summary),
                    detail,
                )
            },
        )
    }

    /// Adds a user, or sets the admin flag of an existing one.
    pub fn add_user(&mut self, actor: &str, name: &str, admin: bool) -> Result<()> {
        valid_name(name)?;
        self.admin(actor, AuditAction::UserAdd, |tx, _, audit_key| {
            tx.execute(
                "INSERT INTO users (name, admin) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET admin = excluded.admin",
                params![name, admin],
            )?;
            let detail = format!("user: {name}; admin: {admin}");
            admin_audit(tx, audit_key, actor, AuditAction::UserAdd, None, detail)
        })
    }

    /// Removes a user, and with them their personal tokens (named in the
    /// audit record).
    pub fn remove_user(&mut self, actor: &str, name: &str) -> Result<()> {
        self.admin(actor, AuditAction::UserRemove, |tx, _, audit_key| {
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
            admin_audit(tx, audit_key, actor, AuditAction::UserRemove, None, detail)
        })
    }

    pub fn add_group(&mut self, actor: &str, name: &str) -> Result<()> {
        valid_name(name)?;
        self.admin(actor, AuditAction::GroupAdd, |tx, _, audit_key| {
            if tx.execute("INSERT OR IGNORE INTO groups (name) VALUES (?1)", [name])? == 0 {
                return Err(VaultError::Exists(name.to_owned()));
            }
            admin_audit(
                tx,
                audit_key,
                actor,
                AuditAction::GroupAdd,
                None,
                format!("group: {name}"),
            )
        })
    }

    pub fn remove_group(&mut self, actor: &str, name: &str) -> Result<()> {
        self.admin(actor, AuditAction::GroupRemove, |tx, _, audit_key| {
            if tx.execute("DELETE FROM groups WHERE name = ?1", [name])? == 0 {
                return Err(VaultError::NoSuchGroup(name.to_owned()));
            }
            admin_audit(
                tx,
                audit_key,
                actor,
                AuditAction::GroupRemove,
                None,
                format!("group: {name}"),
            )
        })
    }

    /// Adds `user` to `group`, creating the user (non-admin) if needed.
    pub fn add_member(&mut self, actor: &str, group: &str, user: &str) -> Result<()> {
        valid_name(user)?;
        self.admin(actor, AuditAction::GroupMemberAdd, |tx, _, audit_key| {
            group_exists(tx, group)?;
            tx.execute("INSERT OR IGNORE INTO users (name) VALUES (?1)", [user])?;
            tx.execute(
                "INSERT OR IGNORE INTO members (group_name, user_name) VALUES (?1, ?2)",
                params![group, user],
            )?;
            let detail = format!("group: {group}; user: {user}");
            admin_audit(
                tx,
                audit_key,
                actor,
                AuditAction::GroupMemberAdd,
                None,
                detail,
            )
        })
    }

    pub fn remove_member(&mut self, actor: &str, group: &str, user: &str) -> Result<()> {
        self.admin(actor, AuditAction::GroupMemberRemove, |tx, _, audit_key| {
            group_exists(tx, group)?;
            tx.execute(
                "DELETE FROM members WHERE group_name = ?1 AND user_name = ?2",
                params![group, user],
            )?;
            let detail = format!("group: {group}; user: {user}");
            admin_audit(
                tx,
                audit_key,
                actor,
                AuditAction::GroupMemberRemove,
                None,
                detail,
            )
        })
    }

    /// Grants `group` the `level` on token `id` (replacing any earlier level).
    /// Personal tokens are refused (and the refusal recorded).
    pub fn set_grant(&mut self, actor: &str, id: &str, group: &str, level: Access) -> Result<()> {
        self.admin(actor, AuditAction::GrantSet, |tx, _, audit_key| {
            let summary = summary_conn(tx, id)?;
            if summary.is_personal() {
                let refusal = Refusal::PersonalToken { id: id.to_owned() };
                let who = Requester::cli(actor);
                refuse(
                    tx,
                    audit_key,
                    &who,
                    AuditAction::GrantSet,
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
            admin_audit(
                tx,
                audit_key,
                actor,
                AuditAction::GrantSet,
                Some(&summary),
                detail,
            )?;
            Ok(Ok(()))
        })?
        .map_err(VaultError::Refused)
    }

    pub fn revoke_grant(&mut self, actor: &str, id: &str, group: &str) -> Result<()> {
        self.admin(actor, AuditAction::GrantRevoke, |tx, _, audit_key| {
            let summary = summary_conn(tx, id)?;
            tx.execute(
                "DELETE FROM grants WHERE token_id = ?1 AND group_name = ?2",
                params![id, group],
            )?;
            let detail = format!("group: {group}");
            admin_audit(
                tx,
                audit_key,
                actor,
                AuditAction::GrantRevoke,
                Some(&summary),
                detail,
            )
        })
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

fn join(b: &[SiteBinding]) -> String {
    b.iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn valid_name(name: &str) -> Result<()> {
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
