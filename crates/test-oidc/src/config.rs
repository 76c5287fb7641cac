//! What a provider starts with: clients, accounts, token lifetimes (written to the JSON file provider.mjs reads).

use std::time::Duration;

use serde_json::{Value, json};

/// The public native client every [`Config`] has.
pub const PUBLIC_CLIENT_ID: &str = "twofill-cli";
/// Its registered redirect URI; any port on it is accepted (RFC 8252 §7.3).
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// An account at the provider: `id` is the ID token's `sub`.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub email: Option<String>,
    pub password: String,
    pub groups: Vec<String>,
    pub enabled: bool,
}

impl Account {
    /// An enabled account.
    pub fn new(id: &str, email: &str, password: &str, groups: &[&str]) -> Account {
        Account {
            id: id.to_owned(),
            email: Some(email.to_owned()),
            password: password.to_owned(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            enabled: true,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "password": self.password,
            "groups": self.groups,
            "enabled": self.enabled,
        })
    }
}

/// An OAuth client registered at the provider.
#[derive(Clone, Debug)]
pub struct Client {
    pub client_id: String,
    /// `None`: a public native client (`token_endpoint_auth_method: none`, loopback redirects on any port).
    /// `Some`: a confidential web client authenticating with `client_secret_post`.
    pub client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
    /// `application_type: native`: a loopback redirect URI matches on any port (RFC 8252 §7.3).
    /// `false`: a web client, redirect URIs match exactly.
    pub native: bool,
    /// `RS256` (the default) or `ES256`.
    pub id_token_alg: String,
}

impl Client {
    /// A public native client redirecting to [`REDIRECT_URI`] (any port).
    pub fn public(client_id: &str) -> Client {
        Client {
            client_id: client_id.to_owned(),
            client_secret: None,
            redirect_uris: vec![REDIRECT_URI.to_owned()],
            native: true,
            id_token_alg: "RS256".to_owned(),
        }
    }

    /// A confidential web client with a secret (`client_secret_post`); its redirect URI matches exactly.
    pub fn confidential(client_id: &str, secret: &str, redirect_uri: &str) -> Client {
        Client {
            client_id: client_id.to_owned(),
            client_secret: Some(secret.to_owned()),
            redirect_uris: vec![redirect_uri.to_owned()],
            native: false,
            id_token_alg: "RS256".to_owned(),
        }
    }

    /// A confidential client with a secret whose redirect is [`REDIRECT_URI`] on any port: the twofill server as
    /// the relying party of the laptop's loopback sign-in (the laptop opens the browser with the server's client
    /// id, the server exchanges the code with its secret).
    pub fn confidential_loopback(client_id: &str, secret: &str) -> Client {
        Client {
            native: true,
            ..Client::confidential(client_id, secret, REDIRECT_URI)
        }
    }

    fn to_json(&self) -> Value {
        let mut client = json!({
            "client_id": self.client_id,
            "redirect_uris": self.redirect_uris,
            "id_token_signed_response_alg": self.id_token_alg,
        });
        client["application_type"] = json!(if self.native { "native" } else { "web" });
        match &self.client_secret {
            None => client["token_endpoint_auth_method"] = json!("none"),
            Some(secret) => {
                client["client_secret"] = json!(secret);
                client["token_endpoint_auth_method"] = json!("client_secret_post");
            }
        }
        client
    }
}

/// Token lifetimes; short ones make leaver tests fast.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub id_token: Duration,
    pub access_token: Duration,
    pub refresh_token: Duration,
}

impl Default for Lifetimes {
    fn default() -> Lifetimes {
        Lifetimes {
            id_token: Duration::from_secs(600),
            access_token: Duration::from_secs(600),
            refresh_token: Duration::from_secs(86400),
        }
    }
}

/// A provider's configuration: always the public client [`PUBLIC_CLIENT_ID`], plus what is added.
#[derive(Clone, Debug)]
pub struct Config {
    pub clients: Vec<Client>,
    pub accounts: Vec<Account>,
    pub lifetimes: Lifetimes,
    /// `Some(audience)`: access tokens are RS256 JWTs for this audience (the default resource of every
    /// request), with `groups` and `email`; `None`: opaque access tokens.
    pub jwt_access_tokens: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            clients: vec![Client::public(PUBLIC_CLIENT_ID)],
            accounts: Vec::new(),
            lifetimes: Lifetimes::default(),
            jwt_access_tokens: None,
        }
    }
}

impl Config {
    pub fn account(mut self, account: Account) -> Config {
        self.accounts.push(account);
        self
    }

    pub fn client(mut self, client: Client) -> Config {
        self.clients.push(client);
        self
    }

    pub fn lifetimes(mut self, lifetimes: Lifetimes) -> Config {
        self.lifetimes = lifetimes;
        self
    }

    /// Access tokens become JWTs with this `aud` (see [`Config::jwt_access_tokens`]).
    pub fn jwt_access_tokens(mut self, audience: &str) -> Config {
        self.jwt_access_tokens = Some(audience.to_owned());
        self
    }

    pub(crate) fn secret_of(&self, client_id: &str) -> Option<&str> {
        self.clients
            .iter()
            .find(|c| c.client_id == client_id)
            .and_then(|c| c.client_secret.as_deref())
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "clients": self.clients.iter().map(Client::to_json).collect::<Vec<_>>(),
            "accounts": self.accounts.iter().map(Account::to_json).collect::<Vec<_>>(),
            "jwt_access_tokens": self.jwt_access_tokens.as_ref().map(|audience| json!({ "audience": audience })),
            "ttl": {
                "id_token": self.lifetimes.id_token.as_secs(),
                "access_token": self.lifetimes.access_token.as_secs(),
                "refresh_token": self.lifetimes.refresh_token.as_secs(),
            },
        })
    }
}
