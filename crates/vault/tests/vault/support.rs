//! What the vault's tests share: a vault in a fresh directory (SQLite) or
//! a fresh database (PostgreSQL), committed fixtures, tokens.
//!
//! The rules suite runs every test body over both stores: [`both_stores!`]
//! turns a list of test functions into `sqlite::name` and `postgres::name`
//! tests, and [`TempVault::new`] makes a vault on the store the running
//! test is for.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use twofill_otp::Token;
use twofill_seal::Protection;
use twofill_vault::{Access, CodeRequest, IssuedCode, Origin, Requester, Vault};

/// Which store a test's vault lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// The database's URL.
    Postgres(String),
}

thread_local! {
    /// Whether the running test is the PostgreSQL run (each test has its
    /// own thread).
    static ON_POSTGRES: Cell<bool> = const { Cell::new(false) };
}

/// Runs `test` with every [`TempVault::new`] in it on PostgreSQL (each
/// in a fresh database of the test process's cluster).
pub fn on_postgres(test: fn()) {
    /// Back to SQLite when the test ends, passed or panicked.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ON_POSTGRES.with(|p| p.set(false));
        }
    }
    let _reset = Reset;
    ON_POSTGRES.with(|p| p.set(true));
    test();
}

/// Whether the running test is the PostgreSQL run of a [`both_stores!`] body.
pub fn running_on_postgres() -> bool {
    ON_POSTGRES.with(Cell::get)
}

/// `both_stores!(a, b)` in a test module: `sqlite::a`, `postgres::a`, ...
/// run the same bodies, with the same assertions, over each store.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name() })*
        }
        mod postgres {
            $(#[test] fn $name() { $crate::support::on_postgres(super::$name) })*
        }
    };
}
pub(crate) use both_stores;

pub struct TempVault {
    pub dir: tempfile::TempDir,
    /// The SQLite file (unused on PostgreSQL).
    pub path: PathBuf,
    pub key_file: PathBuf,
    pub backend: Backend,
}

impl TempVault {
    /// A new vault on the running test's store.
    pub fn new() -> TempVault {
        if ON_POSTGRES.with(Cell::get) {
            TempVault::on(Backend::Postgres(twofill_test_postgres::fresh_database()))
        } else {
            TempVault::on(Backend::Sqlite)
        }
    }

    pub fn on(backend: Backend) -> TempVault {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault").join("vault.sqlite3");
        let key_file = dir.path().join("vault").join("vault.key");
        TempVault {
            dir,
            path,
            key_file,
            backend,
        }
    }

    pub fn protection(&self) -> Protection {
        Protection::KeyFile(self.key_file.clone())
    }

    pub fn try_open(&self) -> twofill_vault::Result<Vault> {
        match &self.backend {
            Backend::Sqlite => Vault::open(&self.path, &self.protection()),
            Backend::Postgres(url) => Vault::open_postgres(url, &self.protection()),
        }
    }

    pub fn open(&self) -> Vault {
        self.try_open().unwrap()
    }

    /// Runs SQL straight on the store, past the vault (a person with
    /// write access to the file or database); the error as text.
    pub fn sql(&self, sql: &str) -> Result<(), String> {
        match &self.backend {
            Backend::Sqlite => rusqlite::Connection::open(&self.path)
                .and_then(|c| c.execute_batch(sql))
                .map_err(|e| e.to_string()),
            Backend::Postgres(url) => twofill_test_postgres::admin_client(url)
                .batch_execute(sql)
                .map_err(|e| e.as_db_error().map_or(e.to_string(), |db| db.to_string())),
        }
    }

