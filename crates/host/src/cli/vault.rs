//! `twofill-host vault push`: an admin moves a local vault's team tokens
//! (with their bindings), groups and grants to the team server this
//! computer joined; personal tokens go too with `--personal move`, as their
//! owners' personal tokens on the server.
//!
//! This is the one place where a host in team server mode opens a local
//! vault, and only because an admin asked for it on the command line;
//! `serve` never does. The local vault is only read: each seed read out is
//! a local `vault.push` record (committed before the seed is used), the
//! server records every change it makes, and nothing local is removed, so a
//! failed push loses nothing and pushing again is safe (the server reuses
//! what an earlier push stored).

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use twofill_team_api::{
    PUSH_PATH, PushReply, PushRequest, PushedGrant, PushedGroup, PushedToken, WHOAMI_PATH,
    WhoAmIReply, WhoAmIRequest,
};
use twofill_vault::Vault;

use super::{Invocation, JsonFlag, Report, emit};
use crate::server::Server;

#[derive(Subcommand)]
pub(super) enum VaultCommand {
    /// Copy this computer's local vault to the team server it joined (admins).
    Push(PushArgs),
}

#[derive(Args)]
pub(super) struct PushArgs {
    /// The local vault to push (default: the one this host would use
    /// without a team server).
    #[arg(long)]
    vault: Option<PathBuf>,
    /// Personal tokens: `keep` them local only, or `move` them to the
    /// server as their owners' personal tokens.
    #[arg(long, value_enum, default_value_t = Personal::Keep)]
    personal: Personal,
    /// Show what would be pushed, without reading a seed or changing the server.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    out: JsonFlag,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Personal {
    Keep,
    Move,
}

/// What a push carried (never a seed), and what the server did.
#[derive(Serialize)]
struct Pushed {
    server: String,
    vault: PathBuf,
    dry_run: bool,
    personal: Personal,
    /// Local ids of the tokens pushed (or that would be).
    tokens: Vec<String>,
    /// Personal tokens left in the local vault only.
    kept_local: Vec<String>,
    groups: Vec<String>,
    grants: usize,
    /// The server's answer; `None` for a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<PushReply>,
}

pub(super) fn run(cx: Invocation, command: VaultCommand) -> Result<()> {
    match command {
        VaultCommand::Push(args) => push(cx, args),
    }
}

fn push(cx: Invocation, args: PushArgs) -> Result<()> {
    let config = cx.settings.config_display();
    let Some(target) = cx.settings.server()? else {
        bail!(
            "this computer has not joined a team server ({config} has no [server]); \
             run `twofill-host join URL --invite INVITE` first, as an admin of the server"
        );
    };
    let fail = |e: twofill_protocol::ErrorBody| anyhow!("{}", e.message);
    let server = Server::open(&target, &config).map_err(fail)?;
    let me: WhoAmIReply = server
        .call(WHOAMI_PATH, &WhoAmIRequest::default())
        .map_err(fail)?;
    if !me.admin {
        bail!(
            "{} is not an admin of the team server {}, and only admins push vaults; \
             ask an admin to push, or to make you one (`twofill-server admin add {}` on the server)",
            me.user,
            server.url(),
            me.user
        );
    }

    let mut settings = cx.settings.clone();
    if let Some(path) = args.vault {
        settings.vault = path;
    }
    if settings.vault_database_url().is_none() && !settings.vault.exists() {
        bail!(
            "there is no local vault at {}; name the one to push with --vault PATH",
            settings.vault.display()
        );
    }
    let protection = settings.protection(std::io::stdin().is_terminal())?;
    let mut vault = settings
        .open_vault(&protection)
        .with_context(|| format!("cannot open the local vault {}", settings.vault.display()))?;
    vault.set_policy(settings.config.policy);
    vault.set_unverified_identity(crate::identity::unverified_reason(
        &settings.config.user,
        &cx.user,
        &settings,
    ));
    if !vault.is_admin(&cx.user)? {
        bail!(
            "{} is not an admin of the local vault {}; push it as one of its admins",
            cx.user,
            settings.vault.display()
        );
    }

    let move_personal = args.personal == Personal::Move;
    let all = vault.tokens()?;
    let (pushed, kept): (Vec<_>, Vec<_>) =
        all.iter().partition(|t| t.owner.is_none() || move_personal);
    let mut report = Pushed {
        server: server.url(),
        vault: settings.vault.clone(),
        dry_run: args.dry_run,
        personal: args.personal,
        tokens: pushed.iter().map(|t| t.id.clone()).collect(),
        kept_local: kept.iter().map(|t| t.id.clone()).collect(),
        groups: Vec::new(),
        grants: 0,
        reply: None,
    };
    let (groups, grants) = groups_and_grants(&vault, &report.tokens)?;
    report.groups = groups.iter().map(|g| g.name.clone()).collect();
    report.grants = grants.len();
    if args.dry_run {
        return emit(args.out, &report);
    }

    let seeds = vault.seeds_for_push(&cx.user, move_personal)?;
    let request = PushRequest {
        tokens: seeds
            .into_iter()
            .map(|s| PushedToken {
                uri: s.token.to_uri(),
                sites: s.summary.bindings.iter().map(ToString::to_string).collect(),
                owner: s.summary.owner,
                local_id: s.summary.id,
            })
            .collect(),
        groups,
        grants,
    };
    report.tokens = request.tokens.iter().map(|t| t.local_id.clone()).collect();
    report.reply = Some(server.call(PUSH_PATH, &request).map_err(fail)?);
    emit(args.out, &report)
}

/// The local groups with their members, and their grants on the tokens
/// being pushed.
fn groups_and_grants(
    vault: &Vault,
    tokens: &[String],
) -> Result<(Vec<PushedGroup>, Vec<PushedGrant>)> {
    let pushed: BTreeSet<&str> = tokens.iter().map(String::as_str).collect();
    let mut groups = Vec::new();
    let mut grants = Vec::new();
    for group in vault.groups()? {
        for (token, access) in &group.grants {
            if pushed.contains(token.as_str()) {
                grants.push(PushedGrant {
                    token: token.clone(),
                    group: group.name.clone(),
                    access: *access,
                });
            }
        }
        groups.push(PushedGroup {
            name: group.name,
            members: group.members,
        });
    }
    Ok((groups, grants))
}

impl Report for Pushed {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let verb = if self.dry_run { "would push" } else { "pushed" };
        writeln!(
            out,
            "{verb} {} tokens, {} groups and {} grants from {} to {}",
            self.tokens.len(),
            self.groups.len(),
            self.grants,
            self.vault.display(),
            self.server
        )?;
        if !self.kept_local.is_empty() {
            writeln!(
                out,
                "kept local: {} personal tokens (push them with --personal move)",
                self.kept_local.len()
            )?;
        }
        if let Some(reply) = &self.reply {
            for t in &reply.tokens {
                let state = if t.existed { "already there" } else { "new" };
                writeln!(out, "  {} -> {} ({state})", t.local_id, t.server_id)?;
            }
            writeln!(
                out,
                "server: {} users and {} groups created, {} members added, {} bindings added, {} grants set",
                reply.users_created.len(),
                reply.groups_created.len(),
                reply.members_added,
                reply.bindings_added,
                reply.grants_set
            )?;
            writeln!(
                out,
                "the local vault is unchanged; retire it once teammates get their codes from the server"
            )?;
        }
        Ok(())
    }
}
