//! Host configuration: where the vault is, how its key is protected, and
//! how the current user is determined.
//!
//! A *system* config (`/etc/twofill/host.toml`; `%ProgramData%\twofill\host.toml`
//! on Windows; `/Library/Application Support/twofill/host.toml` on macOS) is
//! written by IT and wins outright: when it exists, the per-user overrides
//! (`TWOFILL_CONFIG`, `TWOFILL_VAULT`) are ignored, because the browser — and
//! with it the host — inherits the user's environment. Without one, the host
//! is in personal mode and honours those variables (that is how tests and
//! the demo get isolated vaults).
//!
//! ```toml
//! vault = "/var/lib/twofill/vault.sqlite3"
//! key = { file = "/var/lib/twofill/vault.key" }   # or "keyring", or "passphrase";
//!                                                 # default: keyring if usable, else a key file
//! user = "os"                                     # or { env = "TWOFILL_USER" }
//!
//! [rate_limit]            # code fills per user and origin (see ratelimit.rs)
//! codes = 10              # at most this many in `window_seconds` (0: no limit)
//! window_seconds = 60
//! burst = 5               # and at most this many in `burst_seconds` (0: no limit)
//! burst_seconds = 10
//!
//! [siem]                  # audit streaming (`twofill-host audit stream`; see twofill_siem::config)
//! [[siem.sink]]
//! kind = "syslog-tcp"     # or "file" (ECS JSON lines), "hec" (Splunk HTTP Event Collector)
//! address = "siem.example:6514"
//! format = "rfc5424"      # or "cef"
//! tls = { ca = "/etc/twofill/siem-ca.pem" }
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use twofill_seal::Protection;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The vault file.
    pub vault: Option<PathBuf>,
    #[serde(default)]
    pub key: KeyConfig,
    #[serde(default)]
    pub user: UserSource,
    /// How many codes a user may have filled per origin.
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// Audit streaming to SIEMs (`[siem]` and `[[siem.sink]]`; see
    /// `twofill_siem::config`). Only the system config's sinks count in
    /// managed mode, so users cannot turn streaming off.
    #[serde(default)]
    pub siem: twofill_siem::SiemConfig,
}

/// Limits on code fills per user and origin, over sliding windows counted
/// from the audit log (see `crate::ratelimit`). A count or a duration of 0
/// turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Fills allowed in `window_seconds`.
    pub codes: u32,
    pub window_seconds: u64,
    /// Fills allowed in `burst_seconds`.
    pub burst: u32,
    pub burst_seconds: u64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            codes: 10,
            window_seconds: 60,
            burst: 5,
            burst_seconds: 10,
        }
    }
}

/// How the vault's data key is protected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyConfig {
    /// A 0600 key file; `None` puts it next to the vault (`vault.key`).
    File(Option<PathBuf>),
    /// The OS keyring (Secret Service, Keychain, Credential Manager).
    Keyring,
    /// A passphrase (Argon2id), from `TWOFILL_PASSPHRASE` or a prompt.
    Passphrase,
    #[default]
    #[serde(skip)]
    Default,
}

/// Who "the current user" is, for grants and the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserSource {
    /// The OS account running the host (from the real uid, not `$USER`).
    #[default]
    Os,
    /// An environment variable, for deployments where an agent sets it.
    Env(String),
}

/// Where the configuration came from, for `whoami` and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    System(PathBuf),
    User(PathBuf),
    Defaults,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub origin: Origin,
    pub vault: PathBuf,
}

pub fn system_config_path() -> PathBuf {
    if let Some(p) = option_env!("TWOFILL_SYSTEM_CONFIG") {
        return p.into();
    }
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        Path::new(&base).join("twofill").join("host.toml")
    } else if cfg!(target_os = "macos") {
        "/Library/Application Support/twofill/host.toml".into()
    } else {
        "/etc/twofill/host.toml".into()
    }
}

fn read(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the twofill config {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid twofill config", path.display()))
}

pub fn load() -> Result<Settings> {
    let system = system_config_path();
    let (config, origin) = if system.exists() {
        (read(&system)?, Origin::System(system))
    } else if let Some(p) = std::env::var_os("TWOFILL_CONFIG").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        (read(&p)?, Origin::User(p))
    } else {
        (Config::default(), Origin::Defaults)
    };
    let managed = matches!(origin, Origin::System(_));
    let vault = match (&config.vault, std::env::var_os("TWOFILL_VAULT")) {
        (Some(v), _) if managed => v.clone(),
        (_, Some(env)) if !managed && !env.is_empty() => PathBuf::from(env),
        (Some(v), _) => v.clone(),
        (None, _) => dirs::data_dir()
            .context("cannot find the user data directory; set `vault` in the twofill config")?
            .join("twofill")
            .join("vault.sqlite3"),
    };
    Ok(Settings {
        config,
        origin,
        vault,
    })
}

impl Settings {
    pub fn key_file(&self) -> PathBuf {
        match &self.config.key {
            KeyConfig::File(Some(p)) => p.clone(),
            _ => self.vault.with_file_name("vault.key"),
        }
    }

    /// How to unlock the vault. `interactive` allows a passphrase prompt.
    pub fn protection(&self, interactive: bool) -> Result<Protection> {
        let keyring = || Protection::Keyring {
            service: "twofill".into(),
            account: self.vault.display().to_string(),
        };
        Ok(match &self.config.key {
            KeyConfig::File(_) => Protection::KeyFile(self.key_file()),
            KeyConfig::Keyring => keyring(),
            // A new vault goes into the OS keyring when one is usable right
            // now (probing creates the entry the vault will then reuse), and
            // into a 0600 key file otherwise. An existing vault is opened the
            // way it was created, whatever we offer here.
            KeyConfig::Default => {
                let probe = || {
                    twofill_seal::keyring_available().is_ok()
                        && twofill_seal::wrap(&twofill_seal::DataKey::generate(), &keyring())
                            .is_ok()
                };
                if !self.vault.exists()
                    && std::env::var_os("TWOFILL_NO_KEYRING").is_none()
                    && probe()
                {
                    keyring()
                } else {
                    Protection::KeyFile(self.key_file())
                }
            }
            KeyConfig::Passphrase => {
                let pass = match std::env::var("TWOFILL_PASSPHRASE") {
                    Ok(p) if !p.is_empty() => p,
                    _ if interactive => rpassword::prompt_password("twofill vault passphrase: ")
                        .context("cannot read the passphrase")?,
                    _ => bail!(
                        "the vault is passphrase-protected; set TWOFILL_PASSPHRASE for the browser session or switch to `key = \"keyring\"`"
                    ),
                };
                Protection::passphrase(pass)
            }
        })
    }

    pub fn managed(&self) -> bool {
        matches!(self.origin, Origin::System(_))
    }
}
