//! Reading the vault for people and the extension: tokens, users, groups
//! and who may use what. No secrets leave through here.

use crate::permission::{access_to, summary};
use crate::{
    Access, GroupInfo, PermittedToken, Result, Scope, TokenDetails, TokenSummary, TokensRequest,
    UserInfo, Vault, VaultError,
};

impl Vault {
    /// All tokens, shared and personal, without seeds, in a stable order
    /// (the admin's view: listing a token gives no right to use it).
    pub fn tokens(&self) -> Result<Vec<TokenSummary>> {
        let store = self.store.reader()?;
        store
            .token_ids()?
            .iter()
            .map(|id| summary(&*store, id))
            .collect()
    }

    pub fn token_details(&self, id: &str) -> Result<TokenDetails> {
        let store = self.store.reader()?;
        let summary = summary(&*store, id)?;
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
            grants: store.grants_of_token(id)?,
        })
    }

    /// The user's level on a token, if any: their grant on a shared token,
    /// `full-seed` on their own personal token (unless the policy forbids
    /// personal tokens).
    pub fn access(&self, user: &str, id: &str) -> Result<Option<Access>> {
        let store = self.store.reader()?;
        let summary = summary(&*store, id)?;
        Ok(access_to(&*store, self.policy, Scope::All, user, &summary)?.ok())
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
            let summary = summary(&*store, &id)?;
            if let Ok(access) = access_to(&*store, self.policy, scope, user, &summary)? {
                let meta = store
                    .token_meta(&id)?
                    .ok_or_else(|| VaultError::NoSuchToken(id.clone()))?;
                let params = meta.params.ok_or_else(|| unknown_params(&id))?;
                let kind = meta.kind.parse().map_err(|e| VaultError::BadSeed {
                    id: id.clone(),
                    detail: format!("its stored kind: {e}"),
                })?;
                out.push(PermittedToken {
                    summary,
                    access,
                    period: params.period,
                    digits: params.digits,
                    kind,
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
        Ok(self.store.reader()?.user_admin(user)?.unwrap_or(false))
    }

    pub fn users(&self) -> Result<Vec<UserInfo>> {
        let store = self.store.reader()?;
        store
            .users()?
            .into_iter()
            .map(|(name, admin)| {
                Ok(UserInfo {
                    groups: store.groups_of(&name)?,
                    name,
                    admin,
                })
            })
            .collect()
    }

    pub fn groups(&self) -> Result<Vec<GroupInfo>> {
        let store = self.store.reader()?;
        store
            .group_names()?
            .into_iter()
            .map(|name| {
                Ok(GroupInfo {
                    members: store.members_of(&name)?,
                    grants: store.grants_of_group(&name)?,
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
