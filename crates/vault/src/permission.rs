//! Who may do what: a user's level on a token, and whether an actor is an
//! admin (the first one to administer a vault that never had one becomes
//! it). Every row these decide from is checked by `integrity` first.

use twofill_words::{AuditAction, unix_now_ms};

use crate::admin::valid_name;
use crate::audit::About;
use crate::integrity::AuthzKey;
use crate::store::{StoreRead, StoreTx};
use crate::{Access, Policy, Refusal, Requester, Result, Scope, TokenSummary};

/// Admin changes need an admin. The first person to administer a vault
/// that never had an admin becomes its admin (and that is audited).
pub(crate) fn check_admin(
    tx: &dyn StoreTx,
    audit_key: &[u8; 32],
    authz: &AuthzKey,
    actor: &str,
) -> Result<Result<(), Refusal>> {
    if tx.admin_count()? == 0 {
        // Deleting or unflagging the admins (past the vault) must not
        // reopen the bootstrap: the MAC'd first-admin row says whether the
        // vault ever had one.
        if let Some(first_admin) = authz.first_admin(tx)? {
            // The actor's own row first: an unflagged admin is tampering.
            authz.user_admin(tx, actor)?;
            return Ok(Err(Refusal::NoAdmin { first_admin }));
        }
        valid_name(actor)?;
        authz.put_user(tx, actor, true)?;
        authz.set_first_admin(tx, actor)?;
        About {
            who: &Requester::cli(actor),
            action: AuditAction::VaultInit,
            token: None,
            origin: None,
        }
        .record_success(
            tx,
            audit_key,
            unix_now_ms(),
            format!("first admin: {actor}"),
        )?;
        return Ok(Ok(()));
    }
    Ok(if authz.user_admin(tx, actor)?.unwrap_or(false) {
        Ok(())
    } else {
        Err(Refusal::NotAdmin {
            user: actor.to_owned(),
        })
    })
}

/// What `user` may do with a token, or why not: their grant on a shared
/// token (the highest of their groups'); `full-seed` on their own personal
/// token; nothing on anyone else's. Personal tokens are absent for
/// [`Scope::SharedOnly`] and refused when the policy forbids them.
pub(crate) fn access_to(
    store: &dyn StoreRead,
    authz: &AuthzKey,
    policy: Policy,
    scope: Scope,
    user: &str,
    summary: &TokenSummary,
) -> Result<Result<Access, Refusal>> {
    let Some(owner) = &summary.owner else {
        return Ok(
            match authz
                .levels_for(store, user, &summary.id)?
                .into_iter()
                .max()
            {
                Some(access) => Ok(access),
                None => Err(Refusal::NotPermitted {
                    user: user.to_owned(),
                    what: format!("use {}", summary.label()),
                }),
            },
        );
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

/// The token `id` for a person who may have its secrets (the seed, a
/// recovery code): a `full-seed` grant, or a personal token's owner. Else
/// the refusal, already recorded in `tx` as `action` (the caller commits).
/// `gate` refuses first for reasons of its own (the policy); `what` says
/// what was asked for, e.g. "see the seed of".
#[allow(clippy::too_many_arguments)]
pub(crate) fn full_seed_holder(
    tx: &dyn StoreTx,
    audit_key: &[u8; 32],
    authz: &AuthzKey,
    policy: Policy,
    who: &Requester,
    action: AuditAction,
    id: &str,
    gate: impl FnOnce() -> Option<Refusal>,
    what: &str,
) -> Result<std::result::Result<TokenSummary, Refusal>> {
    let record = |token: Option<&TokenSummary>, refusal: Refusal| {
        About {
            who,
            action,
            token,
            origin: None,
        }
        .record_refusal(tx, audit_key, &refusal)?;
        Ok(Err(refusal))
    };
    let Some(summary) = find_summary(tx, authz, id)? else {
        return record(None, Refusal::NoSuchToken { id: id.to_owned() });
    };
    let refusal = match gate() {
        Some(refusal) => refusal,
        None => match access_to(tx, authz, policy, Scope::All, &who.user, &summary)? {
            Ok(Access::FullSeed) => return Ok(Ok(summary)),
            Ok(Access::CodeOnly) | Err(Refusal::NotPermitted { .. }) => Refusal::NotPermitted {
                user: who.user.clone(),
                what: format!("{what} {} (needs a full-seed grant)", summary.label()),
            },
            Err(other) => other,
        },
    };
    record(Some(&summary), refusal)
}

/// A token as the rules see it, or `None` when there is no such token; its
/// owner and bindings checked against their MACs. Bindings were validated
/// on the way in; one that no longer parses matches nothing rather than
/// failing open.
pub(crate) fn find_summary(
    store: &dyn StoreRead,
    authz: &AuthzKey,
    id: &str,
) -> Result<Option<TokenSummary>> {
    Ok(authz.token(store, id)?.map(|row| TokenSummary {
        id: row.id,
        issuer: row.issuer,
        account: row.account,
        bindings: row
            .sites
            .iter()
            .filter_map(|(s, _)| s.parse().ok())
            .collect(),
        owner: row.owner,
    }))
}

/// [`find_summary`], with a missing token as the error to report.
pub(crate) fn summary(store: &dyn StoreRead, authz: &AuthzKey, id: &str) -> Result<TokenSummary> {
    find_summary(store, authz, id)?.ok_or_else(|| crate::VaultError::NoSuchToken(id.to_owned()))
}
