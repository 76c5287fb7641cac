//! What only the PostgreSQL store has to show: its schema made from an
//! empty database, reopening, refusing a database that is not ours or is
//! newer (and leaving it untouched), and writers on several connections
//! keeping one gap-free audit chain.

use crate::support::{
    Backend, TempVault, bob_fills, kaspersky_code_only_for_bob, postgres_fixture, token,
};
use twofill_test_postgres::{admin_client, fresh_database};
use twofill_vault::{Access, SCHEMA_VERSION, VaultError};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn on_fresh_database() -> TempVault {
    TempVault::on(Backend::Postgres(fresh_database()))
}

fn url(tv: &TempVault) -> &str {
    match &tv.backend {
        Backend::Postgres(url) => url,
        Backend::Sqlite => unreachable!(),
    }
}

/// Every table with its row count, and every column: what "untouched" means.
fn snapshot(url: &str) -> Vec<String> {
    let mut c = admin_client(url);
    let mut out = Vec::new();
    for r in c
        .query(
            "SELECT table_name::text, column_name::text, data_type::text
             FROM information_schema.columns WHERE table_schema = 'public'
             ORDER BY 1, 2",
            &[],
        )
        .unwrap()
    {
        out.push(format!(
            "{}.{} {}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2)
        ));
    }
    for r in c
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
    {
        let table: String = r.get(0);
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM \"{table}\""), &[])
            .unwrap()
            .get(0);
        out.push(format!("{table}: {n} rows"));
    }
    let meta = c
        .query(
            "SELECT key || '=' || value FROM twofill_meta ORDER BY key",
            &[],
        )
        .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
        .unwrap_or_else(|_| Vec::<String>::new());
    out.extend(meta);
    out
}

#[test]
fn an_empty_database_gets_the_schema_and_reopens_with_data_and_chain() {
    let tv = on_fresh_database();
    let mut v = tv.open();
    let id = kaspersky_code_only_for_bob(&mut v, SEED, "my.kaspersky.com");
    let origin = "https://my.kaspersky.com".parse().unwrap();
    bob_fills(&mut v, &origin).unwrap();
    let head = v.audit_head_seq().unwrap();
    drop(v);

    let meta: Vec<(String, String)> = admin_client(url(&tv))
        .query("SELECT key, value FROM twofill_meta ORDER BY key", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(meta[0], ("application".into(), "twofill vault".into()));
    assert_eq!(meta[1], ("first_admin".into(), "alice".into()));
    assert_eq!(
        meta[2],
        ("schema_version".into(), SCHEMA_VERSION.to_string())
    );
    assert_eq!(meta[3].0, "wrapped_key");
    // The seed is sealed: not in the clear anywhere in the tokens table.
    let dump: String = admin_client(url(&tv))
        .query_one("SELECT string_agg(t::text, ' ') FROM tokens t", &[])
        .unwrap()
        .get(0);
    assert!(!dump.contains(SEED), "{dump}");

    let mut v = tv.open();
    assert_eq!(v.tokens().unwrap().len(), 1);
    assert_eq!(v.access("bob", &id).unwrap(), Some(Access::CodeOnly));
    assert_eq!(v.audit_head_seq().unwrap(), head);
    bob_fills(&mut v, &origin).unwrap();
    let report = v.verify_audit(None).unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.head_seq, head + 1);
}

