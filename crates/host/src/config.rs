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
//! The organization's `[policy]` comes from the config in force: in managed
//! mode the system config's (users cannot loosen it), in personal mode the
//! user's own, whose defaults already allow everything, so it can only
//! restrict.
//!
//! ```toml
//! vault = "/var/lib/twofill/vault.sqlite3"
//! key = { file = "/var/lib/twofill/vault.key" }   # or "keyring", or "passphrase";
//!                                                 # default: keyring if usable, else a key file
//! user = "os"                                     # or { env = "TWOFILL_USER" }
//!
//! [rate_limit]            # code fills per user and token (the vault counts them)
//! codes = 10              # at most this many in `window_seconds` (0: no limit)
//! window_seconds = 60
//! burst = 5               # and at most this many in `burst_seconds` (0: no limit)
//! burst_seconds = 10
//!
//! [policy]                      # what the organization allows (default: both true)
//! allow_personal_tokens = false # users' own tokens: not added, listed or used
//! allow_seed_reveal = false     # no seed reveal/QR/export, even for full-seed grants
//! recovery_codes_warn_at = 2    # admins warned at this many unused recovery codes
//!
//! [server]                # team server mode (written by `twofill-host join`): codes
//! url = "https://vault.example:8443"  # come from this server over mutual TLS and
//! identity = "/path/dir"  # no local vault is opened; the device identity's directory
//!                         # (default: the user's data dir, twofill/device)
//!
//! [siem]                  # audit streaming (`twofill-host audit stream`; see twofill_siem::config)
//! [[siem.sink]]
//! kind = "syslog-tcp"     # or "file" (ECS JSON lines), "hec" (Splunk HTTP Event Collector)
//! address = "siem.example:6514"
//! format = "rfc5424"      # or "cef"
//! tls = { ca = "/etc/twofill/siem-ca.pem" }
//! ```

use std::ffi::OsString;
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
    /// What the organization allows beyond grants (`[policy]`).
    #[serde(default)]
    pub policy: Policy,
    /// Team server mode (`[server]`): the host is a thin client of this
    /// server and never opens a local vault. In managed mode only the
    /// system config's counts, so users cannot turn it off or redirect it.
    pub server: Option<ServerConfig>,
}

/// The `[server]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `https://host[:port]`.
    pub url: String,
    /// The directory of this device's key, certificate and pinned CA;
    /// default [`default_identity_dir`].
    pub identity: Option<PathBuf>,
}

/// Team server mode as resolved from the config in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTarget {
    pub url: String,
    pub identity: PathBuf,
}

/// Where `join` keeps the device identity unless `[server] identity` says
/// otherwise: per OS user, beside the personal vault's default place.
pub fn default_identity_dir() -> Result<PathBuf> {
    Ok(dirs::data_dir()
        .context("cannot find the user data directory; set `identity` in the [server] table of the twofill config")?
        .join("twofill")
        .join("device"))
}

/// The user's own config when `TWOFILL_CONFIG` is not set.
pub fn default_user_config_path() -> Option<PathBuf> {
    Some(dirs::config_dir()?.join("twofill").join("host.toml"))
}

/// The organization's policy (`[policy]`), enforced by the vault.
pub use twofill_vault::Policy;

/// The policy as the host reports it to the extension in `hello`.
pub fn wire_policy(policy: Policy) -> twofill_protocol::HostPolicy {
    twofill_protocol::HostPolicy {
        allow_personal_tokens: policy.allow_personal_tokens,
        allow_seed_reveal: policy.allow_seed_reveal,
    }
}

/// Limits on code fills per user and token, over sliding windows counted
/// from the audit log by the vault (`twofill_vault::RateLimit`). A count or
/// a duration of 0 turns that limit off.
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

