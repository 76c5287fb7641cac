//! The PostgreSQL schema: checks on open and migrations.
//!
//! Versions follow the vault's one numbering ([`SCHEMA_VERSION`]); the
//! first PostgreSQL schema is version 4, so one number tells every store's
//! shape. `twofill_meta` holds the application marker, the version and the
//! wrapped data key (SQLite keeps the first two in its file header).
//! Opening runs under the same advisory lock as every write, so two
//! processes opening an empty database cannot both create the schema, and
//! a database that is not ours, or is newer, is reported with nothing
//! written.

use ::postgres::Transaction;
use twofill_seal::{DataKey, Protection};

use super::postgres as pg_store;
use super::schema::AUTHORIZATION_MACS;
use crate::integrity::AuthzKey;
use crate::{Result, SCHEMA_VERSION, VaultError};

/// Marks a database (its `twofill_meta.application`) as a twofill vault.
const APPLICATION: &str = "twofill vault";

/// The first schema this store has (the vault's schema 4).
const FIRST_VERSION: i64 = 4;

/// Checks the database is empty or an intact twofill vault of a version
/// this build knows, creates or migrates it, and returns its unlocked data
/// key. `where_` names the database in errors (its URL without password).
pub(crate) fn check_and_migrate(
    tx: &mut Transaction<'_>,
    where_: &str,
    protection: &Protection,
) -> Result<DataKey> {
    let corrupt = |detail: String| VaultError::Corrupt {
        path: where_.into(),
        detail,
    };
    let has_meta: bool = tx
        .query_one("SELECT to_regclass('twofill_meta') IS NOT NULL", &[])?
        .try_get(0)?;
    if !has_meta {
        let tables: i64 = tx
            .query_one(
                "SELECT count(*) FROM information_schema.tables
                 WHERE table_schema = current_schema()",
                &[],
            )?
            .try_get(0)?;
        if tables > 0 {
            return Err(corrupt(format!(
                "its schema holds {tables} tables of another application and no twofill_meta"
            )));
        }
        return create(tx, protection);
    }
    let mut meta = |key: &str| -> Result<Option<String>> {
        Ok(tx
            .query_opt("SELECT value FROM twofill_meta WHERE key = $1", &[&key])?
            .map(|r| r.try_get(0))
            .transpose()?)
    };
    let application = meta("application")?;
    if application.as_deref() != Some(APPLICATION) {
        return Err(corrupt(format!(
            "its twofill_meta names another application ({})",
            application.as_deref().unwrap_or("none")
        )));
    }
    let version: i64 = meta("schema_version")?
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt("its schema version is missing".into()))?;
    if version > SCHEMA_VERSION {
        return Err(VaultError::TooNew {
            path: where_.into(),
            found: version,
        });
    }
    if version < FIRST_VERSION {
        return Err(corrupt(format!(
            "schema {version} is older than any PostgreSQL vault"
        )));
    }
    let stored =
        meta("wrapped_key")?.ok_or_else(|| corrupt("its wrapped data key is missing".into()))?;
    // Unlock first: a vault that cannot be unlocked is not migrated (the
    // error rolls the transaction back).
    let key = super::unwrap_stored_key(&stored, protection)?;
    migrate(tx, version, &key)?;
    Ok(key)
}

/// Brings a schema at `from` to [`SCHEMA_VERSION`], step by step, in the
/// opening transaction (under the write lock).
fn migrate(tx: &mut Transaction<'_>, from: i64, key: &DataKey) -> Result<()> {
    if from >= SCHEMA_VERSION {
        return Ok(());
    }
    if from < 5 {
        tx.batch_execute(SCHEMA_5)?;
    }
    if from < 6 {
        tx.batch_execute(SCHEMA_6)?;
    }
    if from < AUTHORIZATION_MACS {
        add_authorization_macs(tx, key)?;
    }
    if from < 8 {
        tx.batch_execute(SCHEMA_8)?;
    }
    if from < 9 {
        tx.batch_execute(super::schema::SCHEMA_9)?;
    }
    if from < 10 {
        tx.batch_execute(SCHEMA_10)?;
    }
    if from < 11 {
        tx.batch_execute(SCHEMA_11)?;
    }
    if from < 12 {
        tx.batch_execute(SCHEMA_12)?;
    }
    if from < 13 {
        tx.batch_execute(SCHEMA_13)?;
        let rows = pg_store::authorization_rows(tx)?;
        for (token, old, wide, mac) in super::widened_sites(rows, key) {
            tx.execute(
                "UPDATE token_sites SET site = $1, mac = $2 WHERE token_id = $3 AND site = $4",
                &[&wide, &mac.as_slice(), &token, &old],
            )?;
        }
    }
    tx.execute(
        "UPDATE twofill_meta SET value = $1 WHERE key = 'schema_version'",
        &[&SCHEMA_VERSION.to_string()],
    )?;
    Ok(())
}

