//! `cargo xtask bench`, team server section: audited codes/s and latency of
//! `POST /v1/code` on the real `twofill-server` binary over mutual TLS, on
//! SQLite and on a real PostgreSQL (fsync on), and the server's memory
//! with a large vault.
//!
//! usage: bench <path to twofill-server>
//!
//! Prints a markdown table; no thresholds (numbers depend on the machine
//! and disk). Every reply must be 200 with a 6-digit code, and the audit
//! log must have grown by exactly the codes handed out; anything else
//! aborts the bench.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use twofill_otp::Token;
use twofill_seal::Protection;
use twofill_team_api::{
    CODE_PATH, ClientContext, CodeRequest, JOIN_PATH, JoinReply, JoinRequest, TOKENS_PATH,
    TokensRequest,
};
use twofill_vault::{Access, AuditEvent, Vault};
use twofill_words::AuditAction;

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SITE: &str = "https://bench.example";
const USER: &str = "bob";
const ADMIN: &str = "alice";
const CLIENT_COUNTS: [usize; 3] = [1, 50, 200];
/// The open-loop run: this many clients together offer the throughput
/// target, each on its own schedule. A closed loop of 200 clients with no
/// pause measures saturation, where p99 is 200 / throughput by Little's
/// law; this one measures the latency 200 people see at the target rate.
const PACED_CLIENTS: usize = 200;
const PACED_CODES_PER_SECOND: f64 = 2_000.0;
/// One commit per code (the path before group commit), then the default.
const CODE_BATCHES: [usize; 2] = [1, 256];
const RUN: Duration = Duration::from_secs(5);
/// Devices enrolled over the API; clients share them round-robin (each
/// client still has its own TLS connection).
const DEVICES: usize = 8;
const SEEDED_TOKENS: usize = 10_000;
const SEEDED_RECORDS: usize = 1_000_000;
/// Fills timed one after another once the vault is large.
const LOADED_FILLS: usize = 20;
const RECORD_BATCH: usize = 10_000;
/// Seeding audit records stops after this long per store; the table says
/// how many it reached.
const SEED_RECORDS_BUDGET: Duration = Duration::from_secs(150);

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

struct Load {
    store: &'static str,
    /// `[limits] code_batch`: 1 is one commit per code (the path before
    /// group commit), beside the default in the same run.
    code_batch: usize,
    clients: usize,
    /// Codes/s offered by paced clients; `None` for a closed loop (each
    /// client asks again as soon as it has its answer).
    offered: Option<f64>,
    codes: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

struct Memory {
    store: &'static str,
    tokens: usize,
    records: i64,
    seed_seconds: f64,
    rss_empty_kib: u64,
    fill_p50: Duration,
    fill_max: Duration,
    rss_kib: u64,
    hwm_kib: u64,
}

fn main() {
    let exe = std::env::args()
        .nth(1)
        .expect("usage: bench <twofill-server>");
    let exe = PathBuf::from(exe);
    let mut loads = Vec::new();
    let mut memory = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let state = State::new(&exe, backend);
        let mut rss_empty_kib = 0;
        let mut devices = Vec::new();
        for code_batch in CODE_BATCHES {
            state.set_code_batch(code_batch);
            let server = state.serve();
            if devices.is_empty() {
                rss_empty_kib = status_kib(server.pid(), "VmRSS");
                devices = (0..DEVICES).map(|_| server.join(&state)).collect();
            }
            loads.extend(measure_loads(
                &state, &server, &devices, backend, code_batch,
            ));
        }

        let seeding = Instant::now();
        state.seed_tokens(SEEDED_TOKENS);
        let records = state.seed_records(SEEDED_RECORDS);
        let seed_seconds = seeding.elapsed().as_secs_f64();
        eprintln!(
            "bench: {} seeded {SEEDED_TOKENS} tokens and the log to {records} records in {seed_seconds:.0} s",
            backend.name()
        );
        let server = state.serve();
        // A working server: it lists the user's (now 10k) tokens and fills.
        let tokens_body = serde_json::to_vec(&TokensRequest {
            origin: Some(SITE.into()),
            ..Default::default()
        })
        .unwrap();
        let mut conn = Connection::open(server.addr, &devices[0]);
        let listed = conn.exchange(&http_post(TOKENS_PATH, &tokens_body));
        let listed: serde_json::Value = serde_json::from_slice(&listed).unwrap();
        let listed = listed["tokens"].as_array().map_or(0, Vec::len);
        assert_eq!(listed, SEEDED_TOKENS + 1, "the user should see every token");
        // Sequential fills: what one fill costs with a vault this size.
        let mut fills: Vec<_> = (0..LOADED_FILLS)
            .map(|_| {
                let t = Instant::now();
                check_code(&conn.exchange(&code_request()));
                t.elapsed()
            })
            .collect();
        fills.sort();
        memory.push(Memory {
            fill_p50: percentile(&fills, 50.0),
            fill_max: *fills.last().unwrap(),
            store: backend.name(),
            tokens: SEEDED_TOKENS + 1,
            records,
            seed_seconds,
            rss_empty_kib,
            rss_kib: status_kib(server.pid(), "VmRSS"),
            hwm_kib: status_kib(server.pid(), "VmHWM"),
        });
    }
    print_tables(&exe, &loads, &memory);
}

