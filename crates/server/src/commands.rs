//! The command line: `init`, `serve`, and the server machine's admin
//! commands, which open the vault directly (the first admin can only be
//! made here: nobody can authenticate to the API before it exists).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use twofill_siem::format::printable;
use twofill_vault::{Vault, VaultError};

use crate::ca::Ca;
use crate::code_batch::CodeBatcher;
use crate::config::{
    CONFIG_FILE, Database, KeyConfig, KeyOverrides, Limits, PolicyConfig, RateLimitConfig,
    SQLITE_FILE, ServerConfig, State, write_private,
};
use crate::pool::{Opener, VaultPool};
use crate::{AdminCommand, App, AuditCommand, Cli, Command, InboxCommand, SmsCommand, UserCommand};

pub fn run(cli: Cli) -> Result<()> {
    let Some(dir) = cli.state.clone() else {
        bail!("name the server's state directory with --state DIR");
    };
    let keys = KeyOverrides {
        key_file: cli.key_file.clone(),
        passphrase_env: cli.passphrase_env.clone(),
    };
    match cli.command {
        Command::Init {
            database,
            hostnames,
        } => init(&dir, database, hostnames, &keys),
        Command::Serve { listen } => serve(&State::load(&dir)?, &keys, &listen),
        Command::Admin {
            command: AdminCommand::Add { name, by },
        } => {
            let mut vault = open(&State::load(&dir)?, &keys)?;
            let actor = by.as_deref().unwrap_or(&name);
            vault
                .add_user(actor, &name, true)
                .map_err(|e| hint_by(e, "admin add NAME --by ADMIN"))?;
            println!("{name} is a twofill admin");
            Ok(())
        }
        Command::Invite { user, sso, ttl, by } => {
            let state = State::load(&dir)?;
            let pin = Ca::load(&state.dir)?.pin();
            let ttl_secs = parse_duration(&ttl)?;
            if ttl_secs > crate::invite::MAX_TTL_SECS {
                bail!(
                    "an invite lasts at most {} days; pick a shorter --ttl",
                    crate::invite::MAX_TTL_SECS / 86400
                );
            }
            let mut vault = open(&state, &keys)?;
            let actor = actor(&vault, by)?;
            let reply = match (&user, sso) {
                (Some(user), false) => {
                    crate::invite::create(&mut vault, pin, &actor, user, ttl_secs)
                }
                _ => crate::invite::create_sso(&mut vault, pin, &actor, ttl_secs),
            }
            .map_err(|e| hint_by(e, "invite USER --by ADMIN"))?;
            println!("{}", reply.invite);
            println!(
                "for {} (one device), valid until {}; give it to them once, over a channel you trust",
                reply.user,
                rfc3339(reply.expires_at_ms)
            );
            Ok(())
        }
        Command::Devices { user } => {
            let vault = open(&State::load(&dir)?, &keys)?;
            let devices = vault.devices(user.as_deref())?;
            if devices.is_empty() {
                println!("no devices enrolled");
            }
            for d in devices {
                let status = match d.revoked_at_ms {
                    Some(ms) => format!("revoked {}", rfc3339(ms)),
                    None => "active".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\tjoined {}\t{status}",
                    d.id,
                    d.user,
                    d.name,
                    rfc3339(d.joined_at_ms)
                );
            }
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Stream { once, sink },
        } => {
            let state = State::load(&dir)?;
            crate::siem::stream_command(&state, &opener(&state, &keys)?, once, sink.as_deref())
        }
        Command::Audit { command } => {
            let vault = open(&State::load(&dir)?, &keys)?;
            audit(&vault, command)
        }
        Command::User { command } => {
            let mut vault = open(&State::load(&dir)?, &keys)?;
            match command {
                UserCommand::Disable { name, by } => {
                    let actor = actor(&vault, by)?;
                    let ended = vault
                        .disable_user(&actor, &name)
                        .map_err(|e| hint_by(e, "user disable NAME --by ADMIN"))?;
                    println!(
                        "{name} is disabled: {ended} session(s) ended; their devices get nothing from now on"
                    );
                }
                UserCommand::Enable { name, by } => {
                    let actor = actor(&vault, by)?;
                    let was = vault
                        .enable_user(&actor, &name)
                        .map_err(|e| hint_by(e, "user enable NAME --by ADMIN"))?;
                    println!(
                        "{name} is enabled{}",
                        if was { "" } else { " (was not disabled)" }
                    );
                }
            }
            Ok(())
        }
        Command::Offboarding { user, by, json } => {
            let mut vault = open(&State::load(&dir)?, &keys)?;
            let actor = actor(&vault, by)?;
            let report = vault
                .offboarding(&actor, &user)
                .map_err(|e| hint_by(e, "offboarding NAME --by ADMIN"))?;
            let reply = crate::admin_api::offboarding_reply(report);
            if json {
                println!("{}", serde_json::to_string_pretty(&reply)?);
                return Ok(());
            }
            println!(
                "{}: {}",
                reply.user,
                if reply.disabled {
                    "disabled"
                } else {
                    "NOT disabled (run `twofill-server user disable`)"
                }
            );
            println!("rotate these seeds (shown to {}):", reply.user);
            for t in &reply.rotate {
                println!(
                    "	{}	{}	last shown {}",
                    t.id,
                    t.label,
                    rfc3339(t.last_revealed_ms.unwrap_or(0))
                );
            }
            println!("code-only, nothing to rotate:");
            for t in &reply.code_only {
                println!("	{}	{}", t.id, t.label);
            }
            for d in &reply.devices {
                println!(
                    "device	{}	{}	{}",
                    d.id,
                    d.name,
                    if d.revoked_at_ms.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
            match reply.last_activity_ms {
                Some(ms) => println!("last activity {}", rfc3339(ms)),
                None => println!("no recorded activity"),
            }
            Ok(())
        }
        Command::Sms {
            command: SmsCommand::Inbox { command, by },
        } => {
            let mut vault = open(&State::load(&dir)?, &keys)?;
            let actor = actor(&vault, by)?;
            sms_inbox(&mut vault, &actor, command).map_err(|e| hint_by(e, "sms inbox … --by ADMIN"))
        }
        Command::Revoke { id, by } => {
            let mut vault = open(&State::load(&dir)?, &keys)?;
            let actor = actor(&vault, by)?;
            let d = vault
                .revoke_device(&actor, &id)
                .map_err(|e| hint_by(e, "revoke ID --by ADMIN"))?;
            println!("revoked {} ({}, {})", d.id, d.user, d.name);
            Ok(())
        }
    }
}

/// A number as people write it, in E.164 (parsed by the intake's rules,
/// so the CLI and the webhooks agree on every number).
fn e164(raw: &str) -> Result<String, VaultError> {
    twofill_sms::E164::parse(raw)
        .map(|n| n.as_str().to_owned())
        .map_err(|e| VaultError::Invalid(e.to_string()))
}

fn site(raw: &str) -> Result<twofill_vault::SiteBinding, VaultError> {
    raw.parse()
        .map_err(|e: twofill_vault::SiteError| VaultError::Invalid(e.to_string()))
}

fn sms_inbox(vault: &mut Vault, actor: &str, command: InboxCommand) -> Result<(), VaultError> {
    match command {
        InboxCommand::Add { number } => {
            let number = e164(&number)?;
            vault.add_sms_inbox(actor, &number)?;
            println!("{number} is an SMS inbox; bind it to a site and grant it to a group");
        }
        InboxCommand::Bind { number, site: s } => {
            let (number, s) = (e164(&number)?, site(&s)?);
            vault.bind_sms_inbox(actor, &number, &s)?;
            println!("{number}: codes fill SMS prompts on {s}");
        }
        InboxCommand::Unbind { number, site: s } => {
            let (number, s) = (e164(&number)?, site(&s)?);
            vault.unbind_sms_inbox(actor, &number, &s)?;
            println!("{number}: no longer bound to {s}");
        }
        InboxCommand::Grant {
            number,
            group,
            level,
        } => {
            let number = e164(&number)?;
            vault.grant_sms_inbox(actor, &number, &group, level)?;
            println!("{number}: {group} is {level}");
        }
        InboxCommand::Revoke { number, group } => {
            let number = e164(&number)?;
            vault.revoke_sms_inbox(actor, &number, &group)?;
            println!("{number}: {group} has no grant");
        }
        InboxCommand::List => {
            for inbox in vault.sms_inboxes(actor)? {
                let grants: Vec<String> = inbox
                    .grants
                    .iter()
                    .map(|(g, level)| format!("{g}={level}"))
                    .collect();
                println!(
                    "{}\tsites: {}\tgrants: {}",
                    inbox.number,
                    inbox.sites.join(", "),
                    grants.join(", ")
                );
            }
        }
        InboxCommand::Purge { number } => {
            let number = e164(&number)?;
            let n = vault.purge_sms_inbox(actor, &number)?;
            println!("{number}: {n} messages purged");
        }
    }
    Ok(())
}

fn audit(vault: &Vault, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Tail { lines } => {
            let after = (vault.audit_head_seq()? - lines.max(0)).max(0);
            for r in vault.audit_records(after, lines.max(0))? {
                let e = &r.event;
                // Devices choose origins (and refused ones are recorded as
                // sent): escaped, no field can break the line or the tabs.
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.seq,
                    rfc3339(r.time_ms),
                    printable(&e.user),
                    e.action.as_str(),
                    if e.success { "ok" } else { "refused" },
                    printable(e.token_label.as_deref().unwrap_or("-")),
                    printable(e.origin.as_deref().unwrap_or("-")),
                    printable(e.reason.as_deref().unwrap_or(""))
                );
            }
            Ok(())
        }
        AuditCommand::Verify => {
            let chain = vault.verify_audit(None)?;
            // Both checks run, so one report names every problem.
            let authz = vault.verify_authorization()?;
            if chain.problem.is_none() {
                println!("audit log OK: {} records", chain.records);
                println!("anchor: {}:{}", chain.head_seq, chain.head_mac);
            }
            if authz.is_intact() {
                println!("authorization rows OK: {} rows", authz.rows);
            } else {
                println!(
                    "authorization rows TAMPERED: {} of {} rows were changed outside twofill and are refused; restore them from a backup",
                    authz.tampered.len(),
                    authz.rows
                );
                for t in &authz.tampered {
                    println!("  {}: {}", t.table, t.row);
                }
            }
            match chain.problem {
                Some(p) => bail!("audit log TAMPERED at record {}: {}", p.seq, p.what),
                None if !authz.is_intact() => {
                    bail!(
                        "authorization rows TAMPERED (listed above); nothing is decided from them"
                    )
                }
                None => Ok(()),
            }
        }
        AuditCommand::Stream { .. } => unreachable!("`audit stream` is run before the vault opens"),
    }
}