#[test]
fn concurrent_first_opens_create_one_vault() {
    let tv = on_fresh_database();
    std::thread::scope(|s| {
        let opens: Vec<_> = (0..4)
            .map(|_| s.spawn(|| tv.try_open().map(|_| ())))
            .collect();
        for open in opens {
            open.join().unwrap().unwrap();
        }
    });
    let keys: i64 = admin_client(url(&tv))
        .query_one(
            "SELECT count(*) FROM twofill_meta WHERE key = 'wrapped_key'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(keys, 1);
    let mut v = tv.open();
    v.add_token("alice", &token("K", SEED), &[]).unwrap();
}

#[test]
fn a_foreign_database_is_refused_and_left_untouched() {
    let tv = on_fresh_database();
    tv.sql("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total NUMERIC); INSERT INTO invoices VALUES (1, 9.5);")
        .unwrap();
    let before = snapshot(url(&tv));
    let err = tv
        .try_open()
        .err()
        .expect("a foreign database must be refused");
    assert!(matches!(err, VaultError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("another application"), "{err}");
    assert_eq!(snapshot(url(&tv)), before);
    assert!(!tv.key_file.exists(), "no key was made for it");
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let tv = on_fresh_database();
    drop(tv.open());
    tv.sql(&format!(
        "UPDATE twofill_meta SET value = '{}' WHERE key = 'schema_version'",
        SCHEMA_VERSION + 1
    ))
    .unwrap();
    let before = snapshot(url(&tv));
    let err = tv.try_open().err().expect("a newer schema must be refused");
    assert!(
        matches!(err, VaultError::TooNew { found, .. } if found == SCHEMA_VERSION + 1),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade"), "{err}");
    assert_eq!(snapshot(url(&tv)), before);
}

#[test]
fn the_password_stays_out_of_errors() {
    let tv = on_fresh_database();
    tv.sql("CREATE TABLE invoices (id INTEGER)").unwrap();
    let with_password = url(&tv).replace("postgres@", "postgres:hunter2@");
    let err = twofill_vault::Vault::open_postgres(&with_password, &tv.protection())
        .err()
        .unwrap();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

/// Two vaults (two connections, as two server replicas would have) issue
/// codes at once: one chain, numbered without a gap, that verifies.
#[test]
fn concurrent_writers_on_two_connections_keep_one_gap_free_chain() {
    const THREADS: usize = 2;
    const CODES: usize = 50;
    let tv = on_fresh_database();
    let mut v = tv.open();
    kaspersky_code_only_for_bob(&mut v, SEED, "my.kaspersky.com");
    let before = v.audit_head_seq().unwrap();
    drop(v);

    let start = std::sync::Barrier::new(THREADS);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                let mut v = tv.open();
                let origin = "https://my.kaspersky.com".parse().unwrap();
                start.wait();
                for _ in 0..CODES {
                    bob_fills(&mut v, &origin).unwrap();
                }
            });
        }
    });

    let v = tv.open();
    let records = v.audit_records(0, 10_000).unwrap();
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    let expected: Vec<i64> = (1..=before + (THREADS * CODES) as i64).collect();
    assert_eq!(seqs, expected, "one sequence without gaps");
    let report = v.verify_audit(None).unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.records as usize, records.len());
}

/// The token in the committed schema-4 dump (`tests/fixtures/postgres-v4/README.md`).
const V4_KASPERSKY: &str = "e6a96978aa0e";

fn schema_version(tv: &TempVault) -> String {
    admin_client(url(tv))
        .query_one(
            "SELECT value FROM twofill_meta WHERE key = 'schema_version'",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_version_4_database_gets_invites_and_devices_and_keeps_its_chain() {
    let tv = postgres_fixture("postgres-v4");
    assert_eq!(schema_version(&tv), "4", "precondition: a schema-4 vault");
    let audit_before = |tv: &TempVault| -> Vec<(i64, Vec<u8>)> {
        admin_client(url(tv))
            .query("SELECT seq, mac FROM audit ORDER BY seq", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    let before = audit_before(&tv);
    assert!(!before.is_empty());

    let mut v = tv.open();
    assert_eq!(schema_version(&tv), SCHEMA_VERSION.to_string());
    assert_eq!(audit_before(&tv), before);
    let report = v.verify_audit(None).unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.records as usize, before.len());
    assert_eq!(
        v.access("bob", V4_KASPERSKY).unwrap(),
        Some(Access::CodeOnly)
    );
    let issued = bob_fills(&mut v, &"https://my.kaspersky.com".parse().unwrap()).unwrap();
    assert_eq!(
        issued.window.code,
        token("Kaspersky", SEED).code_at(issued.window.valid_from)
    );
    v.create_invite(
        "alice",
        "carol",
        [7; 32],
        twofill_words::unix_now_ms() + 60_000,
    )
    .unwrap();
    let device = twofill_vault::NewDevice {
        id: "dev-1",
        name: "carol's laptop",
        cert_sha256: [8; 32],
    };
    v.redeem_invite([7; 32], &device).unwrap();
    assert_eq!(v.authenticate_device(&[8; 32]).unwrap().user, "carol");
    drop(v);
    // Opening again migrates nothing twice.
    let v = tv.open();
    assert_eq!(v.devices(None).unwrap().len(), 1);
    assert_eq!(v.verify_audit(None).unwrap().problem, None);
}

#[test]
fn a_version_4_database_that_cannot_be_unlocked_is_not_migrated() {
    let tv = postgres_fixture("postgres-v4");
    let before = snapshot(url(&tv));
    let other = tv.dir.path().join("other.key");
    let err =
        twofill_vault::Vault::open_postgres(url(&tv), &twofill_seal::Protection::KeyFile(other))
            .err()
            .expect("the wrong key must be refused");
    assert!(matches!(err, VaultError::Key(_)), "{err}");
    assert_eq!(snapshot(url(&tv)), before);
    assert_eq!(schema_version(&tv), "4");
}
