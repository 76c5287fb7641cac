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
pub(crate) mod sms;
pub(crate) mod sqlite;

use twofill_seal::{DataKey, Protection, WrappedKey};

use crate::{Access, AuditRecord, Result};

/// A stored MAC: 32 bytes (see [`to32`]).
pub(crate) type Mac = [u8; 32];

/// Schema 13: a binding written without a port meant every port; it now
/// means the default port, so each such row whose MAC verifies becomes
/// `host:*` (MAC'd anew), and keeps matching what it matched. A row that
/// does not verify is left as it is, still reported. Returns the
/// `(token, old site, new site, new MAC)` changes to write.
pub(super) fn widened_sites(
    rows: Vec<(AuthzRow, Mac)>,
    key: &DataKey,
) -> Vec<(String, String, String, Mac)> {
    use crate::binding::{Ports, SiteBinding};
    let authz = crate::integrity::AuthzKey::of(key);
    rows.into_iter()
        .filter_map(|(row, mac)| {
            let AuthzRow::Site { token, site } = &row else {
                return None;
            };
            let binding = site.parse::<SiteBinding>().ok()?;
            if binding.port != Ports::Default || authz.check(&row, &mac).is_err() {
                return None;
            }
            let wide = SiteBinding {
                port: Ports::Any,
                ..binding
            }
            .to_string();
            let new_mac = authz.mac(&AuthzRow::Site {
                token: token.clone(),
                site: wide.clone(),
            });
            Some((token.clone(), site.clone(), wide, new_mac))
        })
        .collect()
}

/// A token's row, as stored (sites unparsed: parsing is a rule), with the
/// MACs of its authorization fields and of each site row.
#[derive(Debug, Clone)]
pub(crate) struct TokenRow {
    pub id: String,
    pub issuer: Option<String>,
    pub account: String,
    pub owner: Option<String>,
    pub kind: String,
    pub mac: Mac,
    pub sites: Vec<(String, Mac)>,
}

/// One way a user reaches a token: their membership in a group and that
/// group's grant (level unparsed), each row with its MAC.
#[derive(Debug, Clone)]
pub(crate) struct GrantPath {
    pub group: String,
    pub level: String,
    pub member_mac: Mac,
    pub grant_mac: Mac,
}

/// A grant row (level unparsed) with its MAC.
#[derive(Debug, Clone)]
pub(crate) struct GrantRow {
    pub token: String,
    pub group: String,
    pub level: String,
    pub mac: Mac,
}

/// An authorization row's fields, key columns included: what its MAC
/// covers (`crate::integrity` computes and checks it). Table names are the
/// vault's logical ones, the same for every store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthzRow {
    User {
        name: String,
        admin: bool,
    },
    Group {
        name: String,
    },
    Member {
        group: String,
        user: String,
    },
    Grant {
        token: String,
        group: String,
        level: String,
    },
    Site {
        token: String,
        site: String,
    },
    /// A token's authorization fields: a personal token's owner, its kind.
    Token {
        id: String,
        owner: Option<String>,
        kind: String,
    },
    /// Who became the vault's first admin (`None` while it never had one):
    /// the first-admin bootstrap runs only while this says `None`.
    FirstAdmin {
        name: Option<String>,
    },
    /// An invite: whose it is, until when, whether it was used.
    Invite {
        secret_sha256: [u8; 32],
        user: String,
        expires_at_ms: i64,
        used_at_ms: Option<i64>,
    },
    /// A device: whose it is, its certificate, whether it is revoked.
    Device {
        id: String,
        user: String,
        cert_sha256: [u8; 32],
        revoked_at_ms: Option<i64>,
    },
    /// Which twofill user an identity provider's subject signs in as.
    SsoIdentity {
        issuer: String,
        subject: String,
        user: String,
    },
    /// A device's single sign-on session: its ticket, user and times.
    SsoSession {
        device_id: String,
        ticket_sha256: [u8; 32],
        user: String,
        signed_in_at_ms: i64,
        expires_at_ms: i64,
        max_at_ms: i64,
    },
    /// A user an admin disabled.
    DisabledUser {
        user: String,
        disabled_at_ms: i64,
    },
    /// A phone number that is a shared SMS inbox.
    SmsInbox {
        number: String,
    },
    /// A site an SMS inbox's codes may be filled on.
    SmsInboxSite {
        number: String,
        site: String,
    },
    /// A group's level on an SMS inbox.
    SmsInboxGrant {
        number: String,
        group: String,
        level: String,
    },
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
    /// MAC of the token's authorization fields.
    pub mac: &'a Mac,
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
    /// MAC of its authorization fields (hash, user, expiry, use).
    pub mac: Mac,
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
    /// MAC of its authorization fields (id, user, certificate, revocation).
    pub mac: Mac,
}

