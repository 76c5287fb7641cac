//! SQL helpers shared by the operations.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::{Access, Result, TokenSummary, VaultError};

pub(crate) fn user_exists(conn: &Connection, user: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM users WHERE name = ?1", [user], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(crate) fn group_exists(conn: &Connection, group: &str) -> Result<()> {
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

pub(crate) fn access_conn(conn: &Connection, user: &str, id: &str) -> Result<Option<Access>> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.level FROM grants g JOIN members m ON m.group_name = g.group_name
         WHERE m.user_name = ?1 AND g.token_id = ?2",
    )?;
    let levels = stmt
        .query_map(params![user, id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(levels.iter().filter_map(|l| l.parse::<Access>().ok()).max())
}

pub(crate) fn grants_of_token(conn: &Connection, id: &str) -> Result<BTreeMap<String, Access>> {
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

pub(crate) fn summary_conn(conn: &Connection, id: &str) -> Result<TokenSummary> {
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

/// The token's summary, or `None` when there is no such token.
pub(crate) fn find_summary(conn: &Connection, id: &str) -> Result<Option<TokenSummary>> {
    match summary_conn(conn, id) {
        Ok(s) => Ok(Some(s)),
        Err(VaultError::NoSuchToken(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every token id, in listing order.
pub(crate) fn token_ids(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM tokens ORDER BY issuer, account, id")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids)
}
