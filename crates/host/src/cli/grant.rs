//! `twofill-host grant …`: which group may do what with which token.

use std::io::Write;

use anyhow::Result;
use clap::Subcommand;
use twofill_vault::Access;

use super::Invocation;

#[derive(Subcommand)]
pub(super) enum GrantCommand {
    /// Let a group use a token: `code-only` (codes) or `full-seed` (codes and the seed).
    Set {
        token: String,
        group: String,
        #[arg(value_parser = parse_access)]
        level: Access,
    },
    Revoke {
        token: String,
        group: String,
    },
}

fn parse_access(s: &str) -> Result<Access, String> {
    s.parse::<Access>().map_err(|e| e.to_string())
}

pub(super) fn run(cx: Invocation, command: GrantCommand) -> Result<()> {
    let mut v = cx.vault()?;
    match command {
        GrantCommand::Set {
            token,
            group,
            level,
        } => {
            v.set_grant(&cx.user, &token, &group, level)?;
            outln!("granted {level} on {token} to group {group}");
        }
        GrantCommand::Revoke { token, group } => {
            v.revoke_grant(&cx.user, &token, &group)?;
            outln!("revoked group {group}'s grant on {token}");
        }
    }
    Ok(())
}
