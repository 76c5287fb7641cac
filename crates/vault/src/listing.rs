//! Reading the vault for people and the extension: tokens, users, groups
//! and who may use what. No secrets leave through here.

use rusqlite::OptionalExtension;

use crate::permission::access_to;
use crate::store::{grants_of_token, summary_conn};
use crate::{
    Access, GroupInfo, PermittedToken, Result, Scope, TokenDetails, TokenSummary, TokensRequest,
    UserInfo, Vault,
};

impl Vault {
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

    /// Tokens the user may use (bound to the origin first when one is
    /// given), with the user's personal tokens left out for
    /// [`Scope::SharedOnly`] (and whenever the policy forbids them).
    pub fn permitted_tokens(&self, request: &TokensRequest<'_>) -> Result<Vec<PermittedToken>> {
        let TokensRequest {
            user,
            origin,
            scope,
        } = *request;
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
}