/// A fill on [`SITE`], as the host sends it.
fn code_request() -> Vec<u8> {
    let body = serde_json::to_vec(&CodeRequest {
        origin: Some(SITE.into()),
        client: ClientContext {
            browser: Some("chromium".into()),
            extension_id: None,
        },
        ..Default::default()
    })
    .unwrap();
    http_post(CODE_PATH, &body)
}

/// Audited codes/s and latency at each of [`CLIENT_COUNTS`].
fn measure_loads(
    state: &State,
    server: &Server,
    devices: &[Arc<rustls::ClientConfig>],
    backend: Backend,
    code_batch: usize,
) -> Vec<Load> {
    let mut loads = Vec::new();
    let request = code_request();
    // Warm up (vault handles open, caches filled) before timing.
    run_clients(
        server.addr,
        devices,
        4,
        Duration::from_millis(500),
        None,
        &request,
    );
    let runs = CLIENT_COUNTS
        .into_iter()
        .map(|c| (c, None))
        .chain([(PACED_CLIENTS, Some(PACED_CODES_PER_SECOND))]);
    for (clients, offered) in runs {
        let before = state.vault().audit_head_seq().unwrap();
        let started = Instant::now();
        let pace = offered.map(|rate| Duration::from_secs_f64(clients as f64 / rate));
        let mut latencies = run_clients(server.addr, devices, clients, RUN, pace, &request);
        let seconds = started.elapsed().as_secs_f64();
        let audited = state.vault().audit_head_seq().unwrap() - before;
        assert_eq!(
            audited,
            latencies.len() as i64,
            "{} codes handed out but {audited} audit records written",
            latencies.len()
        );
        latencies.sort();
        eprintln!(
            "bench: {} code_batch {code_batch}, {clients} clients ({}): {} codes in {seconds:.1} s, p50 {:.2} ms, p99 {:.2} ms",
            backend.name(),
            load_name(offered),
            latencies.len(),
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 99.0))
        );
        loads.push(Load {
            store: backend.name(),
            code_batch,
            clients,
            offered,
            codes: latencies.len(),
            seconds,
            p50: percentile(&latencies, 50.0),
            p99: percentile(&latencies, 99.0),
        });
    }
    loads
}

fn load_name(offered: Option<f64>) -> String {
    offered.map_or("closed loop".to_owned(), |rate| {
        format!("{rate:.0}/s offered")
    })
}

