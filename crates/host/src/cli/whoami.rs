//! `twofill-host whoami`: who the host thinks you are, which vault and config
//! it uses, the policy in force.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use twofill_protocol::HostPolicy;

use super::{Invocation, JsonFlag, Report, emit};
use crate::config::{self, ConfigSource};

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

pub(super) fn run(cx: Invocation, out: JsonFlag) -> Result<()> {
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
