//! Schema versions, checks on open, and forward migrations.
//!
//! `PRAGMA user_version` is the schema version; `PRAGMA application_id`
//! marks the file as ours. Migrations run in one IMMEDIATE transaction that
//! re-reads the version first, so two hosts opening a new vault at the same
//! moment cannot both create it.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use twofill_seal::{DataKey, Protection};

use super::{ParamsOfSealed, sqlite};
use crate::integrity::AuthzKey;
use crate::{Result, VaultError, seed_aad};

/// Newest schema this build writes. Older vaults are migrated on open.
///
/// 1. tokens with plaintext `otpauth://` URIs and site bindings.
/// 2. seeds sealed with the data key; users, groups, grants; the audit log.
/// 3. personal tokens: `tokens.owner` (NULL for the team's shared tokens),
///    which can never have grants.
/// 4. code parameters in the clear (`tokens.algorithm`, `digits`, `period`),
///    so listing never opens a sealed seed.
/// 5. invites and devices (a team server enrolls teammates' laptops), and an
///    index for counting recent fills (the rate limit).
/// 6. HOTP counters (`tokens.hotp_counter`, NULL for time-based tokens),
///    advanced with each code's audit record.
/// 7. authorization rows carry MACs (`mac` on users, groups, members,
///    grants, token_sites, tokens, invites, devices), and `meta.first_admin` says whether the
///    vault ever had an admin ([`add_authorization_macs`]). The HOTP counter
///    is not an authorization field: no MAC covers it.
/// 8. SIEM cursors in the vault (`siem_cursors`): a team server's replicas
///    share each sink's cursor and a lease on who delivers to it
///    ([`SCHEMA_8`]).
/// 9. an index on the bound sites (`token_sites_by_site`): a fill looks up
///    the tokens bound to its origin's candidate sites instead of reading
///    every token ([`SCHEMA_9`]).
/// 10. recovery codes kept with their token (`recovery_codes`), sealed like
///     seeds, each single-use ([`SCHEMA_10`]).
/// 11. single sign-on: identity-provider subjects linked to users
///     (`sso_identities`), one session per device (`sso_sessions`, the
///     ticket's SHA-256 only) and disabled users (`disabled_users`), each
///     row MAC'd like the other authorization rows ([`SCHEMA_11`]).
/// 12. shared SMS inboxes: a phone number (`sms_inboxes`), the sites it is
///     bound to and the groups it is granted to (`code-only` / `full`),
///     each row MAC'd; received messages (`sms_messages`, sender, text and
///     code sealed), one per provider message id ([`SCHEMA_12`]).
/// 13. the fill rate limit counts per user and token: its index
///     `audit_recent_by_token` replaces the per-origin `audit_recent`
///     ([`SCHEMA_13`]); a binding without a port now means the default port,
///     so each stored one (which meant every port) becomes `host:*`, MAC'd
///     anew, and matches what it matched (`super::widened_sites`). Needs
///     nothing of schema 12, so it applies from 11 or 12 alike.
pub const SCHEMA_VERSION: i64 = 13;

/// The schema that MACs authorization rows.
pub(crate) const AUTHORIZATION_MACS: i64 = 7;

/// SQLite `application_id` marking the file as a twofill vault ("2FIL").
const APPLICATION_ID: i64 = 0x3246_494c;

/// An error opening or first reading the file at `path`: a file that is
/// not a database is corrupt; permissions, a read-only or full disk say
/// so (the vault may be fine); anything else is a database error.
pub(crate) fn open_error(path: &Path, e: rusqlite::Error) -> VaultError {
    use rusqlite::ErrorCode as C;
    if let Some(fix) = crate::error::sqlite_fix(&e) {
        return VaultError::Unusable {
            path: path.to_owned(),
            detail: e.to_string(),
            fix,
        };
    }
    match e.sqlite_error_code() {
        Some(C::NotADatabase | C::DatabaseCorrupt) => VaultError::Corrupt {
            path: path.to_owned(),
            detail: e.to_string(),
        },
        _ => VaultError::Sqlite(e),
    }
}