impl RateLimit {
    /// The limit as the vault applies it (durations past `u32::MAX`
    /// seconds, some 136 years, are that long).
    pub fn for_vault(self) -> twofill_vault::RateLimit {
        let secs = |s: u64| u32::try_from(s).unwrap_or(u32::MAX);
        twofill_vault::RateLimit {
            codes: self.codes,
            window_seconds: secs(self.window_seconds),
            burst: self.burst,
            burst_seconds: secs(self.burst_seconds),
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

/// Which config file is in force (not a browser origin: that is
/// `twofill_vault::Origin`), for `whoami` and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    System(PathBuf),
    User(PathBuf),
    Defaults,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub source: ConfigSource,
    pub vault: PathBuf,
}

/// Says so (on stderr) when the vault file or its `-wal`/`-shm` files can
/// be read by other users: a new vault is 0600, an older or copied one may
/// not be. Their seeds are sealed, but names, bindings and the audit log
/// are not.
fn warn_if_readable_by_others(vault: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let name = vault.file_name().unwrap_or_default().to_string_lossy();
        for suffix in ["", "-wal", "-shm"] {
            let path = vault.with_file_name(format!("{name}{suffix}"));
            if let Ok(meta) = std::fs::metadata(&path)
                && meta.permissions().mode() & 0o077 != 0
            {
                eprintln!(
                    "warning: {} can be read by other users (mode {:04o}); run `chmod 600 {}`",
                    path.display(),
                    meta.permissions().mode() & 0o7777,
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = vault;
}

/// The system config's location is a deployment fact: one home, in the
/// install crate, for the file admins deploy and the host reads.
pub use twofill_install::system_config_path;

fn read(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the twofill config {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid twofill config", path.display()))
}

pub fn load() -> Result<Settings> {
    load_from(
        &system_config_path(),
        default_user_config_path().as_deref(),
        |name| std::env::var_os(name),
    )
}

/// [`load`] with the system config at `system`, the user's default config
/// at `user_default` and the environment read through `env` (so tests can
/// put all three where they like).
pub(crate) fn load_from(
    system: &Path,
    user_default: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<Settings> {
    let (config, source) = if system.exists() {
        (read(system)?, ConfigSource::System(system.to_owned()))
    } else if let Some(p) = env("TWOFILL_CONFIG").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        (read(&p)?, ConfigSource::User(p))
    } else if let Some(p) = user_default.filter(|p| p.exists()) {
        (read(p)?, ConfigSource::User(p.to_owned()))
    } else {
        (Config::default(), ConfigSource::Defaults)
    };
    let managed = matches!(source, ConfigSource::System(_));
    let vault = match (&config.vault, env("TWOFILL_VAULT")) {
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
        source,
        vault,
    })
}

impl Settings {
    /// The PostgreSQL URL when `vault` names a database rather than a file
    /// (an admin on the team server's machine managing its store).
    pub fn vault_database_url(&self) -> Option<&str> {
        let text = self.vault.to_str()?;
        (text.starts_with("postgres://") || text.starts_with("postgresql://")).then_some(text)
    }

    /// Opens the vault `vault` names, a file or a PostgreSQL database, with
    /// `protection`. A database has no directory to keep a default key
    /// file in, so it needs `key = { file = … }` (or a passphrase).
    pub fn open_vault(&self, protection: &Protection) -> Result<twofill_vault::Vault> {
        Ok(match self.vault_database_url() {
            Some(url) => {
                if matches!(self.config.key, KeyConfig::Default | KeyConfig::File(None)) {
                    bail!(
                        "the vault is the PostgreSQL database {url}; say where its key file is with `key = {{ file = \"…\" }}` in {} (on a team server: STATE/data.key)",
                        self.config_display()
                    );
                }
                twofill_vault::Vault::open_postgres(url, protection)?
            }
            None => {
                if let Protection::KeyFile(key) = protection
                    && !self.vault.exists()
                    && key.exists()
                {
                    bail!(
                        "the vault {} does not exist but its key file {} does: the vault was moved, deleted or is on a disk that is not mounted. Point `vault` in {} (or TWOFILL_VAULT) at it, or restore it from a backup; nothing was created. Only to start a new, empty vault, move the key file aside first",
                        self.vault.display(),
                        key.display(),
                        self.config_display()
                    );
                }
                let vault = twofill_vault::Vault::open(&self.vault, protection)?;
                warn_if_readable_by_others(&self.vault);
                vault
            }
        })
    }

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
                    && self.vault_database_url().is_none()
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
        matches!(self.source, ConfigSource::System(_))
    }

    /// Team server mode: the server and where this device's identity lives
    /// (`None`: personal/local vault mode).
    pub fn server(&self) -> Result<Option<ServerTarget>> {
        let Some(server) = &self.config.server else {
            return Ok(None);
        };
        let identity = match &server.identity {
            Some(dir) => dir.clone(),
            None => default_identity_dir()?,
        };
        Ok(Some(ServerTarget {
            url: server.url.clone(),
            identity,
        }))
    }

    /// The config file in force, for messages ("the server URL in …").
    pub fn source_path(&self) -> Option<&Path> {
        match &self.source {
            ConfigSource::System(p) | ConfigSource::User(p) => Some(p),
            ConfigSource::Defaults => None,
        }
    }

    /// The file to name in messages: the config in force, or where the
    /// user's would be.
    pub fn config_display(&self) -> String {
        self.source_path()
            .map(Path::to_owned)
            .or_else(default_user_config_path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the twofill config".into())
    }

    /// Names of the SIEM sinks the audit log goes to (a sink's `name`, or
    /// its kind), as `audit stream` and its cursors know them.
    pub fn audit_sinks(&self) -> Vec<String> {
        self.config
            .siem
            .sinks
            .iter()
            .map(|s| s.name().to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rate_limit_is_ten_a_minute_and_five_in_ten_seconds() {
        let limit = RateLimit::default().for_vault();
        assert_eq!(
            limit,
            twofill_vault::RateLimit {
                codes: 10,
                window_seconds: 60,
                burst: 5,
                burst_seconds: 10
            }
        );
        assert!(limit.enabled());
        let huge = RateLimit {
            window_seconds: u64::MAX,
            ..RateLimit::default()
        };
        assert_eq!(huge.for_vault().window_seconds, u32::MAX);
    }

    const LOOSE: &str = r#"
vault = "/home/mallory/other.sqlite3"
[policy]
allow_personal_tokens = true
allow_seed_reveal = true
[[siem.sink]]
kind = "file"
name = "mine"
path = "/tmp/nothing.jsonl"
"#;

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            Files {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        }

        /// Loads with the system config at `system` and only the given
        /// environment variables set.
        fn load(&self, system: &Path, env: &[(&str, &Path)]) -> Result<Settings> {
            load_from(system, None, |name| {
                env.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.as_os_str().to_owned())
            })
        }
    }

    #[test]
    fn a_postgresql_vault_needs_its_key_file_named() {
        let f = Files::new();
        let missing = f.dir.path().join("no-system.toml");
        let url = Path::new("postgres://twofill@127.0.0.1:1/team");
        let s = f.load(&missing, &[("TWOFILL_VAULT", url)]).unwrap();
        assert_eq!(s.vault_database_url(), url.to_str());
        let protection = s.protection(false).unwrap();
        let e = s.open_vault(&protection).err().unwrap().to_string();
        assert!(e.contains("key = { file"), "{e}");

        // Named: it is the database it tries (nothing listens on port 1).
        let user = f.write("user.toml", "key = { file = \"/srv/twofill/data.key\" }\n");
        let s = f
            .load(
                &missing,
                &[("TWOFILL_VAULT", url), ("TWOFILL_CONFIG", &user)],
            )
            .unwrap();
        let protection = s.protection(false).unwrap();
        let e = format!("{:#}", s.open_vault(&protection).err().unwrap());
        assert!(!e.contains("key = { file"), "{e}");
        assert!(
            f.load(&missing, &[])
                .unwrap()
                .vault_database_url()
                .is_none()
        );
    }

    #[test]
    fn the_system_policy_wins_over_the_users_config_and_environment() {
        let f = Files::new();
        let system = f.write(
            "system.toml",
            r#"
vault = "/var/lib/twofill/vault.sqlite3"
[policy]
allow_personal_tokens = false
allow_seed_reveal = false
[[siem.sink]]
kind = "syslog-tcp"
name = "soc-syslog"
address = "siem.example:6514"
[[siem.sink]]
kind = "hec"
url = "https://splunk.example:8088/services/collector/event"
token = "t"
"#,
        );
        let user = f.write("user.toml", LOOSE);
        let other_vault = f.dir.path().join("v.sqlite3");
        let s = f
            .load(
                &system,
                &[("TWOFILL_CONFIG", &user), ("TWOFILL_VAULT", &other_vault)],
            )
            .unwrap();
        assert!(s.managed());
        assert_eq!(s.source, ConfigSource::System(system.clone()));
        assert_eq!(
            s.config.policy,
            Policy {
                allow_personal_tokens: false,
                allow_seed_reveal: false,
                ..Policy::default()
            }
        );
        assert!(!wire_policy(s.config.policy).allow_personal_tokens);
        assert_eq!(s.vault, PathBuf::from("/var/lib/twofill/vault.sqlite3"));
        // The unnamed HEC sink is known by its kind, as its cursor is.
        assert_eq!(s.audit_sinks(), ["soc-syslog", "hec"]);

        // A system config that says nothing about policy allows everything,
        // and still the user's config does not count.
        let bare = f.write("bare.toml", "user = \"os\"\n");
        let strict_user = f.write("strict.toml", "[policy]\nallow_seed_reveal = false\n");
        let s = f.load(&bare, &[("TWOFILL_CONFIG", &strict_user)]).unwrap();
        assert_eq!(s.config.policy, Policy::default());
        assert!(s.audit_sinks().is_empty());
    }

    #[test]
    fn without_a_system_config_the_users_policy_can_only_restrict() {
        let f = Files::new();
        let absent = f.dir.path().join("no-system.toml");
        // The defaults allow everything…
        let s = f.load(&absent, &[]).unwrap();
        assert!(!s.managed());
        assert_eq!(s.source, ConfigSource::Defaults);
        assert_eq!(s.config.policy, Policy::default());
        let wire = wire_policy(s.config.policy);
        assert!(wire.allow_personal_tokens && wire.allow_seed_reveal);
        // …so a user's own config can restrict, and "loosening" is a no-op.
        let user = f.write("user.toml", "[policy]\nallow_personal_tokens = false\n");
        let s = f.load(&absent, &[("TWOFILL_CONFIG", &user)]).unwrap();
        assert_eq!(s.source, ConfigSource::User(user.clone()));
        assert!(!s.config.policy.allow_personal_tokens);
        assert!(s.config.policy.allow_seed_reveal);
        let s = f
            .load(&absent, &[("TWOFILL_CONFIG", &f.write("l.toml", LOOSE))])
            .unwrap();
        assert_eq!(s.config.policy, Policy::default());
        assert_eq!(s.audit_sinks(), ["mine"]);
    }

    #[test]
    fn a_system_server_table_cannot_be_turned_off_or_redirected_by_the_user() {
        let f = Files::new();
        let system = f.write(
            "system.toml",
            "[server]\nurl = \"https://vault.corp.example:8443\"\n",
        );
        let identity = f.dir.path().join("mine");
        let elsewhere = f.write(
            "user.toml",
            &format!(
                "[server]\nurl = \"https://evil.example\"\nidentity = {:?}\n",
                identity.display().to_string()
            ),
        );
        let local_only = f.write("local.toml", "vault = \"/tmp/v.sqlite3\"\n");
        for user in [&elsewhere, &local_only] {
            let s = f.load(&system, &[("TWOFILL_CONFIG", user)]).unwrap();
            let target = s.server().unwrap().expect("server mode is forced");
            assert_eq!(target.url, "https://vault.corp.example:8443");
            assert_ne!(target.identity, identity, "the user's table does not count");
        }
        // A managed host without [server] stays local, whatever the user says.
        let bare = f.write("bare.toml", "user = \"os\"\n");
        let s = f.load(&bare, &[("TWOFILL_CONFIG", &elsewhere)]).unwrap();
        assert_eq!(s.server().unwrap(), None);

        // Unmanaged, the user's own config (TWOFILL_CONFIG, else the default
        // user config file) chooses.
        let absent = f.dir.path().join("no-system.toml");
        let s = f.load(&absent, &[("TWOFILL_CONFIG", &elsewhere)]).unwrap();
        let target = s.server().unwrap().unwrap();
        assert_eq!(
            (target.url.as_str(), target.identity),
            ("https://evil.example", identity)
        );
        let s = load_from(&absent, Some(&elsewhere), |_| None).unwrap();
        assert_eq!(s.source, ConfigSource::User(elsewhere.clone()));
        assert!(s.server().unwrap().is_some());
        let s = load_from(&absent, Some(&f.dir.path().join("none.toml")), |_| None).unwrap();
        assert_eq!(s.source, ConfigSource::Defaults);
        assert_eq!(s.server().unwrap(), None);
    }

    #[test]
    fn a_misspelt_policy_is_an_error_not_a_silent_allow() {
        let f = Files::new();
        for text in [
            "[policy]\nallow_personal_token = false\n",
            "[policy]\nallow_seed_reveal = \"no\"\n",
        ] {
            let system = f.write("system.toml", text);
            let err = f.load(&system, &[]).unwrap_err();
            assert!(
                format!("{err:#}").contains("is not a valid twofill config"),
                "{err:#}"
            );
        }
    }
}
