//! Single sign-on: the team server is the OpenID Connect relying party.
//! A laptop brings the authorization code of its loopback sign-in (or runs
//! the device flow through here); the server redeems it at the provider,
//! validates the ID token and opens a session bound to the device, which
//! the vault keeps. Refreshes go to the provider again, so a user disabled
//! or removed from a group there loses access at the next refresh.
//!
//! `config` (`[sso]`), `provider` (discovery and keys, cached), `jwt` (ID
//! token validation), `grant` (token endpoint calls), `endpoints` (the API's
//! `/v1/sso*` paths).

pub mod config;
pub mod endpoints;
mod grant;
mod jwt;
mod provider;

pub use config::SsoConfig;
use jwt::{Expect, TokenProblem, Verified};
use provider::{Provider, ProviderError};
use twofill_words::unix_now_ms;

use crate::http::ApiError;

pub struct Sso {
    pub config: SsoConfig,
    provider: Provider,
}

/// A refused token or grant: the reason word on record, and what to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub reason: String,
    pub detail: String,
}

impl From<TokenProblem> for Refused {
    fn from(p: TokenProblem) -> Refused {
        Refused {
            reason: p.reason().to_owned(),
            detail: p.detail(),
        }
    }
}

impl Sso {
    pub fn new(config: SsoConfig) -> Sso {
        Sso {
            provider: Provider::new(&config),
            config,
        }
    }

    /// Validates an ID token from the token endpoint (blocking: it may
    /// fetch the key set). `nonce` is the sign-in's; a refresh has none.
    pub fn validate(&self, id_token: &str, nonce: Option<&str>) -> Result<Verified, Refused> {
        let parsed = jwt::parse(id_token)?;
        // Refused before any key lookup: `none` and HMAC never reach the JWKS.
        parsed.check_alg(&self.config.algorithms)?;
        let key = self
            .provider
            .key(|keys| parsed.find_key(keys).cloned())
            .map_err(|e| unavailable(&e))?
            .ok_or(TokenProblem::UnknownKey)?;
        let expect = Expect {
            issuer: &self.config.issuer,
            client_id: &self.config.client_id,
            algorithms: &self.config.algorithms,
            nonce,
            leeway_s: self.config.leeway_seconds as i64,
            now_s: unix_now_ms() / 1000,
            claims: &self.config.claims,
        };
        Ok(parsed.validate(&key, &expect)?)
    }

    /// A sign-in error as the laptop gets it: `signed_out`,
    /// `session_expired` and `sign_in_again` name the organization to sign
    /// in to ("Sign in to <org>").
    pub fn signed_out(&self, mut e: ApiError) -> ApiError {
        use twofill_team_api::ErrorCode::{SessionExpired, SignInAgain, SignedOut};
        if matches!(e.body.code, SignedOut | SessionExpired | SignInAgain) {
            e.body.org = Some(self.config.org_name.clone());
        }
        e
    }
}

fn unavailable(e: &ProviderError) -> Refused {
    eprintln!("twofill-server: identity provider: {e}");
    Refused {
        reason: "provider_unavailable".into(),
        detail: "the team server cannot use the identity provider right now; try again in a minute, and tell your twofill admin if it goes on".into(),
    }
}
