//! The PostgreSQL store: the same rows as SQLite on a database several
//! processes share (a team server's replicas).
//!
//! A write transaction's first statement takes one transaction-scoped
//! advisory lock, so writers on every connection and process run one after
//! another and reading the audit head, then appending after it, cannot
//! interleave. Commits are durable under PostgreSQL's default
//! `synchronous_commit = on`. All of this store's SQL lives here and in
//! [`super::postgres_schema`]; no rule does.

use std::cell::{Cell, RefCell, RefMut};

use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row};
use twofill_seal::{DataKey, Protection};

use super::{
    AuthzRow, CodeParams, DeviceRow, DisabledUserRow, GrantPath, GrantRow, InviteRow, Mac,
    NewTokenRow, RecoveryCodeRow, RecoveryCounts, SiemCursorRow, SsoIdentityRow, SsoSessionRow,
    Store, StoreRead, StoreTx, TokenMeta, TokenRow, counter_from_sql, counter_to_sql,
    postgres_schema, to32,
};
use crate::{Access, AuditEvent, AuditRecord, Result, VaultError};

/// The advisory lock every write (and opening) holds: "2FIL", the same
/// marker as the SQLite file's application id.
const WRITE_LOCK: i64 = 0x3246_494c;

#[path = "postgres_sms.rs"]
pub(crate) mod sms;

pub(crate) struct PostgresStore {
    /// `postgres::Client` needs `&mut` per statement; reads come through
    /// `&self`, and a write transaction holds the only `&mut self`.
    client: RefCell<Client>,
    /// The database's URL without its password, for error messages.
    name: String,
}

impl PostgresStore {
    /// Connects, checks the database is empty or a twofill vault this build
    /// knows, creates or migrates its schema and returns the data key.
    pub(crate) fn open(url: &str, protection: &Protection) -> Result<(PostgresStore, DataKey)> {
        let name = redacted(url);
        let config: postgres::Config = url.parse().map_err(|e| VaultError::Corrupt {
            path: name.clone().into(),
            detail: format!("not a PostgreSQL URL ({e}); use postgres://user@host:port/database"),
        })?;
        let mut client = config.connect(NoTls)?;
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::ReadCommitted)
            .start()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        // An error drops `tx`, which rolls back: the database is untouched.
        let key = postgres_schema::check_and_migrate(&mut tx, &name, protection)?;
        tx.commit()?;
        Ok((
            PostgresStore {
                client: RefCell::new(client),
                name,
            },
            key,
        ))
    }
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl Store for PostgresStore {
    fn reader(&self) -> Result<Box<dyn StoreRead + '_>> {
        Ok(Box::new(Reader(self)))
    }

    fn begin_write(&mut self) -> Result<Box<dyn StoreTx + '_>> {
        let writer = Writer {
            store: self,
            open: Cell::new(false),
            written_head: Cell::new(None),
        };
        // READ COMMITTED whatever the server's default: each statement
        // after the lock sees every commit made before it was granted (a
        // REPEATABLE READ snapshot would be taken before the wait, and an
        // audit head read in it would be stale).
        writer
            .client()
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")?;
        writer.open.set(true);
        writer
            .client()
            .execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        Ok(Box::new(writer))
    }
}

struct Reader<'s>(&'s PostgresStore);

/// A write transaction on the store's connection; dropped uncommitted, it
/// rolls back.
struct Writer<'s> {
    store: &'s PostgresStore,
    open: Cell<bool>,
    /// The audit head this transaction wrote last. It holds the write
    /// lock, so nobody else can move the head: a batch's records follow
    /// each other without a round trip to read it back.
    written_head: Cell<Option<(i64, [u8; 32])>>,
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if self.open.get() {
            // A failed rollback leaves a broken connection whose next
            // statement fails; nothing of this transaction is committed.
            let _ = self.client().batch_execute("ROLLBACK");
        }
    }
}

/// The store a read runs on (outside or inside the write transaction).
trait Pg {
    fn store(&self) -> &PostgresStore;

    /// The audit head this handle's own write transaction appended, if any.
    fn written_head(&self) -> Option<(i64, [u8; 32])> {
        None
    }

