//! What the tests share (one module for the one test binary).
//!
//! Drives the host binary exactly as a browser and an admin do: browser
//! launches with the caller origin as argument and length-prefixed JSON on
//! stdin/stdout; admin commands through the CLI. Each test gets its own
//! vault and config; `TWOFILL_TEST_USER` plays different people (the config
//! takes the user from it, as a deployment with an identity agent would).

/// The strict `.reg` reader lives with the crate that writes `.reg` files;
/// `system_install` reads the host's output with it.
#[path = "../../../../install/tests/install/support/regfile.rs"]
pub mod regfile;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::LazyLock;

use serde_json::{Value, json};
use twofill_words::{Access, CHROMIUM_EXTENSION_ID};

pub const HOST: &str = env!("CARGO_BIN_EXE_twofill-host");
/// What Chromium passes a host it launches: the extension's origin.
pub static EXTENSION_ORIGIN: LazyLock<String> =
    LazyLock::new(|| format!("chrome-extension://{CHROMIUM_EXTENSION_ID}"));

pub struct Env {
    pub dir: tempfile::TempDir,
    pub vault: PathBuf,
    pub config: PathBuf,
    /// Let a new vault go into the OS keyring (default: key file, so tests
    /// never touch a developer's real keyring).
    pub keyring: bool,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("data").join("vault.sqlite3");
        let config = dir.path().join("host.toml");
        let env = Env {
            dir,
            vault,
            config,
            keyring: false,
        };
        // Several tests ask for thousands of codes on one origin; the fill
        // rate limit has its own tests, which turn it on with `set_config`.
        env.set_config("[rate_limit]\ncodes = 0\nburst = 0\n");
        env
    }

    /// Rewrites the host config: users come from `TWOFILL_TEST_USER`, the
    /// rest is `extra` (TOML). `set_config("")` gives the built-in defaults,
    /// rate limit included.
    pub fn set_config(&self, extra: &str) {
        std::fs::write(
            &self.config,
            format!("user = {{ env = \"TWOFILL_TEST_USER\" }}\n{extra}"),
        )
        .unwrap();
    }

    pub fn command(&self, user: &str) -> Command {
        let mut c = Command::new(HOST);
        c.env("TWOFILL_VAULT", &self.vault)
            .env("TWOFILL_CONFIG", &self.config)
            .env("TWOFILL_TEST_USER", user);
        if !self.keyring {
            c.env("TWOFILL_NO_KEYRING", "1");
        }
        c
    }

    /// Runs an admin/user command; returns the output whatever the status.
    pub fn cli(&self, user: &str, args: &[&str]) -> Output {
        self.command(user).args(args).output().unwrap()
    }

    /// Runs a command that must succeed; returns stdout.
    pub fn ok(&self, user: &str, args: &[&str]) -> String {
        let out = self.cli(user, args);
        assert!(
            out.status.success(),
            "{args:?} as {user} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Enrolls a token as `admin`, confirming with oathtool's current code.
    pub fn enroll(&self, admin: &str, seed: &str, issuer: &str, sites: &[&str]) -> String {
        let uri = format!("otpauth://totp/{issuer}:team@example.com?secret={seed}&issuer={issuer}");
        let code = oathtool(seed, unix_now());
        let mut args = vec![
            "token",
            "add",
            "--uri",
            &uri,
            "--confirm-code",
            &code,
            "--json",
        ];
        for s in sites {
            args.extend(["--site", s]);
        }
        let out: Value = serde_json::from_str(&self.ok(admin, &args)).unwrap();
        out[0]["id"].as_str().unwrap().to_owned()
    }

    pub fn launch(&self, user: &str, caller: &str) -> Host {
        let mut child = self.spawn_host(user, caller);
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        Host {
            child,
            stdin,
            stdout,
        }
    }

    /// The host as a browser starts it for `caller`, with piped stdin and
    /// stdout.
    pub fn spawn_host(&self, user: &str, caller: &str) -> Child {
        self.command(user)
            .arg(caller.trim())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn host")
    }

    /// All audit records as ECS JSON objects.
    pub fn audit(&self, user: &str) -> Vec<Value> {
        self.ok(user, &["audit", "export"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub struct Host {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub stdout: ChildStdout,
}

impl Host {
    pub fn send_raw(&mut self, payload: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all(&(payload.len() as u32).to_ne_bytes())
            .unwrap();
        stdin.write_all(payload).unwrap();
        stdin.flush().unwrap();
    }

    pub fn read_reply(&mut self) -> Value {
        read_reply(&mut self.stdout).expect("a reply")
    }

    pub fn ask(&mut self, request: Value) -> Value {
        self.send_raw(request.to_string().as_bytes());
        self.read_reply()
    }

    /// Closes stdin (as the browser does) and returns the exit status.
    pub fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().unwrap()
    }
}

pub fn read_reply(r: &mut impl Read) -> Option<Value> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u32::from_ne_bytes(len) as usize];
    r.read_exact(&mut buf).ok()?;
    Some(serde_json::from_slice(&buf).expect("reply is JSON"))
}

/// The clock the host reads too.
pub use twofill_words::unix_now_secs as unix_now;

pub fn oathtool(seed: &str, unix: u64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", seed, "--now", &format!("@{unix}")])
        .output()
        .expect("oathtool must be installed (apt-get install oathtool)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn get_code(id: &str, origin: &str) -> Value {
    json!({"v": 1, "id": id, "type": "get_code", "origin": origin})
}

pub fn file_contains(path: &Path, needle: &str) -> bool {
    std::fs::read(path)
        .unwrap_or_default()
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The smallest team: alice administers, bob may have codes (code-only) for
/// a token with `seed` bound to my.kaspersky.com. Returns the token id.
pub fn bob_code_only(env: &Env, seed: &str) -> String {
    let id = env.enroll("alice", seed, "Kaspersky", &["my.kaspersky.com"]);
    for args in [
        vec!["group", "add", "ops"],
        vec!["group", "add-member", "ops", "bob"],
        vec!["grant", "set", &id, "ops", Access::CodeOnly.as_str()],
    ] {
        env.ok("alice", &args);
    }
    id
}

/// `n` fills by bob on my.kaspersky.com in one host process, plus one
/// refusal (wrong site): `n + 1` new audit records.
pub fn bob_fills(env: &Env, n: usize) {
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    for i in 0..n {
        let reply = host.ask(get_code(&format!("r{i}"), "https://my.kaspersky.com"));
        assert_eq!(reply["type"], "code", "{reply}");
    }
    let reply = host.ask(get_code("bad", "https://evil.example"));
    assert_eq!(reply["type"], "error", "{reply}");
    assert!(host.finish().success());
}
