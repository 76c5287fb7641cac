//! The admin command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use twofill_otp::Token;
use twofill_vault::{SiteBinding, Vault};

use crate::install::{self, Browser};
use crate::paths;

#[derive(Parser)]
#[command(
    name = "twofill-host",
    version,
    about = "twofill native host and admin tool"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage tokens in the vault.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Register this binary as the native host for browsers (per user).
    Install {
        /// Browser to register with; repeat for several. Default: all.
        #[arg(long = "browser", value_enum)]
        browsers: Vec<Browser>,
        /// Chromium profile directory (`--user-data-dir`) to register in instead.
        #[arg(long)]
        user_data_dir: Option<PathBuf>,
        /// Print the manifest instead of writing it.
        #[arg(long)]
        print: bool,
    },
    /// Remove the host registration written by `install`.
    Uninstall {
        #[arg(long = "browser", value_enum)]
        browsers: Vec<Browser>,
        #[arg(long)]
        user_data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Add a token from its otpauth:// URI and bind it to sites.
    Add {
        /// The otpauth:// URI from the service's QR code or setup page.
        #[arg(long)]
        uri: String,
        /// Site the token may be used on (e.g. `kaspersky.com`, `http://intranet:8080`); repeat for several.
        #[arg(long = "site", required = true)]
        sites: Vec<String>,
    },
    /// List tokens (never seeds).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Bind another site to a token.
    Bind { id: String, site: String },
    /// Remove a token.
    Remove { id: String },
}

pub fn run() -> ExitCode {
    match dispatch(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Token { command } => token(command),
        Command::Install {
            browsers,
            user_data_dir,
            print,
        } => {
            let host = std::env::current_exe()?
                .canonicalize()
                .context("cannot resolve the host binary's path")?;
            for browser in selected(browsers) {
                if print {
                    println!("{}", install::render_manifest(browser, &host)?);
                } else {
                    let p = install::install(browser, user_data_dir.as_deref(), &host)?;
                    println!("{browser:?}: wrote {}", p.display());
                }
            }
            Ok(())
        }
        Command::Uninstall {
            browsers,
            user_data_dir,
        } => {
            for browser in selected(browsers) {
                match install::uninstall(browser, user_data_dir.as_deref())? {
                    Some(p) => println!("{browser:?}: removed {}", p.display()),
                    None => println!("{browser:?}: not installed"),
                }
            }
            Ok(())
        }
    }
}

fn selected(browsers: Vec<Browser>) -> Vec<Browser> {
    if browsers.is_empty() {
        Browser::ALL.to_vec()
    } else {
        browsers
    }
}

fn open_vault() -> Result<Vault> {
    let path = paths::vault()?;
    Ok(Vault::open(&path)?)
}

fn token(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Add { uri, sites } => {
            let token = Token::from_uri(&uri)?;
            let sites = sites
                .iter()
                .map(|s| s.parse::<SiteBinding>())
                .collect::<Result<Vec<_>, _>>()?;
            let id = open_vault()?.add_token(&token, &sites)?;
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            println!(
                "added token {id}: {}",
                label(token.issuer.as_deref(), &token.account)
            );
            println!("current code: {}", token.code_at(now));
        }
        TokenCommand::List { json } => {
            let tokens = open_vault()?.tokens()?;
            if json {
                let list: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id,
                            "issuer": t.issuer,
                            "account": t.account,
                            "sites": t.bindings.iter().map(|b| b.to_string()).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if tokens.is_empty() {
                println!(
                    "the vault has no tokens; add one with `twofill-host token add --uri … --site …`"
                );
            } else {
                for t in tokens {
                    let sites: Vec<_> = t.bindings.iter().map(|b| b.to_string()).collect();
                    println!(
                        "{}  {}  [{}]",
                        t.id,
                        label(t.issuer.as_deref(), &t.account),
                        sites.join(", ")
                    );
                }
            }
        }
        TokenCommand::Bind { id, site } => {
            open_vault()?.bind_site(&id, &site.parse()?)?;
            println!("bound {site} to {id}");
        }
        TokenCommand::Remove { id } => {
            open_vault()?.remove_token(&id)?;
            println!("removed {id}");
        }
    }
    Ok(())
}

fn label(issuer: Option<&str>, account: &str) -> String {
    match issuer {
        Some(i) => format!("{i} ({account})"),
        None => account.to_owned(),
    }
}
