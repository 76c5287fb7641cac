//! The real `twofill-host` CLI against a session's vault: what an admin
//! does (enroll, bind, grant) and what the tests read back (the audit log).
//! Both browser sessions use it, with the environment their browser gives
//! the host it launches, so the CLI and the browser-launched host see the
//! same vault as the same user.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::{oathtool_codes, unix_now};
use twofill_words::{Access, AuditAction};

#[derive(Debug, Clone)]
pub struct HostCli {
    bin: PathBuf,
    vault: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl HostCli {
    /// `twofill-host` at `bin` on the vault file `vault` (`TWOFILL_VAULT`).
    pub fn new(bin: &Path, vault: &Path) -> HostCli {
        HostCli {
            bin: bin.to_owned(),
            vault: vault.to_owned(),
            env: Vec::new(),
        }
    }

    /// Also sets `key=value` for every command (e.g. the session's `HOME`).
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> HostCli {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn vault(&self) -> &Path {
        &self.vault
    }

    /// The command with this session's environment, not yet run.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env("TWOFILL_VAULT", &self.vault);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `twofill-host args…` as the current OS user (the same identity
    /// the browser-launched host resolves); its stdout.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command()
            .args(args)
            .output()
            .with_context(|| format!("cannot run {}", self.bin.display()))?;
        ensure!(
            out.status.success(),
            "twofill-host {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Enrolls a TOTP token as an admin would (confirming its first code
    /// with oathtool's), binds it to `sites`, and grants the current user
    /// `access` through a group. Returns the token id.
    pub fn enroll(
        &self,
        issuer: &str,
        seed: &str,
        sites: &[&str],
        access: Access,
    ) -> Result<String> {
        let uri = format!("otpauth://totp/{issuer}:team@example.com?secret={seed}&issuer={issuer}");
        let now = unix_now();
        let code = oathtool_codes(seed, now, now)?.remove(0);
        self.enroll_uri(&uri, &code, sites, access)
    }

    /// Like [`HostCli::enroll`] for any otpauth URI, with the confirmation
    /// code supplied by the caller.
    pub fn enroll_uri(
        &self,
        uri: &str,
        code: &str,
        sites: &[&str],
        access: Access,
    ) -> Result<String> {
        let id = self.add_token(&["--uri", uri], code, sites)?;
        let me: Value = serde_json::from_str(&self.run(&["whoami", "--json"])?)?;
        let me = me["user"]
            .as_str()
            .context("whoami has no user")?
            .to_owned();
        if !self.run(&["group", "list"])?.contains("team") {
            self.run(&["group", "add", "team"])?;
            self.run(&["group", "add-member", "team", &me])?;
        }
        self.run(&["grant", "set", &id, "team", access.as_str()])?;
        Ok(id)
    }

    /// `token add` from `source` (`--uri …` or `--qr …`), confirmed with
    /// `code`, bound to `sites`; the new token's id. The test sites run on
    /// a free port, so a site written without one is bound on every port
    /// (`host:*`; a bare binding covers only the default port).
    pub fn add_token(&self, source: &[&str], code: &str, sites: &[&str]) -> Result<String> {
        let sites: Vec<String> = sites.iter().map(|s| on_every_port(s)).collect();
        let mut args = vec!["token", "add"];
        args.extend(source);
        args.extend(["--confirm-code", code, "--json"]);
        for s in &sites {
            args.extend(["--site", s.as_str()]);
        }
        let added: Value = serde_json::from_str(&self.run(&args)?)?;
        Ok(added[0]["id"]
            .as_str()
            .context("unexpected `token add` output")?
            .to_owned())
    }

    /// The vault's audit log, one ECS record per entry (`audit export`).
    pub fn audit(&self) -> Result<Vec<Value>> {
        self.run(&["audit", "export"])?
            .lines()
            .map(|l| {
                serde_json::from_str(l).context("`audit export` printed a line that is not JSON")
            })
            .collect()
    }

    /// The `code.fill` records (successes and refusals).
    pub fn fill_records(&self) -> Result<Vec<Value>> {
        Ok(self
            .audit()?
            .into_iter()
            .filter(|r| r["event"]["action"] == AuditAction::CodeFill.as_str())
            .collect())
    }
}

/// `site` with `:*` when it names no port (the test sites' ports are
/// random; a bare binding covers only the default port).
pub fn on_every_port(site: &str) -> String {
    let authority = site.split_once("://").map_or(site, |(_, rest)| rest);
    let after_host = authority.rfind(']').map_or(authority, |i| &authority[i..]);
    if after_host.contains(':') {
        site.to_owned()
    } else {
        format!("{site}:*")
    }
}
