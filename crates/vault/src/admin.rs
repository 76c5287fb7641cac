//! Admin changes: tokens, bindings, users, groups and grants. Each one runs
//! in one write transaction that checks the actor first and records the
//! change (or the refusal) in the audit log before it commits.

use twofill_otp::{Kind, Token};
use twofill_seal::DataKey;
use twofill_words::{AuditAction, unix_now_ms};

use crate::audit::About;
use crate::integrity::AuthzKey;
use crate::issue::code_params;
use crate::permission::{check_admin, find_summary, summary};
use crate::store::{NewTokenRow, StoreTx};
use crate::{
    Access, Refusal, Requester, Result, SiteBinding, TokenSummary, Vault, VaultError, seed_aad,
};

/// One change in progress: its transaction, who makes it, and what it is.
pub(crate) struct Change<'t> {
    pub tx: &'t dyn StoreTx,
    pub audit_key: &'t [u8; 32],
    pub authz: &'t AuthzKey,
    pub who: Requester,
    pub action: AuditAction,
}

impl Change<'_> {
    /// Records the change; `detail` says what changed.
    pub(crate) fn record(&self, token: Option<&TokenSummary>, detail: String) -> Result<()> {
        self.about(token)
            .record_success(self.tx, self.audit_key, unix_now_ms(), detail)?;
        Ok(())
    }

    pub(crate) fn refuse(&self, token: Option<&TokenSummary>, refusal: &Refusal) -> Result<()> {
        self.about(token)
            .record_refusal(self.tx, self.audit_key, refusal)
    }

    fn about<'a>(&'a self, token: Option<&'a TokenSummary>) -> About<'a> {
        About {
            who: &self.who,
            action: self.action,
            token,
            origin: None,
        }
    }
}

/// A token to store, and whose it is.
struct NewToken<'a> {
    actor: &'a str,
    token: &'a Token,
    sites: &'a [SiteBinding],
    /// The owner of a personal token; `None` for a team token.
    owner: Option<&'a str>,
}

