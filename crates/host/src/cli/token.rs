//! `twofill-host token …`: enroll, list, show, codes and seeds, site bindings.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde::Serialize;
use twofill_otp::Token;
use twofill_vault::{
    Access, AuditAction, CodeRequest, Purpose, Reading, RecoveryStatus, Requester, Scope,
    SiteBinding, TokenDetails, TokenSummary, TokensRequest,
};
use twofill_words::{token_label, unix_now_secs};

use super::{Invocation, JsonFlag, Report, emit, print_json};

#[derive(Subcommand)]
pub(super) enum TokenCommand {
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
        /// Site the token may fill on (`kaspersky.com`: https, the default
        /// port, subdomains; `http://intranet.example:8080`; `host:*` for every
        /// port); repeat for several.
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
    // `bind-domain` was its name before sites could be http:// or carry a port.
    #[command(alias = "bind-domain")]
    BindSite { id: String, site: String },
    /// Remove a site from a token.
    #[command(alias = "unbind-domain")]
    UnbindSite { id: String, site: String },
    /// Remove a token (admins: any; users: their own personal tokens).
    Remove { id: String },
    /// The token's recovery (backup) codes: attach or replace them, take one.
    Recovery {
        #[command(subcommand)]
        command: super::recovery::RecoveryCommand,
    },
}

/// One token enrolled by `token add`.
#[derive(Serialize)]
struct AddedToken {
    id: String,
    issuer: Option<String>,
    account: String,
    personal: bool,
}

/// A row of `token list`: the token, `personal` (with `owner` set), and for
/// users (not admins) their level and the code parameters.
#[derive(Serialize)]
struct ListedToken {
    #[serde(flatten)]
    summary: TokenSummary,
    #[serde(flatten)]
    usable: Option<Usable>,
    personal: bool,
    /// Admins: the token's recovery codes (counts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<RecoveryStatus>,
}

#[derive(Serialize)]
struct Usable {
    access: Access,
    period: u64,
    digits: u32,
    /// Full-seed holders: unused recovery codes, when the token has some.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes_left: Option<u32>,
}

/// `token list`: a JSON array of rows; `admin` picks the empty-list hint.
#[derive(Serialize)]
#[serde(transparent)]
struct TokenList {
    #[serde(skip)]
    admin: bool,
    rows: Vec<ListedToken>,
}

/// `token code --json`.
#[derive(Serialize)]
struct IssuedCode {
    token: String,
    code: String,
    valid_from: u64,
    valid_until: u64,
}

/// `token reveal --json`.
#[derive(Serialize)]
struct RevealedSeed {
    token: String,
    secret: String,
    uri: String,
}

pub(super) fn run(cx: Invocation, command: TokenCommand) -> Result<()> {
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
                let name = token_label(t.issuer.as_deref(), &t.account);
                confirm_first_code(t, &name, confirm_codes.get(i).map(String::as_str))?;
                let id = if personal {
                    vault.add_personal_token(&cx.user, t, &sites)?
                } else {
                    vault.add_token(&cx.user, t, &sites)?
                };
                // People see each token as it is saved, in case a later one fails.
                if !out.json {
                    let kind = if personal { "personal token" } else { "token" };
                    outln!("added {kind} {id}: {name}");
                }
                added.push(AddedToken {
                    id,
                    issuer: t.issuer.clone(),
                    account: t.account.clone(),
                    personal,
                });
            }
            if out.json {
                print_json(&added)?;
            }
        }
        TokenCommand::List { out } => {
            let vault = cx.vault()?;
            let admin = vault.is_admin(&cx.user)?;
            let rows = if admin {
                vault
                    .tokens()?
                    .into_iter()
                    .map(|summary| {
                        let status = vault.recovery_status(&summary.id)?;
                        let mut row = ListedToken::new(summary, None);
                        row.recovery_codes = (status.total > 0).then_some(status);
                        Ok(row)
                    })
                    .collect::<Result<_>>()?
            } else {
                vault
                    .permitted_tokens(&TokensRequest {
                        user: &cx.user,
                        origin: None,
                        scope: Scope::All,
                    })?
                    .into_iter()
                    .map(|t| {
                        let usable = Usable {
                            access: t.access,
                            period: t.period,
                            digits: t.digits,
                            recovery_codes_left: t.recovery_codes,
                        };
                        ListedToken::new(t.summary, Some(usable))
                    })
                    .collect()
            };
            emit(out, &TokenList { admin, rows })?;
        }
        TokenCommand::Show { id, out } => {
            let v = cx.vault()?;
            v.check_reader(&cx.user, Reading::Token(&id))?;
            emit(out, &v.token_details(&id)?)?
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
                print_json(&IssuedCode {
                    token: issued.token.id,
                    code: issued.window.code,
                    valid_from: issued.window.valid_from,
                    valid_until: issued.window.valid_until,
                })?;
            } else {
                let left = issued.window.valid_until.saturating_sub(unix_now_secs());
                outln!("{}  ({left} s left)", issued.window.code);
            }
        }
        TokenCommand::Reveal { id, out } => {
            let mut vault = cx.vault()?;
            let t = vault.reveal_seed(&Requester::cli(&cx.user), &id, AuditAction::SeedExport)?;
            if out.json {
                print_json(&RevealedSeed {
                    token: id,
                    secret: t.secret.to_base32(),
                    uri: t.to_uri(),
                })?;
            } else {
                outln!("{}", t.to_uri());
            }
        }
        TokenCommand::BindSite { id, site } => {
            cx.vault()?.bind_site(&cx.user, &id, &site.parse()?)?;
            outln!("bound {site} to {id}");
        }
        TokenCommand::UnbindSite { id, site } => {
            cx.vault()?.unbind_site(&cx.user, &id, &site.parse()?)?;
            outln!("unbound {site} from {id}");
        }
        TokenCommand::Remove { id } => {
            cx.vault()?.remove_token(&cx.user, &id)?;
            outln!("removed {id}");
        }
        TokenCommand::Recovery { command } => super::recovery::run(cx, command)?,
    }
    Ok(())
}

