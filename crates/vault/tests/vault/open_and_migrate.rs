//! Opening: damaged or foreign files are refused and left alone; old vaults
//! are migrated; seeds are never on disk in the clear.

use crate::support::{TempVault, bob_fills, file_contains, fixture_copy, token};
use rusqlite::Connection;
use twofill_vault::{
    Access, AuditAction, CodeRequest, Requester, SCHEMA_VERSION, Scope, TokensRequest, Vault,
    VaultError,
};

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

#[test]
fn seeds_are_sealed_at_rest() {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_token(
        "alice",
        &token("Kaspersky", SEED),
        &["kaspersky.com".parse().unwrap()],
    )
    .unwrap();
    drop(v);
    let c = Connection::open(&tv.path).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    drop(c);
    assert!(!file_contains(&tv.path, SEED.as_bytes()));
    assert!(!file_contains(&tv.path, b"otpauth://"));
    // The raw secret bytes are not there either.
    assert!(!file_contains(&tv.path, b"1234567890"));
}

#[test]
fn wrong_key_file_cannot_open_seeds() {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_token("alice", &token("K", SEED), &[]).unwrap();
    drop(v);
    let other = tv.dir.path().join("other.key");
    let err = Vault::open(&tv.path, &twofill_seal::Protection::KeyFile(other)).err();
    assert!(matches!(err, Some(VaultError::Key(_))), "{err:?}");
}

