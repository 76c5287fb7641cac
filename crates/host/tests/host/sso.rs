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
        url_param(&self.url, name)
    }

    fn code_from_provider(&self, provider: &Provider, account: &str) -> String {
        code_from_provider(&self.url, provider, account)
    }

    fn redirect(&self, code: &str, state: &str) -> u16 {
        redirect(&self.url, code, state)
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

/// A query parameter of the sign-in address the host made.
fn url_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// Signs in at the provider with the challenge, nonce and redirect of the
/// host's address `url`; the code the provider sent to the redirect.
fn code_from_provider(url: &str, provider: &Provider, account: &str) -> String {
    assert_eq!(url_param(url, "code_challenge_method"), "S256");
    provider
        .authorization_code(
            &url_param(url, "client_id"),
            account,
            PASSWORD,
            &url_param(url, "redirect_uri"),
            &url_param(url, "code_challenge"),
            &url_param(url, "nonce"),
            &url_param(url, "scope"),
        )
        .unwrap()
}

/// `GET redirect_uri?code=…&state=…` as the browser would; its status.
fn redirect(url: &str, code: &str, state: &str) -> u16 {
    let redirect = url_param(url, "redirect_uri");
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

    // whoami still answers, from this computer's copy, and says so.
    let out = laptop.cli(&["whoami"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("bob@example.com"), "{text}");
    assert!(
        text.contains("signed in: no; sign in with `twofill-host login`"),
        "{text}"
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
    assert_eq!(
        whoami["session"]["groups"],
        serde_json::json!(["ops"]),
        "{whoami}"
    );
    assert!(
        whoami["session"]["expires_at_ms"].as_i64().unwrap() > 0,
        "{whoami}"
    );
    assert!(whoami["device"]["id"].is_string(), "{whoami}");

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

    // A laptop clock behind the server's: the host thinks the ticket
    // fresh, the server answers session_expired, and the host renews and
    // asks again, once.
    std::thread::sleep(Duration::from_secs(refresh + 1));
    let file = dir.join("sso-session.json");
    let mut stored: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    stored["expires_at_ms"] = (unix_now() as i64 * 1000 + 3_600_000).into();
    std::fs::write(&file, serde_json::to_vec(&stored).unwrap()).unwrap();
    assert_oathtool_code(&ask_code(&laptop));
    assert_ne!(
        ticket(&dir),
        second,
        "session_expired did not renew the ticket"
    );

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

/// A `BROWSER` that records the address it is asked to open, as the
/// popup's "Sign in" makes the host start `login` (which opens it).
fn recording_browser(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let opened = dir.join("opened-url");
    let script = dir.join("browser.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > {:?}\n",
            opened.display().to_string()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (script, opened)
}

/// Asks the browser-launched host (with `BROWSER=script`) for `request`.
fn ask_with_browser(laptop: &Laptop, script: &std::path::Path, request: Value) -> Value {
    let mut child = laptop
        .command()
        .env("BROWSER", script)
        .arg(EXTENSION_ORIGIN.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut host = Host {
        stdin: child.stdin.take(),
        stdout: child.stdout.take().unwrap(),
        child,
    };
    let reply = host.ask(request);
    host.finish();
    reply
}

fn wait_for_file(path: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The popup's "Sign in" (`start_login`) in the browser the host opens,
/// completed at the provider; returns the address the browser was given.
fn sign_in_from_the_popup(
    laptop: &Laptop,
    provider: &Provider,
    fresh: bool,
    scratch: &std::path::Path,
) -> String {
    let (script, opened) = recording_browser(scratch);
    let _ = std::fs::remove_file(&opened);
    let session = session_dir(laptop).join("sso-session.json");
    let before = std::fs::read(&session).ok();
    let request = serde_json::json!({"v": 1, "id": "l", "type": "start_login", "fresh": fresh});
    let reply = ask_with_browser(laptop, &script, request);
    assert_eq!(reply["type"], "login_started", "{reply}");
    let url = wait_for_file(&opened);
    let code = code_from_provider(&url, provider, "bob-sub");
    assert_eq!(redirect(&url, &code, &url_param(&url, "state")), 200);
    // The detached `login` stores the new session.
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::fs::read(&session).ok() == before {
        assert!(
            Instant::now() < deadline,
            "the popup's sign-in stored no session"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    url
}

#[test]
fn the_popups_sign_in_opens_the_browser_and_a_seed_needs_a_recent_sign_in() {
    let provider = provider();
    let fresh_for = 3;
    let server = TeamServer::start_configured(&format!(
        "[sso]\nissuer = \"{}\"\nclient_id = \"{}\"\norg_name = \"{ORG}\"\nrequired = true\n\
         scopes = [\"openid\", \"email\", \"groups\", \"offline_access\"]\n\
         reveal_fresh_seconds = {fresh_for}\n\n[sso.group_map]\n\"idp-leads\" = \"leads\"\n",
        provider.issuer(),
        provider.client_id()
    ));
    provider.set_groups("bob-sub", &["idp-leads"]);
    let admin = server.admin();
    let id = admin.enroll("alice", SEED_FOR_SSO, "Kaspersky", &["my.kaspersky.com"]);
    admin.ok("alice", &["group", "add", "leads"]);
    admin.ok("alice", &["grant", "set", &id, "leads", "full-seed"]);
    let laptop = Laptop::new();
    laptop.join(&server, &server.invite("bob@example.com"));
    let scratch = tempfile::tempdir().unwrap();
    let reveal = serde_json::json!({"v": 1, "id": "s", "type": "reveal_seed", "token": id});
    // A recovery code is as sensitive as the seed: the same session, the same step-up.
    let codes = scratch.path().join("recovery.txt");
    std::fs::write(&codes, "aaaa-1111\nbbbb-2222\ncccc-3333\n").unwrap();
    admin.ok(
        "alice",
        &[
            "token",
            "recovery",
            "set",
            &id,
            "--file",
            codes.to_str().unwrap(),
        ],
    );
    let take = serde_json::json!({"v": 1, "id": "r", "type": "take_recovery_code", "token": id});

    let url = sign_in_from_the_popup(&laptop, &provider, false, scratch.path());
    assert!(!url.contains("prompt=login"), "{url}");
    let mut host = laptop.launch();
    let seed = host.ask(reveal.clone());
    let taken = host.ask(take.clone());
    host.finish();
    assert_eq!(seed["type"], "seed", "a fresh sign-in reveals: {seed}");
    assert_eq!(taken["type"], "recovery_code", "signed in: {taken}");
    assert_eq!(taken["code"], "aaaa-1111", "{taken}");

    // Later than reveal_fresh_seconds: codes still, the seed only after a
    // new sign-in, which the popup offers.
    std::thread::sleep(Duration::from_secs(fresh_for + 1));
    assert_oathtool_code(&ask_code(&laptop));
    let mut host = laptop.launch();
    let stale = host.ask(reveal.clone());
    host.finish();
    assert_eq!(error_code(&stale), "sign_in_again", "{stale}");
    assert_eq!(stale["error"]["org"], ORG, "{stale}");
    assert!(!stale.to_string().contains(SEED_FOR_SSO));
    let mut host = laptop.launch();
    let stale_take = host.ask(take);
    host.finish();
    assert_eq!(error_code(&stale_take), "sign_in_again", "{stale_take}");
    assert!(!stale_take.to_string().contains("bbbb-2222"));

    let url = sign_in_from_the_popup(&laptop, &provider, true, scratch.path());
    assert!(
        url.contains("&prompt=login&max_age=0"),
        "a step-up asks for a new login: {url}"
    );
    let mut host = laptop.launch();
    let seed = host.ask(reveal);
    host.finish();
    assert_eq!(seed["type"], "seed", "after the new sign-in: {seed}");
}

#[test]
fn a_device_joined_with_an_sso_invite_becomes_its_first_sign_ins() {
    let provider = provider();
    let server = sso_server(&provider, 600);
    let admin = server.admin();
    let id = admin.enroll("alice", SEED_FOR_SSO, "Kaspersky", &["my.kaspersky.com"]);
    admin.ok("alice", &["group", "add", "ops"]);
    admin.ok("alice", &["grant", "set", &id, "ops", "code-only"]);
    let invite = server.ok(&["invite", "--sso"]);
    let laptop = Laptop::new();
    let joined = laptop.join(&server, invite.lines().next().unwrap().trim());
    assert_eq!(joined["sign_in_needed"], true, "{joined}");
    assert_ne!(joined["user"], "bob@example.com");

    let login = start_login(&laptop);
    let code = login.code_from_provider(&provider, "bob-sub");
    assert_eq!(login.redirect(&code, &login.param("state")), 200);
    assert_eq!(login.finish()["user"], "bob@example.com");
    assert_oathtool_code(&ask_code(&laptop));
    let mut host = laptop.launch();
    let hello = host.ask(serde_json::json!({"v": 1, "id": "h", "type": "hello"}));
    host.finish();
    assert_eq!(hello["user"], "bob@example.com", "{hello}");
}

#[test]
#[ignore = "needs an unlocked Secret Service; `cargo xtask test` runs it under dbus-run-session"]
fn login_keeps_the_refresh_tokens_key_in_the_os_keyring() {
    let provider = provider();
    let server = sso_server(&provider, 2);
    let mut laptop = joined_laptop(&server);
    laptop.keyring = true;
    let login = start_login(&laptop);
    let code = login.code_from_provider(&provider, "bob-sub");
    assert_eq!(login.redirect(&code, &login.param("state")), 200);
    let report = login.finish();
    assert_eq!(report["refresh_token_key"], "the OS keyring", "{report}");
    let dir = session_dir(&laptop);
    assert!(dir.join("sso-refresh.json").exists());
    assert!(
        !dir.join("sso-refresh.kek").exists(),
        "with a usable keyring no key file is written"
    );
    // The browser-launched host renews from it after the ticket's end.
    std::thread::sleep(Duration::from_secs(3));
    assert_oathtool_code(&ask_code(&laptop));
}
