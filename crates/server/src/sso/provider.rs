//! The identity provider over HTTP: its discovery document and key set,
//! fetched once and cached; the key set fetched again when a token names a
//! key it does not hold (key rotation works without a restart), at most
//! once per `jwks_refetch_seconds`, so made-up key ids cannot hammer the
//! provider. Calls block: run them on the blocking pool.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::config::{SsoConfig, check_url};
use super::jwt::{Jwk, parse_jwks};

/// The endpoints the discovery document names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub jwks_uri: String,
    pub device_authorization: Option<String>,
}

/// Why the provider could not be used (for the server's log and, shortened,
/// the client's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError(pub String);

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

struct Keys {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
    /// The last fetch failed (then "unavailable", not "unknown key", until
    /// the next one may run).
    failed: bool,
}

pub struct Provider {
    issuer: String,
    discovery_url: String,
    agent: ureq::Agent,
    refetch_every: Duration,
    endpoints: Mutex<Option<Endpoints>>,
    keys: Mutex<Keys>,
}

/// Largest answer read from the provider.
const MAX_ANSWER_BYTES: u64 = 1 << 20;

impl Provider {
    pub fn new(config: &SsoConfig) -> Provider {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        Provider {
            issuer: config.issuer.clone(),
            discovery_url: config.discovery_url(),
            agent,
            refetch_every: Duration::from_secs(config.jwks_refetch_seconds),
            endpoints: Mutex::new(None),
            keys: Mutex::new(Keys {
                keys: Vec::new(),
                fetched: None,
                failed: false,
            }),
        }
    }

    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// The discovery document's endpoints (fetched on first use).
    pub fn endpoints(&self) -> Result<Endpoints, ProviderError> {
        if let Some(e) = self
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Ok(e);
        }
        let url = self.discovery_url.clone();
        let doc: Value = serde_json::from_slice(&self.get(&url)?)
            .map_err(|e| ProviderError(format!("{url} is not JSON: {e}")))?;
        let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
        // OIDC Discovery §4.3: the document must be the issuer's own.
        if field("issuer").as_deref() != Some(self.issuer.as_str()) {
            return Err(ProviderError(format!(
                "the discovery document at {url} names issuer {:?}, not {:?}; set [sso] issuer to the provider's exact issuer URL",
                field("issuer").unwrap_or_default(),
                self.issuer
            )));
        }
        let need = |name: &str| {
            let value = field(name)
                .ok_or_else(|| ProviderError(format!("the discovery document has no {name}")))?;
            check_url(name, &value).map_err(|e| ProviderError(e.to_string()))?;
            Ok::<_, ProviderError>(value)
        };
        let endpoints = Endpoints {
            authorization: need("authorization_endpoint")?,
            token: need("token_endpoint")?,
            jwks_uri: need("jwks_uri")?,
            device_authorization: field("device_authorization_endpoint")
                .filter(|u| check_url("device_authorization_endpoint", u).is_ok()),
        };
        *self.endpoints.lock().unwrap_or_else(|p| p.into_inner()) = Some(endpoints.clone());
        Ok(endpoints)
    }

    /// The key `pick` chooses from the key set, fetching the set when it
    /// was never fetched, or again when `pick` finds nothing and the last
    /// fetch is older than the refetch interval.
    pub fn key(&self, pick: impl Fn(&[Jwk]) -> Option<Jwk>) -> Result<Option<Jwk>, ProviderError> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.fetched.is_some()
            && let Some(key) = pick(&keys.keys)
        {
            return Ok(Some(key));
        }
        let may_fetch = keys
            .fetched
            .is_none_or(|at| at.elapsed() >= self.refetch_every);
        if !may_fetch {
            if keys.failed {
                return Err(ProviderError(
                    "the provider's key set could not be fetched a moment ago".into(),
                ));
            }
            return Ok(None);
        }
        let url = self.endpoints()?.jwks_uri;
        // Counted as a fetch even when it fails: a provider that is down is
        // not asked again at once either.
        keys.fetched = Some(Instant::now());
        keys.failed = true;
        let body = self.get(&url)?;
        keys.keys = parse_jwks(&body)
            .ok_or_else(|| ProviderError(format!("{url} is not a JSON Web Key Set")))?;
        keys.failed = false;
        Ok(pick(&keys.keys))
    }

    fn get(&self, url: &str) -> Result<Vec<u8>, ProviderError> {
        let mut reply = self
            .agent
            .get(url)
            .call()
            .map_err(|e| ProviderError(format!("cannot reach {url}: {e}")))?;
        if reply.status() != 200 {
            return Err(ProviderError(format!(
                "{url} answered HTTP {}",
                reply.status().as_u16()
            )));
        }
        read(&mut reply, url)
    }
}

/// A reply's body, bounded.
pub fn read(
    reply: &mut ureq::http::Response<ureq::Body>,
    url: &str,
) -> Result<Vec<u8>, ProviderError> {
    reply
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_vec()
        .map_err(|e| ProviderError(format!("cannot read the answer of {url}: {e}")))
}
