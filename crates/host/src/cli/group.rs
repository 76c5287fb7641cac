//! `twofill-host group …`: groups and their members.

use std::io::Write;

use anyhow::Result;
use clap::Subcommand;
use twofill_vault::{GroupInfo, Reading};

use super::{Invocation, JsonFlag, Report, emit};

#[derive(Subcommand)]
pub(super) enum GroupCommand {
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    Add {
        name: String,
    },
    Remove {
        name: String,
    },
    /// Add a user to a group (creating the user if needed).
    AddMember {
        group: String,
        user: String,
    },
    RemoveMember {
        group: String,
        user: String,
    },
}

pub(super) fn run(cx: Invocation, command: GroupCommand) -> Result<()> {
    let mut v = cx.vault()?;
    match command {
        GroupCommand::List { out } => {
            v.check_reader(&cx.user, Reading::Directory)?;
            emit(out, &v.groups()?)?
        }
        GroupCommand::Add { name } => {
            v.add_group(&cx.user, &name)?;
            outln!("added group {name}");
        }
        GroupCommand::Remove { name } => {
            v.remove_group(&cx.user, &name)?;
            outln!("removed group {name}");
        }
        GroupCommand::AddMember { group, user } => {
            v.add_member(&cx.user, &group, &user)?;
            outln!("added {user} to {group}");
        }
        GroupCommand::RemoveMember { group, user } => {
            v.remove_member(&cx.user, &group, &user)?;
            outln!("removed {user} from {group}");
        }
    }
    Ok(())
}

impl Report for Vec<GroupInfo> {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for g in self {
            let grants: Vec<String> = g.grants.iter().map(|(t, l)| format!("{t}: {l}")).collect();
            writeln!(
                out,
                "{}  members [{}]  grants [{}]",
                g.name,
                g.members.join(", "),
                grants.join(", ")
            )?;
        }
        Ok(())
    }
}
