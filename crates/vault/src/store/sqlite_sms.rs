//! The SMS inboxes' SQL for SQLite (schema 12).

use rusqlite::{Connection, OptionalExtension, params};

use super::{Sql, Writer, stored_mac};
use crate::Result;
use crate::store::Mac;
use crate::store::sms::{SmsInboxRow, SmsMessageRow, SmsRead, SmsWrite};

fn inboxes_where(
    conn: &Connection,
    condition: &str,
    arg: &[&dyn rusqlite::ToSql],
) -> Result<Vec<SmsInboxRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT number, created_by, created_at, mac FROM sms_inboxes {condition} ORDER BY number"
    ))?;
    let mut rows = stmt
        .query_map(arg, |r| {
            Ok(SmsInboxRow {
                number: r.get(0)?,
                created_by: r.get(1)?,
                created_at_ms: r.get(2)?,
                mac: stored_mac(r.get(3)?),
                sites: Vec::new(),
                grants: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for row in &mut rows {
        let mut sites = conn.prepare_cached(
            "SELECT site, mac FROM sms_inbox_sites WHERE number = ?1 ORDER BY site",
        )?;
        row.sites = sites
            .query_map([&row.number], |r| Ok((r.get(0)?, stored_mac(r.get(1)?))))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut grants = conn.prepare_cached(
            "SELECT group_name, level, mac FROM sms_inbox_grants WHERE number = ?1
             ORDER BY group_name",
        )?;
        row.grants = grants
            .query_map([&row.number], |r| {
                Ok((r.get(0)?, r.get(1)?, stored_mac(r.get(2)?)))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
    }
    Ok(rows)
}

impl<T: Sql> SmsRead for T {
    fn sms_inboxes(&self) -> Result<Vec<SmsInboxRow>> {
        inboxes_where(self.conn(), "", &[])
    }

    fn sms_inbox(&self, number: &str) -> Result<Option<SmsInboxRow>> {
        Ok(inboxes_where(self.conn(), "WHERE number = ?1", &[&number])?.pop())
    }

    fn sms_messages(&self, number: &str, since_ms: i64, limit: u32) -> Result<Vec<SmsMessageRow>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, provider, message_id, number, received_at, sealed, has_code, rule,
                    bound_origin, embedded_origin
             FROM sms_messages WHERE number = ?1 AND received_at >= ?2
             ORDER BY received_at DESC, id DESC LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![number, since_ms, limit], |r| {
                Ok(SmsMessageRow {
                    id: r.get(0)?,
                    provider: r.get(1)?,
                    message_id: r.get(2)?,
                    number: r.get(3)?,
                    received_at_ms: r.get(4)?,
                    sealed_sms: r.get(5)?,
                    has_code: r.get(6)?,
                    rule: r.get(7)?,
                    bound_origin: r.get(8)?,
                    embedded_origin: r.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

impl SmsWrite for Writer<'_> {
    fn insert_sms_inbox(&self, row: &SmsInboxRow) -> Result<bool> {
        Ok(self.0.execute(
            "INSERT INTO sms_inboxes (number, created_by, created_at, mac) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (number) DO NOTHING",
            params![
                row.number,
                row.created_by,
                row.created_at_ms,
                row.mac.as_slice()
            ],
        )? > 0)
    }

    fn add_sms_inbox_site(&self, number: &str, site: &str, mac: &Mac) -> Result<()> {
        self.0.execute(
            "INSERT INTO sms_inbox_sites (number, site, mac) VALUES (?1, ?2, ?3)
             ON CONFLICT (number, site) DO NOTHING",
            params![number, site, mac.as_slice()],
        )?;
        Ok(())
    }

    fn remove_sms_inbox_site(&self, number: &str, site: &str) -> Result<bool> {
        Ok(self.0.execute(
            "DELETE FROM sms_inbox_sites WHERE number = ?1 AND site = ?2",
            params![number, site],
        )? > 0)
    }

    fn put_sms_inbox_grant(&self, number: &str, group: &str, level: &str, mac: &Mac) -> Result<()> {
        self.0.execute(
            "INSERT OR REPLACE INTO sms_inbox_grants (number, group_name, level, mac)
             VALUES (?1, ?2, ?3, ?4)",
            params![number, group, level, mac.as_slice()],
        )?;
        Ok(())
    }

    fn delete_sms_inbox_grant(&self, number: &str, group: &str) -> Result<bool> {
        Ok(self.0.execute(
            "DELETE FROM sms_inbox_grants WHERE number = ?1 AND group_name = ?2",
            params![number, group],
        )? > 0)
    }

    fn insert_sms_message(&self, row: &SmsMessageRow) -> Result<Option<i64>> {
        Ok(self
            .0
            .query_row(
                "INSERT INTO sms_messages (provider, message_id, number, received_at, sealed,
                                           has_code, rule, bound_origin, embedded_origin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (provider, message_id) DO NOTHING
                 RETURNING id",
                params![
                    row.provider,
                    row.message_id,
                    row.number,
                    row.received_at_ms,
                    row.sealed_sms,
                    row.has_code,
                    row.rule,
                    row.bound_origin,
                    row.embedded_origin
                ],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn delete_sms_messages(&self, number: Option<&str>, before_ms: i64) -> Result<u64> {
        Ok(self.0.execute(
            "DELETE FROM sms_messages WHERE (?1 IS NULL OR number = ?1) AND received_at < ?2",
            params![number, before_ms],
        )? as u64)
    }
}
