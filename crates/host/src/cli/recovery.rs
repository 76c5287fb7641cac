//! `twofill-host token recovery …`: the recovery (backup) codes kept with a
//! token. Admins (and owners of personal tokens) attach or replace the set;
//! full-seed holders take one single-use code at a time, on record.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde::Serialize;
use twofill_import::MAX_RECOVERY_INPUT_BYTES;
use twofill_vault::{RecoveryStatus, Requester};

use super::{Invocation, JsonFlag, Report, emit};

#[derive(Subcommand)]
pub(super) enum RecoveryCommand {
    /// Attach the token's recovery codes, or replace them after you
    /// regenerated them at the service (the old ones are discarded, on
    /// record). Give the file the service lets you download, or the codes
    /// one per line; headers and numbering are ignored. Nothing is saved
    /// when the input has a duplicate or is not a list of codes.
    Set {
        id: String,
        /// The codes' file, or `-` for standard input (paste, then Ctrl-D).
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Take one unused recovery code (full-seed grant only). It is marked
    /// used and recorded before it is printed: use it at the service now.
    Take {
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

/// `token recovery set`.
#[derive(Serialize)]
struct Attached {
    token: String,
    #[serde(flatten)]
    status: RecoveryStatus,
    /// Lines of the input that were not codes (headers, notes).
    ignored_lines: usize,
}

/// `token recovery take`.
#[derive(Serialize)]
struct Taken {
    token: String,
    code: String,
    /// Unused codes left after this one.
    remaining: u32,
}

pub(super) fn run(cx: Invocation, command: RecoveryCommand) -> Result<()> {
    match command {
        RecoveryCommand::Set { id, file, out } => {
            let input = read_input(&file)?;
            let parsed = twofill_import::recovery_codes(&input)?;
            let status = cx
                .vault()?
                .set_recovery_codes(&cx.user, &id, &parsed.codes)?;
            emit(
                out,
                &Attached {
                    token: id,
                    status,
                    ignored_lines: parsed.text_lines,
                },
            )
        }
        RecoveryCommand::Take { id, out } => {
            let taken = cx
                .vault()?
                .take_recovery_code(&Requester::cli(&cx.user), &id)?;
            emit(
                out,
                &Taken {
                    token: id,
                    code: taken.code.to_string(),
                    remaining: taken.remaining,
                },
            )
        }
    }
}

/// The input, at most one byte past the limit (so the parser reports it).
fn read_input(file: &std::path::Path) -> Result<Vec<u8>> {
    let limit = MAX_RECOVERY_INPUT_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(file)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {}", file.display()))?;
    }
    Ok(bytes)
}

impl Report for Attached {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let s = &self.status;
        writeln!(
            out,
            "attached {} recovery codes to {} (set {}){}",
            s.total,
            self.token,
            s.set,
            if s.set > 1 {
                "; the previous set is discarded"
            } else {
                ""
            }
        )?;
        if self.ignored_lines > 0 {
            writeln!(
                out,
                "ignored {} lines that are not codes (headers, notes)",
                self.ignored_lines
            )?;
        }
        if s.low {
            writeln!(out, "warning: {}", low_warning(s))?;
        }
        Ok(())
    }
}

impl Report for Taken {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "{}", self.code)?;
        writeln!(
            out,
            "single-use: this code is now marked used; {} left",
            self.remaining
        )
    }
}

/// What admins are told when few codes remain.
pub(super) fn low_warning(s: &RecoveryStatus) -> String {
    format!(
        "only {} of {} recovery codes left; regenerate recovery codes at the service and attach them (`twofill-host token recovery set`)",
        s.remaining, s.total
    )
}