/// An identity provider's subject linked to a twofill user.
#[derive(Debug, Clone)]
pub(crate) struct SsoIdentityRow {
    pub issuer: String,
    pub subject: String,
    pub user: String,
    pub created_at_ms: i64,
    pub mac: Mac,
}

/// A device's single sign-on session (one per device). The ticket is kept
/// as its SHA-256 only.
#[derive(Debug, Clone)]
pub(crate) struct SsoSessionRow {
    pub device_id: String,
    pub ticket_sha256: [u8; 32],
    pub user: String,
    pub signed_in_at_ms: i64,
    pub expires_at_ms: i64,
    pub max_at_ms: i64,
    pub mac: Mac,
}

/// A disabled user.
#[derive(Debug, Clone)]
pub(crate) struct DisabledUserRow {
    pub user: String,
    pub disabled_at_ms: i64,
    pub disabled_by: String,
    pub mac: Mac,
}

/// A SIEM sink's shared delivery state on a team server: how far it got
/// (the last delivered record and its MAC) and which streamer may deliver
/// to it until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiemCursorRow {
    pub sink: String,
    pub seq: i64,
    /// Empty while nothing was delivered.
    pub mac: Vec<u8>,
    pub holder: Option<String>,
    pub lease_until_ms: i64,
}

/// One sealed recovery code: which set of its token (`generation`, one
/// more at each replace) and which slot in it; the sealed bytes' associated
/// data names all three, so a code cannot move to another token or slot.
#[derive(Debug, Clone)]
pub(crate) struct RecoveryCodeRow {
    pub token_id: String,
    pub generation: i64,
    pub slot: i64,
    pub sealed_code: Vec<u8>,
}

