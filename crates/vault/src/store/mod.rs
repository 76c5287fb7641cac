//! The narrow interface between the vault's rules and its storage.
//!
//! Every rule (grants, bindings, policy, personal-token ownership, the
//! audit chain, the first-admin bootstrap) lives outside this module and
//! talks to storage only through [`Store`], [`StoreRead`] and [`StoreTx`]:
//! rows in, rows out, no decisions. A second backend (PostgreSQL on a team
//! server) implements these traits and reuses every rule unchanged.
//!
//! The one promise a backend makes beyond plain storage: a [`StoreTx`] is
//! one serialisable write transaction that holds the write lock from its
//! first statement (SQLite `BEGIN IMMEDIATE`), so reading the audit head and
//! appending after it cannot interleave with another writer (PostgreSQL: a
//! transaction-scoped advisory lock taken as its first statement, which
//! also serialises writers on other connections and processes), and
//! [`StoreTx::commit`] is durable when it returns. Dropping a `StoreTx`
//! without committing rolls it back.

pub(crate) mod postgres;
mod postgres_schema;
pub(crate) mod schema;
pub(crate) mod sqlite;

use std::collections::BTreeMap;

use twofill_seal::{DataKey, Protection, WrappedKey};

use crate::{Access, AuditRecord, Result};

/// A token's row, as stored (sites unparsed: parsing is a rule).
#[derive(Debug, Clone)]
pub(crate) struct TokenRow {
    pub id: String,
    pub issuer: Option<String>,
    pub account: String,
    pub owner: Option<String>,
    pub sites: Vec<String>,
}

/// What an admin sees about a token beyond its summary.
#[derive(Debug, Clone)]
pub(crate) struct TokenMeta {
    pub kind: String,
    pub created_at: i64,
    pub created_by: Option<String>,
    /// `None` only for a token whose seed could not be read when the
    /// parameters became columns (schema 4).
    pub params: Option<CodeParams>,
}

/// How a token's codes are made, kept in the clear next to the sealed seed
/// so that listing never opens a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodeParams {
    pub algorithm: String,
    pub digits: u32,
    pub period: u64,
}

/// Reads the code parameters out of a sealed seed (data key, token id,
/// sealed bytes): handed to the schema migration by the module that opens
/// seeds, so storage never does.
pub(crate) type ParamsOfSealed<'a> =
    &'a dyn Fn(&twofill_seal::DataKey, &str, &[u8]) -> Result<CodeParams>;

/// A new token's row. The seed arrives sealed: storage never sees it in
/// the clear.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewTokenRow<'a> {
    pub id: &'a str,
    pub issuer: Option<&'a str>,
    pub account: &'a str,
    pub sealed_seed: &'a [u8],
    pub kind: &'a str,
    pub params: &'a CodeParams,
    /// A HOTP token's first counter; `None` for time-based tokens.
    pub hotp_counter: Option<u64>,
    pub created_by: &'a str,
    pub owner: Option<&'a str>,
}

/// An invite's row: the vault keeps the SHA-256 of its secret, never the
/// secret.
#[derive(Debug, Clone)]
pub(crate) struct InviteRow {
    pub secret_sha256: [u8; 32],
    pub user: String,
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub used_at_ms: Option<i64>,
    pub device_id: Option<String>,
}

/// A device's row.
#[derive(Debug, Clone)]
pub(crate) struct DeviceRow {
    pub id: String,
    pub user: String,
    pub name: String,
    pub cert_sha256: [u8; 32],
    pub joined_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub revoked_by: Option<String>,
}

/// Counters are `u64`; both stores' integers are `i64`. The bits are kept
/// as they are (a counter past `i64::MAX` is stored negative), so every
/// counter round-trips.
pub(crate) fn counter_to_sql(counter: u64) -> i64 {
    counter as i64
}

pub(crate) fn counter_from_sql(stored: i64) -> u64 {
    stored as u64
}

/// A stored MAC as 32 bytes (all zero when the column is not 32 bytes
/// long, which the chain check then reports as a bad MAC).
pub(crate) fn to32(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if b.len() == 32 {
        out.copy_from_slice(b);
    }
    out
}

/// Unwraps the data key a store keeps (as JSON) beside its rows.
///
/// The vault knows how it was protected. If the caller offers another kind
/// (e.g. the default key file for a vault that lives in the OS keyring),
/// use what the vault names; a passphrase cannot be rebuilt that way and is
/// reported by `unwrap`.
pub(crate) fn unwrap_stored_key(stored: &str, protection: &Protection) -> Result<DataKey> {
    let wrapped = WrappedKey::from_json(stored)?;
    if wrapped.kind() != protection.kind()
        && let Some(stored) = wrapped.stored_protection()
    {
        return Ok(twofill_seal::unwrap(&wrapped, &stored)?);
    }
    Ok(twofill_seal::unwrap(&wrapped, protection)?)
}

/// Where the vault keeps its rows.
pub(crate) trait Store: Send {
    /// A consistent view for reading (listing, audit reads).
    fn reader(&self) -> Result<Box<dyn StoreRead + '_>>;
    /// A write transaction holding the write lock from the start.
    fn begin_write(&mut self) -> Result<Box<dyn StoreTx + '_>>;
}

