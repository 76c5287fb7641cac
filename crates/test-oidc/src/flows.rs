//! The Authorization Code + PKCE flow and the refresh grant, driven over plain HTTP as a browser would:
//! GET the authorization endpoint, post the login form, follow redirects to the redirect URI, exchange the code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Provider;
use crate::http::{self, Agent, Page};

/// Redirects and pages one sign-in may take before it is called stuck.
const MAX_STEPS: usize = 20;

/// A PKCE pair (RFC 7636, S256).
#[derive(Clone, Debug)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    /// A fresh random verifier and its S256 challenge.
    pub fn new() -> Pkce {
        Pkce::from_verifier(&random_token())
    }

    pub fn from_verifier(verifier: &str) -> Pkce {
        Pkce {
            verifier: verifier.to_owned(),
            challenge: URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        }
    }
}

impl Default for Pkce {
    fn default() -> Pkce {
        Pkce::new()
    }
}

/// 32 random bytes, base64url: a PKCE verifier, a state, a nonce.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token endpoint's answer.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub id_token: Option<String>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
    /// The whole JSON answer.
    pub raw: Value,
}

impl Tokens {
    fn from_json(raw: Value) -> Tokens {
        let text = |k: &str| raw[k].as_str().map(str::to_owned);
        Tokens {
            id_token: text("id_token"),
            access_token: text("access_token").unwrap_or_default(),
            refresh_token: text("refresh_token"),
            expires_in: raw["expires_in"].as_u64(),
            scope: text("scope"),
            raw,
        }
    }
}