/// Schema 7: a MAC column on every authorization table, computed for the
/// rows as they are now (the migration trusts the database's state at this
/// moment), and the first-admin row: the first admin by name, or empty
/// while there is none (then the first admin is still to be made).
fn add_authorization_macs(tx: &mut Transaction<'_>, key: &DataKey) -> Result<()> {
    tx.batch_execute(
        "ALTER TABLE users ADD COLUMN mac BYTEA;
         ALTER TABLE groups ADD COLUMN mac BYTEA;
         ALTER TABLE members ADD COLUMN mac BYTEA;
         ALTER TABLE grants ADD COLUMN mac BYTEA;
         ALTER TABLE token_sites ADD COLUMN mac BYTEA;
         ALTER TABLE tokens ADD COLUMN mac BYTEA;
         ALTER TABLE twofill_meta ADD COLUMN mac BYTEA;
         ALTER TABLE invites ADD COLUMN mac BYTEA;
         ALTER TABLE devices ADD COLUMN mac BYTEA;
         INSERT INTO twofill_meta (key, value)
             VALUES ('first_admin',
                     coalesce((SELECT name FROM users WHERE admin ORDER BY name LIMIT 1), ''));",
    )?;
    let authz = AuthzKey::of(key);
    for (row, _) in pg_store::authorization_rows(tx)? {
        pg_store::set_mac(tx, &row, &authz.mac(&row))?;
    }
    Ok(())
}

/// A new vault: schema 4, then every later step, as an existing one gets.
fn create(tx: &mut Transaction<'_>, protection: &Protection) -> Result<DataKey> {
    let key = DataKey::generate();
    let wrapped = twofill_seal::wrap(&key, protection)?;
    tx.batch_execute(SCHEMA_4)?;
    for (k, v) in [
        ("application", APPLICATION.to_owned()),
        ("schema_version", FIRST_VERSION.to_string()),
        ("wrapped_key", wrapped.to_json()),
    ] {
        tx.execute(
            "INSERT INTO twofill_meta (key, value) VALUES ($1, $2)",
            &[&k, &v],
        )?;
    }
    // A new database takes the same steps as an old one.
    migrate(tx, FIRST_VERSION, &key)?;
    Ok(key)
}

/// Schema 10, as in SQLite (`store/schema.rs`).
const SCHEMA_10: &str = r#"
CREATE TABLE recovery_codes (
    token_id TEXT COLLATE "C" NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    slot BIGINT NOT NULL,
    sealed_code BYTEA NOT NULL,
    used_at BIGINT,
    used_by TEXT,
    PRIMARY KEY (token_id, generation, slot)
);
"#;

/// Schema 11, as in SQLite (`store/schema.rs`).
/// Schema 13 (see the SQLite store's): the rate limit counts per user and
/// token.
const SCHEMA_13: &str = r#"
DROP INDEX IF EXISTS audit_recent;
CREATE INDEX audit_recent_by_token ON audit("user", token_id, action, time_ms);
"#;

const SCHEMA_11: &str = r#"
CREATE TABLE sso_identities (
    issuer TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    user_name TEXT COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    mac BYTEA NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX sso_identities_user ON sso_identities(user_name);
CREATE TABLE sso_sessions (
    device_id TEXT COLLATE "C" PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    ticket_sha256 BYTEA NOT NULL UNIQUE CHECK (octet_length(ticket_sha256) = 32),
    user_name TEXT COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    signed_in_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    max_at BIGINT NOT NULL,
    mac BYTEA NOT NULL
);
CREATE INDEX sso_sessions_user ON sso_sessions(user_name);
CREATE TABLE disabled_users (
    user_name TEXT COLLATE "C" PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,
    disabled_at BIGINT NOT NULL,
    disabled_by TEXT NOT NULL,
    mac BYTEA NOT NULL
);
"#;

/// Schema 12, as in SQLite (`store/schema.rs`).
const SCHEMA_12: &str = r#"
CREATE TABLE sms_inboxes (
    number TEXT COLLATE "C" PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    mac BYTEA NOT NULL
);
CREATE TABLE sms_inbox_sites (
    number TEXT COLLATE "C" NOT NULL REFERENCES sms_inboxes(number) ON DELETE CASCADE,
    site TEXT COLLATE "C" NOT NULL,
    mac BYTEA NOT NULL,
    PRIMARY KEY (number, site)
);
CREATE TABLE sms_inbox_grants (
    number TEXT COLLATE "C" NOT NULL REFERENCES sms_inboxes(number) ON DELETE CASCADE,
    group_name TEXT COLLATE "C" NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
    level TEXT NOT NULL CHECK (level IN ('code-only', 'full')),
    mac BYTEA NOT NULL,
    PRIMARY KEY (number, group_name)
);
CREATE TABLE sms_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider TEXT NOT NULL,
    message_id TEXT NOT NULL,
    number TEXT COLLATE "C" NOT NULL REFERENCES sms_inboxes(number) ON DELETE CASCADE,
    received_at BIGINT NOT NULL,
    sealed BYTEA NOT NULL,
    has_code BOOLEAN NOT NULL,
    rule TEXT,
    bound_origin TEXT,
    embedded_origin TEXT,
    UNIQUE (provider, message_id)
);
CREATE INDEX sms_messages_by_inbox ON sms_messages(number, received_at);
CREATE INDEX sms_messages_by_time ON sms_messages(received_at);
"#;

