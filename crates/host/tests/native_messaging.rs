//! The host binary driven exactly as a browser drives it: launched with the
//! caller's origin as its argument, length-prefixed JSON on stdin/stdout.
//! Codes are checked against `oathtool`, an independent implementation.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

const HOST: &str = env!("CARGO_BIN_EXE_twofill-host");
const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const EXTENSION_ORIGIN: &str = concat!(
    "chrome-extension://",
    include_str!("../../../keys/dev-extension-id.txt")
);

struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
}

impl Host {
    fn launch(vault: &Path, caller: &str) -> Host {
        let mut child = Command::new(HOST)
            .arg(caller.trim())
            .arg("--parent-window=0")
            .env("TWOFILL_VAULT", vault)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn host");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        Host {
            child,
            stdin,
            stdout,
        }
    }

    fn send_raw(&mut self, payload: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all(&(payload.len() as u32).to_ne_bytes())
            .unwrap();
        stdin.write_all(payload).unwrap();
        stdin.flush().unwrap();
    }

    fn read_reply(&mut self) -> Value {
        let mut len = [0u8; 4];
        self.stdout.read_exact(&mut len).expect("reply header");
        let mut buf = vec![0u8; u32::from_ne_bytes(len) as usize];
        self.stdout.read_exact(&mut buf).expect("reply body");
        serde_json::from_slice(&buf).expect("reply is JSON")
    }

    fn ask(&mut self, request: Value) -> Value {
        self.send_raw(request.to_string().as_bytes());
        self.read_reply()
    }

    /// Closes stdin (as the browser does) and returns the exit status.
    fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().unwrap()
    }
}