/// Reads, inside or outside a write transaction.
pub(crate) trait StoreRead {
    /// Every token id, ordered by issuer, account, id (the listing order).
    fn token_ids(&self) -> Result<Vec<String>>;
    fn token(&self, id: &str) -> Result<Option<TokenRow>>;
    fn token_meta(&self, id: &str) -> Result<Option<TokenMeta>>;
    fn sealed_seed(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// The counter of a HOTP token's next code; `None` for another kind
    /// (or no such token).
    fn hotp_counter(&self, id: &str) -> Result<Option<u64>>;
    /// Ids of `owner`'s personal tokens, in listing order.
    fn personal_token_ids(&self, owner: &str) -> Result<Vec<String>>;
    /// The levels granted on `token_id` to the groups `user` is in (levels
    /// the store cannot read are left out).
    fn levels_for(&self, user: &str, token_id: &str) -> Result<Vec<Access>>;
    /// Group → level on a token.
    fn grants_of_token(&self, token_id: &str) -> Result<BTreeMap<String, Access>>;
    /// Token id → level for a group.
    fn grants_of_group(&self, group: &str) -> Result<BTreeMap<String, Access>>;
    fn admin_count(&self) -> Result<u64>;
    /// `Some(admin flag)` for a known user, `None` otherwise.
    fn user_admin(&self, name: &str) -> Result<Option<bool>>;
    /// Every user and their admin flag, by name.
    fn users(&self) -> Result<Vec<(String, bool)>>;
    /// The groups a user is in, by name.
    fn groups_of(&self, user: &str) -> Result<Vec<String>>;
    /// Every group name, sorted.
    fn group_names(&self) -> Result<Vec<String>>;
    fn group_exists(&self, name: &str) -> Result<bool>;
    /// A group's members, by name.
    fn members_of(&self, group: &str) -> Result<Vec<String>>;
    /// Sequence number and MAC of the newest audit record.
    fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>>;
    /// Audit records after `after_seq`, oldest first, at most `limit`.
    fn audit_records(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>>;
    /// Times (ms), newest first, of the successful records of `action` for
    /// `user` on `origin` at or after `since_ms`; at most `max` of them.
    fn recent_successes(
        &self,
        action: &str,
        user: &str,
        origin: &str,
        since_ms: i64,
        max: u32,
    ) -> Result<Vec<i64>>;
    fn invite(&self, secret_sha256: &[u8; 32]) -> Result<Option<InviteRow>>;
    fn device(&self, id: &str) -> Result<Option<DeviceRow>>;
    fn device_by_cert(&self, cert_sha256: &[u8; 32]) -> Result<Option<DeviceRow>>;
    /// Every device (of `user` only, when given), by user, join time and id.
    fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceRow>>;
}

/// Writes, in one transaction (see the module doc).
pub(crate) trait StoreTx: StoreRead {
    /// A fresh random token id.
    fn new_token_id(&self) -> Result<String>;
    fn insert_token(&self, row: &NewTokenRow<'_>) -> Result<()>;
    /// Deletes a token with its sites and grants.
    fn delete_token(&self, id: &str) -> Result<()>;
    /// Adds a site (no-op when already there).
    fn add_site(&self, token_id: &str, site: &str) -> Result<()>;
    fn remove_site(&self, token_id: &str, site: &str) -> Result<()>;
    /// Adds a user, or sets the admin flag of an existing one.
    fn put_user(&self, name: &str, admin: bool) -> Result<()>;
    /// Adds a non-admin user unless one by that name exists.
    fn ensure_user(&self, name: &str) -> Result<()>;
    /// Deletes a user with their memberships; false when there was none.
    fn delete_user(&self, name: &str) -> Result<bool>;
    /// False when the group already exists.
    fn insert_group(&self, name: &str) -> Result<bool>;
    /// Deletes a group with its memberships and grants; false when there was none.
    fn delete_group(&self, name: &str) -> Result<bool>;
    fn add_member(&self, group: &str, user: &str) -> Result<()>;
    fn remove_member(&self, group: &str, user: &str) -> Result<()>;
    /// Sets a group's level on a token (replacing an earlier one).
    fn put_grant(&self, token_id: &str, group: &str, level: Access) -> Result<()>;
    fn delete_grant(&self, token_id: &str, group: &str) -> Result<()>;
    /// Sets a HOTP token's counter (the rules advance it with the record of
    /// the code that used it, in one transaction).
    fn set_hotp_counter(&self, token_id: &str, counter: u64) -> Result<()>;
    fn insert_invite(&self, row: &InviteRow) -> Result<()>;
    /// Marks an unused invite used by `device_id`; false when it was used
    /// already (or is gone).
    fn use_invite(
        &self,
        secret_sha256: &[u8; 32],
        used_at_ms: i64,
        device_id: &str,
    ) -> Result<bool>;
    fn insert_device(&self, row: &DeviceRow) -> Result<()>;
    /// Marks a device revoked; false when it was revoked already (or is gone).
    fn revoke_device(&self, id: &str, at_ms: i64, by: &str) -> Result<bool>;
    /// Appends a record whose sequence number and MAC the rules computed.
    fn append_audit(&self, record: &AuditRecord) -> Result<()>;
    /// Makes every write durable, or none.
    fn commit(self: Box<Self>) -> Result<()>;
}
