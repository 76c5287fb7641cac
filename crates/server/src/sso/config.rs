//! `[sso]` in server.toml: the identity provider, the claims to read, the
//! group mapping and the session times. [`SsoConfig::check`] runs at
//! `serve` start, so a bad value stops the server with the key's name.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// Algorithms an ID token may be signed with. Never `none`, never HMAC
/// (an HMAC "signed" with the provider's public key is a classic forgery).
pub const KNOWN_ALGORITHMS: [&str; 8] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoConfig {
    /// The provider's issuer URL, exactly as its ID tokens' `iss` spell it.
    pub issuer: String,
    pub client_id: String,
    /// Where the discovery document is, when not at
    /// `ISSUER/.well-known/openid-configuration` (some providers publish a
    /// policy-specific one). Its `issuer` must still be [`SsoConfig::issuer`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    /// A confidential client's secret; absent for a public client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Or: the environment variable holding it (keeps it out of the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_env: Option<String>,
    /// How the secret travels to the token endpoint: `basic` (HTTP Basic,
    /// the OAuth default) or `post` (form fields).
    #[serde(default = "default_token_auth")]
    pub token_auth: String,
    /// "Sign in to <org_name>" on the laptops.
    #[serde(default = "default_org_name")]
    pub org_name: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: ClaimNames,
    /// Provider group → twofill group. Memberships in the twofill groups
    /// named here follow the claim at every sign-in and refresh.
    #[serde(default)]
    pub group_map: BTreeMap<String, String>,
    /// Members of this provider group are twofill admins (and others are
    /// not, except the last admin, who is never removed by a sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_group: Option<String>,
    /// A device certificate alone gets nothing: every device must sign in.
    #[serde(default)]
    pub required: bool,
    /// A ticket's lifetime; then the host refreshes at the provider, which
    /// is where a leaver is noticed.
    #[serde(default = "default_refresh_minutes")]
    pub refresh_minutes: u64,
    /// Finer-grained override of `refresh_minutes` (tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_seconds: Option<u64>,
    /// No session lasts longer than this without a new sign-in.
    #[serde(default = "default_session_max_hours")]
    pub session_max_hours: u64,
    /// A seed reveal needs a sign-in this recent.
    #[serde(default = "default_reveal_fresh_minutes")]
    pub reveal_fresh_minutes: u64,
    /// Finer-grained override of `reveal_fresh_minutes` (tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal_fresh_seconds: Option<u64>,
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    #[serde(default = "default_leeway_seconds")]
    pub leeway_seconds: u64,
    /// The key set is fetched again for an unknown `kid` at most this often,
    /// so a flood of made-up key ids cannot hammer the provider.
    #[serde(default = "default_jwks_refetch_seconds")]
    pub jwks_refetch_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimNames {
    pub subject: String,
    pub email: String,
    pub groups: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            subject: "sub".into(),
            email: "email".into(),
            groups: "groups".into(),
        }
    }
}

fn default_token_auth() -> String {
    "basic".into()
}
fn default_org_name() -> String {
    "your organization".into()
}
fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile", "offline_access"]
        .map(String::from)
        .to_vec()
}
fn default_refresh_minutes() -> u64 {
    15
}
fn default_session_max_hours() -> u64 {
    12
}
fn default_reveal_fresh_minutes() -> u64 {
    5
}
fn default_algorithms() -> Vec<String> {
    ["RS256", "ES256", "PS256"].map(String::from).to_vec()
}
fn default_leeway_seconds() -> u64 {
    60
}
fn default_jwks_refetch_seconds() -> u64 {
    10
}

impl SsoConfig {
    /// Every value usable, or an error naming the key and what to write.
    pub fn check(&self) -> Result<()> {
        check_url("[sso] issuer", &self.issuer)?;
        if let Some(url) = &self.discovery_url {
            check_url("[sso] discovery_url", url)?;
        }
        if self.client_id.trim().is_empty() {
            bail!(
                "[sso] client_id is empty: write the client id the identity provider gave twofill"
            );
        }
        if !matches!(self.token_auth.as_str(), "basic" | "post") {
            bail!(
                "[sso] token_auth must be \"basic\" or \"post\", not {:?}",
                self.token_auth
            );
        }
        if let Some(var) = &self.client_secret_env
            && std::env::var(var).unwrap_or_default().is_empty()
        {
            bail!(
                "[sso] client_secret_env names {var}, which is not set: set it or remove the key"
            );
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            bail!(
                "[sso] scopes must include \"openid\" (found {:?})",
                self.scopes
            );
        }
        if self.algorithms.is_empty() {
            bail!("[sso] algorithms is empty: use e.g. [\"RS256\", \"ES256\", \"PS256\"]");
        }
        for alg in &self.algorithms {
            if !KNOWN_ALGORITHMS.contains(&alg.as_str()) {
                bail!(
                    "[sso] algorithms: {alg:?} is not allowed (never \"none\" or HMAC); use some of {KNOWN_ALGORITHMS:?}"
                );
            }
        }
        if self.refresh_ms() == 0 {
            bail!("[sso] refresh_minutes must be at least 1");
        }
        if self.session_max_hours == 0 {
            bail!("[sso] session_max_hours must be at least 1");
        }
        for (key, name) in [
            ("[sso.claims] subject", &self.claims.subject),
            ("[sso.claims] email", &self.claims.email),
            ("[sso.claims] groups", &self.claims.groups),
        ] {
            if name.trim().is_empty() {
                bail!("{key} is empty: name the ID token claim to read");
            }
        }
        for (idp, group) in &self.group_map {
            let ok = !group.is_empty()
                && group.len() <= 64
                && group
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
            if !ok {
                bail!(
                    "[sso.group_map] {idp:?} = {group:?}: a twofill group name is 1-64 letters, digits, . _ - @"
                );
            }
        }
        Ok(())
    }