fn init(
    dir: &Path,
    database: Option<String>,
    hostnames: Vec<String>,
    keys: &KeyOverrides,
) -> Result<()> {
    if dir.join(CONFIG_FILE).exists() {
        bail!(
            "{} already holds a twofill server (its {CONFIG_FILE}); devices pin its CA, so it is left as it is",
            dir.display()
        );
    }
    create_private_dir(dir)?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    let database = match database {
        Some(url) => {
            url.parse::<Database>()?;
            url
        }
        None => format!("sqlite:{}", dir.join(SQLITE_FILE).display()),
    };
    let config = ServerConfig {
        database,
        hostnames,
        key: KeyConfig {
            file: keys.key_file.clone(),
            passphrase_env: keys.passphrase_env.clone(),
        },
        policy: PolicyConfig::default(),
        rate_limit: RateLimitConfig::default(),
        limits: Limits::default(),
        siem: Default::default(),
        sso: None,
        sms: Default::default(),
    };
    let state = State {
        dir: dir.clone(),
        config,
    };
    // Fail before writing anything when the database or key is unusable.
    open(&state, keys)?;
    let ca = Ca::create(&dir)?;
    let text = format!(
        "# twofill-server's config, written by `twofill-server init`.\n\
         # Devices pin this server's CA ({}/ca.pem); keep ca.key and the data key backed up, apart.\n\n{}",
        dir.display(),
        toml::to_string(&state.config).context("cannot write the config")?
    );
    write_private(&dir.join(CONFIG_FILE), text.as_bytes())?;
    println!(
        "initialised {} (database {}, CA pin {})",
        dir.display(),
        state.database()?.describe(),
        twofill_vault::audit::hex(&ca.pin())
    );
    println!(
        "next: `twofill-server admin add NAME --state {0}`, then `twofill-server serve --state {0}`",
        dir.display()
    );
    Ok(())
}

