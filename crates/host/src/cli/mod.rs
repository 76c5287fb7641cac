//! The admin command line.
//!
//! Every command acts as the current user (see `whoami`); the vault checks
//! that admin commands come from an admin and records everything in the
//! audit log. `--json` gives machine-readable output for scripts.
//!
//! One file per subcommand, each with its clap type and its output types:
//! a command's result is a typed [`Report`], printed as JSON with `--json`
//! and as lines for people otherwise. `install`/`uninstall` are the
//! deployment crate's (`twofill-install`) own command line.

/// Writes one line to standard output. A failed write (a reader that went
/// away, as in `audit tail | head -1`) ends the command through `?`, and
/// [`run`] turns a closed pipe into a clean exit.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!($crate::cli::Printable(std::io::stdout()), $($arg)*)?
    };
}

mod audit;
mod grant;
mod group;
mod join;
mod login;
mod recovery;
mod token;
mod user;
mod vault;
mod whoami;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use twofill_vault::Vault;

use crate::config::{self, Settings};
use crate::identity;

#[derive(Parser)]
#[command(
    name = "twofill-host",
    version,
    about = "twofill native host and admin tool",
    long_about = "twofill native host and admin tool.\n\nBrowsers start this binary to ask for codes; people use these subcommands to manage the vault."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Copy)]
struct JsonFlag {
    /// Machine-readable JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Tokens: enroll, list, bind to sites, show codes.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Users and their admin flag.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Groups and their members.
    Group {
        #[command(subcommand)]
        command: group::GroupCommand,
    },
    /// Which group may do what with which token.
    Grant {
        #[command(subcommand)]
        command: grant::GrantCommand,
    },
    /// The audit log: verify, export, tail.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Move a local vault to the team server this computer joined.
    Vault {
        #[command(subcommand)]
        command: vault::VaultCommand,
    },
    /// Enroll this computer as a device of a team server, with an invite
    /// from its admin; from then on codes come from the server.
    Join(join::JoinArgs),
    /// Sign in to the team server with your organization's identity
    /// provider (opens the system browser; --device for a code instead).
    Login(login::LoginArgs),
    /// Sign out: ends this device's session on the team server and
    /// removes it from this computer.
    Logout(login::LogoutArgs),
    /// Show who the host thinks you are, and which vault and config it uses.
    Whoami {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Register this binary as the native host for browsers: per user, or
    /// machine-wide with --system; for Linux, macOS or Windows (.reg and
    /// PowerShell files with --os windows --out DIR).
    Install(twofill_install::InstallArgs),
    /// Remove exactly what `install` wrote (same options).
    Uninstall(twofill_install::UninstallArgs),
}

pub fn run() -> ExitCode {
    match dispatch(Cli::parse()) {
        Ok(code) => code,
        // Whoever read our output stopped reading: that is their choice, not
        // our failure (ripgrep does the same).
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A write to standard output found the reading end closed, directly or
/// through the JSON writer.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let kind = if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            Some(io.kind())
        } else {
            cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
        };
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Install(args) => twofill_install::run_install(args)?,
        Command::Uninstall(args) => twofill_install::run_uninstall(args)?,
        Command::Join(args) => join::run(args)?,
        Command::Login(args) => login::login(Invocation::load()?, args)?,
        Command::Logout(args) => login::logout(Invocation::load()?, args)?,
        Command::Vault { command } => vault::run(Invocation::load()?, command)?,
        Command::Whoami { out } => whoami::run(Invocation::load()?, out)?,
        Command::Token { command } => token::run(Invocation::load()?, command)?,
        Command::User { command } => user::run(Invocation::load()?, command)?,
        Command::Group { command } => group::run(Invocation::load()?, command)?,
        Command::Grant { command } => grant::run(Invocation::load()?, command)?,
        Command::Audit { command } => return audit::run(Invocation::load()?, command),
    }
    Ok(ExitCode::SUCCESS)
}

/// Who runs the command, under which config.
struct Invocation {
    settings: Settings,
    user: String,
}

impl Invocation {
    fn load() -> Result<Invocation> {
        let settings = config::load()?;
        let user = identity::current_user(&settings.config.user)?;
        Ok(Invocation { settings, user })
    }

    /// The vault, under the organization policy of the config in force.
    /// Refused in team server mode: the host then never opens a local
    /// vault, and tokens, users, grants and the audit log live on the server.
    fn vault(&self) -> Result<Vault> {
        if let Some(server) = &self.settings.config.server {
            anyhow::bail!(
                "this computer uses the team server {} ({}): tokens, users, groups, grants and the audit log live there; run admin commands on the team server",
                server.url,
                self.settings.config_display()
            );
        }
        let protection = self.settings.protection(std::io::stdin().is_terminal())?;
        let mut vault = self.settings.open_vault(&protection)?;
        vault.set_policy(self.settings.config.policy);
        vault.set_unverified_identity(identity::unverified_reason(
            &self.settings.config.user,
            &self.user,
            &self.settings,
        ));
        Ok(vault)
    }
}

/// A command's result: JSON (its `Serialize` form) with `--json`, lines for
/// people otherwise.
trait Report: serde::Serialize {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()>;
}

/// Prints `report` as `--json` asks.
fn emit(format: JsonFlag, report: &impl Report) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if format.json {
        print_json_to(&mut out, report)?;
    } else {
        report.human(&mut Printable(&mut out))?;
    }
    Ok(())
}

/// One home for the terminal escaping, shared with the team server's CLI.
pub(crate) use twofill_siem::format::printable;

/// Human-readable output: every control character but the line ends the
/// output itself writes is escaped ([`printable`]); fields that may hold
/// a newline are escaped with [`printable`] before they are formatted.
pub(crate) struct Printable<W: Write>(pub W);

impl<W: Write> Write for Printable<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.0.write_all(b"\n")?;
            }
            self.0.write_all(printable(line).as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    print_json_to(&mut std::io::stdout().lock(), v)
}

fn print_json_to(out: &mut dyn Write, v: &impl serde::Serialize) -> Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}