#[test]
fn garbage_file_is_refused_and_untouched() {
    let tv = TempVault::new();
    std::fs::create_dir_all(tv.path.parent().unwrap()).unwrap();
    let junk = b"definitely not sqlite, but someone's data".repeat(100);
    std::fs::write(&tv.path, &junk).unwrap();
    let err = Vault::open(&tv.path, &tv.protection()).err().unwrap();
    assert!(matches!(err, VaultError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("left untouched"));
    assert_eq!(std::fs::read(&tv.path).unwrap(), junk);
}

#[test]
fn an_empty_or_one_byte_vault_file_is_reported_not_made_a_new_vault() {
    for junk in [&b""[..], b"x"] {
        let tv = TempVault::new();
        drop(tv.open());
        std::fs::write(&tv.path, junk).unwrap();
        let err = Vault::open(&tv.path, &tv.protection()).err();
        let Some(err @ VaultError::Corrupt { .. }) = err else {
            panic!("a {}-byte vault file must be reported: {err:?}", junk.len());
        };
        assert!(err.to_string().contains("holds no vault"), "{err}");
        assert_eq!(std::fs::read(&tv.path).unwrap(), junk);
    }
}

#[test]
fn a_healthy_vault_it_cannot_use_says_why_and_not_to_move_it_aside() {
    let tv = TempVault::new();
    let mut v = tv.open();
    v.add_token("alice", &token("K", SEED), &[]).unwrap();
    drop(v);
    // Where SQLite must create the write-ahead log stands a directory: as
    // for a read-only directory, the vault is fine and cannot be opened.
    let wal = tv.path.with_file_name("vault.sqlite3-wal");
    std::fs::create_dir(&wal).unwrap();
    let err = Vault::open(&tv.path, &tv.protection()).err().unwrap();
    assert!(matches!(err, VaultError::Unusable { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("permissions") && msg.contains("do not move it aside"),
        "{msg}"
    );
    std::fs::remove_dir(&wal).unwrap();
    assert_eq!(tv.open().tokens().unwrap().len(), 1);
}

#[cfg(unix)]
#[test]
fn new_vault_files_are_private_in_an_open_directory() {
    use std::os::unix::fs::PermissionsExt;
    let tv = TempVault::new();
    let dir = tv.path.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut v = tv.open();
    v.add_token("alice", &token("K", SEED), &[]).unwrap();
    // While it is open the WAL and shared-memory files exist too.
    for name in ["vault.sqlite3", "vault.sqlite3-wal", "vault.sqlite3-shm"] {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
    drop(v);
}

#[test]
fn foreign_database_is_refused() {
    let tv = TempVault::new();
    std::fs::create_dir_all(tv.path.parent().unwrap()).unwrap();
    Connection::open(&tv.path)
        .unwrap()
        .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    let err = Vault::open(&tv.path, &tv.protection()).err().unwrap();
    assert!(matches!(err, VaultError::Corrupt { .. }), "{err}");
}

#[test]
fn damaged_page_is_detected_and_untouched() {
    let tv = TempVault::new();
    {
        let mut v = tv.open();
        for i in 0..200 {
            v.add_token("alice", &token(&format!("Issuer{i}"), SEED), &[])
                .unwrap();
        }
    }
    Connection::open(&tv.path)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let mut bytes = std::fs::read(&tv.path).unwrap();
    assert!(bytes.len() > 8 * 4096);
    for b in &mut bytes[4096..4 * 4096] {
        *b = 0xA5;
    }
    std::fs::write(&tv.path, &bytes).unwrap();
    let err = Vault::open(&tv.path, &tv.protection())
        .err()
        .expect("damage must be detected");
    assert!(matches!(err, VaultError::Corrupt { .. }), "{err}");
    assert_eq!(std::fs::read(&tv.path).unwrap(), bytes);
}

#[test]
fn newer_schema_is_refused() {
    let tv = TempVault::new();
    drop(tv.open());
    Connection::open(&tv.path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    assert!(matches!(
        Vault::open(&tv.path, &tv.protection()),
        Err(VaultError::TooNew { .. })
    ));
}

#[test]
fn version_1_vault_is_migrated_and_its_plaintext_scrubbed() {
    let tv = TempVault::new();
    std::fs::create_dir_all(tv.path.parent().unwrap()).unwrap();
    {
        // A vault exactly as schema 1 wrote it: plaintext URIs.
        let c = Connection::open(&tv.path).unwrap();
        c.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA application_id = {};
             CREATE TABLE tokens (id TEXT PRIMARY KEY, issuer TEXT, account TEXT NOT NULL,
                 uri TEXT NOT NULL, created_at INTEGER NOT NULL DEFAULT (unixepoch()));
             CREATE TABLE token_sites (token_id TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
                 site TEXT NOT NULL, PRIMARY KEY (token_id, site));
             INSERT INTO tokens (id, issuer, account, uri) VALUES ('abc123', 'Kaspersky', 'team@example.com',
                 'otpauth://totp/Kaspersky:team@example.com?secret={SEED}&issuer=Kaspersky');
             INSERT INTO token_sites VALUES ('abc123', 'https://kaspersky.com');
             PRAGMA user_version = 1;
             PRAGMA wal_checkpoint(TRUNCATE);",
            0x3246_494c
        ))
        .unwrap();
    }
    assert!(file_contains(&tv.path, SEED.as_bytes()), "precondition");

    let mut v = tv.open();
    let tokens = v.tokens().unwrap();
    assert_eq!(tokens.len(), 1);
    // Bound without a port, which meant every port before schema 13.
    assert_eq!(tokens[0].bindings[0].to_string(), "https://kaspersky.com:*");
    v.add_group("alice", "ops").unwrap();
    v.add_member("alice", "ops", "alice").unwrap();
    v.set_grant("alice", "abc123", "ops", Access::FullSeed)
        .unwrap();
    let seed = v
        .reveal_seed(&Requester::cli("alice"), "abc123", AuditAction::SeedReveal)
        .unwrap();
    assert_eq!(seed.secret.to_base32(), SEED);
    let origin = "https://my.kaspersky.com".parse().unwrap();
    v.issue_code(&CodeRequest::fill(&Requester::cli("alice"), &origin))
        .unwrap();
    drop(v);
    Connection::open(&tv.path)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    assert!(
        !file_contains(&tv.path, SEED.as_bytes()),
        "plaintext seed survived migration"
    );
    let v = tv.open();
    assert!(v.verify_audit(None).unwrap().problem.is_none());
}

#[test]
fn concurrent_first_opens_create_one_vault() {
    let tv = std::sync::Arc::new(TempVault::new());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let tv = tv.clone();
            std::thread::spawn(move || Vault::open(&tv.path, &tv.protection()).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let mut v = tv.open();
    v.add_token("alice", &token("K", SEED), &[]).unwrap();
}

/// Ids in the committed schema-2 fixture (see `tests/fixtures/vault-v2/README.md`).
const V2_KASPERSKY: &str = "54a1cc684fd5";
const V2_GITHUB: &str = "8e6a68468225";
const V2_GITHUB_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

type RawAudit = Vec<(i64, i64, String, String, bool, Vec<u8>, Vec<u8>)>;

fn raw_audit(path: &std::path::Path) -> RawAudit {
    let c = Connection::open(path).unwrap();
    let mut stmt = c
        .prepare(
            "SELECT seq, time_ms, user, action, success, prev_mac, mac FROM audit ORDER BY seq",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

fn user_version(path: &std::path::Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn version_2_vault_is_migrated_keeping_tokens_grants_and_the_audit_chain() {
    let tv = fixture_copy("vault-v2");
    assert_eq!(user_version(&tv.path), 2, "precondition: a schema-2 vault");
    let before = raw_audit(&tv.path);
    assert_eq!(before.len(), 13);

    let mut v = tv.open();
    assert_eq!(user_version(&tv.path), SCHEMA_VERSION);
    // Every old record is still there, unchanged, and the chain verifies.
    assert_eq!(raw_audit(&tv.path), before);
    let report = v.verify_audit(None).unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert_eq!(report.records, 13);

    // Tokens, bindings, users, groups and grants came through; every old
    // token is a shared one.
    let tokens = v.tokens().unwrap();
    let ids: Vec<&str> = tokens.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, [V2_GITHUB, V2_KASPERSKY]);
    assert!(tokens.iter().all(|t| t.owner.is_none()));
    assert_eq!(
        tokens[0]
            .bindings
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>(),
        ["http://intranet.example:8080", "https://github.com:*"]
    );
    assert!(v.is_admin("alice").unwrap());
    assert_eq!(
        v.access("bob", V2_KASPERSKY).unwrap(),
        Some(Access::CodeOnly)
    );
    assert_eq!(
        v.access("carol", V2_KASPERSKY).unwrap(),
        Some(Access::FullSeed)
    );
    assert_eq!(v.access("bob", V2_GITHUB).unwrap(), None);

    // The data key is the vault's own (a fresh one could not open the seeds).
    let seed = v
        .reveal_seed(
            &Requester::cli("carol"),
            V2_KASPERSKY,
            AuditAction::SeedReveal,
        )
        .unwrap();
    assert_eq!(seed.secret.to_base32(), SEED);
    let github = token("GitHub", V2_GITHUB_SEED);
    let issued = v
        .issue_code(&CodeRequest::fill(
            &Requester::cli("carol"),
            &"https://github.com".parse().unwrap(),
        ))
        .unwrap();
    assert_eq!(issued.window.code, github.code_at(issued.window.valid_from));

    // The new schema works on the migrated file: bob enrolls a personal token.
    let mine = v
        .add_personal_token("bob", &token("Personal", V2_GITHUB_SEED), &[])
        .unwrap();
    assert_eq!(v.access("bob", &mine).unwrap(), Some(Access::FullSeed));
    drop(v);

    let v = tv.open();
    let report = v.verify_audit(None).unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert_eq!(report.records, 13 + 3);
    assert_eq!(raw_audit(&tv.path)[..13], before[..]);
}

#[test]
fn version_2_vault_that_cannot_be_unlocked_is_not_migrated() {
    let tv = wrong_key_leaves_untouched("vault-v2", 2);
    // With the right key it migrates.
    drop(tv.open());
    assert_eq!(user_version(&tv.path), SCHEMA_VERSION);
}

#[test]
fn a_vault_from_a_newer_build_than_this_one_is_left_untouched() {
    let tv = fixture_copy("vault-v2");
    drop(tv.open());
    Connection::open(&tv.path)
        .unwrap()
        .execute_batch(&format!(
            "PRAGMA user_version = {}; PRAGMA wal_checkpoint(TRUNCATE);",
            SCHEMA_VERSION + 1
        ))
        .unwrap();
    let bytes = std::fs::read(&tv.path).unwrap();
    match Vault::open(&tv.path, &tv.protection()) {
        Err(VaultError::TooNew { found, .. }) if found == SCHEMA_VERSION + 1 => {}
        other => panic!("{:?}", other.err()),
    }
    assert_eq!(std::fs::read(&tv.path).unwrap(), bytes);
}

const V3_KASPERSKY: &str = "f936b5555f63";
const V3_GITHUB: &str = "a78f43908cb7";
const V3_PERSONAL: &str = "2b639e688092";

#[test]
fn version_3_vault_gets_plain_code_parameters_and_keeps_its_audit_chain() {
    let tv = fixture_copy("vault-v3");
    assert_eq!(user_version(&tv.path), 3, "precondition: a schema-3 vault");
    let before = raw_audit(&tv.path);
    assert_eq!(before.len(), 16);

    let mut v = tv.open();
    assert_eq!(user_version(&tv.path), SCHEMA_VERSION);
    assert_eq!(raw_audit(&tv.path), before);
    let report = v.verify_audit(None).unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert_eq!(report.records, 16);

    // The parameters came out of the sealed seeds into plain columns.
    let github = v.token_details(V3_GITHUB).unwrap();
    assert_eq!(
        (github.algorithm.as_str(), github.digits, github.period),
        ("SHA256", 8, 60)
    );
    let kaspersky = v.token_details(V3_KASPERSKY).unwrap();
    assert_eq!(
        (
            kaspersky.algorithm.as_str(),
            kaspersky.digits,
            kaspersky.period
        ),
        ("SHA1", 6, 30)
    );
    let listed = |v: &Vault, user: &str| -> Vec<(String, u64, u32)> {
        v.permitted_tokens(&TokensRequest {
            user,
            origin: None,
            scope: Scope::All,
        })
        .unwrap()
        .into_iter()
        .map(|t| (t.summary.id, t.period, t.digits))
        .collect()
    };
    assert_eq!(
        listed(&v, "carol"),
        [
            (V3_GITHUB.to_owned(), 60, 8),
            (V3_KASPERSKY.to_owned(), 30, 6)
        ]
    );
    assert_eq!(
        listed(&v, "bob"),
        [
            (V3_KASPERSKY.to_owned(), 30, 6),
            (V3_PERSONAL.to_owned(), 30, 6)
        ]
    );

    // Codes still come from the sealed seeds, with the same parameters.
    let issued = v
        .issue_code(&CodeRequest::fill(
            &Requester::cli("carol"),
            &"https://github.com".parse().unwrap(),
        ))
        .unwrap();
    let github_token = twofill_otp::Token::from_uri(
        "otpauth://totp/GitHub:team@example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=GitHub&algorithm=SHA256&digits=8&period=60",
    )
    .unwrap();
    assert_eq!(issued.window.code.len(), 8);
    assert_eq!(
        issued.window.code,
        github_token.code_at(issued.window.valid_from)
    );
    let seed = v
        .reveal_seed(&Requester::cli("bob"), V3_PERSONAL, AuditAction::SeedReveal)
        .unwrap();
    assert_eq!(seed.secret.to_base32(), "KRUGKIDROVUWG2ZAMJZG653OEBTG66BA");
    drop(v);

    // Listing no longer opens seeds: with every seed destroyed it still works.
    Connection::open(&tv.path)
        .unwrap()
        .execute_batch("UPDATE tokens SET sealed_seed = x'00';")
        .unwrap();
    let v = tv.open();
    assert_eq!(listed(&v, "carol").len(), 2);
    assert_eq!(v.token_details(V3_GITHUB).unwrap().digits, 8);
    let report = v.verify_audit(None).unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert_eq!(report.records, 16 + 2);
    assert_eq!(raw_audit(&tv.path)[..16], before[..]);
}

#[test]
fn version_3_vault_that_cannot_be_unlocked_is_not_migrated() {
    wrong_key_leaves_untouched("vault-v3", 3);
}

/// Opening a copy of fixture `name` (schema `version`) with a key file that
/// is not its own fails as a key error and leaves the file byte for byte as
/// it was; returns the copy.
fn wrong_key_leaves_untouched(name: &str, version: i64) -> TempVault {
    let tv = fixture_copy(name);
    let bytes = std::fs::read(&tv.path).unwrap();
    let other = tv.dir.path().join("other.key");
    let err = Vault::open(&tv.path, &twofill_seal::Protection::KeyFile(other)).err();
    assert!(matches!(err, Some(VaultError::Key(_))), "{err:?}");
    assert_eq!(user_version(&tv.path), version);
    assert_eq!(std::fs::read(&tv.path).unwrap(), bytes);
    tv
}

/// The token in the committed schema-4 fixture (`tests/fixtures/vault-v4/README.md`).
const V4_KASPERSKY: &str = "b22ac51f6f1e";

#[test]
fn version_4_vault_gets_invites_and_devices_and_keeps_its_tokens_and_chain() {
    let tv = fixture_copy("vault-v4");
    assert_eq!(user_version(&tv.path), 4, "precondition: a schema-4 vault");
    let before = raw_audit(&tv.path);
    assert!(!before.is_empty());

    let mut v = tv.open();
    assert_eq!(user_version(&tv.path), SCHEMA_VERSION);
    assert_eq!(raw_audit(&tv.path), before);
    let report = v.verify_audit(None).unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
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
    // The new tables work.
    let expires = twofill_words::unix_now_ms() + 60_000;
    v.create_invite("alice", "carol", [7; 32], expires).unwrap();
    let device = twofill_vault::NewDevice {
        id: "dev-1",
        name: "carol's laptop",
        cert_sha256: [8; 32],
    };
    v.redeem_invite([7; 32], &device).unwrap();
    assert_eq!(v.authenticate_device(&[8; 32]).unwrap().user, "carol");
    assert!(v.verify_audit(None).unwrap().problem.is_none());
}

#[test]
fn version_4_vault_that_cannot_be_unlocked_is_not_migrated() {
    wrong_key_leaves_untouched("vault-v4", 4);
}
