//! `POST /v1/admin/push`: an admin moves a local vault here
//! (`twofill-host vault push`).
//!
//! The whole body is checked before anything is written (every link, site,
//! name and grant reference), so a bad push is a 400 that changes nothing.
//! Then it is imported through the vault's own admin API with the pushing
//! admin as the actor: every user, token, binding, group, member and grant
//! is its own audited change, between a `vault.push` record that says what
//! the push carries (refused on record for a non-admin, before anything
//! else) and one that says what it did.
//!
//! Pushing again changes nothing: a token already here with the same seed,
//! kind, issuer, account and owner is reused (its missing bindings added),
//! existing users, groups and members are kept, and grants are set to the
//! pushed level. The import is not one transaction: if it stops half-way
//! (database outage), pushing again completes it.
//!
//! A personal token is stored as its owner's (`add_personal_token_for`):
//! theirs alone, never granted, its record naming the admin who moved it.

use std::collections::{BTreeMap, BTreeSet};

use twofill_otp::Token;
use twofill_team_api::{
    ErrorCode, MAX_PUSH_ITEMS, PushReply, PushRequest, PushedToken, PushedTokenId,
};
use twofill_vault::{Access, SiteBinding, Vault};

use crate::App;
use crate::device::{Peer, authenticate};
use crate::http::{ApiError, Reply, ok};
use crate::refusal::vault_failure;

/// A pushed token, checked.
struct Checked {
    local_id: String,
    token: Token,
    sites: Vec<SiteBinding>,
    owner: Option<String>,
}

pub async fn push(app: &App, peer: Peer, request: PushRequest) -> Result<Reply, ApiError> {
    let tokens = check(&request)?;
    let reply = app
        .pool
        .run(move |vault| {
            let device = authenticate(vault, &peer)?;
            import(vault, &device.user, &request, tokens).map_err(vault_failure)
        })
        .await?;
    Ok(ok(&reply))
}

fn bad(message: String) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message)
}

/// Everything a push names, parsed and cross-checked, before any write.
fn check(request: &PushRequest) -> Result<Vec<Checked>, ApiError> {
    for (what, n) in [
        ("tokens", request.tokens.len()),
        ("groups", request.groups.len()),
        ("grants", request.grants.len()),
    ] {
        if n > MAX_PUSH_ITEMS {
            return Err(bad(format!(
                "a push carries at most {MAX_PUSH_ITEMS} {what} ({n} sent); push the vault in parts"
            )));
        }
    }
    let mut ids = BTreeSet::new();
    let mut checked = Vec::with_capacity(request.tokens.len());
    for PushedToken {
        local_id,
        uri,
        sites,
        owner,
    } in &request.tokens
    {
        if !ids.insert(local_id.as_str()) {
            return Err(bad(format!(
                "the push names the local token {local_id} twice; send each token once"
            )));
        }
        let token = Token::from_uri(uri).map_err(|e| {
            bad(format!(
                "the local token {local_id} is not a usable otpauth link ({e}); fix or remove it locally and push again"
            ))
        })?;
        let sites = sites
            .iter()
            .map(|s| {
                s.parse::<SiteBinding>().map_err(|e| {
                    bad(format!(
                        "the local token {local_id} is bound to {s:?}, which is not a site ({e}); unbind it locally and push again"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        checked.push(Checked {
            local_id: local_id.clone(),
            token,
            sites,
            owner: owner.clone(),
        });
    }
    let personal: BTreeSet<&str> = request
        .tokens
        .iter()
        .filter(|t| t.owner.is_some())
        .map(|t| t.local_id.as_str())
        .collect();
    let groups: BTreeSet<&str> = request.groups.iter().map(|g| g.name.as_str()).collect();
    for grant in &request.grants {
        if !ids.contains(grant.token.as_str()) {
            return Err(bad(format!(
                "a grant names the token {}, which this push does not carry; push the token with its grant",
                grant.token
            )));
        }
        if personal.contains(grant.token.as_str()) {
            return Err(bad(format!(
                "a grant names {}, a personal token; personal tokens are never granted",
                grant.token
            )));
        }
        if !groups.contains(grant.group.as_str()) {
            return Err(bad(format!(
                "a grant names the group {}, which this push does not carry; push the group with its grant",
                grant.group
            )));
        }
    }
    Ok(checked)
}

fn import(
    vault: &mut Vault,
    admin: &str,
    request: &PushRequest,
    tokens: Vec<Checked>,
) -> twofill_vault::Result<PushReply> {
    let personal = tokens.iter().filter(|t| t.owner.is_some()).count();
    // First, so that a non-admin is refused on record before any change.
    vault.record_push(
        admin,
        format!(
            "push started: {} team and {personal} personal tokens, {} groups, {} grants",
            tokens.len() - personal,
            request.groups.len(),
            request.grants.len()
        ),
    )?;
    let mut reply = PushReply::default();

    let mut known: BTreeSet<String> = vault.users()?.into_iter().map(|u| u.name).collect();
    let wanted = request
        .groups
        .iter()
        .flat_map(|g| g.members.iter())
        .chain(tokens.iter().filter_map(|t| t.owner.as_ref()));
    for user in wanted {
        if known.insert(user.clone()) {
            vault.add_user(admin, user, false)?;
            reply.users_created.push(user.clone());
        }
    }

    let mut server_ids = BTreeMap::new();
    for t in &tokens {
        let (id, existed) = match vault.find_same_token(&t.token, t.owner.as_deref())? {
            Some(id) => {
                let bound = vault.token_details(&id)?.summary.bindings;
                for site in t.sites.iter().filter(|s| !bound.contains(s)) {
                    vault.bind_site(admin, &id, site)?;
                    reply.bindings_added += 1;
                }
                (id, true)
            }
            None => {
                let id = match &t.owner {
                    None => vault.add_token(admin, &t.token, &t.sites)?,
                    Some(owner) => {
                        vault.add_personal_token_for(admin, owner, &t.token, &t.sites)?
                    }
                };
                reply.bindings_added += t.sites.len();
                (id, false)
            }
        };
        server_ids.insert(t.local_id.as_str(), id.clone());
        reply.tokens.push(PushedTokenId {
            local_id: t.local_id.clone(),
            server_id: id,
            existed,
        });
    }

    let existing: BTreeMap<String, BTreeSet<String>> = vault
        .groups()?
        .into_iter()
        .map(|g| (g.name, g.members.into_iter().collect()))
        .collect();
    for group in &request.groups {
        let members = match existing.get(&group.name) {
            Some(members) => members.clone(),
            None => {
                vault.add_group(admin, &group.name)?;
                reply.groups_created.push(group.name.clone());
                BTreeSet::new()
            }
        };
        for member in group.members.iter().filter(|m| !members.contains(*m)) {
            vault.add_member(admin, &group.name, member)?;
            reply.members_added += 1;
        }
    }

    for grant in &request.grants {
        let id = &server_ids[grant.token.as_str()];
        let level: Access = grant.access;
        vault.set_grant(admin, id, &grant.group, level)?;
        reply.grants_set += 1;
    }

    vault.record_push(
        admin,
        format!(
            "push done: {} tokens ({} new), {} users, {} groups created, {} members added, {} bindings added, {} grants set",
            reply.tokens.len(),
            reply.tokens.iter().filter(|t| !t.existed).count(),
            reply.users_created.len(),
            reply.groups_created.len(),
            reply.members_added,
            reply.bindings_added,
            reply.grants_set
        ),
    )?;
    Ok(reply)
}
