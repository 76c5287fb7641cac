//! Team server mode against the real `twofill-server` (its SQLite store,
//! and PostgreSQL for the main path): a
//! laptop joins with an invite, then the browser-launched host gets its
//! codes over mutual TLS; wrong pins, revocation, a dead server and a
//! server in the middle each get their own answer; and a scan of every
//! file the laptop's host wrote finds no trace of a seed.
//!
//! The server binary is the workspace's own (`cargo build -p
//! twofill-server`; `cargo test --workspace` builds it). Tokens are enrolled
//! on the server machine as its operator can: on the server's vault, with
//! the server's key file.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};
use twofill_otp::Token;
use twofill_seal::Protection;
use twofill_team_api::Invite;
use twofill_vault::Vault;
use twofill_words::Access;

use crate::support::*;

pub(crate) const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
pub(crate) const KASPERSKY: &str = "https://my.kaspersky.com";

fn server_binary() -> PathBuf {
    let path = Path::new(HOST).with_file_name("twofill-server");
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build -p twofill-server`",
        path.display()
    );
    path
}

/// A real team server in a temporary state directory, serving on a free
/// loopback port; alice is its first admin.
pub(crate) struct TeamServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    addr: SocketAddr,
    /// `sqlite:PATH` or a PostgreSQL URL.
    database: String,
}

impl TeamServer {
    /// On the embedded default, SQLite.
    pub(crate) fn start() -> TeamServer {
        TeamServer::start_on(None)
    }

    /// On SQLite, with `server_toml` (TOML tables, e.g. `[sso]`) added to
    /// its server.toml before it serves.
    pub(crate) fn start_configured(server_toml: &str) -> TeamServer {
        TeamServer::start_with(None, server_toml)
    }

    /// On `database` (`None`: the default SQLite vault in the state dir).
    pub(crate) fn start_on(database: Option<String>) -> TeamServer {
        TeamServer::start_with(database, "")
    }

    fn start_with(database: Option<String>, server_toml: &str) -> TeamServer {
        let dir = tempfile::tempdir().unwrap();
        let database = database
            .unwrap_or_else(|| format!("sqlite:{}", dir.path().join("state/vault.db").display()));
        let server = TeamServer {
            dir,
            child: None,
            addr: "127.0.0.1:0".parse().unwrap(),
            database,
        };
        server.ok(&["init", "--database", &server.database]);
        server.ok(&["admin", "add", "alice"]);
        if !server_toml.is_empty() {
            let config = server.state().join("server.toml");
            let text = std::fs::read_to_string(&config).unwrap();
            std::fs::write(&config, format!("{text}\n{server_toml}")).unwrap();
        }
        server.serve("127.0.0.1:0")
    }

    /// The server's vault, opened as the server opens it.
    pub(crate) fn vault(&self) -> Vault {
        let protection = Protection::KeyFile(self.state().join("data.key"));
        match self.database.strip_prefix("sqlite:") {
            Some(path) => Vault::open(Path::new(path), &protection).unwrap(),
            None => Vault::open_postgres(&self.database, &protection).unwrap(),
        }
    }

    pub(crate) fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(server_binary());
        c.arg("--state").arg(self.state());
        c
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "twofill-server {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts `serve` and waits for its "listening on" line.
    fn serve(mut self, listen: &str) -> TeamServer {
        let mut child = self
            .command()
            .args(["serve", "--listen", listen])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix(twofill_words::SERVER_LISTENING)
            .unwrap_or_else(|| panic!("unexpected first line from serve: {line:?}"));
        self.addr = addr.parse().unwrap();
        self.child = Some(child);
        self
    }

    pub(crate) fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub(crate) fn invite(&self, user: &str) -> String {
        self.ok(&["invite", user])
            .lines()
            .next()
            .unwrap()
            .trim()
            .to_owned()
    }

    /// The server machine's admin with `twofill-host` on the server's own
    /// (SQLite) vault.
    pub(crate) fn admin(&self) -> Env {
        let env = Env::new();
        let state = self.state();
        let mut env = Env {
            vault: state.join("vault.db"),
            ..env
        };
        env.keyring = false;
        env.set_config(&format!(
            "key = {{ file = {:?} }}\n[rate_limit]\ncodes = 0\nburst = 0\n",
            state.join("data.key").display().to_string()
        ));
        env
    }

    /// The Kaspersky token enrolled by alice, code-only for bob.
    pub(crate) fn kaspersky_for_bob(&self) -> String {
        let mut vault = self.vault();
        let token = Token::from_uri(&format!(
            "otpauth://totp/Kaspersky:team@example.com?secret={SEED}&issuer=Kaspersky"
        ))
        .unwrap();
        let id = vault
            .add_token("alice", &token, &[KASPERSKY.parse().unwrap()])
            .unwrap();
        vault.add_group("alice", "ops").unwrap();
        vault.add_member("alice", "ops", "bob").unwrap();
        vault
            .set_grant("alice", &id, "ops", Access::CodeOnly)
            .unwrap();
        id
    }
}

impl Drop for TeamServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A teammate's laptop: its own HOME (data and config under it), no
/// TWOFILL_CONFIG or TWOFILL_VAULT, and no keyring unless asked for.
pub(crate) struct Laptop {
    pub(crate) home: tempfile::TempDir,
    pub(crate) keyring: bool,
}

impl Laptop {
    pub(crate) fn new() -> Laptop {
        Laptop {
            home: tempfile::tempdir().unwrap(),
            keyring: false,
        }
    }

    pub(crate) fn config(&self) -> PathBuf {
        self.home.path().join(".config/twofill/host.toml")
    }

    pub(crate) fn command(&self) -> Command {
        let home = self.home.path();
        let mut c = Command::new(HOST);
        c.env("HOME", home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env_remove("TWOFILL_CONFIG")
            .env_remove("TWOFILL_VAULT");
        if !self.keyring {
            c.env("TWOFILL_NO_KEYRING", "1");
        }
        c
    }

    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// `join --json` that must succeed; its report.
    pub(crate) fn join(&self, server: &TeamServer, invite: &str) -> Value {
        let out = self.cli(&[
            "join",
            &server.url(),
            "--invite",
            invite,
            "--name",
            "bob-laptop",
            "--json",
        ]);
        assert!(
            out.status.success(),
            "join: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub(crate) fn launch(&self) -> Host {
        let mut child = self
            .command()
            .arg(EXTENSION_ORIGIN.as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Host {
            stdin: child.stdin.take(),
            stdout: child.stdout.take().unwrap(),
            child,
        }
    }

    /// Every file under HOME.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(self.home.path(), &mut files);
        files
    }
}

#[test]
#[ignore = "needs an unlocked Secret Service; `cargo xtask test` runs it under dbus-run-session"]
fn join_keeps_the_device_key_in_the_os_keyring() {
    let server = TeamServer::start();
    server.kaspersky_for_bob();
    let mut laptop = Laptop::new();
    laptop.keyring = true;
    let joined = laptop.join(&server, &server.invite("bob"));
    assert_eq!(joined["in_keyring"], true, "{joined}");
    let files = laptop.files();
    assert!(
        !files.iter().any(|f| f.ends_with("device.kek")),
        "with a usable keyring no key file is written: {files:?}"
    );
    let mut host = laptop.launch();
    assert_oathtool_code(&host.ask(get_code("k", KASPERSKY)));
    host.finish();
    // Without the keyring the sealed key is of no use.
    laptop.keyring = false;
    let mut host = laptop
        .command()
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .arg(EXTENSION_ORIGIN.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = host.stdout.take().unwrap();
    {
        use std::io::Write;
        let stdin = host.stdin.as_mut().unwrap();
        let frame = get_code("n", KASPERSKY).to_string();
        stdin
            .write_all(&(frame.len() as u32).to_ne_bytes())
            .unwrap();
        stdin.write_all(frame.as_bytes()).unwrap();
    }
    let reply = read_reply(&mut stdout).unwrap();
    assert_eq!(error_code(&reply), "device_not_enrolled", "{reply}");
    drop(host.stdin.take());
    host.wait().unwrap();
}

pub(crate) fn error_code(reply: &Value) -> &str {
    assert_eq!(reply["type"], "error", "{reply}");
    reply["error"]["code"].as_str().unwrap()
}

pub(crate) fn assert_oathtool_code(reply: &Value) {
    assert_eq!(reply["type"], "code", "{reply}");
    let from = reply["valid_from"].as_u64().unwrap();
    assert_eq!(reply["code"].as_str().unwrap(), oathtool(SEED, from));
}

#[test]
fn a_joined_device_gets_oathtool_codes_and_never_the_seed() {
    let server = TeamServer::start();
    joined_device_gets_codes(&server);
    // The server recorded all of it, with the browser's origin and the
    // extension that asked.
    let audit = server.admin().audit("alice");
    let fill = audit
        .iter()
        .find(|r| r["url"]["original"] == KASPERSKY && r["event"]["outcome"] == "success")
        .unwrap_or_else(|| panic!("no fill on record: {audit:?}"));
    assert_eq!(fill["user"]["name"], "bob", "{fill}");
    let text = serde_json::to_string(&audit).unwrap();
    assert!(
        text.contains(twofill_words::CHROMIUM_EXTENSION_ID),
        "{text}"
    );
}

#[test]
fn on_postgresql_too_a_device_gets_codes_until_it_is_revoked() {
    let server = TeamServer::start_on(Some(twofill_test_postgres::fresh_database()));
    joined_device_gets_codes(&server);
    let laptop_reply = {
        let laptop = Laptop {
            home: tempfile::tempdir().unwrap(),
            keyring: false,
        };
        // A second laptop of bob's is unaffected by the first one's revocation.
        laptop.join(&server, &server.invite("bob"));
        let mut host = laptop.launch();
        let reply = host.ask(get_code("other", KASPERSKY));
        host.finish();
        reply
    };
    assert_oathtool_code(&laptop_reply);
}

/// Bob's laptop joins, lists, fills and is refused the seed; returns the
/// device id.
fn joined_device_gets_codes(server: &TeamServer) -> String {
    let token = server.kaspersky_for_bob();
    let laptop = Laptop::new();
    let joined = laptop.join(server, &server.invite("bob"));
    assert_eq!(joined["user"], "bob");
    assert_eq!(joined["device"]["name"], "bob-laptop");
    assert_eq!(joined["in_keyring"], false);
    let config = std::fs::read_to_string(laptop.config()).unwrap();
    assert!(config.contains(&server.url()), "{config}");

    let mut host = laptop.launch();
    let hello = host.ask(json!({"v": 1, "id": "h", "type": "hello"}));
    assert_eq!(hello["server"], server.url(), "{hello}");
    assert_eq!(hello["user"], "bob");
    let list = host.ask(json!({"v": 1, "id": "l", "type": "list_tokens", "origin": KASPERSKY}));
    assert_eq!(list["type"], "tokens", "{list}");
    assert_eq!(list["user"], "bob");
    assert_eq!(list["tokens"][0]["id"], token);
    assert_eq!(list["tokens"][0]["access"], Access::CodeOnly.as_str());
    assert_eq!(list["tokens"][0]["bound_here"], true);
    assert_oathtool_code(&host.ask(get_code("c", KASPERSKY)));
    // The server's rules, unchanged: a look-alike gets nothing…
    let elsewhere = host.ask(get_code("e", "https://my-kaspersky.com"));
    assert_eq!(error_code(&elsewhere), "no_token_for_origin");
    // …and code-only is code-only.
    let seed = host.ask(json!({"v": 1, "id": "s", "type": "reveal_seed", "token": token}));
    assert_eq!(error_code(&seed), "not_permitted", "{seed}");
    // The same host, revoked between two requests.
    let device = joined["device"]["id"].as_str().unwrap().to_owned();
    server.ok(&["revoke", &device]);
    let revoked = host.ask(get_code("r", KASPERSKY));
    assert_eq!(error_code(&revoked), "device_revoked", "{revoked}");
    assert!(host.finish().success());
    device
}

#[test]
fn a_wrong_ca_pin_is_refused_and_nothing_is_written() {
    let server = TeamServer::start();
    server.kaspersky_for_bob();
    let laptop = Laptop::new();
    let real: Invite = server.invite("bob").parse().unwrap();
    let forged = Invite {
        ca_pin: twofill_team_api::ca_pin(b"another server's CA"),
        ..real.clone()
    };
    let out = laptop.cli(&["join", &server.url(), "--invite", &forged.to_string()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("this server's CA does not match the invite")
            && err.contains("someone is in the middle"),
        "{err}"
    );
    assert_eq!(
        laptop.files(),
        Vec::<PathBuf>::new(),
        "join wrote something"
    );
    // The invite's secret never left: the real invite still works.
    laptop.join(&server, &real.to_string());
    let mut host = laptop.launch();
    assert_oathtool_code(&host.ask(get_code("c", KASPERSKY)));
    host.finish();
}

#[test]
fn a_revoked_device_is_refused_on_its_next_request() {
    let server = TeamServer::start();
    server.kaspersky_for_bob();
    let laptop = Laptop::new();
    let joined = laptop.join(&server, &server.invite("bob"));
    let mut host = laptop.launch();
    assert_oathtool_code(&host.ask(get_code("before", KASPERSKY)));
    server.ok(&["revoke", joined["device"]["id"].as_str().unwrap()]);
    // The same host process: revocation holds from the next request on.
    let reply = host.ask(get_code("after", KASPERSKY));
    assert_eq!(error_code(&reply), "device_revoked", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("twofill-host join {} --invite", server.url())),
        "{message}"
    );
    host.finish();
    // whoami says so too, and a new invite brings the laptop back.
    let out = laptop.cli(&["whoami"]);
    assert!(!out.status.success());
    laptop.join(&server, &server.invite("bob"));
    let mut host = laptop.launch();
    assert_oathtool_code(&host.ask(get_code("again", KASPERSKY)));
    host.finish();
}

#[test]
fn a_dead_server_or_one_in_the_middle_is_server_unreachable() {
    let mut server = TeamServer::start();
    server.kaspersky_for_bob();
    let laptop = Laptop::new();
    laptop.join(&server, &server.invite("bob"));
    let addr = server.addr.to_string();
    server.stop();

    let mut host = laptop.launch();
    let reply = host.ask(get_code("down", KASPERSKY));
    assert_eq!(error_code(&reply), "server_unreachable", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("check your network") || message.contains("Check your network"),
        "{message}"
    );
    assert!(
        message.contains(&laptop.config().display().to_string()),
        "{message}"
    );

    // Another twofill server (its own CA) answering at the same address:
    // the device trusts only the CA it pinned.
    let _impostor = {
        let other = TeamServer {
            dir: tempfile::tempdir().unwrap(),
            child: None,
            addr: server.addr,
            database: String::new(),
        };
        other.ok(&["init"]);
        other.serve(&addr)
    };
    let reply = host.ask(get_code("mitm", KASPERSKY));
    assert_eq!(error_code(&reply), "server_unreachable", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("pinned"), "{message}");
    host.finish();
}

#[test]
fn in_server_mode_the_cli_asks_the_server_and_admin_commands_refuse() {
    let server = TeamServer::start();
    let laptop = Laptop::new();
    let joined = laptop.join(&server, &server.invite("bob"));
    let out = laptop.cli(&["whoami", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let me: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(me["user"], "bob");
    assert_eq!(me["admin"], false);
    assert_eq!(me["server"], server.url());
    assert_eq!(me["device"]["id"], joined["device"]["id"]);
    for args in [
        &["token", "list"][..],
        &["user", "list"],
        &["audit", "verify"],
    ] {
        let out = laptop.cli(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("run admin commands on the team server"),
            "{args:?}: {err}"
        );
    }
    assert!(
        !laptop.files().iter().any(|f| is_sqlite(f)),
        "no vault may appear on a team laptop"
    );
}

fn is_sqlite(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"SQLite format 3"))
}

#[test]
fn a_team_laptop_keeps_no_seed_after_a_session() {
    let server = TeamServer::start();
    let token = server.kaspersky_for_bob();
    let laptop = Laptop::new();
    laptop.join(&server, &server.invite("bob"));
    let mut host = laptop.launch();
    host.ask(json!({"v": 1, "id": "l", "type": "list_tokens", "origin": KASPERSKY}));
    for i in 0..4 {
        assert_oathtool_code(&host.ask(get_code(&format!("c{i}"), KASPERSKY)));
    }
    let copy =
        host.ask(json!({"v": 1, "id": "p", "type": "get_code", "token": token, "purpose": "copy"}));
    assert_oathtool_code(&copy);
    let seed = host.ask(json!({"v": 1, "id": "s", "type": "reveal_seed", "token": token}));
    assert_eq!(error_code(&seed), "not_permitted");
    assert!(host.finish().success());
    assert!(laptop.cli(&["whoami"]).status.success());

    let raw = data_encoding::BASE32_NOPAD.decode(SEED.as_bytes()).unwrap();
    let hex = data_encoding::HEXLOWER.encode(&raw);
    let needles: Vec<Vec<u8>> = vec![
        raw.clone(),
        SEED.as_bytes().to_vec(),
        SEED.to_lowercase().into_bytes(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
        // A base32 of the seed's first half survives any line wrapping.
        SEED.as_bytes()[..16].to_vec(),
    ];
    let files = laptop.files();
    assert!(
        files.iter().any(|f| f.ends_with("device.json")),
        "the scan must see what join wrote: {files:?}"
    );
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{} holds seed material",
                file.display()
            );
        }
        assert!(!is_sqlite(file), "{} is a vault", file.display());
    }
}

#[test]
fn a_server_that_never_answers_costs_the_browser_at_most_the_request_timeout() {
    let mut server = TeamServer::start();
    let laptop = Laptop::new();
    laptop.join(&server, &server.invite("bob"));
    server.stop();
    // Something at the server's address that accepts and then says nothing.
    let silent = std::net::TcpListener::bind(server.addr).unwrap();
    let held = std::thread::spawn(move || {
        let (mut conn, _) = silent.accept().unwrap();
        // Read (the TLS hello) and never answer, until the host gives up.
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut conn, &mut sink);
    });
    let mut host = laptop.launch();
    let started = std::time::Instant::now();
    let reply = host.ask(get_code("slow", KASPERSKY));
    let waited = started.elapsed();
    assert_eq!(error_code(&reply), "server_unreachable", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not answer within 10 s"),
        "{reply}"
    );
    assert!(
        waited >= std::time::Duration::from_secs(9) && waited < std::time::Duration::from_secs(14),
        "{waited:?}"
    );
    host.finish();
    held.join().unwrap();
}

#[test]
fn a_used_invite_is_refused_with_the_servers_reason_and_nothing_is_written() {
    let server = TeamServer::start();
    let invite = server.invite("bob");
    Laptop::new().join(&server, &invite);
    let second = Laptop::new();
    let out = second.cli(&["join", &server.url(), "--invite", &invite]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invite_invalid") && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(second.files(), Vec::<PathBuf>::new());
    // Not an invite at all: refused before anything is asked.
    let out = second.cli(&["join", &server.url(), "--invite", "tf1.nope"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ask for a new one"), "{err}");
}

const SUPPORT_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SUPPORT: &str = "https://support.example.com";
const MAIL_SEED: &str = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U";

/// `cli` that must succeed, its `--json` output.
fn json_ok(laptop: &Laptop, args: &[&str]) -> Value {
    let out = laptop.cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Actions of the local vault's audit log, with their user and outcome.
fn local_actions(vault: &Vault) -> Vec<(String, String, bool)> {
    vault
        .audit_records(0, 1000)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.event.user,
                r.event.action.as_str().to_owned(),
                r.event.success,
            )
        })
        .collect()
}

#[test]
fn vault_push_moves_team_tokens_groups_and_grants_and_personal_ones_on_request() {
    let server = TeamServer::start();
    // Alice's laptop, with the local vault she ran before the team server:
    // two team tokens (code-only for ops, full-seed for leads) and her own
    // personal one.
    let laptop = Laptop::new();
    let not_joined = laptop.cli(&["vault", "push"]);
    assert!(!not_joined.status.success());
    assert!(
        String::from_utf8_lossy(&not_joined.stderr).contains("twofill-host join"),
        "{}",
        String::from_utf8_lossy(&not_joined.stderr)
    );
    let me = json_ok(&laptop, &["whoami", "--json"]);
    let local_user = me["user"].as_str().unwrap().to_owned();
    let data = laptop.home.path().join(".local/share/twofill");
    let local_path = data.join("vault.sqlite3");
    let open_local =
        || Vault::open(&local_path, &Protection::KeyFile(data.join("vault.key"))).unwrap();
    let local_ids = {
        let mut v = open_local();
        let link = |issuer: &str, seed: &str| {
            Token::from_uri(&format!(
                "otpauth://totp/{issuer}:team@example.com?secret={seed}&issuer={issuer}"
            ))
            .unwrap()
        };
        let u = local_user.as_str();
        let kaspersky = v
            .add_token(u, &link("Kaspersky", SEED), &[KASPERSKY.parse().unwrap()])
            .unwrap();
        let support = v
            .add_token(
                u,
                &link("Support", SUPPORT_SEED),
                &[SUPPORT.parse().unwrap()],
            )
            .unwrap();
        let mail = v
            .add_personal_token(
                u,
                &link("Mail", MAIL_SEED),
                &["https://mail.example.com".parse().unwrap()],
            )
            .unwrap();
        v.add_group(u, "ops").unwrap();
        v.add_member(u, "ops", "bob").unwrap();
        v.set_grant(u, &kaspersky, "ops", Access::CodeOnly).unwrap();
        v.add_group(u, "leads").unwrap();
        v.add_member(u, "leads", "carol").unwrap();
        v.set_grant(u, &support, "leads", Access::FullSeed).unwrap();
        (kaspersky, support, mail)
    };
    laptop.join(&server, &server.invite("alice"));

    // A dry run reads no seed and changes nothing.
    let dry = json_ok(&laptop, &["vault", "push", "--dry-run", "--json"]);
    assert_eq!(dry["tokens"].as_array().unwrap().len(), 2, "{dry}");
    assert_eq!(dry["kept_local"], json!([local_ids.2]));
    assert_eq!(dry["grants"], 2);
    assert!(dry.get("reply").is_none());
    assert!(server.vault().tokens().unwrap().is_empty());
    assert!(
        !local_actions(&open_local())
            .iter()
            .any(|a| a.1 == "vault.push")
    );

    // The push: team tokens only (personal kept local by default).
    let pushed = json_ok(&laptop, &["vault", "push", "--json"]);
    let reply = &pushed["reply"];
    let server_id = |local: &str| -> String {
        reply["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["local_id"] == local)
            .unwrap_or_else(|| panic!("{local} not pushed: {pushed}"))["server_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let kaspersky_on_server = server_id(&local_ids.0);
    let support_on_server = server_id(&local_ids.1);
    assert_eq!(reply["tokens"].as_array().unwrap().len(), 2);
    assert_eq!(reply["grants_set"], 2);
    let team = server.vault();
    assert_eq!(team.tokens().unwrap().len(), 2);
    let details = team.token_details(&kaspersky_on_server).unwrap();
    assert_eq!(details.grants.get("ops"), Some(&Access::CodeOnly));
    assert_eq!(
        team.token_details(&support_on_server)
            .unwrap()
            .grants
            .get("leads"),
        Some(&Access::FullSeed)
    );
    // On record on both sides: locally each seed read out, on the server
    // the push and each change, under alice.
    let local = local_actions(&open_local());
    let reads: Vec<_> = local.iter().filter(|a| a.1 == "vault.push").collect();
    assert_eq!(reads.len(), 2, "{local:?}");
    assert!(reads.iter().all(|a| a.0 == local_user && a.2));
    let audit = server.admin().audit("alice");
    let by_alice = |action: &str| {
        audit
            .iter()
            .filter(|r| r["event"]["action"] == action && r["user"]["name"] == "alice")
            .count()
    };
    assert_eq!(by_alice("vault.push"), 2, "{audit:?}");
    assert_eq!(by_alice("token.add"), 2);
    assert_eq!(by_alice("grant.set"), 2);

    // Bob, code-only through the pushed grant, gets oathtool's code on the
    // bound site from his own laptop, and no seed; he may not push.
    let bobs = Laptop::new();
    bobs.join(&server, &server.invite("bob"));
    let mut host = bobs.launch();
    assert_oathtool_code(&host.ask(get_code("k", KASPERSKY)));
    let seed =
        host.ask(json!({"v": 1, "id": "s", "type": "reveal_seed", "token": kaspersky_on_server}));
    assert_eq!(error_code(&seed), "not_permitted");
    assert!(host.finish().success());
    let refused = bobs.cli(&["vault", "push"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not an admin of the team server"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // Moving the personal token too: the team tokens are not duplicated.
    let moved = json_ok(&laptop, &["vault", "push", "--personal", "move", "--json"]);
    let tokens = moved["reply"]["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 3, "{moved}");
    assert_eq!(tokens.iter().filter(|t| t["existed"] == true).count(), 2);
    let team = server.vault();
    assert_eq!(team.tokens().unwrap().len(), 3);
    let personal = tokens
        .iter()
        .find(|t| t["local_id"] == local_ids.2.as_str())
        .unwrap();
    let personal = team
        .token_details(personal["server_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(personal.summary.owner.as_deref(), Some(local_user.as_str()));
    // On the server the admin who moved it is on record for it.
    let audit = server.admin().audit("alice");
    assert_eq!(
        audit
            .iter()
            .filter(|r| r["event"]["action"] == "token.add" && r["user"]["name"] == "alice")
            .count(),
        3,
        "{audit:?}"
    );
    assert!(team.verify_audit(None).unwrap().problem.is_none());
    // The local vault is only read, never emptied.
    assert_eq!(open_local().tokens().unwrap().len(), 3);
}

/// Recovery codes in team server mode: the server machine's admin attaches
/// them with `twofill-host token recovery set` on the server's store; a
/// full-seed teammate's laptop takes one through the server (marked used
/// there), a code-only teammate's gets nothing.
#[test]
fn recovery_codes_attached_on_the_server_machine_reach_full_seed_laptops_only() {
    let server = TeamServer::start();
    let token = server.kaspersky_for_bob();
    {
        let mut vault = server.vault();
        vault.add_group("alice", "leads").unwrap();
        vault.add_member("alice", "leads", "carol").unwrap();
        vault
            .set_grant("alice", &token, "leads", Access::FullSeed)
            .unwrap();
    }
    let admin = server.admin();
    let file = admin.dir.path().join("codes.txt");
    std::fs::write(&file, "1. team-0001\n2. team-0002\n3. team-0003\n").unwrap();
    let out = admin.ok(
        "alice",
        &[
            "token",
            "recovery",
            "set",
            &token,
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.starts_with("attached 3 recovery codes"), "{out}");

    let carol = Laptop::new();
    carol.join(&server, &server.invite("carol"));
    let mut host = carol.launch();
    let list = host.ask(json!({"v": 1, "id": "l", "type": "list_tokens", "origin": KASPERSKY}));
    assert_eq!(list["tokens"][0]["recovery_codes"], 3, "{list}");
    let taken = host.ask(json!({"v": 1, "id": "t", "type": "take_recovery_code", "token": token}));
    assert_eq!(taken["type"], "recovery_code", "{taken}");
    assert_eq!(taken["code"], "team-0001");
    assert_eq!(taken["remaining"], 2);
    assert!(host.finish().success());

    let bob = Laptop::new();
    bob.join(&server, &server.invite("bob"));
    let mut host = bob.launch();
    let refused =
        host.ask(json!({"v": 1, "id": "t", "type": "take_recovery_code", "token": token}));
    assert_eq!(error_code(&refused), "not_permitted", "{refused}");
    assert!(!refused.to_string().contains("team-000"));
    assert!(host.finish().success());

    // On the server's record: carol's take, bob's refusal; one code used.
    let takes: Vec<(String, String)> = admin
        .audit("alice")
        .into_iter()
        .filter(|r| r["event"]["action"] == "recovery.take")
        .map(|r| {
            (
                r["user"]["name"].as_str().unwrap().to_owned(),
                r["event"]["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        takes,
        [
            ("carol".to_owned(), "success".to_owned()),
            ("bob".to_owned(), "failure".to_owned())
        ]
    );
    assert_eq!(server.vault().recovery_status(&token).unwrap().remaining, 2);
}

/// The established TCP connections process `pid` has to `port` (socket
/// inodes), from /proc.
fn connections_to(pid: u32, port: u16) -> Vec<u64> {
    let ours: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            link.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let remote_port = cols[2]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            let inode: u64 = cols[9].parse().unwrap_or(0);
            // 01: ESTABLISHED.
            if remote_port == Some(port) && cols[3] == "01" && ours.contains(&inode) {
                found.push(inode);
            }
        }
    }
    found
}

/// A host the browser keeps running asks the server over one kept-alive
/// connection: after each code the same single connection is open (with
/// `Connection: close` there would be none), and the codes are oathtool's.
#[test]
fn a_long_running_host_keeps_its_server_connection() {
    let server = TeamServer::start();
    server.kaspersky_for_bob();
    let laptop = Laptop::new();
    laptop.join(&server, &server.invite("bob"));
    let port: u16 = server
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let mut host = laptop.launch();
    assert_oathtool_code(&host.ask(get_code("c1", KASPERSKY)));
    let first = connections_to(host.child.id(), port);
    assert_eq!(
        first.len(),
        1,
        "one connection to the server is kept: {first:?}"
    );
    for n in 2..4 {
        assert_oathtool_code(&host.ask(get_code(&format!("c{n}"), KASPERSKY)));
        assert_eq!(
            connections_to(host.child.id(), port),
            first,
            "request {n} reused it"
        );
    }
    host.finish();
}