impl ListedToken {
    fn new(summary: TokenSummary, usable: Option<Usable>) -> ListedToken {
        let personal = summary.owner.is_some();
        ListedToken {
            summary,
            usable,
            personal,
            recovery_codes: None,
        }
    }
}

impl Report for TokenList {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let rows = &self.rows;
        if rows.is_empty() {
            return writeln!(
                out,
                "no tokens{}; admins add them with `twofill-host token add --uri … --site …` (your own: add --personal)",
                if self.admin {
                    " in the vault"
                } else {
                    " you may use"
                }
            );
        }
        for r in rows {
            let s = &r.summary;
            let sites: Vec<String> = s.bindings.iter().map(|b| b.to_string()).collect();
            writeln!(
                out,
                "{}  {}  [{}]{}{}",
                s.id,
                token_label(s.issuer.as_deref(), &s.account),
                sites.join(", "),
                r.usable
                    .as_ref()
                    .map(|u| format!("  {}", u.access))
                    .unwrap_or_default(),
                s.owner
                    .as_deref()
                    .map(|o| format!("  personal ({o})"))
                    .unwrap_or_default()
            )?;
            let left = r
                .recovery_codes
                .map(|s| s.remaining)
                .or(r.usable.as_ref().and_then(|u| u.recovery_codes_left));
            if let Some(left) = left {
                writeln!(out, "    recovery codes: {left} left")?;
            }
            if let Some(status) = r.recovery_codes.filter(|s| s.low) {
                writeln!(
                    out,
                    "    warning: {}",
                    super::recovery::low_warning(&status)
                )?;
            }
        }
        Ok(())
    }
}

impl Report for TokenDetails {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let s = &self.summary;
        writeln!(out, "id:        {}", s.id)?;
        writeln!(out, "token:     {}", s.label())?;
        writeln!(
            out,
            "kind:      {} ({}, {} digits, {} s)",
            self.kind, self.algorithm, self.digits, self.period
        )?;
        let sites: Vec<String> = s.bindings.iter().map(|b| b.to_string()).collect();
        writeln!(out, "sites:     {}", sites.join(", "))?;
        let grants: Vec<String> = self
            .grants
            .iter()
            .map(|(g, l)| format!("{g}: {l}"))
            .collect();
        writeln!(
            out,
            "grants:    {}",
            if grants.is_empty() {
                "(none)".into()
            } else {
                grants.join(", ")
            }
        )?;
        if let Some(owner) = &s.owner {
            writeln!(out, "personal:  yes, {owner}'s own (only they use it)")?;
        }
        let r = &self.recovery_codes;
        if r.total > 0 {
            writeln!(
                out,
                "recovery:  {} of {} codes left (set {})",
                r.remaining, r.total, r.set
            )?;
            if r.low {
                writeln!(out, "warning:   {}", super::recovery::low_warning(r))?;
            }
        }
        if let Some(by) = &self.created_by {
            writeln!(out, "added by:  {by}")?;
        }
        Ok(())
    }
}

/// Shows the current code and requires confirmation that it is right: the
/// code the service (or the authenticator the seed came from) shows now,
/// typed back or passed with `--confirm-code`. Catches a mistyped seed or
/// wrong parameters before anyone depends on the token.
fn confirm_first_code(t: &Token, name: &str, given: Option<&str>) -> Result<()> {
    let now = unix_now_secs();
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