impl Vault {
    /// Runs a change in one write transaction: `allow` decides whether
    /// `actor` may make it (a refusal is recorded and committed on its own),
    /// then `change` applies it (recording its own audit event, so it can
    /// describe itself) and the transaction commits.
    pub(crate) fn in_change<S, T>(
        &mut self,
        actor: &str,
        action: AuditAction,
        allow: impl FnOnce(&Change<'_>) -> Result<Result<S, Refusal>>,
        change: impl FnOnce(&Change<'_>, &DataKey, S) -> Result<T>,
    ) -> Result<T> {
        let unverified = self.unverified(actor);
        let result = (|| {
            let tx = self.store.begin_write()?;
            let c = Change {
                tx: &*tx,
                audit_key: &self.audit_key,
                authz: &self.authz_key,
                who: Requester::cli(actor),
                action,
            };
            // A name anyone could have claimed changes nothing.
            let verdict = match unverified {
                Some(refusal) => Err(refusal),
                None => allow(&c)?,
            };
            match verdict {
                Err(refusal) => {
                    c.refuse(None, &refusal)?;
                    tx.commit()?;
                    Err(VaultError::Refused(refusal))
                }
                Ok(allowed) => {
                    let out = change(&c, &self.key, allowed)?;
                    tx.commit()?;
                    Ok(out)
                }
            }
        })();
        self.noting_tampering(&Requester::cli(actor), action, None, result)
    }

    /// An admin change: `actor` must be an admin.
    pub(crate) fn admin<T>(
        &mut self,
        actor: &str,
        action: AuditAction,
        change: impl FnOnce(&Change<'_>, &DataKey) -> Result<T>,
    ) -> Result<T> {
        self.in_change(
            actor,
            action,
            |c| check_admin(c.tx, c.audit_key, c.authz, actor),
            |c, key, ()| change(c, key),
        )
    }

    /// Records that `actor` (an admin) pushed a vault here, `detail` saying
    /// what it carried; a non-admin is refused on record.
    pub fn record_push(&mut self, actor: &str, detail: String) -> Result<()> {
        self.admin(actor, AuditAction::VaultPush, |c, _| c.record(None, detail))
    }

    /// Stores a token bound to `sites` and returns its new id.
    pub fn add_token(
        &mut self,
        actor: &str,
        token: &Token,
        sites: &[SiteBinding],
    ) -> Result<String> {
        self.admin(actor, AuditAction::TokenAdd, |c, key| {
            let new = NewToken {
                actor,
                token,
                sites,
                owner: None,
            };
            let id = insert_token(c, key, &new)?;
            let summary = summary(c.tx, c.authz, &id)?;
            let detail = format!("sites: {}", join(&summary.bindings));
            c.record(Some(&summary), detail)?;
            Ok(id)
        })
    }

    /// Stores a personal token of `actor`, bound to `sites`, and returns its
    /// new id. Any user the vault knows may; only they can use it (as with
    /// `full-seed`), and it can never be granted to a group. Refused when
    /// the [`crate::Policy`] forbids personal tokens.
    pub fn add_personal_token(
        &mut self,
        actor: &str,
        token: &Token,
        sites: &[SiteBinding],
    ) -> Result<String> {
        self.store_personal_token(actor, actor, false, token, sites)
    }

    /// Stores a personal token of `owner` on an admin's behalf (moving a
    /// vault to a team server): `actor` must be an admin, `owner` a user the
    /// vault knows, and the policy must allow personal tokens. The record
    /// names the admin; the token is the owner's alone, as if they had
    /// enrolled it.
    pub fn add_personal_token_for(
        &mut self,
        actor: &str,
        owner: &str,
        token: &Token,
        sites: &[SiteBinding],
    ) -> Result<String> {
        self.store_personal_token(actor, owner, true, token, sites)
    }

    /// A personal token of `owner`, stored by `owner` themselves or (with
    /// `on_behalf`) by an admin for them.
    fn store_personal_token(
        &mut self,
        actor: &str,
        owner: &str,
        on_behalf: bool,
        token: &Token,
        sites: &[SiteBinding],
    ) -> Result<String> {
        let allow_personal = self.policy.allow_personal_tokens;
        self.in_change(
            actor,
            AuditAction::TokenAdd,
            |c| {
                if on_behalf && let Err(refusal) = check_admin(c.tx, c.audit_key, c.authz, actor)? {
                    return Ok(Err(refusal));
                }
                Ok(if !allow_personal {
                    Err(Refusal::Policy {
                        what: "personal tokens".into(),
                    })
                } else if c.authz.user_admin(c.tx, owner)?.is_none() {
                    Err(Refusal::UnknownUser {
                        user: owner.to_owned(),
                    })
                } else {
                    Ok(())
                })
            },
            |c, key, ()| {
                let new = NewToken {
                    actor,
                    token,
                    sites,
                    owner: Some(owner),
                };
                let id = insert_token(c, key, &new)?;
                let summary = summary(c.tx, c.authz, &id)?;
                let by = if on_behalf {
                    format!(", added by {actor}")
                } else {
                    String::new()
                };
                let detail = format!(
                    "personal token of {owner}{by}; sites: {}",
                    join(&summary.bindings)
                );
                c.record(Some(&summary), detail)?;
                Ok(id)
            },
        )
    }

    /// Runs a change to one token in one write transaction: its owner may
    /// make it to their personal token, admins to any token; anyone else is
    /// refused as a non-admin (and recorded), without learning whether the
    /// token exists.
    pub(crate) fn manage_token<T>(
        &mut self,
        actor: &str,
        action: AuditAction,
        id: &str,
        change: impl FnOnce(&Change<'_>, &DataKey, &TokenSummary) -> Result<T>,
    ) -> Result<T> {
        self.in_change(
            actor,
            action,
            |c| {
                let summary = find_summary(c.tx, c.authz, id)?;
                let owner = summary
                    .as_ref()
                    .is_some_and(|s| s.owner.as_deref() == Some(actor));
                if !owner && let Err(refusal) = check_admin(c.tx, c.audit_key, c.authz, actor)? {
                    return Ok(Err(refusal));
                }
                Ok(Ok(summary))
            },
            |c, key, summary| {
                let summary = summary.ok_or_else(|| VaultError::NoSuchToken(id.to_owned()))?;
                change(c, key, &summary)
            },
        )
    }

    /// Removes a token: admins any, users their own personal tokens.
    pub fn remove_token(&mut self, actor: &str, id: &str) -> Result<()> {
        self.manage_token(actor, AuditAction::TokenRemove, id, |c, _, summary| {
            c.tx.delete_token(id)?;
            c.record(Some(summary), personal_detail(summary, String::new()))
        })
    }

    /// Binds another site to a token: admins any, users their own personal tokens.
    pub fn bind_site(&mut self, actor: &str, id: &str, site: &SiteBinding) -> Result<()> {
        self.manage_token(actor, AuditAction::TokenBind, id, |c, _, summary| {
            c.authz.add_site(c.tx, id, &site.to_string())?;
            c.record(
                Some(summary),
                personal_detail(summary, format!("site: {site}")),
            )
        })
    }

    /// Removes a site from a token: admins any, users their own personal tokens.
    pub fn unbind_site(&mut self, actor: &str, id: &str, site: &SiteBinding) -> Result<()> {
        self.manage_token(actor, AuditAction::TokenUnbind, id, |c, _, summary| {
            c.tx.remove_site(id, &site.to_string())?;
            c.record(
                Some(summary),
                personal_detail(summary, format!("site: {site}")),
            )
        })
    }

    /// Adds a user, or sets the admin flag of an existing one.
    pub fn add_user(&mut self, actor: &str, name: &str, admin: bool) -> Result<()> {
        valid_name(name)?;
        self.admin(actor, AuditAction::UserAdd, |c, _| {
            if !admin && let Some(refusal) = last_admin(c, name)? {
                return Ok(Err(refusal));
            }
            c.authz.put_user(c.tx, name, admin)?;
            c.record(None, format!("user: {name}; admin: {admin}"))?;
            Ok(Ok(()))
        })?
        .map_err(VaultError::Refused)
    }

    /// Removes a user, and with them their personal tokens (named in the
    /// audit record).
    pub fn remove_user(&mut self, actor: &str, name: &str) -> Result<()> {
        self.admin(actor, AuditAction::UserRemove, |c, _| {
            let personal = c.tx.personal_token_ids(name)?;
            let labels = personal
                .iter()
                .map(|id| Ok(format!("{id} {}", summary(c.tx, c.authz, id)?.label())))
                .collect::<Result<Vec<_>>>()?;
            if c.authz.user_admin(c.tx, name)?.is_none() {
                return Err(VaultError::NoSuchUser(name.to_owned()));
            }
            if let Some(refusal) = last_admin(c, name)? {
                return Ok(Err(refusal));
            }
            // A personal token goes with its owner.
            for id in &personal {
                c.tx.delete_token(id)?;
            }
            c.tx.delete_user(name)?;
            let mut detail = format!("user: {name}");
            if !labels.is_empty() {
                detail.push_str(&format!("; personal tokens removed: {}", labels.join(", ")));
            }
            c.record(None, detail)?;
            Ok(Ok(()))
        })?
        .map_err(VaultError::Refused)
    }

    pub fn add_group(&mut self, actor: &str, name: &str) -> Result<()> {
        valid_name(name)?;
        self.admin(actor, AuditAction::GroupAdd, |c, _| {
            if !c.authz.insert_group(c.tx, name)? {
                return Err(VaultError::Exists(name.to_owned()));
            }
            c.record(None, format!("group: {name}"))
        })
    }

    pub fn remove_group(&mut self, actor: &str, name: &str) -> Result<()> {
        self.admin(actor, AuditAction::GroupRemove, |c, _| {
            if !c.tx.delete_group(name)? {
                return Err(VaultError::NoSuchGroup(name.to_owned()));
            }
            c.record(None, format!("group: {name}"))
        })
    }

    /// Adds `user` to `group`, creating the user (non-admin) if needed.
    pub fn add_member(&mut self, actor: &str, group: &str, user: &str) -> Result<()> {
        valid_name(user)?;
        self.admin(actor, AuditAction::GroupMemberAdd, |c, _| {
            group_exists(c, group)?;
            c.authz.ensure_user(c.tx, user)?;
            c.authz.add_member(c.tx, group, user)?;
            c.record(None, format!("group: {group}; user: {user}"))
        })
    }

    pub fn remove_member(&mut self, actor: &str, group: &str, user: &str) -> Result<()> {
        self.admin(actor, AuditAction::GroupMemberRemove, |c, _| {
            group_exists(c, group)?;
            c.tx.remove_member(group, user)?;
            c.record(None, format!("group: {group}; user: {user}"))
        })
    }

    /// Grants `group` the `level` on token `id` (replacing any earlier level).
    /// Personal tokens are refused (and the refusal recorded).
    pub fn set_grant(&mut self, actor: &str, id: &str, group: &str, level: Access) -> Result<()> {
        self.admin(actor, AuditAction::GrantSet, |c, _| {
            let summary = summary(c.tx, c.authz, id)?;
            if summary.is_personal() {
                let refusal = Refusal::PersonalToken { id: id.to_owned() };
                c.refuse(Some(&summary), &refusal)?;
                return Ok(Err(refusal));
            }
            group_exists(c, group)?;
            c.authz.put_grant(c.tx, id, group, level)?;
            c.record(Some(&summary), format!("group: {group}; level: {level}"))?;
            Ok(Ok(()))
        })?
        .map_err(VaultError::Refused)
    }

    pub fn revoke_grant(&mut self, actor: &str, id: &str, group: &str) -> Result<()> {
        self.admin(actor, AuditAction::GrantRevoke, |c, _| {
            let summary = summary(c.tx, c.authz, id)?;
            c.tx.delete_grant(id, group)?;
            c.record(Some(&summary), format!("group: {group}"))
        })
    }
}

/// Seals the seed and stores the token and its bindings, each row with its
/// MAC; returns its new id.
fn insert_token(c: &Change<'_>, key: &DataKey, new: &NewToken<'_>) -> Result<String> {
    let id = c.tx.new_token_id()?;
    let sealed = key.seal(new.token.to_uri().as_bytes(), &seed_aad(&id));
    // The kind word only: a HOTP counter is not an authorization field, so
    // advancing it leaves the token's MAC valid.
    let kind = new.token.kind.word().as_str();
    c.tx.insert_token(&NewTokenRow {
        id: &id,
        issuer: new.token.issuer.as_deref(),
        account: &new.token.account,
        sealed_seed: &sealed,
        kind,
        params: &code_params(new.token),
        hotp_counter: match new.token.kind {
            Kind::Hotp { counter } => Some(counter),
            Kind::Totp | Kind::Steam => None,
        },
        created_by: new.actor,
        owner: new.owner,
        mac: &c.authz.token_mac(&id, new.owner, kind),
    })?;
    for site in new.sites {
        c.authz.add_site(c.tx, &id, &site.to_string())?;
    }
    Ok(id)
}

/// The refusal (recorded) when `name` is the vault's last admin: once a
/// vault has had an admin, none is made by asking first, so the last one
/// stays.
pub(crate) fn last_admin(c: &Change<'_>, name: &str) -> Result<Option<Refusal>> {
    if c.authz.user_admin(c.tx, name)? != Some(true) || c.tx.admin_count()? > 1 {
        return Ok(None);
    }
    let refusal = Refusal::LastAdmin {
        user: name.to_owned(),
    };
    c.refuse(None, &refusal)?;
    Ok(Some(refusal))
}

pub(crate) fn group_exists(c: &Change<'_>, group: &str) -> Result<()> {
    if c.authz.group_exists(c.tx, group)? {
        Ok(())
    } else {
        Err(VaultError::NoSuchGroup(group.to_owned()))
    }
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