/// [`open_error`] for the file operations around creating a vault.
pub(crate) fn io_error(path: &Path, e: std::io::Error) -> VaultError {
    use std::io::ErrorKind as K;
    let fix = match e.kind() {
        K::StorageFull | K::QuotaExceeded => "the disk is full: free some space, then try again",
        K::PermissionDenied | K::ReadOnlyFilesystem => {
            "check that this user may create files in the vault's directory (fix the permissions, or a read-only mount)"
        }
        _ => "check the vault's directory and its disk, then try again",
    };
    VaultError::Unusable {
        path: path.to_owned(),
        detail: e.to_string(),
        fix,
    }
}

/// Reads the version and checks the file is an intact twofill vault of a
/// version we understand. Writes nothing.
///
/// The file exists (a new vault is made whole before it gets its name), so
/// one with no tables, such as an empty or truncated file, is not a vault.
pub(crate) fn check(conn: &Connection, path: &Path) -> Result<i64> {
    let corrupt = |detail: String| VaultError::Corrupt {
        path: path.to_owned(),
        detail,
    };
    // The first real read is where SQLite notices a file that is not a
    // database (corruption) or one it cannot use (permissions, disk).
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    let is_empty: bool = conn
        .query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if is_empty {
        let len = std::fs::metadata(path).map_or(0, |m| m.len());
        return Err(corrupt(format!(
            "it holds no vault ({len} bytes, no tables): it was truncated or replaced, and its tokens, users and audit log are not in it"
        )));
    }
    if app_id != APPLICATION_ID {
        return Err(corrupt(format!(
            "it is an SQLite database of another application (application_id {app_id:#x})"
        )));
    }
    if version > SCHEMA_VERSION {
        return Err(VaultError::TooNew {
            path: path.to_owned(),
            found: version,
        });
    }
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if check != "ok" {
        return Err(corrupt(format!("integrity check failed: {check}")));
    }
    Ok(version)
}