    fn client(&self) -> RefMut<'_, Client> {
        self.store().client.borrow_mut()
    }

    fn rows(&self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        Ok(self.client().query(sql, args)?)
    }

    fn row(&self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        Ok(self.rows(sql, args)?.into_iter().next())
    }

    fn exec(&self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        Ok(self.client().execute(sql, args)?)
    }

    fn strings(&self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<String>> {
        self.rows(sql, args)?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    fn devices_where(
        &self,
        condition: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<DeviceRow>> {
        self.rows(
            &format!(
                "SELECT id, user_name, name, cert_sha256, joined_at, revoked_at, revoked_by, mac
                 FROM devices {condition} ORDER BY user_name, joined_at, id"
            ),
            args,
        )?
        .iter()
        .map(|r| {
            Ok(DeviceRow {
                id: r.try_get(0)?,
                user: r.try_get(1)?,
                name: r.try_get(2)?,
                cert_sha256: to32(r.try_get(3)?),
                joined_at_ms: r.try_get(4)?,
                revoked_at_ms: r.try_get(5)?,
                revoked_by: r.try_get(6)?,
                mac: stored_mac(r, 7)?,
            })
        })
        .collect()
    }

    fn sso_identities_where(
        &self,
        condition: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<SsoIdentityRow>> {
        self.rows(
            &format!(
                "SELECT issuer, subject, user_name, created_at, mac FROM sso_identities
                 {condition} ORDER BY issuer, subject"
            ),
            args,
        )?
        .iter()
        .map(|r| {
            Ok(SsoIdentityRow {
                issuer: r.try_get(0)?,
                subject: r.try_get(1)?,
                user: r.try_get(2)?,
                created_at_ms: r.try_get(3)?,
                mac: stored_mac(r, 4)?,
            })
        })
        .collect()
    }

    fn sso_sessions_where(
        &self,
        condition: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<SsoSessionRow>> {
        self.rows(
            &format!(
                "SELECT device_id, ticket_sha256, user_name, signed_in_at, expires_at, max_at, mac
                 FROM sso_sessions {condition} ORDER BY device_id"
            ),
            args,
        )?
        .iter()
        .map(|r| {
            Ok(SsoSessionRow {
                device_id: r.try_get(0)?,
                ticket_sha256: to32(r.try_get(1)?),
                user: r.try_get(2)?,
                signed_in_at_ms: r.try_get(3)?,
                expires_at_ms: r.try_get(4)?,
                max_at_ms: r.try_get(5)?,
                mac: stored_mac(r, 6)?,
            })
        })
        .collect()
    }

    fn disabled_where(
        &self,
        condition: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<DisabledUserRow>> {
        self.rows(
            &format!(
                "SELECT user_name, disabled_at, disabled_by, mac FROM disabled_users
                 {condition} ORDER BY user_name"
            ),
            args,
        )?
        .iter()
        .map(|r| {
            Ok(DisabledUserRow {
                user: r.try_get(0)?,
                disabled_at_ms: r.try_get(1)?,
                disabled_by: r.try_get(2)?,
                mac: stored_mac(r, 3)?,
            })
        })
        .collect()
    }

    /// `(name, mac)` rows.
    fn named_macs(&self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<(String, Mac)>> {
        self.rows(sql, args)?
            .iter()
            .map(|r| Ok((r.try_get(0)?, stored_mac(r, 1)?)))
            .collect()
    }

    /// `(token_id, group_name, level, mac)` rows.
    fn grant_rows(&self, sql: &str, arg: &str) -> Result<Vec<GrantRow>> {
        self.rows(sql, &[&arg])?
            .iter()
            .map(|r| {
                Ok(GrantRow {
                    token: r.try_get(0)?,
                    group: r.try_get(1)?,
                    level: r.try_get(2)?,
                    mac: stored_mac(r, 3)?,
                })
            })
            .collect()
    }
}

/// A MAC column: NULL (a row written past the vault) reads as all zeros,
/// which never verifies.
fn stored_mac(r: &Row, at: usize) -> Result<Mac> {
    let b: Option<Vec<u8>> = r.try_get(at)?;
    Ok(to32(&b.unwrap_or_default()))
}

/// The first-admin row: an empty value is "never had an admin".
fn first_admin_row(c: &mut impl GenericClient) -> Result<Option<(Option<String>, Mac)>> {
    let Some(r) = c.query_opt(
        "SELECT value, mac FROM twofill_meta WHERE key = 'first_admin'",
        &[],
    )?
    else {
        return Ok(None);
    };
    let name: String = r.try_get(0)?;
    Ok(Some((
        (!name.is_empty()).then_some(name),
        stored_mac(&r, 1)?,
    )))
}

/// Every authorization row with its MAC (also what the schema 7 migration
/// MACs).
pub(super) fn authorization_rows(c: &mut impl GenericClient) -> Result<Vec<(AuthzRow, Mac)>> {
    type Make = fn(&Row) -> Result<AuthzRow, postgres::Error>;
    let tables: [(&str, Make, usize); 6] = [
        (
            "SELECT name, admin, mac FROM users ORDER BY name",
            |r| {
                Ok(AuthzRow::User {
                    name: r.try_get(0)?,
                    admin: r.try_get(1)?,
                })
            },
            2,
        ),
        (
            "SELECT name, mac FROM groups ORDER BY name",
            |r| {
                Ok(AuthzRow::Group {
                    name: r.try_get(0)?,
                })
            },
            1,
        ),
        (
            "SELECT group_name, user_name, mac FROM members ORDER BY group_name, user_name",
            |r| {
                Ok(AuthzRow::Member {
                    group: r.try_get(0)?,
                    user: r.try_get(1)?,
                })
            },
            2,
        ),
        (
            "SELECT token_id, group_name, level, mac FROM grants ORDER BY token_id, group_name",
            |r| {
                Ok(AuthzRow::Grant {
                    token: r.try_get(0)?,
                    group: r.try_get(1)?,
                    level: r.try_get(2)?,
                })
            },
            3,
        ),
        (
            "SELECT token_id, site, mac FROM token_sites ORDER BY token_id, site",
            |r| {
                Ok(AuthzRow::Site {
                    token: r.try_get(0)?,
                    site: r.try_get(1)?,
                })
            },
            2,
        ),
        (
            "SELECT id, owner, kind, mac FROM tokens ORDER BY id",
            |r| {
                Ok(AuthzRow::Token {
                    id: r.try_get(0)?,
                    owner: r.try_get(1)?,
                    kind: r.try_get(2)?,
                })
            },
            3,
        ),
    ];
    let mut out = Vec::new();
    for (sql, make, mac_at) in tables {
        for r in c.query(sql, &[])? {
            out.push((make(&r)?, stored_mac(&r, mac_at)?));
        }
    }
    for r in c.query(
        "SELECT secret_sha256, user_name, expires_at, used_at, mac FROM invites
         ORDER BY secret_sha256",
        &[],
    )? {
        let row = AuthzRow::Invite {
            secret_sha256: to32(r.try_get(0)?),
            user: r.try_get(1)?,
            expires_at_ms: r.try_get(2)?,
            used_at_ms: r.try_get(3)?,
        };
        out.push((row, stored_mac(&r, 4)?));
    }
    for r in c.query(
        "SELECT id, user_name, cert_sha256, revoked_at, mac FROM devices ORDER BY id",
        &[],
    )? {
        let row = AuthzRow::Device {
            id: r.try_get(0)?,
            user: r.try_get(1)?,
            cert_sha256: to32(r.try_get(2)?),
            revoked_at_ms: r.try_get(3)?,
        };
        out.push((row, stored_mac(&r, 4)?));
    }
    if let Some((name, mac)) = first_admin_row(c)? {
        out.push((AuthzRow::FirstAdmin { name }, mac));
    }
    Ok(out)
}

/// Stores `mac` on the row `row` names (the schema 7 migration).
pub(super) fn set_mac(c: &mut impl GenericClient, row: &AuthzRow, mac: &Mac) -> Result<()> {
    let mac = mac.as_slice();
    match row {
        AuthzRow::User { name, .. } => {
            c.execute("UPDATE users SET mac = $2 WHERE name = $1", &[name, &mac])?
        }
        AuthzRow::Group { name } => {
            c.execute("UPDATE groups SET mac = $2 WHERE name = $1", &[name, &mac])?
        }
        AuthzRow::Member { group, user } => c.execute(
            "UPDATE members SET mac = $3 WHERE group_name = $1 AND user_name = $2",
            &[group, user, &mac],
        )?,
        AuthzRow::Grant { token, group, .. } => c.execute(
            "UPDATE grants SET mac = $3 WHERE token_id = $1 AND group_name = $2",
            &[token, group, &mac],
        )?,
        AuthzRow::Site { token, site } => c.execute(
            "UPDATE token_sites SET mac = $3 WHERE token_id = $1 AND site = $2",
            &[token, site, &mac],
        )?,
        AuthzRow::Token { id, .. } => {
            c.execute("UPDATE tokens SET mac = $2 WHERE id = $1", &[id, &mac])?
        }
        AuthzRow::FirstAdmin { .. } => c.execute(
            "UPDATE twofill_meta SET mac = $1 WHERE key = 'first_admin'",
            &[&mac],
        )?,
        AuthzRow::Invite { secret_sha256, .. } => c.execute(
            "UPDATE invites SET mac = $2 WHERE secret_sha256 = $1",
            &[&secret_sha256.as_slice(), &mac],
        )?,
        AuthzRow::Device { id, .. } => {
            c.execute("UPDATE devices SET mac = $2 WHERE id = $1", &[id, &mac])?
        }
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

impl Pg for Reader<'_> {
    fn store(&self) -> &PostgresStore {
        self.0
    }
}

impl Pg for Writer<'_> {
    fn store(&self) -> &PostgresStore {
        self.store
    }

    fn written_head(&self) -> Option<(i64, [u8; 32])> {
        self.written_head.get()
    }
}

/// One body for both: SQLite's blanket impl over its connection trait
/// already covers every `T`, so this store names its two types.
macro_rules! store_read {
    ($ty:ty) => {
        impl StoreRead for $ty {
        fn token_ids(&self) -> Result<Vec<String>> {
            self.strings(
                "SELECT id FROM tokens ORDER BY issuer NULLS FIRST, account, id",
                &[],
            )
        }

        fn token_ids_bound_to(&self, sites: &[String]) -> Result<Vec<String>> {
            self.strings(
                "SELECT id FROM tokens WHERE id IN (
                     SELECT token_id FROM token_sites WHERE site = ANY($1))
                 ORDER BY issuer NULLS FIRST, account, id",
                &[&sites],
            )
        }

        fn token(&self, id: &str) -> Result<Option<TokenRow>> {
            let Some(r) = self.row(
                "SELECT issuer, account, owner, kind, mac FROM tokens WHERE id = $1",
                &[&id],
            )?
            else {
                return Ok(None);
            };
            let sites = self.named_macs(
                "SELECT site, mac FROM token_sites WHERE token_id = $1 ORDER BY site",
                &[&id],
            )?;
            Ok(Some(TokenRow {
                id: id.to_owned(),
                issuer: r.try_get(0)?,
                account: r.try_get(1)?,
                owner: r.try_get(2)?,
                kind: r.try_get(3)?,
                mac: stored_mac(&r, 4)?,
                sites,
            }))
        }

        fn token_meta(&self, id: &str) -> Result<Option<TokenMeta>> {
            let Some(r) = self.row(
                "SELECT kind, created_at, created_by, algorithm, digits, period
                 FROM tokens WHERE id = $1",
                &[&id],
            )?
            else {
                return Ok(None);
            };
            let algorithm: Option<String> = r.try_get(3)?;
            let digits: Option<i32> = r.try_get(4)?;
            let period: Option<i64> = r.try_get(5)?;
            Ok(Some(TokenMeta {
                kind: r.try_get(0)?,
                created_at: r.try_get(1)?,
                created_by: r.try_get(2)?,
                params: match (algorithm, digits, period) {
                    (Some(algorithm), Some(digits), Some(period)) => Some(CodeParams {
                        algorithm,
                        digits: digits as u32,
                        period: period as u64,
                    }),
                    _ => None,
                },
            }))
        }

        fn sealed_seed(&self, id: &str) -> Result<Option<Vec<u8>>> {
            match self.row("SELECT sealed_seed FROM tokens WHERE id = $1", &[&id])? {
                Some(r) => Ok(r.try_get(0)?),
                None => Ok(None),
            }
        }

        fn hotp_counter(&self, id: &str) -> Result<Option<u64>> {
            match self.row("SELECT hotp_counter FROM tokens WHERE id = $1", &[&id])? {
                Some(r) => Ok(r.try_get::<_, Option<i64>>(0)?.map(counter_from_sql)),
                None => Ok(None),
            }
        }

        fn personal_token_ids(&self, owner: &str) -> Result<Vec<String>> {
            self.strings(
                "SELECT id FROM tokens WHERE owner = $1 ORDER BY issuer NULLS FIRST, account, id",
                &[&owner],
            )
        }

        fn grant_paths(&self, user: &str, token_id: &str) -> Result<Vec<GrantPath>> {
            self.rows(
                "SELECT g.group_name, g.level, m.mac, g.mac
                 FROM grants g JOIN members m ON m.group_name = g.group_name
                 WHERE m.user_name = $1 AND g.token_id = $2",
                &[&user, &token_id],
            )?
            .iter()
            .map(|r| {
                Ok(GrantPath {
                    group: r.try_get(0)?,
                    level: r.try_get(1)?,
                    member_mac: stored_mac(r, 2)?,
                    grant_mac: stored_mac(r, 3)?,
                })
            })
            .collect()
        }

        fn grants_of_token(&self, token_id: &str) -> Result<Vec<GrantRow>> {
            self.grant_rows(
                "SELECT token_id, group_name, level, mac FROM grants WHERE token_id = $1
                 ORDER BY group_name",
                token_id,
            )
        }

        fn grants_of_group(&self, group: &str) -> Result<Vec<GrantRow>> {
            self.grant_rows(
                "SELECT token_id, group_name, level, mac FROM grants WHERE group_name = $1
                 ORDER BY token_id",
                group,
            )
        }

        fn admin_count(&self) -> Result<u64> {
            let n: i64 = self
                .client()
                .query_one("SELECT count(*) FROM users WHERE admin", &[])?
                .try_get(0)?;
            Ok(n as u64)
        }

        fn user(&self, name: &str) -> Result<Option<(bool, Mac)>> {
            match self.row("SELECT admin, mac FROM users WHERE name = $1", &[&name])? {
                Some(r) => Ok(Some((r.try_get(0)?, stored_mac(&r, 1)?))),
                None => Ok(None),
            }
        }

        fn users(&self) -> Result<Vec<(String, bool, Mac)>> {
            self.rows("SELECT name, admin, mac FROM users ORDER BY name", &[])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, stored_mac(r, 2)?)))
                .collect()
        }

        fn groups_of(&self, user: &str) -> Result<Vec<(String, Mac)>> {
            self.named_macs(
                "SELECT group_name, mac FROM members WHERE user_name = $1 ORDER BY group_name",
                &[&user],
            )
        }

        fn groups(&self) -> Result<Vec<(String, Mac)>> {
            self.named_macs("SELECT name, mac FROM groups ORDER BY name", &[])
        }

        fn group(&self, name: &str) -> Result<Option<Mac>> {
            match self.row("SELECT mac FROM groups WHERE name = $1", &[&name])? {
                Some(r) => Ok(Some(stored_mac(&r, 0)?)),
                None => Ok(None),
            }
        }

        fn members_of(&self, group: &str) -> Result<Vec<(String, Mac)>> {
            self.named_macs(
                "SELECT user_name, mac FROM members WHERE group_name = $1 ORDER BY user_name",
                &[&group],
            )
        }

        fn first_admin(&self) -> Result<Option<(Option<String>, Mac)>> {
            first_admin_row(&mut *self.client())
        }

        fn authorization_rows(&self) -> Result<Vec<(AuthzRow, Mac)>> {
            let mut rows = authorization_rows(&mut *self.client())?;
            for r in self.sso_identities_where("", &[])? {
                rows.push((r.authz_row(), r.mac));
            }
            for r in self.sso_sessions_where("", &[])? {
                rows.push((r.authz_row(), r.mac));
            }
            for r in self.disabled_where("", &[])? {
                rows.push((r.authz_row(), r.mac));
            }
            for inbox in super::sms::SmsRead::sms_inboxes(self)? {
                rows.extend(inbox.authz_rows());
            }
            Ok(rows)
        }

        fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>> {
            if let Some(head) = self.written_head() {
                return Ok(Some(head));
            }
            match self.row("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1", &[])? {
                Some(r) => Ok(Some((r.try_get(0)?, to32(r.try_get(1)?)))),
                None => Ok(None),
            }
        }

        fn audit_records(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>> {
            let rows = self.rows(
                r#"SELECT seq, time_ms, "user", action, success, token_id, token_label, origin,
                          browser, extension_id, reason, prev_mac, mac
                   FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2"#,
                &[&after_seq, &limit],
            )?;
            rows.iter()
                .map(|r| {
                    let action: String = r.try_get(3)?;
                    let action = action.parse().map_err(|e: twofill_words::UnknownWord| {
                        VaultError::Corrupt {
                            path: self.store().name.clone().into(),
                            detail: format!("audit record {}: {e}", r.get::<_, i64>(0)),
                        }
                    })?;
                    Ok(AuditRecord {
                        seq: r.try_get(0)?,
                        time_ms: r.try_get(1)?,
                        event: AuditEvent {
                            user: r.try_get(2)?,
                            action,
                            success: r.try_get(4)?,
                            token_id: r.try_get(5)?,
                            token_label: r.try_get(6)?,
                            origin: r.try_get(7)?,
                            browser: r.try_get(8)?,
                            extension_id: r.try_get(9)?,
                            reason: r.try_get(10)?,
                        },
                        prev_mac: to32(r.try_get(11)?),
                        mac: to32(r.try_get(12)?),
                    })
                })
                .collect()
        }

        fn recent_successes(
            &self,
            action: &str,
            user: &str,
            token: &str,
            since_ms: i64,
            max: u32,
        ) -> Result<Vec<i64>> {
            self.rows(
                r#"SELECT time_ms FROM audit
                   WHERE "user" = $1 AND token_id = $2 AND action = $3 AND success
                     AND time_ms >= $4
                   ORDER BY time_ms DESC LIMIT $5"#,
                &[&user, &token, &action, &since_ms, &i64::from(max)],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        }

        fn invite(&self, secret_sha256: &[u8; 32]) -> Result<Option<InviteRow>> {
            let Some(r) = self.row(
                "SELECT user_name, created_by, created_at, expires_at, used_at, device_id, mac
                 FROM invites WHERE secret_sha256 = $1",
                &[&secret_sha256.as_slice()],
            )?
            else {
                return Ok(None);
            };
            Ok(Some(InviteRow {
                secret_sha256: *secret_sha256,
                user: r.try_get(0)?,
                created_by: r.try_get(1)?,
                created_at_ms: r.try_get(2)?,
                expires_at_ms: r.try_get(3)?,
                used_at_ms: r.try_get(4)?,
                device_id: r.try_get(5)?,
                mac: stored_mac(&r, 6)?,
            }))
        }

        fn device(&self, id: &str) -> Result<Option<DeviceRow>> {
            Ok(self.devices_where("WHERE id = $1", &[&id])?.into_iter().next())
        }

        fn device_by_cert(&self, cert_sha256: &[u8; 32]) -> Result<Option<DeviceRow>> {
            Ok(self
                .devices_where("WHERE cert_sha256 = $1", &[&cert_sha256.as_slice()])?
                .into_iter()
                .next())
        }

        fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceRow>> {
            match user {
                Some(user) => self.devices_where("WHERE user_name = $1", &[&user]),
                None => self.devices_where("", &[]),
            }
        }

        fn sso_identity(&self, issuer: &str, subject: &str) -> Result<Option<SsoIdentityRow>> {
            Ok(self
                .sso_identities_where("WHERE issuer = $1 AND subject = $2", &[&issuer, &subject])?
                .pop())
        }

        fn sso_identities_of(&self, user: &str) -> Result<Vec<SsoIdentityRow>> {
            self.sso_identities_where("WHERE user_name = $1", &[&user])
        }

        fn sso_session(&self, device_id: &str) -> Result<Option<SsoSessionRow>> {
            Ok(self
                .sso_sessions_where("WHERE device_id = $1", &[&device_id])?
                .pop())
        }

        fn disabled_user(&self, user: &str) -> Result<Option<DisabledUserRow>> {
            Ok(self.disabled_where("WHERE user_name = $1", &[&user])?.pop())
        }

        fn siem_cursor(&self, sink: &str) -> Result<Option<SiemCursorRow>> {
            let Some(r) = self.row(
                "SELECT seq, mac, holder, lease_until FROM siem_cursors WHERE sink = $1",
                &[&sink],
            )?
            else {
                return Ok(None);
            };
            Ok(Some(SiemCursorRow {
                sink: sink.to_owned(),
                seq: r.try_get(0)?,
                mac: r.try_get(1)?,
                holder: r.try_get(2)?,
                lease_until_ms: r.try_get(3)?,
            }))
        }


        fn recovery_counts(&self, token_id: &str) -> Result<RecoveryCounts> {
            let r = self
                .row(
                    "SELECT coalesce(max(generation), 0), count(*), count(*) - count(used_at)
                     FROM recovery_codes WHERE token_id = $1
                       AND generation = (SELECT max(generation) FROM recovery_codes
                                         WHERE token_id = $1)",
                    &[&token_id],
                )?
                .expect("an aggregate has one row");
            Ok(RecoveryCounts {
                generation: r.try_get(0)?,
                total: r.try_get::<_, i64>(1)? as u32,
                unused: r.try_get::<_, i64>(2)? as u32,
            })
        }

        fn first_unused_recovery_code(&self, token_id: &str) -> Result<Option<RecoveryCodeRow>> {
            let Some(r) = self.row(
                "SELECT generation, slot, sealed_code FROM recovery_codes
                 WHERE token_id = $1 AND used_at IS NULL
                 ORDER BY generation DESC, slot LIMIT 1",
                &[&token_id],
            )?
            else {
                return Ok(None);
            };
            Ok(Some(RecoveryCodeRow {
                token_id: token_id.to_owned(),
                generation: r.try_get(0)?,
                slot: r.try_get(1)?,
                sealed_code: r.try_get(2)?,
            }))
        }
        }
    };
}

store_read!(Reader<'_>);
store_read!(Writer<'_>);

impl StoreTx for Writer<'_> {
    fn delete_recovery_codes(&self, token_id: &str) -> Result<u64> {
        self.exec(
            "DELETE FROM recovery_codes WHERE token_id = $1",
            &[&token_id],
        )
    }

    fn insert_recovery_code(&self, row: &RecoveryCodeRow) -> Result<()> {
        self.exec(
            "INSERT INTO recovery_codes (token_id, generation, slot, sealed_code)
             VALUES ($1, $2, $3, $4)",
            &[&row.token_id, &row.generation, &row.slot, &row.sealed_code],
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
        let n = self.exec(
            "UPDATE recovery_codes SET used_at = $4, used_by = $5
             WHERE token_id = $1 AND generation = $2 AND slot = $3 AND used_at IS NULL",
            &[&token_id, &generation, &slot, &at_ms, &user],
        )?;
        Ok(n == 1)
    }

    fn new_token_id(&self) -> Result<String> {
        // A v4 UUID's first 12 hex digits are random (PostgreSQL's strong
        // random source), like SQLite's randomblob(6).
        Ok(self
            .client()
            .query_one(
                "SELECT left(replace(gen_random_uuid()::text, '-', ''), 12)",
                &[],
            )?
            .try_get(0)?)
    }

    fn insert_token(&self, row: &NewTokenRow<'_>) -> Result<()> {
        self.exec(
            "INSERT INTO tokens (id, issuer, account, sealed_seed, kind, algorithm, digits,
                                 period, created_by, owner, hotp_counter, mac)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &row.id,
                &row.issuer,
                &row.account,
                &row.sealed_seed,
                &row.kind,
                &row.params.algorithm,
                &(row.params.digits as i32),
                &(row.params.period as i64),
                &row.created_by,
                &row.owner,
                &row.hotp_counter.map(counter_to_sql),
                &row.mac.as_slice(),
            ],
        )?;
        Ok(())
    }

    fn set_hotp_counter(&self, token_id: &str, counter: u64) -> Result<()> {
        self.exec(
            "UPDATE tokens SET hotp_counter = $2 WHERE id = $1",
            &[&token_id, &counter_to_sql(counter)],
        )?;
        Ok(())
    }

    fn delete_token(&self, id: &str) -> Result<()> {
        self.exec("DELETE FROM tokens WHERE id = $1", &[&id])?;
        Ok(())
    }

    fn add_site(&self, token_id: &str, site: &str, mac: &Mac) -> Result<()> {
        self.exec(
            "INSERT INTO token_sites (token_id, site, mac) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&token_id, &site, &mac.as_slice()],
        )?;
        Ok(())
    }

    fn remove_site(&self, token_id: &str, site: &str) -> Result<()> {
        self.exec(
            "DELETE FROM token_sites WHERE token_id = $1 AND site = $2",
            &[&token_id, &site],
        )?;
        Ok(())
    }

    fn put_user(&self, name: &str, admin: bool, mac: &Mac) -> Result<()> {
        self.exec(
            "INSERT INTO users (name, admin, mac) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET admin = excluded.admin, mac = excluded.mac",
            &[&name, &admin, &mac.as_slice()],
        )?;
        Ok(())
    }

    fn ensure_user(&self, name: &str, mac: &Mac) -> Result<()> {
        self.exec(
            "INSERT INTO users (name, mac) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&name, &mac.as_slice()],
        )?;
        Ok(())
    }

    fn delete_user(&self, name: &str) -> Result<bool> {
        Ok(self.exec("DELETE FROM users WHERE name = $1", &[&name])? > 0)
    }

    fn insert_group(&self, name: &str, mac: &Mac) -> Result<bool> {
        Ok(self.exec(
            "INSERT INTO groups (name, mac) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&name, &mac.as_slice()],
        )? > 0)
    }

    fn delete_group(&self, name: &str) -> Result<bool> {
        Ok(self.exec("DELETE FROM groups WHERE name = $1", &[&name])? > 0)
    }

    fn add_member(&self, group: &str, user: &str, mac: &Mac) -> Result<()> {
        self.exec(
            "INSERT INTO members (group_name, user_name, mac) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&group, &user, &mac.as_slice()],
        )?;
        Ok(())
    }

    fn remove_member(&self, group: &str, user: &str) -> Result<()> {
        self.exec(
            "DELETE FROM members WHERE group_name = $1 AND user_name = $2",
            &[&group, &user],
        )?;
        Ok(())
    }

    fn put_grant(&self, token_id: &str, group: &str, level: Access, mac: &Mac) -> Result<()> {
        self.exec(
            "INSERT INTO grants (token_id, group_name, level, mac) VALUES ($1, $2, $3, $4)
             ON CONFLICT (token_id, group_name)
             DO UPDATE SET level = excluded.level, mac = excluded.mac",
            &[&token_id, &group, &level.as_str(), &mac.as_slice()],
        )?;
        Ok(())
    }

    fn delete_grant(&self, token_id: &str, group: &str) -> Result<()> {
        self.exec(
            "DELETE FROM grants WHERE token_id = $1 AND group_name = $2",
            &[&token_id, &group],
        )?;
        Ok(())
    }

    fn set_first_admin(&self, name: &str, mac: &Mac) -> Result<()> {
        self.exec(
            "UPDATE twofill_meta SET value = $1, mac = $2 WHERE key = 'first_admin'",
            &[&name, &mac.as_slice()],
        )?;
        Ok(())
    }

    fn insert_invite(&self, row: &InviteRow) -> Result<()> {
        self.exec(
            "INSERT INTO invites (secret_sha256, user_name, created_by, created_at, expires_at,
                                  used_at, device_id, mac)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &row.secret_sha256.as_slice(),
                &row.user,
                &row.created_by,
                &row.created_at_ms,
                &row.expires_at_ms,
                &row.used_at_ms,
                &row.device_id,
                &row.mac.as_slice(),
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
        Ok(self.exec(
            "UPDATE invites SET used_at = $2, device_id = $3, mac = $4
             WHERE secret_sha256 = $1 AND used_at IS NULL",
            &[
                &secret_sha256.as_slice(),
                &used_at_ms,
                &device_id,
                &mac.as_slice(),
            ],
        )? > 0)
    }

    fn insert_device(&self, row: &DeviceRow) -> Result<()> {
        self.exec(
            "INSERT INTO devices (id, user_name, name, cert_sha256, joined_at, revoked_at,
                                  revoked_by, mac)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &row.id,
                &row.user,
                &row.name,
                &row.cert_sha256.as_slice(),
                &row.joined_at_ms,
                &row.revoked_at_ms,
                &row.revoked_by,
                &row.mac.as_slice(),
            ],
        )?;
        Ok(())
    }

    fn revoke_device(&self, id: &str, at_ms: i64, by: &str, mac: &Mac) -> Result<bool> {
        Ok(self.exec(
            "UPDATE devices SET revoked_at = $2, revoked_by = $3, mac = $4
             WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at_ms, &by, &mac.as_slice()],
        )? > 0)
    }

    fn insert_sso_identity(&self, row: &SsoIdentityRow) -> Result<()> {
        self.exec(
            "INSERT INTO sso_identities (issuer, subject, user_name, created_at, mac)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &row.issuer,
                &row.subject,
                &row.user,
                &row.created_at_ms,
                &row.mac.as_slice(),
            ],
        )?;
        Ok(())
    }

    fn set_device_user(&self, id: &str, user: &str, mac: &Mac) -> Result<bool> {
        Ok(self.exec(
            "UPDATE devices SET user_name = $2, mac = $3 WHERE id = $1",
            &[&id, &user, &mac.as_slice()],
        )? > 0)
    }

    fn put_sso_session(&self, row: &SsoSessionRow) -> Result<()> {
        self.exec(
            "INSERT INTO sso_sessions (device_id, ticket_sha256, user_name, signed_in_at,
                                       expires_at, max_at, mac)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (device_id) DO UPDATE SET ticket_sha256 = EXCLUDED.ticket_sha256,
                 user_name = EXCLUDED.user_name, signed_in_at = EXCLUDED.signed_in_at,
                 expires_at = EXCLUDED.expires_at, max_at = EXCLUDED.max_at, mac = EXCLUDED.mac",
            &[
                &row.device_id,
                &row.ticket_sha256.as_slice(),
                &row.user,
                &row.signed_in_at_ms,
                &row.expires_at_ms,
                &row.max_at_ms,
                &row.mac.as_slice(),
            ],
        )?;
        Ok(())
    }

    fn delete_sso_session(&self, device_id: &str) -> Result<bool> {
        Ok(self.exec(
            "DELETE FROM sso_sessions WHERE device_id = $1",
            &[&device_id],
        )? > 0)
    }

    fn delete_sso_sessions_of(&self, user: &str) -> Result<u64> {
        self.exec("DELETE FROM sso_sessions WHERE user_name = $1", &[&user])
    }

    fn put_disabled_user(&self, row: &DisabledUserRow) -> Result<()> {
        self.exec(
            "INSERT INTO disabled_users (user_name, disabled_at, disabled_by, mac)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_name) DO UPDATE SET disabled_at = EXCLUDED.disabled_at,
                 disabled_by = EXCLUDED.disabled_by, mac = EXCLUDED.mac",
            &[
                &row.user,
                &row.disabled_at_ms,
                &row.disabled_by,
                &row.mac.as_slice(),
            ],
        )?;
        Ok(())
    }

    fn delete_disabled_user(&self, user: &str) -> Result<bool> {
        Ok(self.exec("DELETE FROM disabled_users WHERE user_name = $1", &[&user])? > 0)
    }

    fn put_siem_cursor(&self, row: &SiemCursorRow) -> Result<()> {
        self.exec(
            "INSERT INTO siem_cursors (sink, seq, mac, holder, lease_until)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (sink) DO UPDATE SET seq = EXCLUDED.seq, mac = EXCLUDED.mac,
                 holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until",
            &[
                &row.sink,
                &row.seq,
                &row.mac,
                &row.holder,
                &row.lease_until_ms,
            ],
        )?;
        Ok(())
    }

    fn append_audit(&self, r: &AuditRecord) -> Result<()> {
        let e = &r.event;
        self.exec(
            r#"INSERT INTO audit (seq, time_ms, "user", action, success, token_id, token_label,
                                 origin, browser, extension_id, reason, prev_mac, mac)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"#,
            &[
                &r.seq,
                &r.time_ms,
                &e.user,
                &e.action.as_str(),
                &e.success,
                &e.token_id,
                &e.token_label,
                &e.origin,
                &e.browser,
                &e.extension_id,
                &e.reason,
                &r.prev_mac.as_slice(),
                &r.mac.as_slice(),
            ],
        )?;
        self.written_head.set(Some((r.seq, r.mac)));
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        // PostgreSQL answers COMMIT in a transaction that a failed
        // statement aborted by rolling back, without an error; the SELECT
        // fails first there (the rest of the batch is skipped, and Drop
        // rolls back), so a commit that returns Ok really committed.
        self.client().batch_execute("SELECT 1; COMMIT")?;
        self.open.set(false);
        Ok(())
    }
}