pub(crate) fn opener(state: &State, keys: &KeyOverrides) -> Result<Opener> {
    Ok(Opener {
        database: state.database()?,
        protection: state.protection(keys)?,
        policy: state.policy(),
        rate_limit: state.config.rate_limit,
    })
}

fn open(state: &State, keys: &KeyOverrides) -> Result<Vault> {
    let opener = opener(state, keys)?;
    opener
        .open()
        .with_context(|| format!("cannot open the vault at {}", opener.database.describe()))
}

fn serve(state: &State, keys: &KeyOverrides, listen: &str) -> Result<()> {
    let pool = Arc::new(VaultPool::new(
        opener(state, keys)?,
        state.config.limits.vault_handles,
    ));
    pool.warm()
        .context("cannot open the vault; check the database and the data key")?;
    let streamer = crate::siem::spawn_streamer(state, opener(state, keys)?)?;
    let sso = match &state.config.sso {
        Some(config) => {
            config.check().with_context(|| {
                format!(
                    "{} has a bad [sso] section",
                    state.dir.join(CONFIG_FILE).display()
                )
            })?;
            Some(Arc::new(crate::sso::Sso::new(config.clone())))
        }
        None => None,
    };
    let sms = &state.config.sms;
    let providers = sms.check().with_context(|| {
        format!(
            "{} has a bad [sms] section",
            state.dir.join(CONFIG_FILE).display()
        )
    })?;
    let retention_ms = providers.retention_ms;
    let intake = [
        providers.twilio.is_some(),
        providers.vonage.is_some(),
        providers.gateway.is_some(),
        providers.forwarder.is_some(),
    ]
    .contains(&true)
    .then(|| crate::sms::Intake::new(providers));
    let arrivals = Arc::new(crate::sms::Arrivals::default());
    if let Database::Postgres(url) = &opener(state, keys)?.database {
        crate::sms::spawn_listener(url.clone(), Arc::clone(&arrivals));
    }
    let ca = Ca::load(&state.dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let app = App {
            codes: CodeBatcher::spawn(
                Arc::clone(&pool),
                state.config.limits.max_connections,
                state.config.limits.code_batch,
            ),
            pool,
            ca,
            limits: state.config.limits,
            sso,
            sms: intake,
            arrivals: Arc::clone(&arrivals),
        };
        crate::sms::spawn_retention(Arc::clone(&app.pool), retention_ms);
        let tls = crate::serve::tls_config(&app, &state.config.hostnames)?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}{addr}", twofill_words::SERVER_LISTENING)?;
        out.flush()?;
        drop(out);
        crate::serve::run(
            Arc::new(app),
            listener,
            tls,
            crate::serve::shutdown_signal(),
        )
        .await;
        anyhow::Ok(())
    })?;
    // Requests' vault work still on the blocking pool finishes first.
    drop(runtime);
    if let Some(streamer) = streamer {
        streamer.stop();
    }
    eprintln!("twofill-server: stopped");
    Ok(())
}