fn print_tables(exe: &Path, loads: &[Load], memory: &[Memory]) {
    println!("twofill-server benchmark ({})", exe.display());
    println!();
    println!("| store | code_batch | clients | load | audited codes/s | p50 | p99 | codes |");
    println!("|---|---|---|---|---|---|---|---|");
    for l in loads {
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {} |",
            l.store,
            l.code_batch,
            l.clients,
            load_name(l.offered),
            l.codes as f64 / l.seconds,
            ms(l.p50),
            ms(l.p99),
            l.codes
        );
    }
    println!();
    println!(
        "| store | tokens | audit records | seeding | server RSS empty | RSS loaded | peak RSS | fill p50 | fill max |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for m in memory {
        println!(
            "| {} | {} | {} | {:.0} s | {} MiB | {} MiB | {} MiB | {:.1} ms | {:.1} ms |",
            m.store,
            m.tokens,
            m.records,
            m.seed_seconds,
            m.rss_empty_kib / 1024,
            m.rss_kib / 1024,
            m.hwm_kib / 1024,
            ms(m.fill_p50),
            ms(m.fill_max)
        );
    }
    println!();
    println!(
        "POST {CODE_PATH} (purpose fill, bound origin) by a code-only user, no rate limit, \
         {}-second runs; each client is a thread with its own mutual-TLS keep-alive connection \
         (handshake before timing), {DEVICES} enrolled devices shared round-robin. A closed \
         loop asks again as soon as the answer is in (saturation); the paced run spreads \
         {PACED_CLIENTS} clients' requests evenly over time to offer {PACED_CODES_PER_SECOND:.0} \
         codes/s in all, and times each from when it was due, so a server that falls behind \
         shows the wait (no coordinated omission). Client \
         threads and server share this machine's {} cores. Default server limits \
         (vault_handles = 4); code_batch 1 commits every code alone (the path before group commit), 256 is the default. PostgreSQL 15 with fsync=on, synchronous_commit=on; SQLite WAL \
         with synchronous=FULL. Every code is committed to the audit log before it is sent.",
        RUN.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "Memory: tokens added through Vault::add_token (one audited transaction each), audit \
         records through Vault::record_batch ({RECORD_BATCH} per transaction, each chained \
         and MACed), up to {SEEDED_RECORDS} or {} s per store; RSS read from /proc/PID/status \
         after listing all tokens and {LOADED_FILLS} fills one after another (fill p50/max).",
        SEED_RECORDS_BUDGET.as_secs()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    assert!(!sorted.is_empty(), "no codes were measured");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("the bench reads the server's memory from /proc (Linux)");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// `clients` threads, each with its own connection, asking for codes for
/// `run`; returns every request's latency. With `pace`, each client asks
/// once per `pace` (the clients' schedules staggered evenly) and a latency
/// counts from when the request was due. Panics on any reply that is not a
/// 200 with a 6-digit code.
fn run_clients(
    addr: SocketAddr,
    devices: &[Arc<rustls::ClientConfig>],
    clients: usize,
    run: Duration,
    pace: Option<Duration>,
    request: &[u8],
) -> Vec<Duration> {
    let ready = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let config = Arc::clone(&devices[i % devices.len()]);
            let ready = Arc::clone(&ready);
            let request = request.to_vec();
            std::thread::spawn(move || {
                let mut conn = Connection::open(addr, &config);
                ready.wait();
                let start = Instant::now();
                let deadline = start + run;
                let mut latencies = Vec::new();
                let mut due = match pace {
                    Some(pace) => start + pace.mul_f64(i as f64 / clients as f64),
                    None => start,
                };
                while due < deadline {
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let t = if pace.is_some() { due } else { Instant::now() };
                    let body = conn.exchange(&request);
                    latencies.push(t.elapsed());
                    check_code(&body);
                    due = match pace {
                        Some(pace) => due + pace,
                        None => Instant::now(),
                    };
                }
                latencies
            })
        })
        .collect();
    ready.wait();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("a client failed"))
        .collect()
}

fn check_code(body: &[u8]) {
    let reply: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)));
    let code = reply["code"].as_str().unwrap_or_default();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "not a 6-digit code: {reply}"
    );
}

fn http_post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// One keep-alive mutual-TLS connection.
struct Connection {
    stream: BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
}

impl Connection {
    fn open(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> Connection {
        let tcp = TcpStream::connect(addr).expect("cannot connect to the server");
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let conn = rustls::ClientConnection::new(
            Arc::clone(config),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .expect("TLS handshake failed");
        }
        Connection {
            stream: BufReader::new(stream),
        }
    }

    /// Sends one request and returns its body; panics unless it is a 200.
    fn exchange(&mut self, request: &[u8]) -> Vec<u8> {
        let stream = self.stream.get_mut();
        stream.write_all(request).unwrap();
        stream.flush().unwrap();
        let mut status = String::new();
        self.stream
            .read_line(&mut status)
            .expect("the server closed the connection");
        let mut length = None;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.expect("a reply without Content-Length")];
        self.stream.read_exact(&mut body).unwrap();
        assert!(
            status.split(' ').nth(1) == Some("200"),
            "{} {}",
            status.trim_end(),
            String::from_utf8_lossy(&body)
        );
        body
    }
}

/// A server state directory made by `init`: alice as first admin, one
/// TOTP token bound to [`SITE`], code-only for bob, no rate limit.
struct State {
    _dir: tempfile::TempDir,
    exe: PathBuf,
    state: PathBuf,
    database: String,
}

impl State {
    fn new(exe: &Path, backend: Backend) -> State {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let database = match backend {
            Backend::Sqlite => format!("sqlite:{}", state.join("vault.db").display()),
            Backend::Postgres => twofill_test_postgres::fresh_database(),
        };
        let s = State {
            _dir: dir,
            exe: exe.to_owned(),
            state,
            database,
        };
        s.cli(&["init", "--database", &s.database]);
        s.cli(&["admin", "add", ADMIN]);
        // The bench asks for hundreds of thousands of codes on one origin.
        let path = s.state.join("server.toml");
        let mut config: toml::Table =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut limit = toml::Table::new();
        limit.insert("codes".into(), toml::Value::Integer(0));
        limit.insert("burst".into(), toml::Value::Integer(0));
        config.insert("rate_limit".into(), toml::Value::Table(limit));
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();

        let mut vault = s.vault();
        let id = vault
            .add_token(ADMIN, &token("team"), &[SITE.parse().unwrap()])
            .unwrap();
        vault.add_group(ADMIN, "ops").unwrap();
        vault.add_member(ADMIN, "ops", USER).unwrap();
        vault
            .set_grant(ADMIN, &id, "ops", Access::CodeOnly)
            .unwrap();
        s
    }

