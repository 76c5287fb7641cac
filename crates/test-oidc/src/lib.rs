//! A real OpenID provider for twofill's SSO tests: the npm package `oidc-provider` (OpenID-certified), configured
//! by `tests/oidc/provider.mjs` and started per [`Provider`] on a free 127.0.0.1 port, stopped when it drops.
//!
//! `cargo xtask setup` installs the pinned package (`tests/oidc/package-lock.json`) into `target/oidc-provider`;
//! the provider script is copied next to it at start, so edits to it need no new setup.
//!
//! Besides starting it, this crate drives the provider the way a person would, over plain HTTP
//! ([`Provider::sign_in`], the device flow in [`device`]), so a test gets real tokens without a browser, and
//! steers it through its test-control API ([`Provider::rotate_keys`], [`Provider::disable`], ...). For a relying
//! party's validation tests it has the provider sign crafted claims with its real key ([`Provider::sign_claims`])
//! and answer the next token request with a crafted ID token ([`Provider::replace_next_id_token`]).
//!
//! A native client's redirect `http://127.0.0.1/callback` matches that URI on any port (RFC 8252 §7.3):
//! oidc-provider itself ignores the port of loopback redirect URIs for `application_type: native` clients.

mod config;
pub mod device;
mod flows;
mod http;
pub mod jwt;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use config::{Account, Client, Config, Lifetimes, PUBLIC_CLIENT_ID, REDIRECT_URI};
pub use flows::{Error, Pkce, Tokens, random_token};

/// The login page's form fields and submit button, for WebDriver: `input[name=login]`, `input[name=password]`.
pub const LOGIN_FIELD: &str = "login";
pub const PASSWORD_FIELD: &str = "password";
pub const SUBMIT_SELECTOR: &str = "button[type=submit]";

const LISTENING: &str = "oidc-provider listening on ";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running oidc-provider. Killed on drop (and it exits by itself when this process goes: it watches its stdin).
pub struct Provider {
    issuer: String,
    config: Config,
    child: Child,
    _stdin: ChildStdin,
    dir: tempfile::TempDir,
}