/// The admin a CLI change is made by: `--by`, or the vault's only admin.
fn actor(vault: &Vault, by: Option<String>) -> Result<String> {
    if let Some(by) = by {
        return Ok(by);
    }
    let admins: Vec<String> = vault
        .users()?
        .into_iter()
        .filter(|u| u.admin)
        .map(|u| u.name)
        .collect();
    match admins.as_slice() {
        [only] => Ok(only.clone()),
        [] => bail!("this server has no admin yet; make one with `twofill-server admin add NAME`"),
        several => bail!(
            "name the admin making this change with --by ({})",
            several.join(", ")
        ),
    }
}

/// A refusal for want of an admin, with the server CLI's way out (the
/// vault's own message names the host's CLI).
fn hint_by(e: VaultError, usage: &str) -> anyhow::Error {
    match &e {
        VaultError::Refused(twofill_vault::Refusal::NotAdmin { user }) => anyhow::anyhow!(
            "{user} is not a twofill admin on this server; run `twofill-server {usage}` with an existing admin"
        ),
        _ => e.into(),
    }
}

/// `90s`, `30m`, `24h`, `7d`, or plain seconds.
fn parse_duration(text: &str) -> Result<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 && scale > 0 => Ok(n.saturating_mul(scale)),
        _ => bail!("`{text}` is not a duration; write it like 90s, 30m, 24h or 7d"),
    }
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("24h").unwrap(), 86400);
        assert_eq!(parse_duration("7d").unwrap(), 604800);
        assert_eq!(parse_duration("120").unwrap(), 120);
        for bad in ["", "0h", "h", "1w", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
