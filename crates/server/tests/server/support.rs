//! The real `twofill-server` binary in a temporary state directory, on a
//! free port, over SQLite or a real PostgreSQL; and a real mutual-TLS
//! client (rustls, a device key and CSR made with rcgen).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use twofill_otp::Token;
use twofill_seal::Protection;
use twofill_vault::{Access, Vault};

pub const KASPERSKY_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
pub const KASPERSKY_SITE: &str = "https://my.kaspersky.com";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `$test` once per store.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name($crate::support::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name($crate::support::Backend::Postgres) })*
        }
    };
}

pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_twofill-server")
}

/// A state directory made by `init`, with alice as first admin and the
/// Kaspersky token bound to [`KASPERSKY_SITE`], code-only for bob (group
/// `ops`) and full-seed for carol (group `leads`).
pub struct ServerState {
    _dir: tempfile::TempDir,
    pub state: PathBuf,
    pub database: String,
    pub token_id: String,
}

impl ServerState {
    pub fn new(backend: Backend) -> ServerState {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let database = match backend {
            Backend::Sqlite => format!("sqlite:{}", state.join("vault.db").display()),
            Backend::Postgres => twofill_test_postgres::fresh_database(),
        };
        let s = ServerState {
            _dir: dir,
            state,
            database,
            token_id: String::new(),
        };
        s.cli_ok(&[
            "init",
            "--database",
            &s.database,
            "--hostname",
            "vault.example",
        ]);
        s.cli_ok(&["admin", "add", "alice"]);
        let mut vault = s.vault();
        let token = Token::from_uri(&format!(
            "otpauth://totp/Kaspersky:team@example.com?secret={KASPERSKY_SEED}&issuer=Kaspersky"
        ))
        .unwrap();
        let id = vault
            .add_token("alice", &token, &[KASPERSKY_SITE.parse().unwrap()])
            .unwrap();
        for (group, user, access) in [
            ("ops", "bob", Access::CodeOnly),
            ("leads", "carol", Access::FullSeed),
        ] {
            vault.add_group("alice", group).unwrap();
            vault.add_member("alice", group, user).unwrap();
            vault.set_grant("alice", &id, group, access).unwrap();
        }
        ServerState { token_id: id, ..s }
    }

    /// The server's vault, opened as the server opens it (the test plays
    /// the operator on the server machine).
    pub fn vault(&self) -> Vault {
        let protection = Protection::KeyFile(self.state.join("data.key"));
        if let Some(path) = self.database.strip_prefix("sqlite:") {
            Vault::open(Path::new(path), &protection).unwrap()
        } else {
            Vault::open_postgres(&self.database, &protection).unwrap()
        }
    }

    /// Runs SQL straight on the server's database, past the vault (a DBA,
    /// or anyone with write access to the file, without the data key).
    pub fn sql(&self, sql: &str) {
        if let Some(path) = self.database.strip_prefix("sqlite:") {
            rusqlite::Connection::open(path)
                .and_then(|c| c.execute_batch(sql))
                .unwrap();
        } else {
            twofill_test_postgres::admin_client(&self.database)
                .batch_execute(sql)
                .unwrap();
        }
    }

    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(exe())
            .arg("--state")
            .arg(&self.state)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "twofill-server {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// An invite for `user` made on the server machine.
    pub fn invite(&self, user: &str, ttl: &str) -> String {
        let out = self.cli_ok(&["invite", user, "--ttl", ttl]);
        out.lines().next().unwrap().trim().to_owned()
    }

    /// Changes `[limits]` in server.toml before `serve`.
    pub fn set_limit(&self, key: &str, value: i64) {
        let path = self.state.join("server.toml");
        let mut config: toml::Table =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config
            .entry("limits")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .unwrap()
            .insert(key.to_owned(), toml::Value::Integer(value));
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    }

    pub fn serve(&self) -> Server {
        let log = self.state.join("serve.log");
        let mut child = Command::new(exe())
            .arg("--state")
            .arg(&self.state)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Some(addr) = line.trim().strip_prefix(twofill_words::SERVER_LISTENING) else {
            let _ = child.kill();
            panic!(
                "the server did not start ({line:?}); its log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Server {
            child,
            addr: addr.parse().unwrap(),
            ca_pem: std::fs::read_to_string(self.state.join("ca.pem")).unwrap(),
            log,
        }
    }
}

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub ca_pem: String,
    pub log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// SIGTERM, as a service manager stops it; the exit status (within 30 s).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve did not stop on SIGTERM; its log: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process stops where it is, nothing flushed or closed.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A client without a certificate, trusting the server's CA.
    pub fn anonymous(&self) -> Client {
        Client::new(self.addr, &self.ca_pem, None)
    }