/// Schema 8, as in SQLite (`store/schema.rs`).
const SCHEMA_8: &str = r#"
CREATE TABLE siem_cursors (
    sink TEXT COLLATE "C" PRIMARY KEY,
    seq BIGINT NOT NULL,
    mac BYTEA NOT NULL,
    holder TEXT,
    lease_until BIGINT NOT NULL
);
"#;

/// Schema 6: a HOTP token's counter, as in SQLite (NULL for other kinds).
const SCHEMA_6: &str = "ALTER TABLE tokens ADD COLUMN hotp_counter BIGINT;";

/// Schema 5's additions, the shape of the SQLite vault's (`store/schema.rs`).
const SCHEMA_5: &str = r#"
CREATE TABLE invites (
    secret_sha256 BYTEA PRIMARY KEY CHECK (octet_length(secret_sha256) = 32),
    user_name TEXT COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    device_id TEXT
);
CREATE INDEX invites_user ON invites(user_name);
CREATE TABLE devices (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_name TEXT COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    cert_sha256 BYTEA NOT NULL UNIQUE CHECK (octet_length(cert_sha256) = 32),
    joined_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT
);
CREATE INDEX devices_user ON devices(user_name);
CREATE INDEX audit_recent ON audit("user", origin, action, time_ms);
"#;

/// Schema 4, the shape of the SQLite vault's schema 4. Names sort bytewise
/// (`COLLATE "C"`) as in SQLite, whatever the database's locale.
const SCHEMA_4: &str = r#"
CREATE TABLE twofill_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE users (
    name TEXT COLLATE "C" PRIMARY KEY,
    admin BOOLEAN NOT NULL DEFAULT false,
    created_at BIGINT NOT NULL DEFAULT extract(epoch FROM now())::bigint
);
CREATE TABLE tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    issuer TEXT COLLATE "C",
    account TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL DEFAULT extract(epoch FROM now())::bigint,
    sealed_seed BYTEA,
    kind TEXT NOT NULL DEFAULT 'totp',
    created_by TEXT,
    owner TEXT COLLATE "C" REFERENCES users(name) ON DELETE CASCADE,
    algorithm TEXT,
    digits INTEGER,
    period BIGINT
);
CREATE INDEX tokens_owner ON tokens(owner);
CREATE TABLE token_sites (
    token_id TEXT COLLATE "C" NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    site TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (token_id, site)
);
CREATE TABLE groups (
    name TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL DEFAULT extract(epoch FROM now())::bigint
);
CREATE TABLE members (
    group_name TEXT COLLATE "C" NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
    user_name TEXT COLLATE "C" NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_name)
);
CREATE TABLE grants (
    token_id TEXT COLLATE "C" NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    group_name TEXT COLLATE "C" NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
    level TEXT NOT NULL CHECK (level IN ('code-only', 'full-seed')),
    PRIMARY KEY (token_id, group_name)
);
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    "user" TEXT NOT NULL,
    action TEXT NOT NULL,
    success BOOLEAN NOT NULL,
    token_id TEXT,
    token_label TEXT,
    origin TEXT,
    browser TEXT,
    extension_id TEXT,
    reason TEXT,
    prev_mac BYTEA NOT NULL,
    mac BYTEA NOT NULL
);

-- The same guards as SQLite's triggers: grants are for the team's tokens
-- only, and the audit log is append-only, even against SQL that skips the
-- vault.
CREATE FUNCTION twofill_grants_no_personal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT owner FROM tokens WHERE id = NEW.token_id) IS NOT NULL THEN
        RAISE EXCEPTION 'personal tokens cannot be granted to groups';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER grants_no_personal BEFORE INSERT OR UPDATE ON grants
    FOR EACH ROW EXECUTE FUNCTION twofill_grants_no_personal();
CREATE FUNCTION twofill_tokens_granted_stay_shared() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.owner IS NOT NULL AND EXISTS (SELECT 1 FROM grants WHERE token_id = NEW.id) THEN
        RAISE EXCEPTION 'a token with grants cannot become personal';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tokens_granted_stay_shared BEFORE UPDATE OF owner ON tokens
    FOR EACH ROW EXECUTE FUNCTION twofill_tokens_granted_stay_shared();
CREATE FUNCTION twofill_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION twofill_audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION twofill_audit_append_only();
"#;
