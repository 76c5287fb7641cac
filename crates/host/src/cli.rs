//! The admin command line.
//!
//! Every command acts as the current user (see `whoami`); the vault checks
//! that admin commands come from an admin and records everything in the
//! audit log. `--json` gives machine-readable output for scripts.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use twofill_otp::Token;
use twofill_siem::format::to_ecs;
use twofill_vault::audit::parse_hex32;
use twofill_vault::{
    Access, AuditAction, AuditRecord, CodeRequest, Purpose, Requester, Scope, SiteBinding,
    TokensRequest, Vault,
};

use crate::config::{self, Settings};
use crate::identity;
use crate::install;

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
        command: TokenCommand,
    },
    /// Users and their admin flag.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Groups and their members.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Which group may do what with which token.
    Grant {
        #[command(subcommand)]
        command: GrantCommand,
    },
    /// The audit log: verify, export, tail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Show who the host thinks you are, and which vault and config it uses.
    Whoami {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Register this binary as the native host for browsers: per user, or
    /// machine-wide with --system; for Linux, macOS or Windows (.reg and
    /// PowerShell files with --os windows --out DIR).
    Install(install::InstallArgs),
    /// Remove exactly what `install` wrote (same options).
    Uninstall(install::UninstallArgs),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Enroll tokens from an otpauth:// link, a Google Authenticator export
    /// (otpauth-migration://) or a QR code image; shows the current code and
    /// saves only after you confirm it. Admins enroll the team's tokens; with
    /// --personal, any user enrolls their own.
    Add {
        /// otpauth:// or otpauth-migration:// text.
        #[arg(long, conflicts_with = "qr", required_unless_present = "qr")]
        uri: Option<String>,
        /// A PNG or JPEG with the QR code (screenshot of the setup page or export screen).
        #[arg(long)]
        qr: Option<PathBuf>,
        /// Site the token may fill on (`kaspersky.com`: https, any port,
        /// subdomains; or `http://intranet.example:8080`); repeat for several.
        #[arg(long = "site", required = true)]
        sites: Vec<String>,
        /// The code the service or your current authenticator shows right
        /// now, once per token, to confirm the seed is right (skips the prompt).
        #[arg(long = "confirm-code")]
        confirm_codes: Vec<String>,
        /// Enroll as your own personal token: only you get its codes and
        /// seed, and it can never be granted to a group (if the
        /// organization's policy allows personal tokens).
        #[arg(long)]
        personal: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// List tokens: all of them for admins (personal ones marked with their
    /// owner), the ones you may use otherwise.
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Details of one token: parameters, sites, grants (never the seed).
    Show {
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Print the current code (audited).
    Code {
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Print the seed as an otpauth:// link (full-seed grant only; audited).
    Reveal {
        id: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Bind another site to a token.
    BindDomain { id: String, site: String },
    /// Remove a site from a token.
    UnbindDomain { id: String, site: String },
    /// Remove a token (admins: any; users: their own personal tokens).
    Remove { id: String },
}

#[derive(Subcommand)]
enum UserCommand {
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

#[derive(Subcommand)]
enum GroupCommand {
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

#[derive(Subcommand)]
enum GrantCommand {
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
    s.parse()
        .map_err(|e: twofill_words::UnknownWord| e.to_string())
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain; exits non-zero if anything was tampered with.
    Verify {
        /// `SEQ:MAC` printed by an earlier verify: also detects records cut off the end.
        #[arg(long)]
        anchor: Option<String>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Write records as JSON lines with ECS field names.
    Export {
        /// Only records after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// File to write (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Show the latest records; with --follow, keep printing new ones.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: i64,
        #[arg(short, long)]
        follow: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Deliver the log to the SIEM sinks of the config (`[[siem.sink]]`),
    /// at least once and in order, from each sink's persisted cursor. Runs
    /// until SIGTERM/SIGINT, retrying sinks that are down.
    Stream {
        /// Deliver what is there now, once, and exit (for cron and tests);
        /// exits non-zero if a sink could not take everything.
        #[arg(long)]
        once: bool,
        /// Only this sink (by `name`, default its kind).
        #[arg(long)]
        sink: Option<String>,
        /// Started by the native host after a code: silent, no waiting.
        #[arg(long, hide = true, requires = "once")]
        kick: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
}

pub fn run() -> ExitCode {
    match dispatch(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

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
    fn vault(&self) -> Result<Vault> {
        let protection = self.settings.protection(std::io::stdin().is_terminal())?;
        let mut vault = Vault::open(&self.settings.vault, &protection)?;
        vault.set_policy(self.settings.config.policy);
        Ok(vault)
    }
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn label(issuer: Option<&str>, account: &str) -> String {
    match issuer {
        Some(i) => format!("{i} ({account})"),
        None => account.to_owned(),
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Install(args) => install::run_install(args)?,
        Command::Uninstall(args) => install::run_uninstall(args)?,
        Command::Whoami { out } => {
            let cx = Invocation::load()?;
            let config = match &cx.settings.origin {
                config::Origin::System(p) => format!(
                    "{} (system, managed: TWOFILL_CONFIG and TWOFILL_VAULT are ignored)",
                    p.display()
                ),
                config::Origin::User(p) => format!(
                    "{} (TWOFILL_CONFIG; no system config at {})",
                    p.display(),
                    config::system_config_path().display()
                ),
                config::Origin::Defaults => format!(
                    "built-in defaults (no system config at {})",
                    config::system_config_path().display()
                ),
            };
            let admin = cx.vault().and_then(|v| Ok(v.is_admin(&cx.user)?)).ok();
            let policy = cx.settings.config.policy;
            let sinks = cx.settings.audit_sinks();
            if out.json {
                print_json(&json!({
                    "user": cx.user, "vault": cx.settings.vault, "config": config,
                    "managed": cx.settings.managed(), "admin": admin,
                    "policy": crate::config::wire_policy(policy), "audit_sinks": sinks,
                }))?;
            } else {
                let allowed = |yes: bool| if yes { "allowed" } else { "not allowed" };
                println!("user:   {}", cx.user);
                println!("vault:  {}", cx.settings.vault.display());
                println!("config: {config}");
                if let Some(a) = admin {
                    println!("admin:  {}", if a { "yes" } else { "no" });
                }
                println!(
                    "policy: personal tokens {}; seed reveal {}",
                    allowed(policy.allow_personal_tokens),
                    allowed(policy.allow_seed_reveal)
                );
                if !sinks.is_empty() {
                    println!("audit:  streamed to {}", sinks.join(", "));
                }
            }
        }
        Command::Token { command } => return token(Invocation::load()?, command),
        Command::User { command } => user(Invocation::load()?, command)?,
        Command::Group { command } => group(Invocation::load()?, command)?,
        Command::Grant { command } => {
            let cx = Invocation::load()?;
            let mut v = cx.vault()?;
            match command {
                GrantCommand::Set {
                    token,
                    group,
                    level,
                } => {
                    v.set_grant(&cx.user, &token, &group, level)?;
                    println!("granted {level} on {token} to group {group}");
                }
                GrantCommand::Revoke { token, group } => {
                    v.revoke_grant(&cx.user, &token, &group)?;
                    println!("revoked group {group}'s grant on {token}");
                }
            }
        }
        Command::Audit { command } => return audit(Invocation::load()?, command),
    }
    Ok(ExitCode::SUCCESS)
}

fn token(cx: Invocation, command: TokenCommand) -> Result<ExitCode> {
    match command {
        TokenCommand::Add {
            uri,
            qr,
            sites,
            confirm_codes,
            personal,
            out,
        } => {
            let sites = sites
                .iter()
                .map(|s| s.parse::<SiteBinding>())
                .collect::<Result<Vec<_>, _>>()?;
            let imported = match (&uri, &qr) {
                (Some(text), _) => twofill_import::from_text(text)?,
                (None, Some(path)) => twofill_import::from_image_file(path)?,
                (None, None) => unreachable!("clap requires one"),
            };
            for batch in &imported.batches {
                if batch.size > 1 {
                    eprintln!(
                        "note: this is {batch} of a Google Authenticator export; import the others too"
                    );
                }
            }
            let mut tokens = Vec::new();
            for entry in imported.tokens {
                match entry {
                    Ok(t) => tokens.push(t),
                    Err(e) => eprintln!("skipped: {e}"),
                }
            }
            if tokens.is_empty() {
                bail!("nothing to enroll");
            }
            if !confirm_codes.is_empty() && confirm_codes.len() != tokens.len() {
                bail!(
                    "{} token(s) to enroll but {} --confirm-code given; give one per token, in order",
                    tokens.len(),
                    confirm_codes.len()
                );
            }
            let mut vault = cx.vault()?;
            let mut added = Vec::new();
            for (i, t) in tokens.iter().enumerate() {
                let name = label(t.issuer.as_deref(), &t.account);
                confirm_first_code(t, &name, confirm_codes.get(i).map(String::as_str))?;
                let id = if personal {
                    vault.add_personal_token(&cx.user, t, &sites)?
                } else {
                    vault.add_token(&cx.user, t, &sites)?
                };
                if !out.json {
                    let kind = if personal { "personal token" } else { "token" };
                    println!("added {kind} {id}: {name}");
                }
                added.push(json!({
                    "id": id, "issuer": t.issuer, "account": t.account, "personal": personal,
                }));
            }
            if out.json {
                print_json(&added)?;
            }
        }
        TokenCommand::List { out } => {
            let vault = cx.vault()?;
            let admin = vault.is_admin(&cx.user)?;
            // `personal: true` with `owner` for personal tokens.
            let row = |value: serde_json::Value| {
                let mut value = value;
                value["personal"] = json!(!value["owner"].is_null());
                value
            };
            let rows: Vec<serde_json::Value> = if admin {
                vault
                    .tokens()?
                    .into_iter()
                    .map(|t| row(serde_json::to_value(t).expect("plain data")))
                    .collect()
            } else {
                vault
                    .permitted_tokens(&TokensRequest {
                        user: &cx.user,
                        origin: None,
                        scope: Scope::All,
                    })?
                    .into_iter()
                    .map(|t| row(serde_json::to_value(t).expect("plain data")))
                    .collect()
            };
            if out.json {
                print_json(&rows)?;
            } else if rows.is_empty() {
                println!(
                    "no tokens{}; admins add them with `twofill-host token add --uri … --site …` (your own: add --personal)",
                    if admin {
                        " in the vault"
                    } else {
                        " you may use"
                    }
                );
            } else {
                for r in rows {
                    let sites: Vec<&str> = r["bindings"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
                        .unwrap_or_default();
                    println!(
                        "{}  {}  [{}]{}{}",
                        r["id"].as_str().unwrap_or(""),
                        label(r["issuer"].as_str(), r["account"].as_str().unwrap_or("")),
                        sites.join(", "),
                        r["access"]
                            .as_str()
                            .map(|a| format!("  {a}"))
                            .unwrap_or_default(),
                        r["owner"]
                            .as_str()
                            .map(|o| format!("  personal ({o})"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        TokenCommand::Show { id, out } => {
            let vault = cx.vault()?;
            let d = vault.token_details(&id)?;
            if out.json {
                print_json(&d)?;
            } else {
                println!("id:        {}", d.summary.id);
                println!("token:     {}", d.summary.label());
                println!(
                    "kind:      {} ({}, {} digits, {} s)",
                    d.kind, d.algorithm, d.digits, d.period
                );
                println!(
                    "sites:     {}",
                    d.summary
                        .bindings
                        .iter()
                        .map(|b| b.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let grants: Vec<String> =
                    d.grants.iter().map(|(g, l)| format!("{g}: {l}")).collect();
                println!(
                    "grants:    {}",
                    if grants.is_empty() {
                        "(none)".into()
                    } else {
                        grants.join(", ")
                    }
                );
                if let Some(owner) = &d.summary.owner {
                    println!("personal:  yes, {owner}'s own (only they use it)");
                }
                if let Some(by) = &d.created_by {
                    println!("added by:  {by}");
                }
            }
        }
        TokenCommand::Code { id, out } => {
            let mut vault = cx.vault()?;
            let issued = vault.issue_code(&CodeRequest {
                who: &Requester::cli(&cx.user),
                token: Some(&id),
                origin: None,
                purpose: Purpose::Cli,
                scope: Scope::All,
            })?;
            if out.json {
                print_json(&json!({
                    "token": issued.token.id, "code": issued.window.code,
                    "valid_from": issued.window.valid_from, "valid_until": issued.window.valid_until,
                }))?;
            } else {
                let left = issued.window.valid_until.saturating_sub(now());
                println!("{}  ({left} s left)", issued.window.code);
            }
        }
        TokenCommand::Reveal { id, out } => {
            let mut vault = cx.vault()?;
            let t = vault.reveal_seed(&Requester::cli(&cx.user), &id, AuditAction::SeedExport)?;
            if out.json {
                print_json(
                    &json!({"token": id, "secret": t.secret.to_base32(), "uri": t.to_uri()}),
                )?;
            } else {
                println!("{}", t.to_uri());
            }
        }
        TokenCommand::BindDomain { id, site } => {
            cx.vault()?.bind_site(&cx.user, &id, &site.parse()?)?;
            println!("bound {site} to {id}");
        }
        TokenCommand::UnbindDomain { id, site } => {
            cx.vault()?.unbind_site(&cx.user, &id, &site.parse()?)?;
            println!("unbound {site} from {id}");
        }
        TokenCommand::Remove { id } => {
            cx.vault()?.remove_token(&cx.user, &id)?;
            println!("removed {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows the current code and requires confirmation that it is right: the
/// code the service (or the authenticator the seed came from) shows now,
/// typed back or passed with `--confirm-code`. Catches a mistyped seed or
/// wrong parameters before anyone depends on the token.
fn confirm_first_code(t: &Token, name: &str, given: Option<&str>) -> Result<()> {
    let now = now();
    let accepted = |code: &str| {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        // The current window and the one before (the user read it a moment ago).
        [now, now.saturating_sub(t.period)]
            .iter()
            .any(|&at| t.code_at(at).eq_ignore_ascii_case(&code))
    };
    if let Some(code) = given {
        if accepted(code) {
            return Ok(());
        }
        bail!(
            "the code {code} does not match {name}: check the secret, digits, period and algorithm; nothing was saved"
        );
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "confirm the first code of {name}: pass --confirm-code with the code the service or your current authenticator shows now"
        );
    }
    let w = t.window_at(now);
    eprintln!(
        "{name}: current code {} (valid {} more seconds)",
        w.code,
        w.valid_until.saturating_sub(now)
    );
    eprint!(
        "Type the code the service or your current authenticator shows now (or the one above, once the service accepted it): "
    );
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if accepted(line.trim()) {
        Ok(())
    } else {
        bail!("the code does not match; nothing was saved. Check the secret and try again")
    }
}

fn user(cx: Invocation, command: UserCommand) -> Result<()> {
    let mut v = cx.vault()?;
    match command {
        UserCommand::List { out } => {
            let users = v.users()?;
            if out.json {
                print_json(&users)?;
            } else {
                for u in users {
                    println!(
                        "{}{}  [{}]",
                        u.name,
                        if u.admin { " (admin)" } else { "" },
                        u.groups.join(", ")
                    );
                }
            }
        }
        UserCommand::Add { name, admin } => {
            v.add_user(&cx.user, &name, admin)?;
            println!(
                "user {name}{}",
                if admin { " is an admin" } else { " added" }
            );
        }
        UserCommand::Remove { name } => {
            v.remove_user(&cx.user, &name)?;
            println!("removed user {name}");
        }
    }
    Ok(())
}

fn group(cx: Invocation, command: GroupCommand) -> Result<()> {
    let mut v = cx.vault()?;
    match command {
        GroupCommand::List { out } => {
            let groups = v.groups()?;
            if out.json {
                print_json(&groups)?;
            } else {
                for g in groups {
                    let grants: Vec<String> =
                        g.grants.iter().map(|(t, l)| format!("{t}: {l}")).collect();
                    println!(
                        "{}  members [{}]  grants [{}]",
                        g.name,
                        g.members.join(", "),
                        grants.join(", ")
                    );
                }
            }
        }
        GroupCommand::Add { name } => {
            v.add_group(&cx.user, &name)?;
            println!("added group {name}");
        }
        GroupCommand::Remove { name } => {
            v.remove_group(&cx.user, &name)?;
            println!("removed group {name}");
        }
        GroupCommand::AddMember { group, user } => {
            v.add_member(&cx.user, &group, &user)?;
            println!("added {user} to {group}");
        }
        GroupCommand::RemoveMember { group, user } => {
            v.remove_member(&cx.user, &group, &user)?;
            println!("removed {user} from {group}");
        }
    }
    Ok(())
}

fn audit(cx: Invocation, command: AuditCommand) -> Result<ExitCode> {
    let v = cx.vault()?;
    match command {
        AuditCommand::Stream {
            once,
            sink,
            kick,
            out,
        } => return stream(&cx, v, once, sink.as_deref(), kick, out.json),
        AuditCommand::Verify { anchor, out } => {
            let anchor = anchor
                .map(|a| {
                    let (seq, mac) = a.split_once(':').context("--anchor is SEQ:MAC")?;
                    let seq: i64 = seq.parse().context("--anchor SEQ must be a number")?;
                    let mac = parse_hex32(mac).context("--anchor MAC must be 64 hex digits")?;
                    anyhow::Ok((seq, mac))
                })
                .transpose()?;
            let report = v.verify_audit(anchor)?;
            if out.json {
                print_json(&report)?;
            } else {
                match &report.problem {
                    None => {
                        println!("audit log OK: {} records", report.records);
                        println!("anchor: {}:{}", report.head_seq, report.head_mac);
                    }
                    Some(p) => println!("audit log TAMPERED at record {}: {}", p.seq, p.what),
                }
            }
            if report.problem.is_some() {
                return Ok(ExitCode::from(2));
            }
        }
        AuditCommand::Export { after, output } => {
            let mut sink: Box<dyn Write> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("cannot create {}", p.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let mut next = after;
            let mut count = 0u64;
            loop {
                let batch = v.audit_records(next, 1000)?;
                let Some(last) = batch.last() else { break };
                next = last.seq;
                for r in &batch {
                    serde_json::to_writer(&mut sink, &to_ecs(r))?;
                    sink.write_all(b"\n")?;
                    count += 1;
                }
            }
            sink.flush()?;
            if output.is_some() {
                eprintln!("exported {count} records");
            }
        }
        AuditCommand::Tail { lines, follow, out } => {
            let head = v.audit_head_seq()?;
            let mut next = (head - lines).max(0);
            loop {
                let batch = v.audit_records(next, 1000)?;
                for r in &batch {
                    if out.json {
                        println!("{}", to_ecs(r));
                    } else {
                        println!("{}", line(r));
                    }
                    next = r.seq;
                }
                if !follow {
                    break;
                }
                std::io::stdout().flush()?;
                if batch.is_empty() {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Set by SIGTERM/SIGINT: `audit stream` finishes its current batch,
/// closes its connections and exits.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn stream(
    cx: &Invocation,
    mut vault: Vault,
    once: bool,
    only: Option<&str>,
    kick: bool,
    json: bool,
) -> Result<ExitCode> {
    let cfg = &cx.settings.config.siem;
    if cfg.sinks.is_empty() {
        if kick {
            return Ok(ExitCode::SUCCESS);
        }
        bail!("no SIEM sinks are configured: add [[siem.sink]] entries to the host config");
    }
    let dir = twofill_siem::state_dir(cfg, &cx.settings.vault);
    let host = twofill_siem::hostname(cfg);
    // Kicks and `--once` wait a little for a drain in progress (another
    // kick) to finish, so the newest records are not left for later; a
    // long-running `audit stream` holds its sinks for good, and then they
    // give up.
    let wait = if kick {
        Duration::from_secs(2)
    } else if once {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(1)
    };
    let mut streamer = twofill_siem::Streamer::new(cfg, &dir, &host, only, wait)?;
    let reports = if once {
        streamer.drain_once(&mut vault)
    } else {
        #[cfg(unix)]
        // SAFETY: the handler only stores to an atomic.
        unsafe {
            let handler = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::signal(libc::SIGTERM, handler);
            libc::signal(libc::SIGINT, handler);
        }
        let names = streamer.sink_names();
        if names.is_empty() {
            bail!("every configured sink is already being streamed by another `audit stream`");
        }
        eprintln!("twofill siem: streaming to {}", names.join(", "));
        streamer.run(&mut vault, &STOP, &mut |l| eprintln!("twofill siem: {l}"))
    };
    if kick {
        return Ok(ExitCode::SUCCESS);
    }
    if json {
        print_json(&reports)?;
    } else {
        for r in &reports {
            match (&r.error, r.busy) {
                (_, true) => println!(
                    "{}: busy (another `audit stream` is delivering to it)",
                    r.name
                ),
                (None, _) => println!(
                    "{}: delivered {} records; has everything up to record {}",
                    r.name, r.delivered, r.cursor
                ),
                (Some(e), _) => println!(
                    "{}: FAILED after {} records: {e}; has everything up to record {}, the rest follows on the next run",
                    r.name, r.delivered, r.cursor
                ),
            }
        }
    }
    Ok(if once && reports.iter().any(|r| r.error.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn line(r: &AuditRecord) -> String {
    let e = &r.event;
    format!(
        "{:>6} {} {:<8} {:<20} {:<7} {}{}{}",
        r.seq,
        twofill_siem::format::rfc3339_utc(r.time_ms),
        e.user,
        e.action,
        if e.success { "ok" } else { "REFUSED" },
        e.token_label.as_deref().unwrap_or(""),
        e.origin
            .as_deref()
            .map(|o| format!(" @ {o}"))
            .unwrap_or_default(),
        e.reason
            .as_deref()
            .map(|x| format!(" — {x}"))
            .unwrap_or_default(),
    )
}