/// Brings the vault to [`SCHEMA_VERSION`] and returns its unlocked data key.
///
/// `params_of_sealed` reads a token's code parameters out of its sealed seed
/// (schema 4 keeps them in the clear); it comes from the module that opens
/// seeds, so this one never does.
pub(crate) fn migrate(
    conn: &mut Connection,
    seen: i64,
    protection: &Protection,
    params_of_sealed: ParamsOfSealed<'_>,
) -> Result<DataKey> {
    if seen >= SCHEMA_VERSION {
        return unlock(conn, protection);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated between our check and our lock.
    let from: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if from >= SCHEMA_VERSION {
        drop(tx);
        return unlock(conn, protection);
    }
    if from < 1 {
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID};
             CREATE TABLE tokens (
                 id TEXT PRIMARY KEY,
                 issuer TEXT,
                 account TEXT NOT NULL,
                 uri TEXT NOT NULL,
                 created_at INTEGER NOT NULL DEFAULT (unixepoch())
             );
             CREATE TABLE token_sites (
                 token_id TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
                 site TEXT NOT NULL,
                 PRIMARY KEY (token_id, site)
             );"
        ))?;
    }
    // A vault that already has a data key keeps it, and one that cannot be
    // unlocked is not migrated: the error leaves the file as it was.
    let key = if from >= 2 {
        unlock(&tx, protection)?
    } else {
        DataKey::generate()
    };
    if from < 2 {
        let wrapped = twofill_seal::wrap(&key, protection)?;
        tx.execute_batch(&format!(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             ALTER TABLE tokens ADD COLUMN sealed_seed BLOB;
             ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'totp';
             ALTER TABLE tokens ADD COLUMN created_by TEXT;
             CREATE TABLE users (
                 name TEXT PRIMARY KEY,
                 admin INTEGER NOT NULL DEFAULT 0,
                 created_at INTEGER NOT NULL DEFAULT (unixepoch())
             );
             CREATE TABLE groups (
                 name TEXT PRIMARY KEY,
                 created_at INTEGER NOT NULL DEFAULT (unixepoch())
             );
             CREATE TABLE members (
                 group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
                 user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                 PRIMARY KEY (group_name, user_name)
             );
             CREATE TABLE grants (
                 token_id TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
                 group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
                 level TEXT NOT NULL CHECK (level IN ('code-only', 'full-seed')),
                 PRIMARY KEY (token_id, group_name)
             );
             {}",
            AUDIT_SCHEMA
        ))?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('wrapped_key', ?1)",
            [wrapped.to_json()],
        )?;
        // Seal every plaintext seed, then drop the plaintext column.
        let rows: Vec<(String, String)> = {
            let mut stmt = tx.prepare("SELECT id, uri FROM tokens")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        for (id, uri) in rows {
            let sealed = key.seal(uri.as_bytes(), &seed_aad(&id));
            tx.execute(
                "UPDATE tokens SET sealed_seed = ?2 WHERE id = ?1",
                params![id, sealed],
            )?;
        }
        tx.execute_batch("ALTER TABLE tokens DROP COLUMN uri;")?;
    }
    if from < 3 {
        // A personal token belongs to one user (and goes with them); grants
        // are for the team's tokens only, which the triggers hold even
        // against a careless SQL edit.
        tx.execute_batch(
            "ALTER TABLE tokens ADD COLUMN owner TEXT REFERENCES users(name) ON DELETE CASCADE;
             CREATE INDEX tokens_owner ON tokens(owner);
             CREATE TRIGGER grants_no_personal_insert BEFORE INSERT ON grants
                 WHEN (SELECT owner FROM tokens WHERE id = NEW.token_id) IS NOT NULL
                 BEGIN SELECT RAISE(ABORT, 'personal tokens cannot be granted to groups'); END;
             CREATE TRIGGER grants_no_personal_update BEFORE UPDATE ON grants
                 WHEN (SELECT owner FROM tokens WHERE id = NEW.token_id) IS NOT NULL
                 BEGIN SELECT RAISE(ABORT, 'personal tokens cannot be granted to groups'); END;
             CREATE TRIGGER tokens_granted_stay_shared BEFORE UPDATE OF owner ON tokens
                 WHEN NEW.owner IS NOT NULL
                     AND EXISTS (SELECT 1 FROM grants WHERE token_id = NEW.id)
                 BEGIN SELECT RAISE(ABORT, 'a token with grants cannot become personal'); END;",
        )?;
    }
    if from < 4 {
        tx.execute_batch(
            "ALTER TABLE tokens ADD COLUMN algorithm TEXT;
             ALTER TABLE tokens ADD COLUMN digits INTEGER;
             ALTER TABLE tokens ADD COLUMN period INTEGER;",
        )?;
        let rows: Vec<(String, Vec<u8>)> = {
            let mut stmt = tx.prepare("SELECT id, sealed_seed FROM tokens")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        for (id, sealed) in rows {
            // A seed that cannot be read keeps NULL parameters: the token
            // is reported as unreadable when used, as it was before.
            let params = match params_of_sealed(&key, &id, &sealed) {
                Ok(p) => p,
                Err(VaultError::BadSeed { .. }) => continue,
                Err(e) => return Err(e),
            };
            tx.execute(
                "UPDATE tokens SET algorithm = ?2, digits = ?3, period = ?4 WHERE id = ?1",
                params![id, params.algorithm, params.digits, params.period as i64],
            )?;
        }
    }
    if from < 5 {
        tx.execute_batch(SCHEMA_5)?;
    }
    if from < 6 {
        tx.execute_batch(SCHEMA_6)?;
    }
    if from < AUTHORIZATION_MACS {
        add_authorization_macs(&tx, &key)?;
    }
    if from < 8 {
        tx.execute_batch(SCHEMA_8)?;
    }
    if from < 9 {
        tx.execute_batch(SCHEMA_9)?;
    }
    if from < 10 {
        tx.execute_batch(SCHEMA_10)?;
    }
    if from < 11 {
        tx.execute_batch(SCHEMA_11)?;
    }
    if from < 12 {
        tx.execute_batch(SCHEMA_12)?;
    }
    if from < 13 {
        tx.execute_batch(SCHEMA_13)?;
        for (token, old, wide, mac) in super::widened_sites(sqlite::authorization_rows(&tx)?, &key)
        {
            tx.execute(
                "UPDATE token_sites SET site = ?1, mac = ?2 WHERE token_id = ?3 AND site = ?4",
                params![wide, mac.as_slice(), token, old],
            )?;
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    if from == 1 {
        // secure_delete zeroed the freed pages; a checkpoint and VACUUM make
        // sure no copy of the old plaintext survives in the WAL or free list.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
    }
    Ok(key)
}

/// Schema 7: a MAC column on every authorization table, computed for the
/// rows as they are now (the migration trusts the vault's state at this
/// moment), and the first-admin row: the alphabetically first admin, or
/// empty while there is none (then the first admin is still to be made).
fn add_authorization_macs(tx: &Connection, key: &DataKey) -> Result<()> {
    tx.execute_batch(
        "ALTER TABLE users ADD COLUMN mac BLOB;
         ALTER TABLE groups ADD COLUMN mac BLOB;
         ALTER TABLE members ADD COLUMN mac BLOB;
         ALTER TABLE grants ADD COLUMN mac BLOB;
         ALTER TABLE token_sites ADD COLUMN mac BLOB;
         ALTER TABLE tokens ADD COLUMN mac BLOB;
         ALTER TABLE meta ADD COLUMN mac BLOB;
         ALTER TABLE invites ADD COLUMN mac BLOB;
         ALTER TABLE devices ADD COLUMN mac BLOB;
         INSERT INTO meta (key, value)
             VALUES ('first_admin',
                     coalesce((SELECT name FROM users WHERE admin ORDER BY name LIMIT 1), ''));",
    )?;
    let authz = AuthzKey::of(key);
    for (row, _) in sqlite::authorization_rows(tx)? {
        sqlite::set_mac(tx, &row, &authz.mac(&row))?;
    }
    Ok(())
}

fn unlock(conn: &Connection, protection: &Protection) -> Result<DataKey> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'wrapped_key'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let stored = stored.ok_or_else(|| VaultError::Corrupt {
        path: conn.path().unwrap_or_default().into(),
        detail: "its wrapped data key is missing".into(),
    })?;
    super::unwrap_stored_key(&stored, protection)
}

/// Schema 8: per SIEM sink, the last record delivered (its MAC, to notice
/// a log replaced under the cursor) and the streamer that holds the sink
/// until `lease_until` (ms since the epoch). Not an authorization row: a
/// cursor edited in the database can only resend or hold back records,
/// which the SIEM sees as a gap or a duplicate in `seq`.
pub(crate) const SCHEMA_8: &str = "
CREATE TABLE siem_cursors (
    sink TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    mac BLOB NOT NULL,
    holder TEXT,
    lease_until INTEGER NOT NULL
);
";

/// Schema 9: bound sites by their text, for a fill's lookup
/// (`SiteBinding::candidate_keys`). The same statement on both stores.
pub(crate) const SCHEMA_9: &str = "CREATE INDEX token_sites_by_site ON token_sites (site);";

/// Schema 10: a token's recovery (backup) codes. Each is sealed with the
/// data key, its associated data naming the token, the set (`generation`,
/// one more at each replace) and the slot. `used_at` (ms) and `used_by` say
/// who took it. Not an authorization row: clearing `used_at` in the
/// database gives back a code the service has already spent.
pub(crate) const SCHEMA_10: &str = "
CREATE TABLE recovery_codes (
    token_id TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    slot INTEGER NOT NULL,
    sealed_code BLOB NOT NULL,
    used_at INTEGER,
    used_by TEXT,
    PRIMARY KEY (token_id, generation, slot)
);
";

/// Schema 11: single sign-on. Times are ms since the epoch. A session is
/// keyed by its device (a sign-in replaces the device's earlier session).
/// Schema 13: the rate limit's count, per user and token, read newest
/// first from an index so its cost is bounded by the limit, whatever else
/// the log holds.
pub(crate) const SCHEMA_13: &str = "
DROP INDEX IF EXISTS audit_recent;
CREATE INDEX audit_recent_by_token ON audit(user, token_id, action, time_ms);
";

pub(crate) const SCHEMA_11: &str = "
CREATE TABLE sso_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    mac BLOB NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX sso_identities_user ON sso_identities(user_name);
CREATE TABLE sso_sessions (
    device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    ticket_sha256 BLOB NOT NULL UNIQUE CHECK (length(ticket_sha256) = 32),
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    signed_in_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_at INTEGER NOT NULL,
    mac BLOB NOT NULL
);
CREATE INDEX sso_sessions_user ON sso_sessions(user_name);
CREATE TABLE disabled_users (
    user_name TEXT PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,
    disabled_at INTEGER NOT NULL,
    disabled_by TEXT NOT NULL,
    mac BLOB NOT NULL
);
";

/// Schema 12: shared SMS inboxes. Times are ms since the epoch. A message's
/// sender, text and code are one sealed blob (`sealed`); the columns in the
/// clear are what a waiter filters on. `(provider, message_id)` is unique,
/// so a provider's retry is stored once.
pub(crate) const SCHEMA_12: &str = "
CREATE TABLE sms_inboxes (
    number TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    mac BLOB NOT NULL
);
CREATE TABLE sms_inbox_sites (
    number TEXT NOT NULL REFERENCES sms_inboxes(number) ON DELETE CASCADE,
    site TEXT NOT NULL,
    mac BLOB NOT NULL,
    PRIMARY KEY (number, site)
);
CREATE TABLE sms_inbox_grants (
    number TEXT NOT NULL REFERENCES sms_inboxes(number) ON DELETE CASCADE,
    group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
    level TEXT NOT NULL CHECK (level IN ('code-only', 'full')),
    mac BLOB NOT NULL,
    PRIMARY KEY (number, group_name)
);
CREATE TABLE sms_messages (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    message_id TEXT NOT NULL,
    number TEXT NOT NULL REFERENCES sms_inboxes(number) ON DELETE CASCADE,
    received_at INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    has_code INTEGER NOT NULL,
    rule TEXT,
    bound_origin TEXT,
    embedded_origin TEXT,
    UNIQUE (provider, message_id)
);
CREATE INDEX sms_messages_by_inbox ON sms_messages(number, received_at);
CREATE INDEX sms_messages_by_time ON sms_messages(received_at);
";

/// Schema 6: a HOTP token's counter. No older vault holds a HOTP token
/// (builds before it refused `otpauth://hotp` links), so NULL for every
/// existing row is right.
const SCHEMA_6: &str = "ALTER TABLE tokens ADD COLUMN hotp_counter INTEGER;";

/// Schema 5's additions. Times are ms since the epoch. An invite is keyed
/// by the SHA-256 of its secret (the vault never sees the secret); a device
/// is known by the SHA-256 of its client certificate. Both go with their
/// user.
const SCHEMA_5: &str = "
CREATE TABLE invites (
    secret_sha256 BLOB PRIMARY KEY CHECK (length(secret_sha256) = 32),
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    device_id TEXT
);
CREATE INDEX invites_user ON invites(user_name);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    cert_sha256 BLOB NOT NULL UNIQUE CHECK (length(cert_sha256) = 32),
    joined_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_by TEXT
);
CREATE INDEX devices_user ON devices(user_name);
CREATE INDEX audit_recent ON audit(user, origin, action, time_ms);
";

/// The audit table (schema 2 on).
const AUDIT_SCHEMA: &str = "
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    success INTEGER NOT NULL,
    token_id TEXT,
    token_label TEXT,
    origin TEXT,
    browser TEXT,
    extension_id TEXT,
    reason TEXT,
    prev_mac BLOB NOT NULL,
    mac BLOB NOT NULL
);
-- Append-only from SQL's point of view too: a careless UPDATE or DELETE
-- fails loudly instead of quietly breaking the chain.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";
