//! Single sign-on on the laptop against the real `twofill-server` and a
//! real OpenID provider (`oidc-provider`, `twofill-test-oidc`): `login
//! --no-browser` prints the provider's address; the provider's login is
//! driven over HTTP with the PKCE challenge, nonce and loopback redirect
//! the host put in that address, and its code is handed to the host's
//! callback, which takes only the request with its `state`. Then: the
//! session files are private, the browser-launched host gets codes, an
//! expired ticket is renewed by itself, a person disabled at the provider
//! is signed out at the next renewal, and `logout` removes everything.
//! (Chromium drives the same flow in `tests/e2e/tests/e2e/sso.rs`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use twofill_test_oidc::{Account, Config, Provider};

use crate::support::*;
use crate::team_server::{KASPERSKY, Laptop, TeamServer, assert_oathtool_code, error_code};

const ORG: &str = "Example Corp";
const PASSWORD: &str = "pw-of-bob";
/// Session files beside the device identity (`server/session.rs`).
const SESSION_FILES: [&str; 3] = ["sso-session.json", "sso-refresh.json", "sso-refresh.kek"];

fn sso_server(provider: &Provider, refresh_seconds: u64) -> TeamServer {
    TeamServer::start_configured(&format!(
        "[sso]\nissuer = \"{}\"\nclient_id = \"{}\"\norg_name = \"{ORG}\"\nrequired = true\n\
         scopes = [\"openid\", \"email\", \"groups\", \"offline_access\"]\n\
         refresh_seconds = {refresh_seconds}\n\n[sso.group_map]\n\"idp-ops\" = \"ops\"\n",
        provider.issuer(),
        provider.client_id()
    ))
}

fn provider() -> Provider {
    Provider::start(Config::default().account(Account::new(
        "bob-sub",
        "bob@example.com",
        PASSWORD,
        &["idp-ops"],
    )))
}

/// `login --no-browser --json` in progress: the address it printed.
struct Login {
    child: Child,
    url: String,
    stderr: mpsc::Receiver<String>,
}

fn start_login(laptop: &Laptop) -> Login {
    let mut child = laptop
        .command()
        .args(["login", "--no-browser", "--json", "--timeout", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut said = Vec::new();
    loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("login printed no address: {said:?}");
        };
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http")) {
            return Login {
                child,
                url: url.to_owned(),
                stderr: rx,
            };
        }
        said.push(line);
    }
}

impl Login {
    fn param(&self, name: &str) -> String {
        let query = self.url.split_once('?').unwrap().1;
        query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
            .unwrap_or_else(|| panic!("no {name} in {}", self.url))
    }

    /// Signs in at the provider with this login's challenge, nonce and
    /// redirect; the code the provider sent to the redirect.
    fn code_from_provider(&self, provider: &Provider, account: &str) -> String {
        assert_eq!(self.param("code_challenge_method"), "S256");
        provider
            .authorization_code(
                &self.param("client_id"),
                account,
                PASSWORD,
                &self.param("redirect_uri"),
                &self.param("code_challenge"),
                &self.param("nonce"),
                &self.param("scope"),
            )
            .unwrap()
    }

    /// `GET redirect_uri?code=…&state=…` as the browser would; its status.
    fn redirect(&self, code: &str, state: &str) -> u16 {
        let redirect = self.param("redirect_uri");
        let authority = redirect
            .strip_prefix("http://")
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        assert!(authority.starts_with("127.0.0.1:"), "{redirect}");
        let mut stream = TcpStream::connect(&authority).unwrap();
        write!(
            stream,
            "GET /callback?code={code}&state={state} HTTP/1.1\r\nHost: {authority}\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply.split(' ').nth(1).unwrap().parse().unwrap()
    }

    fn finish(mut self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "login did not finish");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let said: Vec<String> = self.stderr.try_iter().collect();
        assert!(status.success(), "login failed: {said:?}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"))
    }
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// A laptop joined for bob, with the Kaspersky token code-only for the
/// provider's `idp-ops` (twofill's `ops`).
fn joined_laptop(server: &TeamServer) -> Laptop {
    let admin = server.admin();
    let id = admin.enroll("alice", SEED_FOR_SSO, "Kaspersky", &["my.kaspersky.com"]);
    admin.ok("alice", &["group", "add", "ops"]);
    admin.ok("alice", &["grant", "set", &id, "ops", "code-only"]);
    let laptop = Laptop::new();
    laptop.join(server, &server.invite("bob@example.com"));
    laptop
}

