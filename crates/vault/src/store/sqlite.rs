//! The SQLite store: one file, bundled SQLite (every platform runs the same
//! engine), WAL with `synchronous = FULL` so a commit is durable.
//!
//! All of the vault's SQL lives here and in [`super::schema`]; no rule does.

use std::path::Path;
use std::time::Duration;

use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use twofill_seal::{DataKey, Protection};

use super::{
    AuthzRow, CodeParams, DeviceRow, DisabledUserRow, GrantPath, GrantRow, InviteRow, Mac,
    NewTokenRow, ParamsOfSealed, RecoveryCodeRow, RecoveryCounts, SiemCursorRow, SsoIdentityRow,
    SsoSessionRow, Store, StoreRead, StoreTx, TokenMeta, TokenRow, counter_from_sql,
    counter_to_sql, schema, to32,
};
use crate::{Access, AuditEvent, AuditRecord, Result};

#[path = "sqlite_sms.rs"]
mod sms;

pub(crate) struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the file, checks it is an intact vault of
    /// a version this build knows, migrates it and returns the unlocked
    /// data key.
    pub(crate) fn open(
        path: &Path,
        protection: &Protection,
        params_of_sealed: ParamsOfSealed<'_>,
    ) -> Result<(SqliteStore, DataKey)> {
        if !path.exists() {
            create(path, protection, params_of_sealed)?;
        }
        // Never SQLITE_OPEN_CREATE: a vault that vanished since is an
        // error, not a new vault.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| schema::open_error(path, e))?;
        let version = schema::check(&conn, path)?;
        let mut conn = configure(conn).map_err(|e| schema::open_error(path, e))?;
        let key = schema::migrate(&mut conn, version, protection, params_of_sealed)?;
        Ok((SqliteStore { conn }, key))
    }
}

fn configure(conn: Connection) -> rusqlite::Result<Connection> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;",
    )?;
    Ok(conn)
}

/// Makes a new vault at `path`, which did not exist: built complete in a
/// private (0600) file beside it, then linked into place only if `path`
/// is still free. So an existing path is never a half-made vault (an
/// empty file there is reported, not taken for a new one), a concurrent
/// first open finds either nothing or a whole vault, and the `-wal` and
/// `-shm` files, which SQLite creates with the database's mode, are 0600.
fn create(
    path: &Path,
    protection: &Protection,
    params_of_sealed: ParamsOfSealed<'_>,
) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp = path.with_file_name(format!(".{name}.new-{}-{nanos}", std::process::id()));
    let made = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        drop(options.open(&temp).map_err(|e| schema::io_error(path, e))?);
        let conn = Connection::open_with_flags(
            &temp,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| schema::open_error(path, e))?;
        let mut conn = configure(conn).map_err(|e| schema::open_error(path, e))?;
        schema::migrate(&mut conn, 0, protection, params_of_sealed)?;
        // Closing checkpoints the WAL into the file and removes it.
        conn.close().map_err(|(_, e)| schema::open_error(path, e))?;
        match std::fs::hard_link(&temp, path) {
            Ok(()) => sync_dir(path),
            // Another process made the vault first: open that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(schema::io_error(path, e)),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    made
}

/// Makes the new vault's name durable with its contents.
fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| schema::io_error(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl Store for SqliteStore {
    fn reader(&self) -> Result<Box<dyn StoreRead + '_>> {
        Ok(Box::new(Reader(&self.conn)))
    }

    fn begin_write(&mut self) -> Result<Box<dyn StoreTx + '_>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(Box::new(Writer(tx)))
    }
}

struct Reader<'c>(&'c Connection);
struct Writer<'c>(Transaction<'c>);

/// The connection a read runs on (a plain one, or a transaction's).
trait Sql {
    fn conn(&self) -> &Connection;
}

impl Sql for Reader<'_> {
    fn conn(&self) -> &Connection {
        self.0
    }
}

impl Sql for Writer<'_> {
    fn conn(&self) -> &Connection {
        &self.0
    }
}