/// Why a flow did not give tokens.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// The provider refused with an OAuth error (at the token endpoint, or in the redirect).
    Refused {
        status: u16,
        error: String,
        description: String,
    },
    /// The login form came back with this message (wrong password, disabled account).
    Login(String),
    /// Anything else: transport, an unexpected page.
    Unexpected(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Refused {
                status,
                error,
                description,
            } => write!(f, "the provider refused ({status}): {error}: {description}"),
            Error::Login(message) => write!(f, "the login form said: {message}"),
            Error::Unexpected(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The OAuth error code, if the provider refused.
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Error::Refused { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl Provider {
    /// Signs `account` in with the public client over the Authorization Code + PKCE flow and exchanges the code.
    pub fn sign_in(
        &self,
        account: &str,
        password: &str,
        redirect_uri: &str,
        pkce: &Pkce,
        nonce: &str,
        scope: &str,
    ) -> Result<Tokens, Error> {
        self.sign_in_with(
            self.client_id(),
            account,
            password,
            redirect_uri,
            pkce,
            nonce,
            scope,
        )
    }

    /// [`Provider::sign_in`] with another registered client (e.g. for a token with the wrong audience).
    #[allow(clippy::too_many_arguments)]
    pub fn sign_in_with(
        &self,
        client_id: &str,
        account: &str,
        password: &str,
        redirect_uri: &str,
        pkce: &Pkce,
        nonce: &str,
        scope: &str,
    ) -> Result<Tokens, Error> {
        let code = self.authorization_code(
            client_id,
            account,
            password,
            redirect_uri,
            &pkce.challenge,
            nonce,
            scope,
        )?;
        self.exchange_code(client_id, &code, redirect_uri, &pkce.verifier)
    }

    /// The authorization half alone: signs in at the login form and returns the `code` the provider redirected
    /// to `redirect_uri` with (its `state` checked). For tests whose code under test does the exchange.
    #[allow(clippy::too_many_arguments)]
    pub fn authorization_code(
        &self,
        client_id: &str,
        account: &str,
        password: &str,
        redirect_uri: &str,
        code_challenge: &str,
        nonce: &str,
        scope: &str,
    ) -> Result<String, Error> {
        let state = random_token();
        let url = self.authorization_url(
            client_id,
            redirect_uri,
            code_challenge,
            nonce,
            scope,
            &state,
        );
        let params = http::query(&sign_in_at(&url, account, password, redirect_uri)?);
        if let Some(error) = params.get("error") {
            return Err(Error::Refused {
                status: 303,
                error: error.clone(),
                description: params.get("error_description").cloned().unwrap_or_default(),
            });
        }
        if params.get("state") != Some(&state) {
            return Err(Error::Unexpected(format!(
                "the redirect's state {:?} is not the one sent",
                params.get("state")
            )));
        }
        params
            .get("code")
            .cloned()
            .ok_or_else(|| Error::Unexpected("the redirect has no code".to_owned()))
    }

    /// The authorization request URL (for a browser to open). An empty `code_challenge` sends none (the
    /// provider then refuses: PKCE is required).
    pub fn authorization_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        code_challenge: &str,
        nonce: &str,
        scope: &str,
        state: &str,
    ) -> String {
        let mut fields = vec![
            ("client_id", client_id),
            ("response_type", "code"),
            ("redirect_uri", redirect_uri),
            ("scope", scope),
            ("state", state),
            ("nonce", nonce),
        ];
        if !code_challenge.is_empty() {
            fields.extend([
                ("code_challenge", code_challenge),
                ("code_challenge_method", "S256"),
            ]);
        }
        let query: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", http::encode(v)))
            .collect();
        format!("{}/auth?{}", self.issuer(), query.join("&"))
    }

    /// Exchanges an authorization code at the token endpoint.
    pub fn exchange_code(
        &self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<Tokens, Error> {
        self.token_request(
            client_id,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", code_verifier),
            ],
        )
    }

    /// The refresh grant with the public client; the answer has a new (rotated) refresh token.
    pub fn refresh(&self, refresh_token: &str) -> Result<Tokens, Error> {
        self.refresh_with(self.client_id(), refresh_token)
    }

    pub fn refresh_with(&self, client_id: &str, refresh_token: &str) -> Result<Tokens, Error> {
        self.token_request(
            client_id,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
    }

    /// A POST to the token endpoint with the client's credentials added.
    pub(crate) fn token_request(
        &self,
        client_id: &str,
        fields: &[(&str, &str)],
    ) -> Result<Tokens, Error> {
        let mut all = fields.to_vec();
        all.push(("client_id", client_id));
        if let Some(secret) = self.config().secret_of(client_id) {
            all.push(("client_secret", secret));
        }
        let url = format!("{}/token", self.issuer());
        let page = Agent::new()
            .post_form(&url, &all)
            .map_err(Error::Unexpected)?;
        let json: Value = serde_json::from_str(&page.body).map_err(|e| {
            Error::Unexpected(format!(
                "the token endpoint answered {} with no JSON ({e}): {}",
                page.status, page.body
            ))
        })?;
        if page.status != 200 {
            return Err(refused(page.status, &json));
        }
        Ok(Tokens::from_json(json))
    }
}

pub(crate) fn refused(status: u16, json: &Value) -> Error {
    Error::Refused {
        status,
        error: json["error"].as_str().unwrap_or_default().to_owned(),
        description: json["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// Opens `url` and walks the provider's pages (login form, redirects) until it redirects to `redirect_uri`;
/// returns that redirect's full URL.
fn sign_in_at(
    url: &str,
    account: &str,
    password: &str,
    redirect_uri: &str,
) -> Result<String, Error> {
    let agent = Agent::new();
    let mut page = agent.get(url).map_err(Error::Unexpected)?;
    for _ in 0..MAX_STEPS {
        if let Some(location) = page.location.clone() {
            if is_redirect_to(&location, redirect_uri) {
                return Ok(location);
            }
            page = agent.get(&location).map_err(Error::Unexpected)?;
            continue;
        }
        page = submit_login(&agent, &page, account, password)?;
    }
    Err(Error::Unexpected(format!(
        "the sign-in did not reach {redirect_uri} in {MAX_STEPS} steps"
    )))
}

/// Fills and posts the login form on `page`; the login page coming back means the provider said no.
pub(crate) fn submit_login(
    agent: &Agent,
    page: &Page,
    account: &str,
    password: &str,
) -> Result<Page, Error> {
    let form = login_form(page)?;
    let answer = agent
        .post_form(
            &form,
            &[
                (crate::LOGIN_FIELD, account),
                (crate::PASSWORD_FIELD, password),
            ],
        )
        .map_err(Error::Unexpected)?;
    if answer.location.is_none() {
        return Err(match error_message(&answer.body) {
            Some(message) => Error::Login(message),
            None => Error::Unexpected(format!(
                "after the login form: {} {}",
                answer.status, answer.body
            )),
        });
    }
    Ok(answer)
}

/// The login form's absolute action URL, or what the page says instead.
fn login_form(page: &Page) -> Result<String, Error> {
    let unexpected = || {
        Error::Unexpected(format!(
            "expected the login form, got {}: {}",
            page.status, page.body
        ))
    };
    if !page.body.contains("name=\"login\"") {
        return Err(unexpected());
    }
    let form = http::form(&page.body, None).ok_or_else(unexpected)?;
    Ok(http::absolute(&page.url, &form.action))
}

/// The message the provider's pages show (`id="error"` on the login page, renderError's fields).
fn error_message(html: &str) -> Option<String> {
    let start = html.find("id=\"error\">")? + "id=\"error\">".len();
    let end = html[start..].find('<')? + start;
    Some(html[start..end].to_owned())
}

fn is_redirect_to(location: &str, redirect_uri: &str) -> bool {
    location
        .strip_prefix(redirect_uri)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('?') || rest.starts_with('#'))
}