impl Provider {
    /// Starts a provider with these clients, accounts and lifetimes. Panics, saying what to do, when Node or the
    /// package is missing or the provider does not come up.
    pub fn start(config: Config) -> Provider {
        let script = install_script();
        let dir = tempfile::Builder::new()
            .prefix("twofill-oidc-")
            .tempdir()
            .unwrap();
        let config_file = dir.path().join("config.json");
        std::fs::write(&config_file, config.to_json().to_string()).unwrap();
        let log = dir.path().join("provider.log");
        let mut child = Command::new("node")
            // provider.mjs collects garbage before it exports new keys (a Node 20 deadlock, see there).
            .arg("--expose-gc")
            .arg(&script)
            .args(["--port", "0", "--config"])
            .arg(&config_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run node ({e}); install Node.js 20 or later (`cargo xtask setup`)")
            });
        let stdin = child.stdin.take().unwrap();
        let issuer = wait_for_listening(&mut child, &log);
        Provider {
            issuer,
            config,
            child,
            _stdin: stdin,
            dir,
        }
    }

    /// The issuer URL (`http://127.0.0.1:PORT`, no trailing slash), which is also the base of every endpoint.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public native client's id (no secret, PKCE, loopback redirect on any port).
    pub fn client_id(&self) -> &str {
        PUBLIC_CLIENT_ID
    }

    /// The configuration this provider was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The provider's log (its stderr), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("provider.log")).unwrap_or_default()
    }

    /// `/.well-known/openid-configuration`.
    pub fn discovery(&self) -> serde_json::Value {
        self.get_json("/.well-known/openid-configuration")
    }

    /// The JWKS the provider publishes now.
    pub fn jwks(&self) -> serde_json::Value {
        let uri = self.discovery()["jwks_uri"].as_str().unwrap().to_owned();
        http::Agent::new().get_json(&uri).unwrap()
    }

    /// The key ids in the JWKS now.
    pub fn jwks_kids(&self) -> Vec<String> {
        self.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    /// New RS256 and ES256 signing keys (new kids) sign from now on; the old keys leave the JWKS.
    /// Returns the kids in the JWKS after rotation.
    pub fn rotate_keys(&self) -> Vec<String> {
        self.rotate("/_test/rotate-keys")
    }

    /// Like [`Provider::rotate_keys`], but the old keys stay in the JWKS (tokens they signed still verify).
    pub fn rotate_keys_keeping_old(&self) -> Vec<String> {
        self.rotate("/_test/rotate-keys?keep=true")
    }

    fn rotate(&self, path: &str) -> Vec<String> {
        let answer = self.control("POST", path, None);
        answer["kids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect()
    }

    /// Disables an account at the provider: it cannot sign in, and refreshing its tokens fails (`invalid_grant`).
    pub fn disable(&self, account: &str) {
        self.control("POST", &format!("/_test/accounts/{account}/disable"), None);
    }

    /// Enables an account again.
    pub fn enable(&self, account: &str) {
        self.control("POST", &format!("/_test/accounts/{account}/enable"), None);
    }

    /// Sets an account's groups; the next ID token (sign-in or refresh) carries them in `groups`.
    pub fn set_groups(&self, account: &str, groups: &[&str]) {
        self.control(
            "PUT",
            &format!("/_test/accounts/{account}/groups"),
            Some(serde_json::json!(groups)),
        );
    }

    /// Adds an account while the provider runs.
    pub fn add_account(&self, account: &Account) {
        self.control("POST", "/_test/accounts", Some(account.to_json()));
    }

    /// The user code of the last device authorization the provider answered, if any.
    pub fn last_user_code(&self) -> Option<String> {
        self.control("GET", "/_test/device/last-user-code", None)["user_code"]
            .as_str()
            .map(str::to_owned)
    }

    /// A JWT over `payload` signed with the provider's own newest key for `alg` (`RS256` or `ES256`), its kid in
    /// the header: a token that verifies against the real JWKS but says what the test wants (wrong `iss`, expired,
    /// no nonce, ...). `header` adds or overrides header fields (e.g. `{"alg": "none"}` over a real signature).
    pub fn sign_claims(
        &self,
        alg: &str,
        header: &serde_json::Value,
        payload: &serde_json::Value,
    ) -> String {
        let request = serde_json::json!({ "alg": alg, "header": header, "payload": payload });
        self.control("POST", "/_test/sign", Some(request))["jwt"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The next successful answer of the token endpoint (any grant, any client) carries `id_token` instead of the
    /// one the provider made; everything else (discovery, JWKS, the code's redemption) stays real. Once.
    pub fn replace_next_id_token(&self, id_token: &str) {
        self.control(
            "POST",
            "/_test/next-id-token",
            Some(serde_json::json!({ "id_token": id_token })),
        );
    }

    fn get_json(&self, path: &str) -> serde_json::Value {
        http::Agent::new()
            .get_json(&format!("{}{path}", self.issuer))
            .unwrap_or_else(|e| panic!("GET {path}: {e}\nprovider log:\n{}", self.log()))
    }

    fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let url = format!("{}{path}", self.issuer);
        let (status, text) = http::Agent::new()
            .send_json(method, &url, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\nprovider log:\n{}", self.log()));
        assert_eq!(status, 200, "{method} {path} answered {status}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_listening(child: &mut Child, log: &Path) -> String {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the listening line, then keeps draining stdout so the provider never blocks on it.
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent && let Some(issuer) = line.strip_prefix(LISTENING) {
                let _ = tx.send(issuer.trim().to_owned());
                sent = true;
            }
        }
    });
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(issuer) = rx.recv_timeout(Duration::from_millis(100)) {
            return issuer;
        }
        let exited = child.try_wait().unwrap();
        if exited.is_some() || Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "oidc-provider did not start ({}); its log:\n{}\nIf it cannot find the package `oidc-provider`, run `cargo xtask setup`.",
                exited.map_or("timed out".to_owned(), |s| s.to_string()),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

/// The repository root (this crate is `crates/test-oidc`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// Where `cargo xtask setup` installs the npm package; the script runs from there so its import resolves.
fn install_dir() -> PathBuf {
    workspace_root().join("target").join("oidc-provider")
}

static COPIES: AtomicUsize = AtomicUsize::new(0);

/// Copies `tests/oidc/provider.mjs` into the install directory (atomically: test processes start providers
/// in parallel) and returns the copy's path.
fn install_script() -> PathBuf {
    let dir = install_dir();
    assert!(
        dir.join("node_modules/oidc-provider/package.json").exists(),
        "the npm package oidc-provider is not installed in {}; run `cargo xtask setup`",
        dir.display()
    );
    let source = workspace_root().join("tests/oidc/provider.mjs");
    let script =
        std::fs::read(&source).unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
    let target = dir.join("provider.mjs");
    if std::fs::read(&target).ok().as_deref() != Some(&script[..]) {
        let n = COPIES.fetch_add(1, Ordering::Relaxed);
        let temporary = dir.join(format!(".provider.mjs.{}.{n}", std::process::id()));
        std::fs::write(&temporary, &script).unwrap();
        std::fs::rename(&temporary, &target).unwrap();
    }
    target
}