fn oathtool_window(seed: &str, unix: u64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", seed, "--now", &format!("@{unix}")])
        .output()
        .expect("oathtool must be installed (apt-get install oathtool)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn enroll(vault: &Path, uri: &str, sites: &[&str]) -> String {
    let mut cmd = Command::new(HOST);
    cmd.env("TWOFILL_VAULT", vault)
        .args(["token", "add", "--uri", uri]);
    for s in sites {
        cmd.args(["--site", s]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(':')
        .to_owned()
}

fn get_code(id: &str, origin: &str) -> Value {
    json!({"v": 1, "id": id, "type": "get_code", "origin": origin})
}

#[test]
fn bound_origin_gets_the_oathtool_code_and_others_get_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.sqlite3");
    let id = enroll(
        &vault,
        &format!("otpauth://totp/Kaspersky:team@example.com?secret={SEED}&issuer=Kaspersky"),
        &["my.kaspersky.com"],
    );

    let mut host = Host::launch(&vault, EXTENSION_ORIGIN);
    let reply = host.ask(get_code("r1", "https://my.kaspersky.com"));
    assert_eq!(reply["type"], "code", "{reply}");
    assert_eq!(reply["id"], "r1");
    assert_eq!(reply["token"]["id"], id.as_str());
    let valid_from = reply["valid_from"].as_u64().unwrap();
    assert_eq!(reply["valid_until"].as_u64().unwrap(), valid_from + 30);
    assert_eq!(
        reply["code"].as_str().unwrap(),
        oathtool_window(SEED, valid_from),
        "host code must equal oathtool's for the window it claims"
    );
    assert!(
        !reply.to_string().contains(SEED),
        "the seed must never leave the host"
    );

    // Same prompt on a domain the token is not bound to: an error, no code.
    for origin in [
        "https://evil.example",
        "https://my.kaspersky.com.evil.example",
        "http://my.kaspersky.com", // bare-domain bindings are https-only
        "https://kaspersky.com",   // parent of the bound host
    ] {
        let reply = host.ask(get_code("r2", origin));
        assert_eq!(reply["type"], "error", "{origin}: {reply}");
        assert_eq!(reply["error"]["code"], "no_token_for_origin", "{origin}");
        assert!(reply.get("code").is_none(), "{origin}: {reply}");
        assert!(
            !reply
                .to_string()
                .contains(&oathtool_window(SEED, valid_from))
        );
    }

    // Naming a token does not get around the binding.
    let reply = host.ask(json!({"v": 1, "id": "r3", "type": "get_code",
        "origin": "https://evil.example", "token": id}));
    assert_eq!(reply["error"]["code"], "no_token_for_origin", "{reply}");

    assert!(host.finish().success(), "EOF on stdin is a clean exit");
}

#[test]
fn unknown_extension_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.sqlite3");
    enroll(
        &vault,
        &format!("otpauth://totp/x?secret={SEED}"),
        &["example.com"],
    );
    let mut host = Host::launch(
        &vault,
        "chrome-extension://aaaabbbbccccddddeeeeffffgggghhhh/",
    );
    let reply = host.ask(get_code("r1", "https://example.com"));
    assert_eq!(reply["error"]["code"], "caller_not_allowed", "{reply}");
    assert!(reply.get("code").is_none());
}

#[test]
fn malformed_messages_get_structured_errors_and_the_loop_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.sqlite3");
    let mut host = Host::launch(&vault, EXTENSION_ORIGIN);

    host.send_raw(b"{not json");
    assert_eq!(host.read_reply()["error"]["code"], "bad_json");
    host.send_raw(&[0xff, 0xfe, 0x00]);
    assert_eq!(host.read_reply()["error"]["code"], "bad_json");

    let cases = [
        (
            json!({"v": 1, "id": "a", "type": "launch_missiles"}),
            "unknown_type",
        ),
        (
            json!({"v": 99, "id": "a", "type": "hello"}),
            "unsupported_version",
        ),
        (
            json!({"v": 1, "id": "a", "type": "get_code"}),
            "bad_request",
        ),
        (
            json!({"v": 1, "id": "a", "type": "get_code", "origin": "https://x.example", "extra": 1}),
            "bad_request",
        ),
        (
            json!({"v": 1, "id": "a", "type": "get_code", "origin": "javascript:alert(1)"}),
            "bad_origin",
        ),
        (json!([1, 2, 3]), "bad_request"),
    ];
    for (request, expected) in cases {
        let reply = host.ask(request.clone());
        assert_eq!(reply["type"], "error", "{request} -> {reply}");
        assert_eq!(reply["error"]["code"], expected, "{request} -> {reply}");
    }
    // Still serving after all that.
    let reply = host.ask(json!({"v": 1, "id": "h", "type": "hello"}));
    assert_eq!(reply["type"], "hello", "{reply}");
    assert_eq!(reply["protocol"], 1);
    assert!(host.finish().success());
}

#[test]
fn oversized_frame_is_answered_then_the_host_exits() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.sqlite3");
    let mut host = Host::launch(&vault, EXTENSION_ORIGIN);
    // Only the header: the host must decide from the length alone, without
    // trying to buffer 2 GiB.
    let stdin = host.stdin.as_mut().unwrap();
    stdin.write_all(&0x8000_0000u32.to_ne_bytes()).unwrap();
    stdin.flush().unwrap();
    let reply = host.read_reply();
    assert_eq!(reply["error"]["code"], "frame_too_large", "{reply}");
    let status = host.child.wait().unwrap();
    assert!(!status.success());
}

#[test]
fn corrupt_vault_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let vault = dir.path().join("vault.sqlite3");
    let junk = b"this is not a database, but it is somebody's data".repeat(200);
    std::fs::write(&vault, &junk).unwrap();
    let mut host = Host::launch(&vault, EXTENSION_ORIGIN);
    let reply = host.ask(get_code("r1", "https://example.com"));
    assert_eq!(reply["error"]["code"], "vault_unavailable", "{reply}");
    assert!(host.finish().success());
    assert_eq!(std::fs::read(&vault).unwrap(), junk);
}
