//! The server's state directory and its `server.toml`: where the vault is,
//! how its data key is protected, the names the server answers to, the
//! organization policy, the rate limit, the connection limits and the SIEM
//! sinks the audit log is streamed to (`[siem]`, the host's section: see
//! `twofill_siem::config`; cursors and leases live in the vault).
//!
//! ```text
//! STATE/server.toml   written by `init` (0600: a PostgreSQL URL may hold a password)
//! STATE/ca.pem        the server's CA certificate (devices pin its SHA-256)
//! STATE/ca.key        its private key (0600)
//! STATE/data.key      the vault's key file (0600), unless a passphrase or a
//!                     service-manager credential protects the data key
//! STATE/vault.db      the SQLite vault, unless `database` names PostgreSQL
//! ```
//!
//! The data key's protection, first match wins: `--passphrase-env VAR`
//! (or `[key] passphrase_env`), `--key-file`, a systemd credential
//! (`$CREDENTIALS_DIRECTORY/twofill-data-key`, a key file the service
//! manager decrypts for us: `LoadCredentialEncrypted=`), `[key] file`,
//! `STATE/data.key`. A KMS would be one more
//! `twofill_seal::Protection`; nothing here would change.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use twofill_seal::Protection;
use twofill_vault::{Policy, RateLimit, Vault};

pub const CONFIG_FILE: &str = "server.toml";
pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";
pub const DATA_KEY_FILE: &str = "data.key";
pub const SQLITE_FILE: &str = "vault.db";
/// The systemd credential holding the data key's key file.
pub const CREDENTIAL_NAME: &str = "twofill-data-key";

