//! The SMS inboxes' rows (schema 12) and the store's part for them: rows
//! in and out, no decisions (`crate::sms_inbox` makes them).

use super::Mac;
use crate::Result;

/// An inbox as stored, with its sites and grants (level unparsed), each
/// row with its MAC.
#[derive(Debug, Clone)]
pub(crate) struct SmsInboxRow {
    /// E.164, as `crate::sms_inbox` checked it.
    pub number: String,
    pub created_by: String,
    pub created_at_ms: i64,
    pub mac: Mac,
    /// Site bindings in their display form.
    pub sites: Vec<(String, Mac)>,
    /// `(group, level, mac)`.
    pub grants: Vec<(String, String, Mac)>,
}

/// One received message. Its sender, text and code are sealed together
/// (`sealed_sms`); what a waiter filters on is in the clear.
#[derive(Debug, Clone)]
pub(crate) struct SmsMessageRow {
    /// Assigned by the store; 0 in a row to insert.
    pub id: i64,
    pub provider: String,
    pub message_id: String,
    pub number: String,
    pub received_at_ms: i64,
    pub sealed_sms: Vec<u8>,
    pub has_code: bool,
    /// Which extraction rule found the code.
    pub rule: Option<String>,
    /// `https://host` of an origin-bound code.
    pub bound_origin: Option<String>,
    pub embedded_origin: Option<String>,
}

/// Reads of the inboxes and their messages.
pub(crate) trait SmsRead {
    /// Every inbox, by number.
    fn sms_inboxes(&self) -> Result<Vec<SmsInboxRow>>;
    fn sms_inbox(&self, number: &str) -> Result<Option<SmsInboxRow>>;
    /// The inbox's messages received at or after `since_ms`, newest first,
    /// at most `limit`.
    fn sms_messages(&self, number: &str, since_ms: i64, limit: u32) -> Result<Vec<SmsMessageRow>>;
}

/// Writes, in the caller's transaction.
pub(crate) trait SmsWrite {
    /// False when the inbox exists already.
    fn insert_sms_inbox(&self, row: &SmsInboxRow) -> Result<bool>;
    /// Adds a site (no-op when already there).
    fn add_sms_inbox_site(&self, number: &str, site: &str, mac: &Mac) -> Result<()>;
    /// False when it was not bound there.
    fn remove_sms_inbox_site(&self, number: &str, site: &str) -> Result<bool>;
    /// Sets a group's level (replacing an earlier one).
    fn put_sms_inbox_grant(&self, number: &str, group: &str, level: &str, mac: &Mac) -> Result<()>;
    /// False when the group had no grant.
    fn delete_sms_inbox_grant(&self, number: &str, group: &str) -> Result<bool>;
    /// The new row's id; `None` when `(provider, message_id)` is stored
    /// already (a provider's retry).
    fn insert_sms_message(&self, row: &SmsMessageRow) -> Result<Option<i64>>;
    /// Deletes the messages received before `before_ms` (of one inbox,
    /// when given); how many there were.
    fn delete_sms_messages(&self, number: Option<&str>, before_ms: i64) -> Result<u64>;
}