fn strings(conn: &Connection, sql: &str, arg: &[&dyn rusqlite::ToSql]) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(arg, |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A MAC column: NULL (a row written past the vault) reads as all zeros,
/// which never verifies.
fn stored_mac(b: Option<Vec<u8>>) -> Mac {
    to32(&b.unwrap_or_default())
}

/// `(name, mac)` rows.
fn named_macs(
    conn: &Connection,
    sql: &str,
    arg: &[&dyn rusqlite::ToSql],
) -> Result<Vec<(String, Mac)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(arg, |r| Ok((r.get(0)?, stored_mac(r.get(1)?))))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// `(token_id, group_name, level, mac)` rows.
fn grant_rows(conn: &Connection, sql: &str, arg: &[&dyn rusqlite::ToSql]) -> Result<Vec<GrantRow>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(arg, |r| {
            Ok(GrantRow {
                token: r.get(0)?,
                group: r.get(1)?,
                level: r.get(2)?,
                mac: stored_mac(r.get(3)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The first-admin row: an empty value is "never had an admin".
fn first_admin_row(conn: &Connection) -> Result<Option<(Option<String>, Mac)>> {
    let row: Option<(String, Option<Vec<u8>>)> = conn
        .query_row(
            "SELECT value, mac FROM meta WHERE key = 'first_admin'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.map(|(name, mac)| ((!name.is_empty()).then_some(name), stored_mac(mac))))
}

/// Every authorization row with its MAC (also what the schema 7 migration
/// MACs).
pub(super) fn authorization_rows(conn: &Connection) -> Result<Vec<(AuthzRow, Mac)>> {
    let mut out = Vec::new();
    let mut each = |sql: &str,
                    row: &dyn Fn(&rusqlite::Row<'_>) -> rusqlite::Result<AuthzRow>,
                    mac_at: usize|
     -> Result<()> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt
            .query_map([], |r| Ok((row(r)?, stored_mac(r.get(mac_at)?))))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.extend(rows);
        Ok(())
    };
    each(
        "SELECT name, admin, mac FROM users ORDER BY name",
        &|r| {
            Ok(AuthzRow::User {
                name: r.get(0)?,
                admin: r.get(1)?,
            })
        },
        2,
    )?;
    each(
        "SELECT name, mac FROM groups ORDER BY name",
        &|r| Ok(AuthzRow::Group { name: r.get(0)? }),
        1,
    )?;
    each(
        "SELECT group_name, user_name, mac FROM members ORDER BY group_name, user_name",
        &|r| {
            Ok(AuthzRow::Member {
                group: r.get(0)?,
                user: r.get(1)?,
            })
        },
        2,
    )?;
    each(
        "SELECT token_id, group_name, level, mac FROM grants ORDER BY token_id, group_name",
        &|r| {
            Ok(AuthzRow::Grant {
                token: r.get(0)?,
                group: r.get(1)?,
                level: r.get(2)?,
            })
        },
        3,
    )?;
    each(
        "SELECT token_id, site, mac FROM token_sites ORDER BY token_id, site",
        &|r| {
            Ok(AuthzRow::Site {
                token: r.get(0)?,
                site: r.get(1)?,
            })
        },
        2,
    )?;
    each(
        "SELECT id, owner, kind, mac FROM tokens ORDER BY id",
        &|r| {
            Ok(AuthzRow::Token {
                id: r.get(0)?,
                owner: r.get(1)?,
                kind: r.get(2)?,
            })
        },
        3,
    )?;
    each(
        "SELECT secret_sha256, user_name, expires_at, used_at, mac FROM invites
         ORDER BY secret_sha256",
        &|r| {
            Ok(AuthzRow::Invite {
                secret_sha256: to32(&r.get::<_, Vec<u8>>(0)?),
                user: r.get(1)?,
                expires_at_ms: r.get(2)?,
                used_at_ms: r.get(3)?,
            })
        },
        4,
    )?;
    for d in devices_where(conn, "", &[])? {
        out.push((d.authz_row(), d.mac));
    }
    if let Some((name, mac)) = first_admin_row(conn)? {
        out.push((AuthzRow::FirstAdmin { name }, mac));
    }
    Ok(out)
}

/// Stores `mac` on the row `row` names (the schema 7 migration).
pub(super) fn set_mac(conn: &Connection, row: &AuthzRow, mac: &Mac) -> Result<()> {
    let mac = mac.as_slice();
    match row {
        AuthzRow::User { name, .. } => conn.execute(
            "UPDATE users SET mac = ?2 WHERE name = ?1",
            params![name, mac],
        )?,
        AuthzRow::Group { name } => conn.execute(
            "UPDATE groups SET mac = ?2 WHERE name = ?1",
            params![name, mac],
        )?,
        AuthzRow::Member { group, user } => conn.execute(
            "UPDATE members SET mac = ?3 WHERE group_name = ?1 AND user_name = ?2",
            params![group, user, mac],
        )?,
        AuthzRow::Grant { token, group, .. } => conn.execute(
            "UPDATE grants SET mac = ?3 WHERE token_id = ?1 AND group_name = ?2",
            params![token, group, mac],
        )?,
        AuthzRow::Site { token, site } => conn.execute(
            "UPDATE token_sites SET mac = ?3 WHERE token_id = ?1 AND site = ?2",
            params![token, site, mac],
        )?,
        AuthzRow::Token { id, .. } => {
            conn.execute("UPDATE tokens SET mac = ?2 WHERE id = ?1", params![id, mac])?
        }
        AuthzRow::FirstAdmin { .. } => conn.execute(
            "UPDATE meta SET mac = ?1 WHERE key = 'first_admin'",
            params![mac],
        )?,
        AuthzRow::Invite { secret_sha256, .. } => conn.execute(
            "UPDATE invites SET mac = ?2 WHERE secret_sha256 = ?1",
            params![secret_sha256.as_slice(), mac],
        )?,
        AuthzRow::Device { id, .. } => conn.execute(
            "UPDATE devices SET mac = ?2 WHERE id = ?1",
            params![id, mac],
        )?,
        // Born with their MACs (schema 11, 12): never part of the schema 7 migration.
        AuthzRow::SsoIdentity { .. }
        | AuthzRow::SsoSession { .. }
        | AuthzRow::DisabledUser { .. }
        | AuthzRow::SmsInbox { .. }
        | AuthzRow::SmsInboxSite { .. }
        | AuthzRow::SmsInboxGrant { .. } => 0,
    };
    Ok(())
}

/// The single sign-on rows (schema 11) with their MACs.
fn sso_authorization_rows(conn: &Connection) -> Result<Vec<(AuthzRow, Mac)>> {
    let mut out = Vec::new();
    for r in sso_identities_where(conn, "", &[])? {
        out.push((r.authz_row(), r.mac));
    }
    for r in sso_sessions_where(conn, "", &[])? {
        out.push((r.authz_row(), r.mac));
    }
    let mut stmt = conn.prepare(
        "SELECT user_name, disabled_at, disabled_by, mac FROM disabled_users ORDER BY user_name",
    )?;
    let disabled = stmt
        .query_map([], disabled_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for r in disabled {
        out.push((r.authz_row(), r.mac));
    }
    Ok(out)
}

fn disabled_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DisabledUserRow> {
    Ok(DisabledUserRow {
        user: r.get(0)?,
        disabled_at_ms: r.get(1)?,
        disabled_by: r.get(2)?,
        mac: stored_mac(r.get(3)?),
    })
}

fn sso_identities_where(
    conn: &Connection,
    condition: &str,
    arg: &[&dyn rusqlite::ToSql],
) -> Result<Vec<SsoIdentityRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT issuer, subject, user_name, created_at, mac FROM sso_identities {condition}
         ORDER BY issuer, subject"
    ))?;
    let rows = stmt
        .query_map(arg, |r| {
            Ok(SsoIdentityRow {
                issuer: r.get(0)?,
                subject: r.get(1)?,
                user: r.get(2)?,
                created_at_ms: r.get(3)?,
                mac: stored_mac(r.get(4)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn sso_sessions_where(
    conn: &Connection,
    condition: &str,
    arg: &[&dyn rusqlite::ToSql],
) -> Result<Vec<SsoSessionRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT device_id, ticket_sha256, user_name, signed_in_at, expires_at, max_at, mac
         FROM sso_sessions {condition} ORDER BY device_id"
    ))?;
    let rows = stmt
        .query_map(arg, |r| {
            Ok(SsoSessionRow {
                device_id: r.get(0)?,
                ticket_sha256: to32(&r.get::<_, Vec<u8>>(1)?),
                user: r.get(2)?,
                signed_in_at_ms: r.get(3)?,
                expires_at_ms: r.get(4)?,
                max_at_ms: r.get(5)?,
                mac: stored_mac(r.get(6)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

const DEVICE_COLUMNS: &str =
    "id, user_name, name, cert_sha256, joined_at, revoked_at, revoked_by, mac";

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        id: r.get(0)?,
        user: r.get(1)?,
        name: r.get(2)?,
        cert_sha256: to32(&r.get::<_, Vec<u8>>(3)?),
        joined_at_ms: r.get(4)?,
        revoked_at_ms: r.get(5)?,
        revoked_by: r.get(6)?,
        mac: stored_mac(r.get(7)?),
    })
}

fn devices_where(
    conn: &Connection,
    condition: &str,
    arg: &[&dyn rusqlite::ToSql],
) -> Result<Vec<DeviceRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DEVICE_COLUMNS} FROM devices {condition} ORDER BY user_name, joined_at, id"
    ))?;
    let rows = stmt
        .query_map(arg, device_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

impl<T: Sql> StoreRead for T {
    fn token_ids(&self) -> Result<Vec<String>> {
        strings(
            self.conn(),
            "SELECT id FROM tokens ORDER BY issuer, account, id",
            &[],
        )
    }

    fn token_ids_bound_to(&self, sites: &[String]) -> Result<Vec<String>> {
        // One cached statement for any number of sites: they travel as one
        // JSON array, and the IN list uses the `token_sites_by_site` index.
        let sites = serde_json::to_string(sites).expect("strings serialize");
        strings(
            self.conn(),
            "SELECT id FROM tokens WHERE id IN (
                 SELECT token_id FROM token_sites
                 WHERE site IN (SELECT value FROM json_each(?1)))
             ORDER BY issuer, account, id",
            &[&sites],
        )
    }

    fn token(&self, id: &str) -> Result<Option<TokenRow>> {
        type Fields = (
            Option<String>,
            String,
            Option<String>,
            String,
            Option<Vec<u8>>,
        );
        let row: Option<Fields> = self
            .conn()
            .query_row(
                "SELECT issuer, account, owner, kind, mac FROM tokens WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((issuer, account, owner, kind, mac)) = row else {
            return Ok(None);
        };
        let sites = named_macs(
            self.conn(),
            "SELECT site, mac FROM token_sites WHERE token_id = ?1 ORDER BY site",
            &[&id],
        )?;
        Ok(Some(TokenRow {
            id: id.to_owned(),
            issuer,
            account,
            owner,
            kind,
            mac: stored_mac(mac),
            sites,
        }))
    }

    fn token_meta(&self, id: &str) -> Result<Option<TokenMeta>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT kind, created_at, created_by, algorithm, digits, period
                 FROM tokens WHERE id = ?1",
                [id],
                |r| {
                    let algorithm: Option<String> = r.get(3)?;
                    let digits: Option<u32> = r.get(4)?;
                    let period: Option<i64> = r.get(5)?;
                    Ok(TokenMeta {
                        kind: r.get(0)?,
                        created_at: r.get(1)?,
                        created_by: r.get(2)?,
                        params: match (algorithm, digits, period) {
                            (Some(algorithm), Some(digits), Some(period)) => Some(CodeParams {
                                algorithm,
                                digits,
                                period: period as u64,
                            }),
                            _ => None,
                        },
                    })
                },
            )
            .optional()?)
    }

    fn sealed_seed(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .query_row("SELECT sealed_seed FROM tokens WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn hotp_counter(&self, id: &str) -> Result<Option<u64>> {
        let stored: Option<Option<i64>> = self
            .conn()
            .query_row("SELECT hotp_counter FROM tokens WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(stored.flatten().map(counter_from_sql))
    }

    fn personal_token_ids(&self, owner: &str) -> Result<Vec<String>> {
        strings(
            self.conn(),
            "SELECT id FROM tokens WHERE owner = ?1 ORDER BY issuer, account, id",
            &[&owner],
        )
    }

    fn grant_paths(&self, user: &str, token_id: &str) -> Result<Vec<GrantPath>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT g.group_name, g.level, m.mac, g.mac
             FROM grants g JOIN members m ON m.group_name = g.group_name
             WHERE m.user_name = ?1 AND g.token_id = ?2",
        )?;
        let rows = stmt
            .query_map(params![user, token_id], |r| {
                Ok(GrantPath {
                    group: r.get(0)?,
                    level: r.get(1)?,
                    member_mac: stored_mac(r.get(2)?),
                    grant_mac: stored_mac(r.get(3)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn grants_of_token(&self, token_id: &str) -> Result<Vec<GrantRow>> {
        grant_rows(
            self.conn(),
            "SELECT token_id, group_name, level, mac FROM grants WHERE token_id = ?1
             ORDER BY group_name",
            &[&token_id],
        )
    }

    fn grants_of_group(&self, group: &str) -> Result<Vec<GrantRow>> {
        grant_rows(
            self.conn(),
            "SELECT token_id, group_name, level, mac FROM grants WHERE group_name = ?1
             ORDER BY token_id",
            &[&group],
        )
    }

    fn admin_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM users WHERE admin", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn user(&self, name: &str) -> Result<Option<(bool, Mac)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT admin, mac FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, stored_mac(r.get(1)?))),
            )
            .optional()?)
    }

    fn users(&self) -> Result<Vec<(String, bool, Mac)>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT name, admin, mac FROM users ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, stored_mac(r.get(2)?))))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn groups_of(&self, user: &str) -> Result<Vec<(String, Mac)>> {
        named_macs(
            self.conn(),
            "SELECT group_name, mac FROM members WHERE user_name = ?1 ORDER BY group_name",
            &[&user],
        )
    }

    fn groups(&self) -> Result<Vec<(String, Mac)>> {
        named_macs(
            self.conn(),
            "SELECT name, mac FROM groups ORDER BY name",
            &[],
        )
    }

    fn group(&self, name: &str) -> Result<Option<Mac>> {
        Ok(self
            .conn()
            .query_row("SELECT mac FROM groups WHERE name = ?1", [name], |r| {
                Ok(stored_mac(r.get(0)?))
            })
            .optional()?)
    }

    fn members_of(&self, group: &str) -> Result<Vec<(String, Mac)>> {
        named_macs(
            self.conn(),
            "SELECT user_name, mac FROM members WHERE group_name = ?1 ORDER BY user_name",
            &[&group],
        )
    }

    fn first_admin(&self) -> Result<Option<(Option<String>, Mac)>> {
        first_admin_row(self.conn())
    }

    fn authorization_rows(&self) -> Result<Vec<(AuthzRow, Mac)>> {
        let mut rows = authorization_rows(self.conn())?;
        rows.extend(sso_authorization_rows(self.conn())?);
        for inbox in super::sms::SmsRead::sms_inboxes(self)? {
            rows.extend(inbox.authz_rows());
        }
        Ok(rows)
    }

    fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>> {
        let last: Option<(i64, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(last.map(|(seq, mac)| (seq, to32(&mac))))
    }

    fn audit_records(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, time_ms, user, action, success, token_id, token_label, origin, browser,
                    extension_id, reason, prev_mac, mac
             FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after_seq, limit], |r| {
            let action: String = r.get(3)?;
            Ok(AuditRecord {
                seq: r.get(0)?,
                time_ms: r.get(1)?,
                event: AuditEvent {
                    user: r.get(2)?,
                    action: action.parse().map_err(|e: twofill_words::UnknownWord| {
                        rusqlite::Error::FromSqlConversionFailure(
                            3,
                            rusqlite::types::Type::Text,
                            e.to_string().into(),
                        )
                    })?,
                    success: r.get(4)?,
                    token_id: r.get(5)?,
                    token_label: r.get(6)?,
                    origin: r.get(7)?,
                    browser: r.get(8)?,
                    extension_id: r.get(9)?,
                    reason: r.get(10)?,
                },
                prev_mac: to32(&r.get::<_, Vec<u8>>(11)?),
                mac: to32(&r.get::<_, Vec<u8>>(12)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn recent_successes(
        &self,
        action: &str,
        user: &str,
        token: &str,
        since_ms: i64,
        max: u32,
    ) -> Result<Vec<i64>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT time_ms FROM audit INDEXED BY audit_recent_by_token
             WHERE user = ?1 AND token_id = ?2 AND action = ?3 AND success AND time_ms >= ?4
             ORDER BY time_ms DESC LIMIT ?5",
        )?;
        let rows = stmt
            .query_map(params![user, token, action, since_ms, max], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        Ok(rows)
    }

    fn invite(&self, secret_sha256: &[u8; 32]) -> Result<Option<InviteRow>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT user_name, created_by, created_at, expires_at, used_at, device_id, mac
                 FROM invites WHERE secret_sha256 = ?1",
                [secret_sha256.as_slice()],
                |r| {
                    Ok(InviteRow {
                        secret_sha256: *secret_sha256,
                        user: r.get(0)?,
                        created_by: r.get(1)?,
                        created_at_ms: r.get(2)?,
                        expires_at_ms: r.get(3)?,
                        used_at_ms: r.get(4)?,
                        device_id: r.get(5)?,
                        mac: stored_mac(r.get(6)?),
                    })
                },
            )
            .optional()?)
    }

    fn device(&self, id: &str) -> Result<Option<DeviceRow>> {
        Ok(devices_where(self.conn(), "WHERE id = ?1", &[&id])?
            .into_iter()
            .next())
    }

    fn device_by_cert(&self, cert_sha256: &[u8; 32]) -> Result<Option<DeviceRow>> {
        Ok(devices_where(
            self.conn(),
            "WHERE cert_sha256 = ?1",
            &[&cert_sha256.as_slice()],
        )?
        .into_iter()
        .next())
    }

    fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceRow>> {
        match user {
            Some(user) => devices_where(self.conn(), "WHERE user_name = ?1", &[&user]),
            None => devices_where(self.conn(), "", &[]),
        }
    }

    fn sso_identity(&self, issuer: &str, subject: &str) -> Result<Option<SsoIdentityRow>> {
        Ok(sso_identities_where(
            self.conn(),
            "WHERE issuer = ?1 AND subject = ?2",
            &[&issuer, &subject],
        )?
        .pop())
    }

    fn sso_identities_of(&self, user: &str) -> Result<Vec<SsoIdentityRow>> {
        sso_identities_where(self.conn(), "WHERE user_name = ?1", &[&user])
    }

    fn sso_session(&self, device_id: &str) -> Result<Option<SsoSessionRow>> {
        Ok(sso_sessions_where(self.conn(), "WHERE device_id = ?1", &[&device_id])?.pop())
    }

    fn disabled_user(&self, user: &str) -> Result<Option<DisabledUserRow>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT user_name, disabled_at, disabled_by, mac FROM disabled_users
                 WHERE user_name = ?1",
                [user],
                disabled_row,
            )
            .optional()?)
    }

    fn siem_cursor(&self, sink: &str) -> Result<Option<SiemCursorRow>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT seq, mac, holder, lease_until FROM siem_cursors WHERE sink = ?1",
                [sink],
                |r| {
                    Ok(SiemCursorRow {
                        sink: sink.to_owned(),
                        seq: r.get(0)?,
                        mac: r.get(1)?,
                        holder: r.get(2)?,
                        lease_until_ms: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    fn recovery_counts(&self, token_id: &str) -> Result<RecoveryCounts> {
        Ok(self.conn().query_row(
            "SELECT coalesce(max(generation), 0), count(*), count(*) - count(used_at)
             FROM recovery_codes WHERE token_id = ?1
               AND generation = (SELECT max(generation) FROM recovery_codes WHERE token_id = ?1)",
            [token_id],
            |r| {
                Ok(RecoveryCounts {
                    generation: r.get(0)?,
                    total: r.get(1)?,
                    unused: r.get(2)?,
                })
            },
        )?)
    }

    fn first_unused_recovery_code(&self, token_id: &str) -> Result<Option<RecoveryCodeRow>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT generation, slot, sealed_code FROM recovery_codes
                 WHERE token_id = ?1 AND used_at IS NULL
                 ORDER BY generation DESC, slot LIMIT 1",
                [token_id],
                |r| {
                    Ok(RecoveryCodeRow {
                        token_id: token_id.to_owned(),
                        generation: r.get(0)?,
                        slot: r.get(1)?,
                        sealed_code: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }
}

impl StoreTx for Writer<'_> {
    fn delete_recovery_codes(&self, token_id: &str) -> Result<u64> {
        Ok(self
            .0
            .execute("DELETE FROM recovery_codes WHERE token_id = ?1", [token_id])?
            as u64)
    }

    fn insert_recovery_code(&self, row: &RecoveryCodeRow) -> Result<()> {
        self.0.execute(
            "INSERT INTO recovery_codes (token_id, generation, slot, sealed_code)
             VALUES (?1, ?2, ?3, ?4)",
            params![row.token_id, row.generation, row.slot, row.sealed_code],
        )?;
        Ok(())
    }

    fn use_recovery_code(
        &self,
        token_id: &str,
        generation: i64,
        slot: i64,
        at_ms: i64,
        user: &str,
    ) -> Result<bool> {
        let n = self.0.execute(
            "UPDATE recovery_codes SET used_at = ?4, used_by = ?5
             WHERE token_id = ?1 AND generation = ?2 AND slot = ?3 AND used_at IS NULL",
            params![token_id, generation, slot, at_ms, user],
        )?;
        Ok(n == 1)
    }

    fn new_token_id(&self) -> Result<String> {
        Ok(self
            .0
            .query_row("SELECT lower(hex(randomblob(6)))", [], |r| r.get(0))?)
    }

    fn insert_token(&self, row: &NewTokenRow<'_>) -> Result<()> {
        self.0.execute(
            "INSERT INTO tokens (id, issuer, account, sealed_seed, kind, algorithm, digits,
                                 period, created_by, owner, hotp_counter, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                row.id,
                row.issuer,
                row.account,
                row.sealed_seed,
                row.kind,
                row.params.algorithm,
                row.params.digits,
                row.params.period as i64,
                row.created_by,
                row.owner,
                row.hotp_counter.map(counter_to_sql),
                row.mac.as_slice()
            ],
        )?;
        Ok(())
    }

    fn set_hotp_counter(&self, token_id: &str, counter: u64) -> Result<()> {
        self.0.execute(
            "UPDATE tokens SET hotp_counter = ?2 WHERE id = ?1",
            params![token_id, counter_to_sql(counter)],
        )?;
        Ok(())
    }

    fn delete_token(&self, id: &str) -> Result<()> {
        self.0.execute("DELETE FROM tokens WHERE id = ?1", [id])?;
        Ok(())
    }

    fn add_site(&self, token_id: &str, site: &str, mac: &Mac) -> Result<()> {
        self.0.execute(
            "INSERT OR IGNORE INTO token_sites (token_id, site, mac) VALUES (?1, ?2, ?3)",
            params![token_id, site, mac.as_slice()],
        )?;
        Ok(())
    }

    fn remove_site(&self, token_id: &str, site: &str) -> Result<()> {
        self.0.execute(
            "DELETE FROM token_sites WHERE token_id = ?1 AND site = ?2",
            params![token_id, site],
        )?;
        Ok(())
    }

    fn put_user(&self, name: &str, admin: bool, mac: &Mac) -> Result<()> {
        self.0.execute(
            "INSERT INTO users (name, admin, mac) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET admin = excluded.admin, mac = excluded.mac",
            params![name, admin, mac.as_slice()],
        )?;
        Ok(())
    }

    fn ensure_user(&self, name: &str, mac: &Mac) -> Result<()> {
        self.0.execute(
            "INSERT OR IGNORE INTO users (name, mac) VALUES (?1, ?2)",
            params![name, mac.as_slice()],
        )?;
        Ok(())
    }

    fn delete_user(&self, name: &str) -> Result<bool> {
        Ok(self
            .0
            .execute("DELETE FROM users WHERE name = ?1", [name])?
            > 0)
    }

    fn insert_group(&self, name: &str, mac: &Mac) -> Result<bool> {
        Ok(self.0.execute(
            "INSERT OR IGNORE INTO groups (name, mac) VALUES (?1, ?2)",
            params![name, mac.as_slice()],
        )? > 0)
    }

    fn delete_group(&self, name: &str) -> Result<bool> {
        Ok(self
            .0
            .execute("DELETE FROM groups WHERE name = ?1", [name])?
            > 0)
    }

    fn add_member(&self, group: &str, user: &str, mac: &Mac) -> Result<()> {
        self.0.execute(
            "INSERT OR IGNORE INTO members (group_name, user_name, mac) VALUES (?1, ?2, ?3)",
            params![group, user, mac.as_slice()],
        )?;
        Ok(())
    }

    fn remove_member(&self, group: &str, user: &str) -> Result<()> {
        self.0.execute(
            "DELETE FROM members WHERE group_name = ?1 AND user_name = ?2",
            params![group, user],
        )?;
        Ok(())
    }

    fn put_grant(&self, token_id: &str, group: &str, level: Access, mac: &Mac) -> Result<()> {
        self.0.execute(
            "INSERT INTO grants (token_id, group_name, level, mac) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (token_id, group_name)
             DO UPDATE SET level = excluded.level, mac = excluded.mac",
            params![token_id, group, level.as_str(), mac.as_slice()],
        )?;
        Ok(())
    }

    fn delete_grant(&self, token_id: &str, group: &str) -> Result<()> {
        self.0.execute(
            "DELETE FROM grants WHERE token_id = ?1 AND group_name = ?2",
            params![token_id, group],
        )?;
        Ok(())
    }

    fn set_first_admin(&self, name: &str, mac: &Mac) -> Result<()> {
        self.0.execute(
            "UPDATE meta SET value = ?1, mac = ?2 WHERE key = 'first_admin'",
            params![name, mac.as_slice()],
        )?;
        Ok(())
    }

    fn insert_invite(&self, row: &InviteRow) -> Result<()> {
        self.0.execute(
            "INSERT INTO invites (secret_sha256, user_name, created_by, created_at, expires_at,
                                  used_at, device_id, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                row.secret_sha256.as_slice(),
                row.user,
                row.created_by,
                row.created_at_ms,
                row.expires_at_ms,
                row.used_at_ms,
                row.device_id,
                row.mac.as_slice()
            ],
        )?;
        Ok(())
    }

    fn use_invite(
        &self,
        secret_sha256: &[u8; 32],
        used_at_ms: i64,
        device_id: &str,
        mac: &Mac,
    ) -> Result<bool> {
        Ok(self.0.execute(
            "UPDATE invites SET used_at = ?2, device_id = ?3, mac = ?4
             WHERE secret_sha256 = ?1 AND used_at IS NULL",
            params![
                secret_sha256.as_slice(),
                used_at_ms,
                device_id,
                mac.as_slice()
            ],
        )? > 0)
    }

    fn insert_device(&self, row: &DeviceRow) -> Result<()> {
        self.0.execute(
            "INSERT INTO devices (id, user_name, name, cert_sha256, joined_at, revoked_at,
                                  revoked_by, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                row.id,
                row.user,
                row.name,
                row.cert_sha256.as_slice(),
                row.joined_at_ms,
                row.revoked_at_ms,
                row.revoked_by,
                row.mac.as_slice()
            ],
        )?;
        Ok(())
    }

    fn revoke_device(&self, id: &str, at_ms: i64, by: &str, mac: &Mac) -> Result<bool> {
        Ok(self.0.execute(
            "UPDATE devices SET revoked_at = ?2, revoked_by = ?3, mac = ?4
             WHERE id = ?1 AND revoked_at IS NULL",
            params![id, at_ms, by, mac.as_slice()],
        )? > 0)
    }

    fn insert_sso_identity(&self, row: &SsoIdentityRow) -> Result<()> {
        self.0.execute(
            "INSERT INTO sso_identities (issuer, subject, user_name, created_at, mac)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row.issuer,
                row.subject,
                row.user,
                row.created_at_ms,
                row.mac.as_slice()
            ],
        )?;
        Ok(())
    }

    fn set_device_user(&self, id: &str, user: &str, mac: &Mac) -> Result<bool> {
        Ok(self.0.execute(
            "UPDATE devices SET user_name = ?2, mac = ?3 WHERE id = ?1",
            params![id, user, mac.as_slice()],
        )? > 0)
    }

    fn put_sso_session(&self, row: &SsoSessionRow) -> Result<()> {
        self.0.execute(
            "INSERT OR REPLACE INTO sso_sessions (device_id, ticket_sha256, user_name,
                                                  signed_in_at, expires_at, max_at, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                row.device_id,
                row.ticket_sha256.as_slice(),
                row.user,
                row.signed_in_at_ms,
                row.expires_at_ms,
                row.max_at_ms,
                row.mac.as_slice()
            ],
        )?;
        Ok(())
    }

    fn delete_sso_session(&self, device_id: &str) -> Result<bool> {
        Ok(self
            .0
            .execute("DELETE FROM sso_sessions WHERE device_id = ?1", [device_id])?
            > 0)
    }

    fn delete_sso_sessions_of(&self, user: &str) -> Result<u64> {
        Ok(self
            .0
            .execute("DELETE FROM sso_sessions WHERE user_name = ?1", [user])? as u64)
    }

    fn put_disabled_user(&self, row: &DisabledUserRow) -> Result<()> {
        self.0.execute(
            "INSERT OR REPLACE INTO disabled_users (user_name, disabled_at, disabled_by, mac)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                row.user,
                row.disabled_at_ms,
                row.disabled_by,
                row.mac.as_slice()
            ],
        )?;
        Ok(())
    }

    fn delete_disabled_user(&self, user: &str) -> Result<bool> {
        Ok(self
            .0
            .execute("DELETE FROM disabled_users WHERE user_name = ?1", [user])?
            > 0)
    }

    fn put_siem_cursor(&self, row: &SiemCursorRow) -> Result<()> {
        self.0.execute(
            "INSERT OR REPLACE INTO siem_cursors (sink, seq, mac, holder, lease_until)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![row.sink, row.seq, row.mac, row.holder, row.lease_until_ms],
        )?;
        Ok(())
    }

    fn append_audit(&self, r: &AuditRecord) -> Result<()> {
        let e = &r.event;
        self.0.execute(
            "INSERT INTO audit (seq, time_ms, user, action, success, token_id, token_label,
                                origin, browser, extension_id, reason, prev_mac, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                r.seq,
                r.time_ms,
                e.user,
                e.action.as_str(),
                e.success,
                e.token_id,
                e.token_label,
                e.origin,
                e.browser,
                e.extension_id,
                e.reason,
                r.prev_mac.as_slice(),
                r.mac.as_slice(),
            ],
        )?;
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        self.0.commit()?;
        Ok(())
    }
}
