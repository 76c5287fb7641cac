//! The SMS inboxes' SQL for PostgreSQL (schema 12), the same rows as
//! SQLite's (`sqlite_sms.rs`).

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, NoTls};

use super::{Pg, Reader, Writer, stored_mac};
use crate::Result;
use crate::store::Mac;
use crate::store::sms::{SmsInboxRow, SmsMessageRow, SmsRead, SmsWrite};

fn inboxes_where(
    pg: &impl Pg,
    condition: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Vec<SmsInboxRow>> {
    let mut rows = pg
        .rows(
            &format!(
                "SELECT number, created_by, created_at, mac FROM sms_inboxes {condition}
                 ORDER BY number"
            ),
            args,
        )?
        .iter()
        .map(|r| {
            Ok(SmsInboxRow {
                number: r.try_get(0)?,
                created_by: r.try_get(1)?,
                created_at_ms: r.try_get(2)?,
                mac: stored_mac(r, 3)?,
                sites: Vec::new(),
                grants: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    for row in &mut rows {
        row.sites = pg
            .rows(
                "SELECT site, mac FROM sms_inbox_sites WHERE number = $1 ORDER BY site",
                &[&row.number],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, stored_mac(r, 1)?)))
            .collect::<Result<_>>()?;
        row.grants = pg
            .rows(
                "SELECT group_name, level, mac FROM sms_inbox_grants WHERE number = $1
                 ORDER BY group_name",
                &[&row.number],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, stored_mac(r, 2)?)))
            .collect::<Result<_>>()?;
    }
    Ok(rows)
}

fn messages(pg: &impl Pg, number: &str, since_ms: i64, limit: u32) -> Result<Vec<SmsMessageRow>> {
    pg.rows(
        "SELECT id, provider, message_id, number, received_at, sealed, has_code, rule,
                bound_origin, embedded_origin
         FROM sms_messages WHERE number = $1 AND received_at >= $2
         ORDER BY received_at DESC, id DESC LIMIT $3",
        &[&number, &since_ms, &i64::from(limit)],
    )?
    .iter()
    .map(|r| {
        Ok(SmsMessageRow {
            id: r.try_get(0)?,
            provider: r.try_get(1)?,
            message_id: r.try_get(2)?,
            number: r.try_get(3)?,
            received_at_ms: r.try_get(4)?,
            sealed_sms: r.try_get(5)?,
            has_code: r.try_get(6)?,
            rule: r.try_get(7)?,
            bound_origin: r.try_get(8)?,
            embedded_origin: r.try_get(9)?,
        })
    })
    .collect()
}

macro_rules! sms_read {
    ($ty:ty) => {
        impl SmsRead for $ty {
            fn sms_inboxes(&self) -> Result<Vec<SmsInboxRow>> {
                inboxes_where(self, "", &[])
            }

            fn sms_inbox(&self, number: &str) -> Result<Option<SmsInboxRow>> {
                Ok(inboxes_where(self, "WHERE number = $1", &[&number])?.pop())
            }

            fn sms_messages(
                &self,
                number: &str,
                since_ms: i64,
                limit: u32,
            ) -> Result<Vec<SmsMessageRow>> {
                messages(self, number, since_ms, limit)
            }
        }
    };
}

sms_read!(Reader<'_>);
sms_read!(Writer<'_>);

impl SmsWrite for Writer<'_> {
    fn insert_sms_inbox(&self, row: &SmsInboxRow) -> Result<bool> {
        Ok(self.exec(
            "INSERT INTO sms_inboxes (number, created_by, created_at, mac) VALUES ($1, $2, $3, $4)
             ON CONFLICT (number) DO NOTHING",
            &[
                &row.number,
                &row.created_by,
                &row.created_at_ms,
                &row.mac.as_slice(),
            ],
        )? > 0)
    }

    fn add_sms_inbox_site(&self, number: &str, site: &str, mac: &Mac) -> Result<()> {
        self.exec(
            "INSERT INTO sms_inbox_sites (number, site, mac) VALUES ($1, $2, $3)
             ON CONFLICT (number, site) DO NOTHING",
            &[&number, &site, &mac.as_slice()],
        )?;
        Ok(())
    }

    fn remove_sms_inbox_site(&self, number: &str, site: &str) -> Result<bool> {
        Ok(self.exec(
            "DELETE FROM sms_inbox_sites WHERE number = $1 AND site = $2",
            &[&number, &site],
        )? > 0)
    }

    fn put_sms_inbox_grant(&self, number: &str, group: &str, level: &str, mac: &Mac) -> Result<()> {
        self.exec(
            "INSERT INTO sms_inbox_grants (number, group_name, level, mac) VALUES ($1, $2, $3, $4)
             ON CONFLICT (number, group_name) DO UPDATE SET level = EXCLUDED.level, mac = EXCLUDED.mac",
            &[&number, &group, &level, &mac.as_slice()],
        )?;
        Ok(())
    }

    fn delete_sms_inbox_grant(&self, number: &str, group: &str) -> Result<bool> {
        Ok(self.exec(
            "DELETE FROM sms_inbox_grants WHERE number = $1 AND group_name = $2",
            &[&number, &group],
        )? > 0)
    }

    fn insert_sms_message(&self, row: &SmsMessageRow) -> Result<Option<i64>> {
        let id: Option<i64> = self
            .row(
                "INSERT INTO sms_messages (provider, message_id, number, received_at, sealed,
                                           has_code, rule, bound_origin, embedded_origin)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (provider, message_id) DO NOTHING
                 RETURNING id",
                &[
                    &row.provider,
                    &row.message_id,
                    &row.number,
                    &row.received_at_ms,
                    &row.sealed_sms,
                    &row.has_code,
                    &row.rule,
                    &row.bound_origin,
                    &row.embedded_origin,
                ],
            )?
            .map(|r| r.try_get(0))
            .transpose()?;
        if id.is_some() {
            // Delivered at commit, to every replica listening: their
            // waiters look again.
            self.rows("SELECT pg_notify($1, $2)", &[&SMS_CHANNEL, &row.number])?;
        }
        Ok(id)
    }

    fn delete_sms_messages(&self, number: Option<&str>, before_ms: i64) -> Result<u64> {
        self.exec(
            "DELETE FROM sms_messages WHERE ($1::text IS NULL OR number = $1) AND received_at < $2",
            &[&number, &before_ms],
        )
    }
}

/// The channel a stored message is announced on.
const SMS_CHANNEL: &str = "twofill_sms";

/// A connection of its own that hears every replica's new messages.
pub(crate) struct SmsListener {
    client: Client,
}

impl SmsListener {
    pub(crate) fn connect(url: &str) -> Result<SmsListener> {
        let mut client = Client::connect(url, NoTls)?;
        client.batch_execute(&format!("LISTEN {SMS_CHANNEL}"))?;
        Ok(SmsListener { client })
    }

    /// Whether a message was announced within `timeout` (all announced
    /// meanwhile count as one).
    pub(crate) fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let mut notifications = self.client.notifications();
        let heard = notifications.timeout_iter(timeout).next()?.is_some();
        while notifications.iter().next()?.is_some() {}
        Ok(heard)
    }
}
