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
            id_token_alg: "RS256".to_owned(),
        }
    }

    /// A confidential web client with a secret.
    pub fn confidential(client_id: &str, secret: &str, redirect_uri: &str) -> Client {
        Client {
            client_id: client_id.to_owned(),
            client_secret: Some(secret.to_owned()),
            redirect_uris: vec![redirect_uri.to_owned()],
            id_token_alg: "RS256".to_owned(),
        }
    }

    fn to_json(&self) -> Value {
        let mut client = json!({
            "client_id": self.client_id,
            "redirect_uris": self.redirect_uris,
            "id_token_signed_response_alg": self.id_token_alg,
        });
        match &self.client_secret {
            None => {
                client["token_endpoint_auth_method"] = json!("none");
                client["application_type"] = json!("native");
            }
            Some(secret) => {
                client["client_secret"] = json!(secret);
                client["token_endpoint_auth_method"] = json!("client_secret_post");
                client["application_type"] = json!("web");
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
}

impl Default for Config {
    fn default() -> Config {
        Config {
            clients: vec![Client::public(PUBLIC_CLIENT_ID)],
            accounts: Vec::new(),
            lifetimes: Lifetimes::default(),
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
            "ttl": {
                "id_token": self.lifetimes.id_token.as_secs(),
                "access_token": self.lifetimes.access_token.as_secs(),
                "refresh_token": self.lifetimes.refresh_token.as_secs(),
            },
        })
    }
}
