//! Reading the vault for people and the extension: tokens, users, groups
//! and who may use what. No secrets leave through here.

use crate::issue::open_seed;
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
        let token = open_seed(&*store, &self.key, id)?;
        Ok(TokenDetails {
            summary,
            kind: meta.kind,
            algorithm: token.algorithm.to_string(),
            digits: token.digits,
            period: token.period,
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
                let token = open_seed(&*store, &self.key, &summary.id)?;
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
