//! Reading the vault for people and the extension: tokens, users, groups
//! and who may use what. No secrets leave through here.

use crate::permission::{access_to, summary};
use crate::recovery::recovery_status;
use crate::store::AuthzRow;
use crate::{
    Access, GroupInfo, PermittedToken, Result, Scope, TokenDetails, TokenSummary, TokensRequest,
    UserInfo, Vault, VaultError,
};

/// What a person reads through the admin command line.
#[derive(Debug, Clone, Copy)]
pub enum Reading<'a> {
    /// The audit log (every user's codes, origins and refusals): admins.
    AuditLog,
    /// The users and groups with their admin flags and members: admins.
    Directory,
    /// One token's details (bindings, grants): admins and the people who
    /// may use it.
    Token(&'a str),
}

impl Vault {
    /// Whether `user` may read `what` ([`Reading`] says who may). Checks
    /// MACs like every rule; a refusal is [`VaultError::ReadRefused`].
    pub fn check_reader(&self, user: &str, what: Reading<'_>) -> Result<()> {
        let store = self.store.reader()?;
        if self.authz_key.user_admin(&*store, user)?.unwrap_or(false) {
            return Ok(());
        }
        let refused = |what: String, who_may| {
            Err(VaultError::ReadRefused {
                user: user.to_owned(),
                what,
                who_may,
            })
        };
        match what {
            Reading::AuditLog => refused("the audit log".into(), "only admins may"),
            Reading::Directory => refused("the users and groups".into(), "only admins may"),
            Reading::Token(id) => {
                let summary = summary(&*store, &self.authz_key, id)?;
                match access_to(
                    &*store,
                    &self.authz_key,
                    self.policy,
                    Scope::All,
                    user,
                    &summary,
                )? {
                    Ok(_) => Ok(()),
                    Err(_) => refused(
                        format!("token `{id}`"),
                        "only admins and the people who may use it may",
                    ),
                }
            }
        }
    }

    /// All tokens, shared and personal, without seeds, in a stable order
    /// (the admin's view: listing a token gives no right to use it).
    pub fn tokens(&self) -> Result<Vec<TokenSummary>> {
        let store = self.store.reader()?;
        store
            .token_ids()?
            .iter()
            .map(|id| summary(&*store, &self.authz_key, id))
            .collect()
    }

    pub fn token_details(&self, id: &str) -> Result<TokenDetails> {
        let store = self.store.reader()?;
        let summary = summary(&*store, &self.authz_key, id)?;
        let meta = store
            .token_meta(id)?
            .ok_or_else(|| VaultError::NoSuchToken(id.to_owned()))?;
        let params = meta.params.ok_or_else(|| unknown_params(id))?;
        Ok(TokenDetails {
            summary,
            kind: meta.kind,
            algorithm: params.algorithm,
            digits: params.digits,
            period: params.period,
            created_at: meta.created_at,
            created_by: meta.created_by,
            grants: self.authz_key.grants(store.grants_of_token(id)?, true)?,
            recovery_codes: recovery_status(&*store, self.policy, id)?,
        })
    }

    /// The user's level on a token, if any: their grant on a shared token,
    /// `full-seed` on their own personal token (unless the policy forbids
    /// personal tokens).
    pub fn access(&self, user: &str, id: &str) -> Result<Option<Access>> {
        let store = self.store.reader()?;
        let summary = summary(&*store, &self.authz_key, id)?;
        Ok(access_to(
            &*store,
            &self.authz_key,
            self.policy,
            Scope::All,
            user,
            &summary,
        )?
        .ok())
    }

    /// Tokens the user may use (bound to the origin first when one is
    /// given), with the user's personal tokens left out for
    /// [`Scope::SharedOnly`] (and whenever the policy forbids them).
    pub fn permitted_tokens(&self, request: &TokensRequest<'_>) -> Result<Vec<PermittedToken>> {
        let TokensRequest {
            user,
            origin,
            scope,
        } = *request;
        let store = self.store.reader()?;
        let mut out = Vec::new();
        for id in store.token_ids()? {
            let summary = summary(&*store, &self.authz_key, &id)?;
            if let Ok(access) =
                access_to(&*store, &self.authz_key, self.policy, scope, user, &summary)?
            {
                let meta = store
                    .token_meta(&id)?
                    .ok_or_else(|| VaultError::NoSuchToken(id.clone()))?;
                let params = meta.params.ok_or_else(|| unknown_params(&id))?;
                let kind = meta.kind.parse().map_err(|e| VaultError::BadSeed {
                    id: id.clone(),
                    detail: format!("its stored kind: {e}"),
                })?;
                let recovery = recovery_status(&*store, self.policy, &id)?;
                out.push(PermittedToken {
                    summary,
                    access,
                    period: params.period,
                    digits: params.digits,
                    kind,
                    recovery_codes: (access == Access::FullSeed && recovery.total > 0)
                        .then_some(recovery.remaining),
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
        let store = self.store.reader()?;
        Ok(self.authz_key.user_admin(&*store, user)?.unwrap_or(false))
    }

    /// Every user, their admin flag and groups, each row checked.
    pub fn users(&self) -> Result<Vec<UserInfo>> {
        let store = self.store.reader()?;
        let authz = &self.authz_key;
        store
            .users()?
            .into_iter()
            .map(|(name, admin, mac)| {
                let row = AuthzRow::User {
                    name: name.clone(),
                    admin,
                };
                authz.check(&row, &mac)?;
                let groups = authz.names(store.groups_of(&name)?, |group| AuthzRow::Member {
                    group: group.to_owned(),
                    user: name.clone(),
                })?;
                Ok(UserInfo {
                    groups,
                    name,
                    admin,
                })
            })
            .collect()
    }

    /// Every group, its members and grants, each row checked.
    pub fn groups(&self) -> Result<Vec<GroupInfo>> {
        let store = self.store.reader()?;
        let authz = &self.authz_key;
        let names = authz.names(store.groups()?, |name| AuthzRow::Group {
            name: name.to_owned(),
        })?;
        names
            .into_iter()
            .map(|name| {
                let members = authz.names(store.members_of(&name)?, |user| AuthzRow::Member {
                    group: name.clone(),
                    user: user.to_owned(),
                })?;
                Ok(GroupInfo {
                    members,
                    grants: authz.grants(store.grants_of_group(&name)?, false)?,
                    name,
                })
            })
            .collect()
    }
}

/// A token whose parameters could not be read out of its seed when they
/// became columns: its seed is unreadable.
fn unknown_params(id: &str) -> VaultError {
    VaultError::BadSeed {
        id: id.to_owned(),
        detail: "its seed could not be read when the vault was upgraded".into(),
    }
}