    /// Joins with `invite`; the client then holds the device certificate.
    pub fn join(&self, invite: &str) -> Result<(Client, Value), Reply> {
        let key = KeyPair::generate().unwrap();
        let csr = CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap();
        let secret = invite.split('.').nth(1).unwrap();
        let reply = self.anonymous().post(
            twofill_team_api::JOIN_PATH,
            &json!({"invite": secret, "device_name": "test laptop", "csr_pem": csr}),
        );
        if reply.status != 200 {
            return Err(reply);
        }
        let body = reply.json();
        let cert = body["certificate_pem"].as_str().unwrap().to_owned();
        let identity = (cert, key.serialize_pem());
        Ok((Client::new(self.addr, &self.ca_pem, Some(&identity)), body))
    }

    /// A device of `user`, enrolled with an invite from the server's CLI.
    pub fn device(&self, state: &ServerState, user: &str) -> (Client, String) {
        let (client, joined) = self
            .join(&state.invite(user, "1h"))
            .unwrap_or_else(|r| panic!("join failed: {} {}", r.status, r.text()));
        (client, joined["device"]["id"].as_str().unwrap().to_owned())
    }

    /// `client`'s device (same certificate and key), talking to this server.
    pub fn client_for(&self, client: &Client) -> Client {
        Client {
            addr: self.addr,
            config: Arc::clone(&client.config),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The error code of an error reply.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error reply: {}", self.text()))
            .to_owned()
    }
}

pub fn client_config(
    ca_pem: &str,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    }
}

impl Client {
    /// `identity`: a certificate and its key, PEM.
    pub fn new(addr: SocketAddr, ca_pem: &str, identity: Option<&(String, String)>) -> Client {
        let identity = identity.map(|(cert, key)| {
            (
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
        });
        Client {
            addr,
            config: Arc::new(client_config(ca_pem, identity)),
        }
    }

    pub fn with_config(addr: SocketAddr, config: rustls::ClientConfig) -> Client {
        Client {
            addr,
            config: Arc::new(config),
        }
    }

    /// A TLS connection to the server (handshake done).
    pub fn connect(
        &self,
    ) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        let tcp = TcpStream::connect(self.addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        let conn = rustls::ClientConnection::new(
            Arc::clone(&self.config),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            // A signal during a socket call (EINTR) is not the server's answer.
            match stream.conn.complete_io(&mut stream.sock) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                outcome => outcome?,
            };
        }
        Ok(stream)
    }

    /// Sends raw request bytes on a new connection and reads the reply.
    pub fn send(&self, request: &[u8]) -> std::io::Result<Reply> {
        let mut stream = self.connect()?;
        // A server that refuses early (413) closes before taking it all;
        // its reply is still there to read.
        let _ = stream.write_all(request).and_then(|()| stream.flush());
        let raw = read_all(&mut stream)?;
        parse(&raw)
    }

    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        let mut raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(body);
        self.send(&raw).unwrap()
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.request("POST", path, body.to_string().as_bytes())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, b"")
    }

    /// A fill on `origin` (the extension's `get_code`, forwarded).
    pub fn fill(&self, origin: &str) -> Reply {
        self.post(
            twofill_team_api::CODE_PATH,
            &json!({"origin": origin, "purpose": "fill", "browser": "chromium"}),
        )
    }
}

/// Everything the server sends until it closes. Reads without writing
/// (rustls's own `read` first flushes what is still queued for sending,
/// which fails once a server that refused early has closed).
pub fn read_all(
    stream: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    let failed = |out: Vec<u8>, e: std::io::Error| if out.is_empty() { Err(e) } else { Ok(out) };
    loop {
        loop {
            match stream.conn.reader().read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return failed(out, e),
            }
        }
        match stream.conn.read_tls(&mut stream.sock) {
            Ok(0) => return Ok(out),
            Ok(_) => {
                if let Err(e) = stream.conn.process_new_packets() {
                    return failed(out, std::io::Error::other(e));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return failed(out, e),
        }
    }
}

/// A reply, or an error for bytes that hold none (a server that died
/// mid-answer).
fn parse(raw: &[u8]) -> std::io::Result<Reply> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            std::io::Error::other(format!("no HTTP reply: {:?}", String::from_utf8_lossy(raw)))
        })?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

/// The code oathtool computes for `seed` at unix time `at`.
pub fn oathtool(seed: &str, at: u64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", seed, "--now", &format!("@{at}")])
        .output()
        .expect("oathtool must be installed (cargo xtask setup)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The audit records after `after_seq` as (user, action, success, reason).
pub fn audit_since(vault: &Vault, after_seq: i64) -> Vec<(String, String, bool, Option<String>)> {
    vault
        .audit_records(after_seq, 1000)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.event.user.clone(),
                r.event.action.as_str().to_owned(),
                r.event.success,
                r.event.reason.clone(),
            )
        })
        .collect()
}