/// A token's recovery codes as counted: the set in force and how many of
/// it are unused. `generation` is 0 when the token has none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RecoveryCounts {
    pub generation: i64,
    pub total: u32,
    pub unused: u32,
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
pub(crate) trait StoreRead: sms::SmsRead {
    /// Every token id, ordered by issuer, account, id (the listing order).
    fn token_ids(&self) -> Result<Vec<String>>;
    /// Ids of the tokens with a binding stored as one of `sites` (texts in
    /// a binding's display form), in the listing order, each once.
    fn token_ids_bound_to(&self, sites: &[String]) -> Result<Vec<String>>;
    fn token(&self, id: &str) -> Result<Option<TokenRow>>;
    fn token_meta(&self, id: &str) -> Result<Option<TokenMeta>>;
    fn sealed_seed(&self, id: &str) -> Result<Option<Vec<u8>>>;
    /// The counter of a HOTP token's next code; `None` for another kind
    /// (or no such token).
    fn hotp_counter(&self, id: &str) -> Result<Option<u64>>;
    /// Ids of `owner`'s personal tokens, in listing order.
    fn personal_token_ids(&self, owner: &str) -> Result<Vec<String>>;
    /// How `user` reaches `token_id`: every membership of theirs whose
    /// group has a grant on it.
    fn grant_paths(&self, user: &str, token_id: &str) -> Result<Vec<GrantPath>>;
    /// The grants on a token, by group.
    fn grants_of_token(&self, token_id: &str) -> Result<Vec<GrantRow>>;
    /// A group's grants, by token id.
    fn grants_of_group(&self, group: &str) -> Result<Vec<GrantRow>>;
    fn admin_count(&self) -> Result<u64>;
    /// `Some((admin flag, MAC))` for a known user, `None` otherwise.
    fn user(&self, name: &str) -> Result<Option<(bool, Mac)>>;
    /// Every user with their admin flag and MAC, by name.
    fn users(&self) -> Result<Vec<(String, bool, Mac)>>;
    /// The groups a user is in, by name, with each membership's MAC.
    fn groups_of(&self, user: &str) -> Result<Vec<(String, Mac)>>;
    /// Every group name with its MAC, sorted.
    fn groups(&self) -> Result<Vec<(String, Mac)>>;
    /// A group's MAC, `None` when there is no such group.
    fn group(&self, name: &str) -> Result<Option<Mac>>;
    /// A group's members, by name, with each membership's MAC.
    fn members_of(&self, group: &str) -> Result<Vec<(String, Mac)>>;
    /// The first-admin row: `None` when it is missing (which only an edit
    /// outside the vault does: every schema has it).
    fn first_admin(&self) -> Result<Option<(Option<String>, Mac)>>;
    /// Every authorization row with its MAC (for a full check).
    fn authorization_rows(&self) -> Result<Vec<(AuthzRow, Mac)>>;
    /// Sequence number and MAC of the newest audit record.
    fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>>;
    /// Audit records after `after_seq`, oldest first, at most `limit`.
    fn audit_records(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>>;
    /// Times (ms), newest first, of the successful records of `action` for
    /// `user` with `token` at or after `since_ms`; at most `max` of them
    /// (read through an index, so the cost is bounded by `max`).
    fn recent_successes(
        &self,
        action: &str,
        user: &str,
        token: &str,
        since_ms: i64,
        max: u32,
    ) -> Result<Vec<i64>>;
    fn invite(&self, secret_sha256: &[u8; 32]) -> Result<Option<InviteRow>>;
    fn device(&self, id: &str) -> Result<Option<DeviceRow>>;
    fn device_by_cert(&self, cert_sha256: &[u8; 32]) -> Result<Option<DeviceRow>>;
    /// Every device (of `user` only, when given), by user, join time and id.
    fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceRow>>;
    fn siem_cursor(&self, sink: &str) -> Result<Option<SiemCursorRow>>;
    /// How many recovery codes a token has, and how many are unused.
    fn recovery_counts(&self, token_id: &str) -> Result<RecoveryCounts>;
    /// The unused recovery code of a token with the lowest slot, if any.
    fn first_unused_recovery_code(&self, token_id: &str) -> Result<Option<RecoveryCodeRow>>;
    fn sso_identity(&self, issuer: &str, subject: &str) -> Result<Option<SsoIdentityRow>>;
    /// The identities linked to `user`.
    fn sso_identities_of(&self, user: &str) -> Result<Vec<SsoIdentityRow>>;
    fn sso_session(&self, device_id: &str) -> Result<Option<SsoSessionRow>>;
    fn disabled_user(&self, user: &str) -> Result<Option<DisabledUserRow>>;
}

/// Writes, in one transaction (see the module doc).
pub(crate) trait StoreTx: StoreRead + sms::SmsWrite {
    /// A fresh random token id.
    fn new_token_id(&self) -> Result<String>;
    fn insert_token(&self, row: &NewTokenRow<'_>) -> Result<()>;
    /// Deletes a token with its sites and grants.
    fn delete_token(&self, id: &str) -> Result<()>;
    /// Adds a site (no-op when already there).
    fn add_site(&self, token_id: &str, site: &str, mac: &Mac) -> Result<()>;
    fn remove_site(&self, token_id: &str, site: &str) -> Result<()>;
    /// Adds a user, or sets the admin flag (and MAC) of an existing one.
    fn put_user(&self, name: &str, admin: bool, mac: &Mac) -> Result<()>;
    /// Adds a non-admin user (`mac` covers that row) unless one by that
    /// name exists.
    fn ensure_user(&self, name: &str, mac: &Mac) -> Result<()>;
    /// Deletes a user with their memberships; false when there was none.
    fn delete_user(&self, name: &str) -> Result<bool>;
    /// False when the group already exists.
    fn insert_group(&self, name: &str, mac: &Mac) -> Result<bool>;
    /// Deletes a group with its memberships and grants; false when there was none.
    fn delete_group(&self, name: &str) -> Result<bool>;
    /// Adds a membership (no-op when already there).
    fn add_member(&self, group: &str, user: &str, mac: &Mac) -> Result<()>;
    fn remove_member(&self, group: &str, user: &str) -> Result<()>;
    /// Sets a group's level on a token (replacing an earlier one).
    fn put_grant(&self, token_id: &str, group: &str, level: Access, mac: &Mac) -> Result<()>;
    fn delete_grant(&self, token_id: &str, group: &str) -> Result<()>;
    /// Sets the first-admin row.
    fn set_first_admin(&self, name: &str, mac: &Mac) -> Result<()>;
    /// Sets a HOTP token's counter (the rules advance it with the record of
    /// the code that used it, in one transaction).
    fn set_hotp_counter(&self, token_id: &str, counter: u64) -> Result<()>;
    fn insert_invite(&self, row: &InviteRow) -> Result<()>;
    /// Marks an unused invite used by `device_id`; false when it was used
    /// already (or is gone).
    /// `mac` covers the invite as used.
    fn use_invite(
        &self,
        secret_sha256: &[u8; 32],
        used_at_ms: i64,
        device_id: &str,
        mac: &Mac,
    ) -> Result<bool>;
    fn insert_device(&self, row: &DeviceRow) -> Result<()>;
    /// Marks a device revoked (`mac` covers it revoked); false when it was
    /// revoked already (or is gone).
    fn revoke_device(&self, id: &str, at_ms: i64, by: &str, mac: &Mac) -> Result<bool>;
    /// Inserts or replaces a SIEM sink's row.
    fn put_siem_cursor(&self, row: &SiemCursorRow) -> Result<()>;
    /// Deletes every recovery code of a token; returns how many there were.
    fn delete_recovery_codes(&self, token_id: &str) -> Result<u64>;
    fn insert_recovery_code(&self, row: &RecoveryCodeRow) -> Result<()>;
    /// Marks an unused recovery code used by `user`; false when it was
    /// used already (or is gone).
    fn use_recovery_code(
        &self,
        token_id: &str,
        generation: i64,
        slot: i64,
        at_ms: i64,
        user: &str,
    ) -> Result<bool>;
    fn insert_sso_identity(&self, row: &SsoIdentityRow) -> Result<()>;
    /// Gives a device to another user (`mac` covers the row so); false when
    /// there is no such device.
    fn set_device_user(&self, id: &str, user: &str, mac: &Mac) -> Result<bool>;
    /// Inserts or replaces the device's session.
    fn put_sso_session(&self, row: &SsoSessionRow) -> Result<()>;
    /// False when the device had no session.
    fn delete_sso_session(&self, device_id: &str) -> Result<bool>;
    /// Ends every session of `user`; how many there were.
    fn delete_sso_sessions_of(&self, user: &str) -> Result<u64>;
    fn put_disabled_user(&self, row: &DisabledUserRow) -> Result<()>;
    /// False when the user was not disabled.
    fn delete_disabled_user(&self, user: &str) -> Result<bool>;
    /// Appends a record whose sequence number and MAC the rules computed.
    fn append_audit(&self, record: &AuditRecord) -> Result<()>;
    /// Makes every write durable, or none.
    fn commit(self: Box<Self>) -> Result<()>;
}