/// Names the server certificate always carries besides `--hostname`s, so
/// that the server machine can always reach itself.
pub const ALWAYS_HOSTNAMES: [&str; 2] = ["localhost", "127.0.0.1"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `sqlite:PATH` or `postgres://user@host:port/database`.
    pub database: String,
    /// DNS names and IP addresses in the server certificate.
    pub hostnames: Vec<String>,
    #[serde(default)]
    pub key: KeyConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    #[serde(default)]
    pub limits: Limits,
    /// Written by hand, never by `init` (so not serialized).
    #[serde(default, skip_serializing)]
    pub siem: twofill_siem::SiemConfig,
    /// Single sign-on (`[sso]`), written by hand like `[siem]`.
    #[serde(default, skip_serializing)]
    pub sso: Option<crate::sso::SsoConfig>,
    /// The shared SMS inbox's providers (`[sms]`), written by hand too.
    #[serde(default, skip_serializing)]
    pub sms: crate::sms::SmsConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The key file (default `STATE/data.key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The environment variable holding the passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_env: Option<String>,
}

/// The organization's policy (`[policy]`), enforced by the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    pub allow_personal_tokens: bool,
    pub allow_seed_reveal: bool,
    /// Admins see a warning on a token with this many unused recovery
    /// codes or fewer.
    pub recovery_codes_warn_at: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let p = Policy::default();
        PolicyConfig {
            allow_personal_tokens: p.allow_personal_tokens,
            allow_seed_reveal: p.allow_seed_reveal,
            recovery_codes_warn_at: p.recovery_codes_warn_at,
        }
    }
}

impl From<PolicyConfig> for Policy {
    fn from(p: PolicyConfig) -> Policy {
        Policy {
            allow_personal_tokens: p.allow_personal_tokens,
            allow_seed_reveal: p.allow_seed_reveal,
            recovery_codes_warn_at: p.recovery_codes_warn_at,
        }
    }
}

/// Code fills per user and token (the host's defaults), counted by the
/// vault inside its write transaction, so the limit holds across replicas;
/// 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub codes: u32,
    pub window_seconds: u32,
    pub burst: u32,
    pub burst_seconds: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            codes: 10,
            window_seconds: 60,
            burst: 5,
            burst_seconds: 10,
        }
    }
}

impl From<RateLimitConfig> for RateLimit {
    fn from(r: RateLimitConfig) -> RateLimit {
        RateLimit {
            codes: r.codes,
            window_seconds: r.window_seconds,
            burst: r.burst,
            burst_seconds: r.burst_seconds,
        }
    }
}

/// What a client may cost the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// A TLS handshake not finished in this time is dropped.
    pub tls_handshake_ms: u64,
    /// A request whose headers have not all arrived in this time is dropped
    /// (also the keep-alive idle time).
    pub header_read_ms: u64,
    /// A request's body must have arrived within this (else 408); its
    /// whole answer gets twice this (else 503, as for a database outage).
    pub request_ms: u64,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// Vault handles (database connections) used at once.
    pub vault_handles: usize,
    /// Code requests answered by one transaction at most (group commit:
    /// their records share one durable commit). 1 commits every code alone.
    pub code_batch: usize,
    /// An invite's lifetime when the admin names none.
    pub invite_ttl_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            tls_handshake_ms: 10_000,
            header_read_ms: 10_000,
            request_ms: 30_000,
            max_connections: 1024,
            vault_handles: 4,
            code_batch: 256,
            invite_ttl_secs: 24 * 3600,
        }
    }
}

impl Limits {
    pub fn tls_handshake(&self) -> Duration {
        Duration::from_millis(self.tls_handshake_ms)
    }
    pub fn header_read(&self) -> Duration {
        Duration::from_millis(self.header_read_ms)
    }
    pub fn request(&self) -> Duration {
        Duration::from_millis(self.request_ms)
    }
}

/// Where the vault lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl FromStr for Database {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Database> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            if path.is_empty() {
                bail!("`sqlite:` needs a path, e.g. sqlite:/var/lib/twofill-server/vault.db");
            }
            Ok(Database::Sqlite(PathBuf::from(path)))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Database::Postgres(s.to_owned()))
        } else {
            bail!(
                "`{}` is not a database this server knows: use sqlite:PATH or postgres://user@host:port/database",
                redact(s)
            )
        }
    }
}

impl Database {
    pub fn open(&self, protection: &Protection) -> twofill_vault::Result<Vault> {
        match self {
            Database::Sqlite(path) => Vault::open(path, protection),
            Database::Postgres(url) => Vault::open_postgres(url, protection),
        }
    }

    /// For messages: a PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite:{}", path.display()),
            Database::Postgres(url) => redact(url),
        }
    }
}

/// A URL with any `user:password@` reduced to `user@`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The data key's protection as given on the command line, over the config's.
#[derive(Debug, Clone, Default)]
pub struct KeyOverrides {
    pub key_file: Option<PathBuf>,
    pub passphrase_env: Option<String>,
}

/// One state directory: its config and the files beside it.
#[derive(Debug, Clone)]
pub struct State {
    pub dir: PathBuf,
    pub config: ServerConfig,
}

impl State {
    pub fn load(dir: &Path) -> Result<State> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}; create the server's state with `twofill-server init --state {}`",
                path.display(),
                dir.display()
            )
        })?;
        let config: ServerConfig = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid twofill-server config", path.display()))?;
        Ok(State {
            dir: dir.to_owned(),
            config,
        })
    }

    pub fn database(&self) -> Result<Database> {
        self.config.database.parse()
    }

    pub fn protection(&self, overrides: &KeyOverrides) -> Result<Protection> {
        let credential = std::env::var_os("CREDENTIALS_DIRECTORY")
            .map(|dir| PathBuf::from(dir).join(CREDENTIAL_NAME))
            .filter(|p| p.exists());
        if let Some(var) = overrides.passphrase_env.as_ref().or(self
            .config
            .key
            .passphrase_env
            .as_ref())
        {
            let pass = std::env::var(var).unwrap_or_default();
            if pass.is_empty() {
                bail!(
                    "the data key is protected by a passphrase: set the environment variable {var}"
                );
            }
            return Ok(Protection::passphrase(pass));
        }
        let file = (overrides.key_file.clone())
            .or(credential)
            .or_else(|| self.config.key.file.clone())
            .unwrap_or_else(|| self.dir.join(DATA_KEY_FILE));
        Ok(Protection::KeyFile(file))
    }

    pub fn policy(&self) -> Policy {
        self.config.policy.into()
    }
}

/// Writes `contents` to a new file only its owner can read.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_parse_and_passwords_stay_out_of_messages() {
        assert_eq!(
            "sqlite:/x/v.db".parse::<Database>().unwrap(),
            Database::Sqlite("/x/v.db".into())
        );
        let pg: Database = "postgres://app:s3cret@db:5432/tf".parse().unwrap();
        assert_eq!(pg.describe(), "postgres://app@db:5432/tf");
        let err = "mysql://root:s3cret@db/x".parse::<Database>().unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(err.to_string().contains("sqlite:PATH"), "{err}");
    }

    #[test]
    fn the_default_config_round_trips() {
        let config = ServerConfig {
            database: "sqlite:/s/vault.db".into(),
            hostnames: vec!["vault.example".into()],
            key: KeyConfig::default(),
            policy: PolicyConfig::default(),
            rate_limit: RateLimitConfig::default(),
            limits: Limits::default(),
            siem: twofill_siem::SiemConfig::default(),
            sso: None,
            sms: Default::default(),
        };
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<ServerConfig>(&text).unwrap(), config);
    }

    #[test]
    fn siem_sinks_are_read_from_the_siem_section() {
        let text = "database = \"sqlite:/s/vault.db\"\nhostnames = []\n\
                    [siem]\nlease_ms = 5000\n\
                    [[siem.sink]]\nkind = \"file\"\npath = \"/var/log/twofill/audit.jsonl\"\n";
        let config: ServerConfig = toml::from_str(text).unwrap();
        assert_eq!(config.siem.lease_ms, 5000);
        assert_eq!(config.siem.sinks[0].name(), "file");
        let typo = text.replace("lease_ms", "lease_msec");
        assert!(toml::from_str::<ServerConfig>(&typo).is_err());
    }
}