const SEED_FOR_SSO: &str = crate::team_server::SEED;

fn session_dir(laptop: &Laptop) -> std::path::PathBuf {
    laptop.home.path().join(".local/share/twofill/device")
}

fn ask_code(laptop: &Laptop) -> Value {
    let mut host = laptop.launch();
    let reply = host.ask(get_code("c", KASPERSKY));
    host.finish();
    reply
}

#[test]
fn login_through_the_loopback_redirect_keeps_a_private_session_and_logout_removes_it() {
    let provider = provider();
    let server = sso_server(&provider, 600);
    let laptop = joined_laptop(&server);

    // Required SSO: the device certificate alone gets nothing.
    let before = ask_code(&laptop);
    assert_eq!(error_code(&before), "signed_out", "{before}");
    assert_eq!(before["error"]["org"], ORG, "{before}");
    assert!(
        before["error"]["message"]
            .as_str()
            .unwrap()
            .contains("twofill-host login"),
        "{before}"
    );

    let login = start_login(&laptop);
    assert!(
        login
            .url
            .starts_with(&format!("{}/auth?", provider.issuer())),
        "{}",
        login.url
    );
    let state = login.param("state");
    let code = login.code_from_provider(&provider, "bob-sub");
    // Not this login's state: refused, and the listener keeps waiting.
    assert_eq!(login.redirect(&code, "not-the-state"), 400);
    assert_eq!(login.redirect(&code, &state), 200);
    let report = login.finish();
    assert_eq!(report["user"], "bob@example.com", "{report}");
    assert_eq!(report["org"], ORG, "{report}");
    assert_eq!(report["groups"], serde_json::json!(["ops"]), "{report}");

    let dir = session_dir(&laptop);
    #[cfg(unix)]
    for name in SESSION_FILES {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }

    assert_oathtool_code(&ask_code(&laptop));
    let whoami: Value = serde_json::from_slice(&laptop.cli(&["whoami", "--json"]).stdout).unwrap();
    assert_eq!(whoami["session"]["user"], "bob@example.com", "{whoami}");
    assert_eq!(whoami["session"]["org"], ORG, "{whoami}");

    let out = laptop.cli(&["logout", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["server_session_ended"], true, "{report}");
    for name in SESSION_FILES {
        assert!(
            !dir.join(name).exists(),
            "{name} is still there after logout"
        );
    }
    let after = ask_code(&laptop);
    assert_eq!(error_code(&after), "signed_out", "{after}");
}

#[test]
fn an_expired_ticket_is_renewed_by_itself_and_a_disabled_person_is_signed_out_at_the_next_renewal()
{
    let provider = provider();
    let refresh = 3;
    let server = sso_server(&provider, refresh);
    let laptop = joined_laptop(&server);
    let login = start_login(&laptop);
    let state = login.param("state");
    let code = login.code_from_provider(&provider, "bob-sub");
    assert_eq!(login.redirect(&code, &state), 200);
    login.finish();
    let dir = session_dir(&laptop);
    let ticket = |dir: &std::path::Path| -> String {
        let s: Value =
            serde_json::from_slice(&std::fs::read(dir.join("sso-session.json")).unwrap()).unwrap();
        s["ticket"].as_str().unwrap().to_owned()
    };
    let first = ticket(&dir);

    // Past the ticket's end: the host renews it before asking.
    std::thread::sleep(Duration::from_secs(refresh + 1));
    assert_oathtool_code(&ask_code(&laptop));
    let second = ticket(&dir);
    assert_ne!(first, second, "the ticket was not renewed");

    // Disabled at the provider: the ticket runs out, the renewal is
    // refused, and the person is signed out here with what to do.
    provider.disable("bob-sub");
    let disabled = Instant::now();
    std::thread::sleep(Duration::from_secs(refresh + 1));
    let reply = ask_code(&laptop);
    assert_eq!(error_code(&reply), "signed_out", "{reply}");
    assert_eq!(reply["error"]["org"], ORG, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("twofill-host login"),
        "{reply}"
    );
    assert!(disabled.elapsed() < Duration::from_secs(refresh + 10));
    assert!(
        !dir.join("sso-session.json").exists() && !dir.join("sso-refresh.json").exists(),
        "a refused renewal leaves no session behind"
    );
}
