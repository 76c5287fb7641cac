//! `twofill-host user …`: users and their admin flag.

use std::io::Write;

use anyhow::Result;
use clap::Subcommand;
use twofill_vault::{Reading, UserInfo};

use super::{Invocation, JsonFlag, Report, emit};

#[derive(Subcommand)]
pub(super) enum UserCommand {
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Add a user (or change their admin flag).
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
    },
    Remove {
        name: String,
    },
}

pub(super) fn run(cx: Invocation, command: UserCommand) -> Result<()> {
    let mut v = cx.vault()?;
    match command {
        UserCommand::List { out } => {
            v.check_reader(&cx.user, Reading::Directory)?;
            emit(out, &v.users()?)?
        }
        UserCommand::Add { name, admin } => {
            v.add_user(&cx.user, &name, admin)?;
            outln!(
                "user {name}{}",
                if admin { " is an admin" } else { " added" }
            );
        }
        UserCommand::Remove { name } => {
            v.remove_user(&cx.user, &name)?;
            outln!("removed user {name}");
        }
    }
    Ok(())
}

impl Report for Vec<UserInfo> {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for u in self {
            writeln!(
                out,
                "{}{}  [{}]",
                u.name,
                if u.admin { " (admin)" } else { "" },
                u.groups.join(", ")
            )?;
        }
        Ok(())
    }
}