    /// `[limits] code_batch` for the next `serve`.
    fn set_code_batch(&self, code_batch: usize) {
        let path = self.state.join("server.toml");
        let mut config: toml::Table =
            toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let limits = config
            .entry("limits")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .expect("[limits] is a table");
        limits.insert("code_batch".into(), toml::Value::Integer(code_batch as i64));
        std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    }

    /// The server's vault, opened as the operator on the server machine would.
    fn vault(&self) -> Vault {
        let protection = Protection::KeyFile(self.state.join("data.key"));
        match self.database.strip_prefix("sqlite:") {
            Some(path) => Vault::open(Path::new(path), &protection).unwrap(),
            None => Vault::open_postgres(&self.database, &protection).unwrap(),
        }
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(&self.exe)
            .arg("--state")
            .arg(&self.state)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "twofill-server {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `count` more tokens, each bound to its own site and code-only for
    /// the user, as an admin would add them.
    fn seed_tokens(&self, count: usize) {
        let mut vault = self.vault();
        for i in 0..count {
            let site = format!("https://t{i}.bench.example").parse().unwrap();
            let id = vault
                .add_token(ADMIN, &token(&format!("t{i}")), &[site])
                .unwrap();
            vault
                .set_grant(ADMIN, &id, "ops", Access::CodeOnly)
                .unwrap();
        }
    }

    /// Fill records like the server writes, until the log holds `target`
    /// or the time budget is spent; returns the log's length.
    fn seed_records(&self, target: usize) -> i64 {
        let mut vault = self.vault();
        let event = AuditEvent {
            token_id: Some("bench".into()),
            token_label: Some("Bench (team)".into()),
            origin: Some(SITE.into()),
            browser: Some("chromium".into()),
            ..AuditEvent::new(USER, AuditAction::CodeFill, true)
        };
        let batch = vec![event; RECORD_BATCH];
        let started = Instant::now();
        let mut head = vault.audit_head_seq().unwrap();
        while (head as usize) < target && started.elapsed() < SEED_RECORDS_BUDGET {
            let n = RECORD_BATCH.min(target - head as usize);
            head = vault.record_batch(&batch[..n]).unwrap();
        }
        head
    }

    fn serve(&self) -> Server {
        let log = self.state.join("serve.log");
        let mut child = Command::new(&self.exe)
            .arg("--state")
            .arg(&self.state)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        let Some(addr) = line.trim().strip_prefix(twofill_words::SERVER_LISTENING) else {
            let _ = child.kill();
            panic!(
                "the server did not start ({line:?}); its log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Server {
            addr: addr.parse().unwrap(),
            ca_pem: std::fs::read_to_string(self.state.join("ca.pem")).unwrap(),
            child,
        }
    }
}

fn token(account: &str) -> Token {
    Token::from_uri(&format!(
        "otpauth://totp/Bench:{account}?secret={SEED}&issuer=Bench"
    ))
    .unwrap()
}

struct Server {
    child: Child,
    addr: SocketAddr,
    ca_pem: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap())
            .unwrap();
        roots
    }

    fn config(
        &self,
        identity: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
    ) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.roots());
        Arc::new(match identity {
            Some((cert, key)) => builder.with_client_auth_cert(vec![cert], key).unwrap(),
            None => builder.with_no_client_auth(),
        })
    }

    /// A new device of the user, enrolled over the API with an invite made
    /// on the server machine; returns its TLS client configuration.
    fn join(&self, state: &State) -> Arc<rustls::ClientConfig> {
        let invite = state.cli(&["invite", USER, "--ttl", "1h"]);
        let invite = invite.lines().next().unwrap().trim();
        let secret = invite.split('.').nth(1).expect("an invite tf1.SECRET.PIN");
        let key = KeyPair::generate().unwrap();
        let csr = CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap();
        let body = serde_json::to_vec(&JoinRequest {
            invite: secret.into(),
            device_name: "bench laptop".into(),
            csr_pem: csr,
        })
        .unwrap();
        let mut conn = Connection::open(self.addr, &self.config(None));
        let joined: JoinReply =
            serde_json::from_slice(&conn.exchange(&http_post(JOIN_PATH, &body)))
                .expect("a join reply");
        let cert = CertificateDer::from_pem_slice(joined.certificate_pem.as_bytes()).unwrap();
        let key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
        self.config(Some((cert, key)))
    }
}
