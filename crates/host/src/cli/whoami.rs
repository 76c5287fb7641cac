//! `twofill-host whoami`: who the host thinks you are, which vault and config
//! it uses, the policy in force.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use twofill_protocol::HostPolicy;

use super::{Invocation, JsonFlag, Report, emit};
use twofill_team_api::{WHOAMI_PATH, WhoAmIReply, WhoAmIRequest};

use crate::config::{self, ConfigSource};
use crate::server::Server;

#[derive(Serialize)]
struct Whoami {
    user: String,
    vault: PathBuf,
    /// Which config is in force, and why.
    config: String,
    managed: bool,
    /// `None` when the vault cannot be opened (whoami still answers).
    admin: Option<bool>,
    policy: HostPolicy,
    audit_sinks: Vec<String>,
}

/// In team server mode: what the server knows about this device.
#[derive(Serialize)]
struct ServerWhoami {
    server: String,
    user: String,
    /// `None` while the server wants a sign-in first.
    admin: Option<bool>,
    device: twofill_team_api::DeviceInfo,
    config: String,
    managed: bool,
    /// The server uses single sign-on.
    sso: bool,
    /// Single sign-on: this device's session (`None`: not signed in).
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<SessionReport>,
}

#[derive(Serialize)]
struct SessionReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<String>,
    user: String,
    groups: Vec<String>,
    /// Unix ms: the ticket's end (renewed by itself).
    expires_at_ms: i64,
    /// Unix ms: the session's end (sign in again then).
    session_max_at_ms: i64,
    /// Unix ms: the last sign-in at the identity provider.
    signed_in_at_ms: i64,
}

pub(super) fn run(cx: Invocation, out: JsonFlag) -> Result<()> {
    if let Some(target) = cx.settings.server()? {
        return server_whoami(&cx, &target, out);
    }
    let config = match &cx.settings.source {
        ConfigSource::System(p) => format!(
            "{} (system, managed: TWOFILL_CONFIG and TWOFILL_VAULT are ignored)",
            p.display()
        ),
        ConfigSource::User(p) => format!(
            "{} (TWOFILL_CONFIG; no system config at {})",
            p.display(),
            config::system_config_path().display()
        ),
        ConfigSource::Defaults => format!(
            "built-in defaults (no system config at {})",
            config::system_config_path().display()
        ),
    };
    let admin = cx.vault().and_then(|v| Ok(v.is_admin(&cx.user)?)).ok();
    let report = Whoami {
        user: cx.user.clone(),
        vault: cx.settings.vault.clone(),
        config,
        managed: cx.settings.managed(),
        admin,
        policy: config::wire_policy(cx.settings.config.policy),
        audit_sinks: cx.settings.audit_sinks(),
    };
    emit(out, &report)
}

/// Asks the server (over mutual TLS, as this device).
fn server_whoami(cx: &Invocation, target: &config::ServerTarget, out: JsonFlag) -> Result<()> {
    let config = cx.settings.config_display();
    let fail = |e: twofill_protocol::ErrorBody| anyhow::anyhow!("{}", e.message);
    let server = Server::open(target, &config).map_err(fail)?;
    let me: WhoAmIReply = match server.call_signed_in(WHOAMI_PATH, &WhoAmIRequest::default()) {
        Ok(me) => me,
        // Signed out of a server that requires it: still say who this
        // device is (this computer's copy) and that a sign-in is due.
        Err(e) if crate::server::sso::is_sign_in_code(e.code) => {
            let enrollment = server.enrollment().clone();
            let report = ServerWhoami {
                server: server.url(),
                user: enrollment.user,
                admin: None,
                device: enrollment.device,
                config,
                managed: cx.settings.managed(),
                sso: true,
                session: None,
            };
            return emit(out, &report);
        }
        Err(e) => return Err(fail(e)),
    };
    // What the server says of the session this request carried; the
    // organization's name is from this computer's copy.
    let org = server.session().and_then(|s| s.org_name);
    let sso_offered = me.session.is_some() || server.sso_config().is_ok_and(|c| c.enabled);
    let session = me.session.map(|s| SessionReport {
        org,
        user: s.user,
        groups: s.groups,
        expires_at_ms: s.expires_at_ms,
        session_max_at_ms: s.session_max_at_ms,
        signed_in_at_ms: s.signed_in_at_ms,
    });
    let report = ServerWhoami {
        server: server.url(),
        user: me.user,
        admin: Some(me.admin),
        device: me.device,
        config,
        managed: cx.settings.managed(),
        sso: sso_offered,
        session,
    };
    emit(out, &report)
}

impl Report for ServerWhoami {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "user:   {}", self.user)?;
        writeln!(
            out,
            "server: {} (team server mode; no local vault)",
            self.server
        )?;
        writeln!(out, "device: {} ({})", self.device.id, self.device.name)?;
        match self.admin {
            Some(admin) => writeln!(out, "admin:  {}", if admin { "yes" } else { "no" })?,
            None => writeln!(out, "admin:  (known once you sign in)")?,
        }
        match &self.session {
            Some(s) => {
                let at = twofill_siem::format::rfc3339_utc;
                writeln!(
                    out,
                    "signed in: {}{} since {}",
                    s.user,
                    s.org
                        .as_deref()
                        .map(|o| format!(" at {o}"))
                        .unwrap_or_default(),
                    at(s.signed_in_at_ms)
                )?;
                if !s.groups.is_empty() {
                    writeln!(out, "groups: {}", s.groups.join(", "))?;
                }
                writeln!(
                    out,
                    "session: ticket until {} (renewed by itself), sign in again after {}",
                    at(s.expires_at_ms),
                    at(s.session_max_at_ms)
                )?;
            }
            None if self.sso => writeln!(out, "signed in: no; sign in with `twofill-host login`")?,
            None => {}
        }
        writeln!(
            out,
            "config: {}{}",
            self.config,
            if self.managed {
                " (system, managed)"
            } else {
                ""
            }
        )
    }
}

impl Report for Whoami {
    fn human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let allowed = |yes: bool| if yes { "allowed" } else { "not allowed" };
        writeln!(out, "user:   {}", self.user)?;
        writeln!(out, "vault:  {}", self.vault.display())?;
        writeln!(out, "config: {}", self.config)?;
        if let Some(a) = self.admin {
            writeln!(out, "admin:  {}", if a { "yes" } else { "no" })?;
        }
        writeln!(
            out,
            "policy: personal tokens {}; seed reveal {}",
            allowed(self.policy.allow_personal_tokens),
            allowed(self.policy.allow_seed_reveal)
        )?;
        if !self.audit_sinks.is_empty() {
            writeln!(out, "audit:  streamed to {}", self.audit_sinks.join(", "))?;
        }
        Ok(())
    }
}
