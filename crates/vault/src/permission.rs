//! Who may do what: a user's level on a token, and whether an actor is an
//! admin (the first one to administer a new vault becomes it).

use rusqlite::{Connection, OptionalExtension, Transaction};
use twofill_words::AuditAction;

use crate::admin::valid_name;
use crate::audit::admin_audit;
use crate::store::access_conn;
use crate::{Access, Policy, Refusal, Result, Scope, TokenSummary};

/// Admin changes need an admin. The first person to administer a vault
/// with no admin becomes its admin (and that is audited).
pub(crate) fn check_admin(
    tx: &Transaction<'_>,
    key: &[u8; 32],
    actor: &str,
) -> Result<Result<(), Refusal>> {
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
            AuditAction::VaultInit,
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

/// What `user` may do with a token, or why not: their grant on a shared
/// token; `full-seed` on their own personal token; nothing on anyone
/// else's. Personal tokens are absent for [`Scope::SharedOnly`] and refused
/// when the policy forbids them.
pub(crate) fn access_to(
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
