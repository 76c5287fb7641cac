//! `twofill-server`: the team vault behind an HTTPS JSON API.
//!
//! Seeds, grants, bindings, users, devices and the audit log live in the
//! vault (`twofill-vault`, SQLite or PostgreSQL) on this machine; teammates'
//! hosts get codes over mutual TLS with device certificates from the
//! server's own CA, and a seed leaves only through the audited reveal of a
//! `full-seed` grant. The same binary is the server machine's admin CLI.
//!
//! Module map: `config` (state directory, `server.toml`, the data key's
//! protection), `ca` (CA, server and device certificates), `serve` (TLS,
//! accept loop, timeouts), `api` (routes, device endpoints), `join`,
//! `admin_api`, `device` (who is asking), `pool` (vault handles on the
//! blocking pool), `http` (bodies, replies, errors), `refusal` (vault
//! errors as API errors), `invite`, `commands` (the CLI).

mod admin_api;
mod api;
mod ca;
mod code_batch;
mod commands;
mod config;
mod device;
mod http;
mod invite;
mod join;
mod pool;
mod push;
mod random;
mod refusal;
mod serve;
mod siem;
mod sms;
mod sso;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

/// What every request handler shares.
pub struct App {
    pub pool: Arc<pool::VaultPool>,
    /// Code requests, answered in batches with one commit each.
    pub codes: code_batch::CodeBatcher,
    pub ca: ca::Ca,
    pub limits: config::Limits,
    /// `[sso]`: the identity provider, when devices sign in.
    pub sso: Option<Arc<sso::Sso>>,
    /// `[sms]`: the SMS providers' webhooks, when any is configured.
    pub sms: Option<sms::Intake>,
    /// Stored SMS, announced to this process's waiters.
    pub arrivals: Arc<sms::Arrivals>,
}

#[derive(Parser)]
#[command(
    name = "twofill-server",
    version,
    about = "twofill's team vault server"
)]
struct Cli {
    /// The server's state directory (config, CA, and by default the vault and its key).
    #[arg(long, global = true, value_name = "DIR")]
    state: Option<PathBuf>,
    /// The data key's key file (default: STATE/data.key, or the systemd
    /// credential `twofill-data-key` when $CREDENTIALS_DIRECTORY has it).
    #[arg(long, global = true, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// Protect the data key with the passphrase in this environment variable.
    #[arg(long, global = true, value_name = "VAR")]
    passphrase_env: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the state directory: config, CA, an empty vault.
    Init {
        /// `sqlite:PATH` or `postgres://user@host:port/database` (default: sqlite:STATE/vault.db).
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// A name teammates reach the server by (repeatable; localhost and 127.0.0.1 always).
        #[arg(long = "hostname", value_name = "NAME")]
        hostnames: Vec<String>,
    },
    /// Serve the API; prints `twofill-server listening on https://ADDR` once listening.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
        listen: String,
    },
    /// Administrators.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Invite a user (created if new) to enroll one device; prints the invite.
    Invite {
        /// The user (with single sign-on: their email, as the provider's claim spells it).
        #[arg(required_unless_present = "sso", conflicts_with = "sso")]
        user: Option<String>,
        /// Single sign-on: the device becomes the user's who signs in on it first.
        #[arg(long)]
        sso: bool,
        /// How long the invite is valid: 90s, 30m, 24h, 7d.
        #[arg(long, default_value = "24h")]
        ttl: String,
        /// The admin inviting (default: the only admin).
        #[arg(long, value_name = "ADMIN")]
        by: Option<String>,
    },
    /// List enrolled devices.
    Devices {
        #[arg(long)]
        user: Option<String>,
    },
    /// The audit log: `tail` its last records, `verify` its chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Users: `disable` one at once (sessions ended, devices refused), `enable` again.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// What a leaver could reach: tokens whose seed they were shown
    /// (rotate those), tokens they only had codes of, devices, last activity.
    Offboarding {
        user: String,
        /// The admin asking (default: the only admin).
        #[arg(long, value_name = "ADMIN")]
        by: Option<String>,
        /// Print the report as JSON (the admin API's `OffboardingReply`).
        #[arg(long)]
        json: bool,
    },
    /// Shared SMS inboxes: phone numbers whose codes fill SMS prompts.
    Sms {
        #[command(subcommand)]
        command: SmsCommand,
    },
    /// Revoke a device: its next request is refused.
    Revoke {
        id: String,
        /// The admin revoking (default: the only admin).
        #[arg(long, value_name = "ADMIN")]
        by: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print the last records, oldest first.
    Tail {
        #[arg(long, default_value_t = 20)]
        lines: i64,
    },
    /// Check the HMAC chain and every authorization row's MAC; exits
    /// non-zero when a record was changed or removed, or a row was edited
    /// in the database.
    Verify,
    /// Deliver the audit log to the `[siem]` sinks of server.toml, from each
    /// sink's cursor in the vault (shared with `serve`'s streamer: a sink
    /// another replica holds is left alone and reported busy).
    Stream {
        /// Deliver what is there now, then exit.
        #[arg(long)]
        once: bool,
        /// Only this sink.
        #[arg(long, value_name = "NAME")]
        sink: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Disable NAME now: their sessions end and their devices get nothing.
    Disable {
        name: String,
        #[arg(long, value_name = "ADMIN")]
        by: Option<String>,
    },
    /// Enable NAME again.
    Enable {
        name: String,
        #[arg(long, value_name = "ADMIN")]
        by: Option<String>,
    },
}

#[derive(Subcommand)]
enum SmsCommand {
    /// SMS inboxes: `add`, `bind`, `grant`, `list`, `purge`.
    Inbox {
        #[command(subcommand)]
        command: InboxCommand,
        /// The admin making the change (default: the only admin).
        #[arg(long, value_name = "ADMIN", global = true)]
        by: Option<String>,
    },
}

#[derive(Subcommand)]
enum InboxCommand {
    /// Make NUMBER (international form, e.g. +4915112345678) an inbox.
    Add { number: String },
    /// Let the inbox's codes fill SMS prompts on SITE (a domain covers its subdomains).
    Bind { number: String, site: String },
    /// Stop filling the inbox's codes on SITE.
    Unbind { number: String, site: String },
    /// Give GROUP `code-only` (the code) or `full` (sender and text too).
    Grant {
        number: String,
        group: String,
        level: twofill_words::SmsAccess,
    },
    /// Take GROUP's grant away.
    Revoke { number: String, group: String },
    /// Every inbox with its sites and grants.
    List,
    /// Delete every message of the inbox now.
    Purge { number: String },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Make NAME an admin. The first admin is created this way on the
    /// server machine; later ones need `--by` an existing admin.
    Add {
        name: String,
        #[arg(long, value_name = "ADMIN")]
        by: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("twofill-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