    pub fn client_secret(&self) -> Option<String> {
        match &self.client_secret_env {
            Some(var) => std::env::var(var).ok().filter(|s| !s.is_empty()),
            None => self.client_secret.clone(),
        }
    }

    pub fn discovery_url(&self) -> String {
        self.discovery_url.clone().unwrap_or_else(|| {
            format!(
                "{}/.well-known/openid-configuration",
                self.issuer.trim_end_matches('/')
            )
        })
    }

    pub fn refresh_ms(&self) -> i64 {
        let secs = self.refresh_seconds.unwrap_or(self.refresh_minutes * 60);
        (secs as i64).saturating_mul(1000)
    }

    pub fn session_max_ms(&self) -> i64 {
        (self.session_max_hours as i64).saturating_mul(3_600_000)
    }

    pub fn reveal_fresh_ms(&self) -> i64 {
        let secs = self
            .reveal_fresh_seconds
            .unwrap_or(self.reveal_fresh_minutes * 60);
        (secs as i64).saturating_mul(1000)
    }

    /// The twofill groups the claim maps to, and every group the mapping manages.
    pub fn map_groups(&self, claimed: &[String]) -> (Vec<String>, Vec<String>) {
        let mut managed: Vec<String> = self.group_map.values().cloned().collect();
        managed.sort();
        managed.dedup();
        let mut mapped: Vec<String> = claimed
            .iter()
            .filter_map(|g| self.group_map.get(g).cloned())
            .collect();
        mapped.sort();
        mapped.dedup();
        (mapped, managed)
    }

    pub fn is_admin(&self, claimed: &[String]) -> Option<bool> {
        self.admin_group
            .as_ref()
            .map(|admin| claimed.iter().any(|g| g == admin))
    }
}

/// `https://…`, or `http://` to this machine only (a test provider).
pub fn check_url(key: &str, url: &str) -> Result<()> {
    if url.starts_with("https://") && url.len() > "https://".len() {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = match host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        };
        if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Ok(());
        }
    }
    bail!("{key} = {url:?} must be an https:// URL (http:// only for 127.0.0.1 or localhost)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Result<SsoConfig> {
        let text = format!("issuer = \"https://idp.example\"\nclient_id = \"twofill\"\n{extra}");
        let config: SsoConfig = toml::from_str(&text)?;
        config.check()?;
        Ok(config)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = config("").unwrap();
        assert_eq!(c.refresh_ms(), 15 * 60_000);
        assert_eq!(c.session_max_ms(), 12 * 3_600_000);
        assert_eq!(c.reveal_fresh_ms(), 5 * 60_000);
        assert_eq!(c.algorithms, ["RS256", "ES256", "PS256"]);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (extra, key) in [
            ("algorithms = [\"none\"]", "[sso] algorithms"),
            ("algorithms = [\"HS256\"]", "[sso] algorithms"),
            ("scopes = [\"email\"]", "[sso] scopes"),
            ("refresh_minutes = 0", "[sso] refresh_minutes"),
            ("token_auth = \"jwt\"", "[sso] token_auth"),
            ("[group_map]\nops = \"a b\"", "[sso.group_map]"),
        ] {
            let e = config(extra).unwrap_err().to_string();
            assert!(e.contains(key), "{extra}: {e}");
        }
        let text = "issuer = \"http://idp.example\"\nclient_id = \"x\"\n";
        let e = toml::from_str::<SsoConfig>(text)
            .unwrap()
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("[sso] issuer"), "{e}");
        assert!(check_url("k", "http://127.0.0.1:4000/oidc").is_ok());
        assert!(check_url("k", "http://127.0.0.1.evil.example/").is_err());
    }

    #[test]
    fn groups_map_and_unmapped_ones_are_ignored() {
        let c = config(
            "admin_group = \"tf-admins\"\n[group_map]\nidp-ops = \"ops\"\nidp-fin = \"finance\"",
        )
        .unwrap();
        let claimed = vec!["idp-ops".to_string(), "other".to_string()];
        assert_eq!(
            c.map_groups(&claimed),
            (
                vec!["ops".to_string()],
                vec!["finance".to_string(), "ops".to_string()]
            )
        );
        assert_eq!(c.is_admin(&claimed), Some(false));
        assert_eq!(c.is_admin(&["tf-admins".to_string()]), Some(true));
    }
}