    /// SQL that turns a vault of today's schema back into schema 11, for
    /// the migration tests: schema 13's per-token rate-limit index becomes
    /// the per-origin one again and schema 12's SMS tables go. The one
    /// place that knows what came after 11.
    pub fn back_to_schema_11(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => {
                "DROP INDEX audit_recent_by_token;
                 CREATE INDEX audit_recent ON audit(user, origin, action, time_ms);
                 DROP TABLE sms_messages; DROP TABLE sms_inbox_grants;
                 DROP TABLE sms_inbox_sites; DROP TABLE sms_inboxes;
                 PRAGMA user_version = 11;"
            }
            Backend::Postgres(_) => {
                r#"DROP INDEX audit_recent_by_token;
                   CREATE INDEX audit_recent ON audit("user", origin, action, time_ms);
                   DROP TABLE sms_messages; DROP TABLE sms_inbox_grants;
                   DROP TABLE sms_inbox_sites; DROP TABLE sms_inboxes;
                   UPDATE twofill_meta SET value = '11' WHERE key = 'schema_version';"#
            }
        }
    }

    /// [`TempVault::sql`] with the audit log's append-only guards off first
    /// (what someone with write access can do).
    pub fn tamper(&self, sql: &str) {
        let guards_off = match self.backend {
            Backend::Sqlite => {
                "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;"
            }
            Backend::Postgres(_) => "ALTER TABLE audit DISABLE TRIGGER USER;",
        };
        self.sql(&format!("{guards_off} {sql}")).unwrap();
    }

    /// `bytes` as a literal in this store's SQL.
    pub fn blob_literal(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self.backend {
            Backend::Sqlite => format!("X'{hex}'"),
            Backend::Postgres(_) => format!("'\\x{hex}'::bytea"),
        }
    }

    /// Whether `e` is this store's database failing (not a refusal).
    pub fn is_database_error(&self, e: &twofill_vault::VaultError) -> bool {
        match self.backend {
            Backend::Sqlite => matches!(e, twofill_vault::VaultError::Sqlite(_)),
            Backend::Postgres(_) => matches!(e, twofill_vault::VaultError::Postgres(_)),
        }
    }
}

/// Alice (the first admin) enrolls a Kaspersky token with `seed`, bound to
/// `site`, and grants it code-only to bob through the group `ops`; returns
/// the token's id.
pub fn kaspersky_code_only_for_bob(v: &mut Vault, seed: &str, site: &str) -> String {
    let id = v
        .add_token("alice", &token("Kaspersky", seed), &[site.parse().unwrap()])
        .unwrap();
    v.add_group("alice", "ops").unwrap();
    v.add_member("alice", "ops", "bob").unwrap();
    v.set_grant("alice", &id, "ops", Access::CodeOnly).unwrap();
    id
}

/// Bob's fill on `origin`, from the command line's requester.
pub fn bob_fills(v: &mut Vault, origin: &Origin) -> twofill_vault::Result<IssuedCode> {
    v.issue_code(&CodeRequest::fill(&Requester::cli("bob"), origin))
}

pub fn token(issuer: &str, seed: &str) -> Token {
    Token::from_uri(&format!(
        "otpauth://totp/{issuer}:team@example.com?secret={seed}&issuer={issuer}"
    ))
    .unwrap()
}

pub fn file_contains(path: &Path, needle: &[u8]) -> bool {
    let hay = std::fs::read(path).unwrap_or_default();
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A copy of a committed vault fixture (`tests/fixtures/<name>/vault.sqlite3`
/// and its `vault.key`) in a fresh directory: opening migrates it, so tests
/// never open the committed file itself.
pub fn fixture_copy(name: &str) -> TempVault {
    let tv = TempVault::new();
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name);
    std::fs::create_dir_all(tv.path.parent().unwrap()).unwrap();
    std::fs::copy(from.join("vault.sqlite3"), &tv.path).unwrap();
    std::fs::copy(from.join("vault.key"), &tv.key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tv.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    tv
}

/// A fresh database holding a committed PostgreSQL vault fixture
/// (`tests/fixtures/<name>/dump.sql`, a `pg_dump`) and its key file.
pub fn postgres_fixture(name: &str) -> TempVault {
    let tv = TempVault::on(Backend::Postgres(twofill_test_postgres::fresh_database()));
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name);
    let dump = std::fs::read_to_string(fixture.join("dump.sql")).unwrap();
    tv.sql(&dump).unwrap();
    std::fs::create_dir_all(tv.key_file.parent().unwrap()).unwrap();
    std::fs::copy(fixture.join("vault.key"), &tv.key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tv.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    tv
}
