//! A real PostgreSQL 15 for twofill's tests (the vault's rules suite, the team server): one cluster per test process, in a
//! temporary directory on a free 127.0.0.1 port, a fresh database per test.
//!
//! PostgreSQL refuses to run as root (and CI runs as root), so as root the
//! cluster runs as the unprivileged system user `twofill-pg` (created here
//! if missing) through `setpriv`. A watchdog shell stops the server and removes its directory
//! when this test process exits, however it exits.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN_DIR: &str = "/usr/lib/postgresql/15/bin";
const SYSTEM_USER: &str = "twofill-pg";

struct Cluster {
    port: u16,
    /// Outlives this process on purpose (it cleans up after it), so it is
    /// kept, never waited for.
    _watchdog: std::process::Child,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The URL of a new, empty database on this process's cluster.
pub fn fresh_database() -> String {
    let cluster = CLUSTER.get_or_init(start);
    let name = format!("t_{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
    let mut admin = connect(cluster.port, "postgres").unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    url(cluster.port, &name)
}

/// Runs `sql` on the database at `url` as its superuser (for tests that
/// play a person with direct database access).
pub fn admin_client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

fn url(port: u16, db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/{db}")
}

fn connect(port: u16, db: &str) -> Result<postgres::Client, postgres::Error> {
    postgres::Client::connect(&url(port, db), postgres::NoTls)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn start() -> Cluster {
    let postgres = Path::new(BIN_DIR).join("postgres");
    let initdb = Path::new(BIN_DIR).join("initdb");
    assert!(
        postgres.exists() && initdb.exists(),
        "the PostgreSQL tests need PostgreSQL 15's server ({}); install it with `cargo xtask setup` \
         (or `apt-get install postgresql-15`)",
        postgres.display()
    );
    let root = is_root();
    let dir: PathBuf = tempfile::Builder::new()
        .prefix("twofill-pg-")
        .tempdir()
        .unwrap()
        .keep();
    // As root, run as an unprivileged user that owns the directory.
    let runner: &[&str] = if root {
        ensure_system_user();
        let status = Command::new("chown")
            .arg(format!("{SYSTEM_USER}:"))
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "chown {} failed", dir.display());
        // setpriv execs: the server keeps its pid, so the watchdog's
        // signal reaches it (a runuser in between would not forward it).
        &[
            "setpriv",
            "--reuid=twofill-pg",
            "--regid=twofill-pg",
            "--init-groups",
        ]
    } else {
        &[]
    };
    let data = dir.join("data");
    let mut initdb_cmd = match runner.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(&initdb);
            c
        }
        None => Command::new(&initdb),
    };
    let out = initdb_cmd
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let server = format!(
        "{} {} -D {} -p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
        runner.join(" "),
        postgres.display(),
        data.display(),
        dir.display()
    );
    // The watchdog: start the server, wait for this process to go, stop
    // the server (fast shutdown) and remove its files.
    let script = format!(
        "{server} >{log} 2>&1 & pg=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 0.2; done; \
         kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
        log = dir.join("server.log").display(),
        parent = std::process::id(),
        dir = dir.display(),
    );
    let watchdog = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match connect(port, "postgres") {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => panic!(
                "PostgreSQL did not start on port {port}: {e}; its log: {}",
                std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Cluster {
        port,
        _watchdog: watchdog,
    }
}

fn ensure_system_user() {
    let known = Command::new("id")
        .arg(SYSTEM_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !known {
        let status = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ])
            .status()
            .unwrap();
        // Another test process may have created it at the same moment.
        assert!(
            status.success()
                || Command::new("id")
                    .arg(SYSTEM_USER)
                    .output()
                    .is_ok_and(|o| o.status.success()),
            "useradd {SYSTEM_USER} failed"
        );
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
