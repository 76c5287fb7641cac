//! Shared SMS inboxes: a phone number (E.164) whose one-time codes a team
//! shares, bound to sites and granted to groups like a token (`code-only`
//! sees the extracted code, `full` also the sender and the text).
//!
//! The rules, in one place, over both stores:
//! - an inbox, its sites and its grants are authorization rows, MAC'd and
//!   checked (`integrity`) before anything is decided from them;
//! - a message is stored once per `(provider, message id)` (a provider's
//!   retry is a duplicate), only for a number that is an inbox (any other
//!   is unroutable: stored nowhere, on record), with its sender, text and
//!   code sealed with the data key (this is the only module that seals or
//!   opens one);
//! - a code is handed out only to a user whose group holds a grant on an
//!   inbox bound to the page's origin, only from a message received at or
//!   after the time asked for (an older code is never offered), and an
//!   origin-bound code (`@host #code`) only on that origin;
//! - every code or message handed out is on record in the audit chain
//!   (the same chain, and so the same SIEM streaming, as token codes),
//!   committed before it is returned;
//! - messages are purged after the retention time, and an admin can purge
//!   an inbox; both on record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use twofill_seal::DataKey;
use twofill_words::{AuditAction, SmsAccess, unix_now_ms};

use crate::admin::{Change, group_exists};
use crate::audit::{AuditEvent, append};
use crate::integrity::AuthzKey;
use crate::store::StoreRead;
use crate::store::sms::{SmsInboxRow, SmsMessageRow};
use crate::{Origin, Purpose, Refusal, Requester, Result, SiteBinding, Vault, VaultError};

/// How long messages are kept unless configured otherwise.
pub const DEFAULT_SMS_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The most messages one listing returns (each is a record of its own).
pub const MAX_SMS_LISTED: u32 = 50;

/// The audit records of intake name the provider as `provider:<name>`: no
/// person delivered the message.
pub const SMS_PROVIDER_ACTOR_PREFIX: &str = "provider:";

/// The audit records of retention purges are the vault's own.
pub const SMS_RETENTION_ACTOR: &str = "retention";

/// The longest sender, text and ids kept (an SMS webhook carries at most
/// 1600 characters of text).
const MAX_TEXT_BYTES: usize = 8 * 1024;
const MAX_FIELD_BYTES: usize = 256;

/// A message whose signature the server checked, ready to store.
#[derive(Debug, Clone, Copy)]
pub struct NewSms<'a> {
    /// The provider's word (`twilio`, `vonage`, …).
    pub provider: &'a str,
    pub message_id: &'a str,
    /// The number that received it, E.164: the inbox.
    pub to: &'a str,
    /// The sender as the provider names it (a number or an alphanumeric id).
    pub from: &'a str,
    pub text: &'a str,
    pub received_at_ms: i64,
    pub code: Option<FoundCode<'a>>,
}

/// The code the intake found in a message, and how.
#[derive(Debug, Clone, Copy)]
pub struct FoundCode<'a> {
    pub code: &'a str,
    /// The extraction rule's name (`origin_bound`, a sender pattern, `fallback`).
    pub rule: &'a str,
    /// `https://host` of an origin-bound code: offered only there.
    pub bound_origin: Option<&'a str>,
    /// The embedded (iframe) origin of an origin-bound code.
    pub embedded_origin: Option<&'a str>,
}

/// What storing a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsIntake {
    /// Stored as message `id`.
    Stored { id: i64 },
    /// The provider sent it before: stored once already.
    Duplicate,
    /// No inbox has this number: stored nowhere.
    Unroutable,
}

/// A code handed out from an inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsCode {
    pub message: i64,
    pub inbox: String,
    pub code: String,
    pub received_at_ms: i64,
}

/// A message as a reader may see it: the code for everyone with a grant,
/// the sender and text only for `full`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsMessage {
    pub id: i64,
    pub inbox: String,
    pub received_at_ms: i64,
    pub code: Option<String>,
    pub bound_origin: Option<String>,
    pub sender: Option<String>,
    pub text: Option<String>,
}

/// An inbox a user may read, with their level and its sites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermittedInbox {
    pub number: String,
    pub level: SmsAccess,
    pub sites: Vec<String>,
}

/// An inbox as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsInboxInfo {
    pub number: String,
    pub sites: Vec<String>,
    pub grants: BTreeMap<String, SmsAccess>,
    pub created_by: String,
    pub created_at_ms: i64,
}

/// What is sealed: everything a `code-only` reader must not see, and the code.
#[derive(Serialize, Deserialize)]
struct SealedSms {
    from: String,
    text: String,
    code: Option<String>,
}

/// Binds a sealed message to its provider, id and inbox: moved to
/// another row, it does not open.
fn sms_aad(provider: &str, message_id: &str, number: &str) -> Vec<u8> {
    format!("twofill sms v1\0{provider}\0{message_id}\0{number}").into_bytes()
}

fn open_sms(key: &DataKey, row: &SmsMessageRow) -> Result<SealedSms> {
    let aad = sms_aad(&row.provider, &row.message_id, &row.number);
    let plain = key
        .open(&row.sealed_sms, &aad)
        .map_err(|_| VaultError::Corrupt {
            path: "sms_messages".into(),
            detail: format!(
                "message {} cannot be opened with this vault's key (edited past the vault?)",
                row.id
            ),
        })?;
    serde_json::from_slice(&plain).map_err(|e| VaultError::Corrupt {
        path: "sms_messages".into(),
        detail: format!("message {}: {e}", row.id),
    })
}

/// The shape E.164 allows: `+`, a non-zero digit, 7 to 14 more digits.
/// Parsing national formats is the intake's (`twofill-sms`); this is the
/// last check before storing.
pub fn check_e164(number: &str) -> Result<()> {
    let digits = number.strip_prefix('+').unwrap_or_default();
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(VaultError::Invalid(format!(
            "`{}` is not a phone number in E.164 form (+ country code and number, e.g. +4915112345678)",
            number.chars().take(40).collect::<String>()
        )))
    }
}

fn no_inbox(number: &str) -> VaultError {
    VaultError::Invalid(format!(
        "no SMS inbox has the number {number}; add it with `twofill-server sms inbox add {number}`"
    ))
}

fn inbox_id(number: &str) -> String {
    format!("sms-inbox:{number}")
}

/// An audit event about an inbox.
fn event(who: &Requester, action: AuditAction, number: &str, success: bool) -> AuditEvent {
    AuditEvent {
        token_id: Some(inbox_id(number)),
        token_label: Some(format!("SMS {number}")),
        browser: who.browser.clone(),
        extension_id: who.extension_id.clone(),
        ..AuditEvent::new(who.user.clone(), action, success)
    }
}

fn code_action(purpose: Purpose) -> AuditAction {
    match purpose {
        Purpose::Fill => AuditAction::SmsCodeFill,
        Purpose::Copy => AuditAction::SmsCodeCopy,
        Purpose::View | Purpose::Cli => AuditAction::SmsCodeView,
    }
}

/// The highest level `user`'s groups hold on a checked inbox.
fn level_on(inbox: &SmsInboxRow, groups: &[String]) -> Option<SmsAccess> {
    inbox
        .grants
        .iter()
        .filter(|(group, _, _)| groups.contains(group))
        .filter_map(|(_, level, _)| level.parse().ok())
        .max()
}

fn bound_to(inbox: &SmsInboxRow, origin: &Origin) -> bool {
    inbox.sites.iter().any(|(site, _)| {
        site.parse::<SiteBinding>()
            .is_ok_and(|binding| binding.matches(origin))
    })
}

/// An origin-bound code is for its origin only (the embedded one when the
/// message names one: the frame that asks); any other code for every site
/// the inbox is bound to.
fn code_is_for(row: &SmsMessageRow, origin: &Origin) -> bool {
    match row.embedded_origin.as_ref().or(row.bound_origin.as_ref()) {
        None => true,
        Some(bound) => bound.parse::<Origin>().is_ok_and(|b| &b == origin),
    }
}

/// Every inbox checked, with the level `user` holds on it (if any).
fn inboxes_of(
    store: &dyn StoreRead,
    authz: &AuthzKey,
    user: &str,
) -> Result<Vec<(SmsInboxRow, Option<SmsAccess>)>> {
    let groups = authz.groups_of(store, user)?;
    store
        .sms_inboxes()?
        .into_iter()
        .map(|row| {
            let row = authz.sms_inbox(Some(row))?.expect("given a row");
            let level = level_on(&row, &groups);
            Ok((row, level))
        })
        .collect()
}

impl Vault {
    /// Makes `number` (E.164) a shared SMS inbox (admins only).
    pub fn add_sms_inbox(&mut self, actor: &str, number: &str) -> Result<()> {
        check_e164(number)?;
        self.admin(actor, AuditAction::SmsInboxAdd, |c, _| {
            let row = SmsInboxRow {
                number: number.to_owned(),
                created_by: actor.to_owned(),
                created_at_ms: unix_now_ms(),
                mac: [0; 32],
                sites: Vec::new(),
                grants: Vec::new(),
            };
            if !c.authz.insert_sms_inbox(c.tx, row)? {
                return Err(VaultError::Invalid(format!(
                    "{number} is an SMS inbox already"
                )));
            }
            record(c, number, String::new())
        })
    }

    /// Binds an inbox to a site: its codes may be filled there.
    pub fn bind_sms_inbox(&mut self, actor: &str, number: &str, site: &SiteBinding) -> Result<()> {
        self.admin(actor, AuditAction::SmsInboxBind, |c, _| {
            existing(c, number)?;
            c.authz
                .add_sms_inbox_site(c.tx, number, &site.to_string())?;
            record(c, number, format!("bound to {site}"))
        })
    }

    pub fn unbind_sms_inbox(
        &mut self,
        actor: &str,
        number: &str,
        site: &SiteBinding,
    ) -> Result<()> {
        self.admin(actor, AuditAction::SmsInboxBind, |c, _| {
            existing(c, number)?;
            if !c.tx.remove_sms_inbox_site(number, &site.to_string())? {
                return Err(VaultError::Invalid(format!(
                    "{number} is not bound to {site}; `twofill-server sms inbox list` shows its sites"
                )));
            }
            record(c, number, format!("unbound from {site}"))
        })
    }

    /// Sets `group`'s level on an inbox (replacing an earlier one).
    pub fn grant_sms_inbox(
        &mut self,
        actor: &str,
        number: &str,
        group: &str,
        level: SmsAccess,
    ) -> Result<()> {
        self.admin(actor, AuditAction::SmsInboxGrant, |c, _| {
            existing(c, number)?;
            group_exists(c, group)?;
            c.authz.put_sms_inbox_grant(c.tx, number, group, level)?;
            record(c, number, format!("group: {group}; level: {level}"))
        })
    }

    pub fn revoke_sms_inbox(&mut self, actor: &str, number: &str, group: &str) -> Result<()> {
        self.admin(actor, AuditAction::SmsInboxGrant, |c, _| {
            existing(c, number)?;
            c.tx.delete_sms_inbox_grant(number, group)?;
            record(c, number, format!("group: {group}; revoked"))
        })
    }

    /// Every inbox with its sites and grants (admins only).
    pub fn sms_inboxes(&mut self, actor: &str) -> Result<Vec<SmsInboxInfo>> {
        self.admin(actor, AuditAction::SmsInboxAdd, |c, _| {
            let mut out = Vec::new();
            for row in c.tx.sms_inboxes()? {
                let row = c.authz.sms_inbox(Some(row))?.expect("given a row");
                out.push(SmsInboxInfo {
                    grants: row
                        .grants
                        .iter()
                        .filter_map(|(g, level, _)| Some((g.clone(), level.parse().ok()?)))
                        .collect(),
                    sites: row.sites.into_iter().map(|(s, _)| s).collect(),
                    number: row.number,
                    created_by: row.created_by,
                    created_at_ms: row.created_at_ms,
                });
            }
            Ok(out)
        })
    }

    /// Deletes every message of an inbox (admins only); how many there were.
    pub fn purge_sms_inbox(&mut self, actor: &str, number: &str) -> Result<u64> {
        self.admin(actor, AuditAction::SmsPurge, |c, _| {
            existing(c, number)?;
            let purged = c.tx.delete_sms_messages(Some(number), i64::MAX)?;
            record(c, number, format!("{purged} messages purged by an admin"))?;
            Ok(purged)
        })
    }

    /// Deletes the messages older than `retention_ms`, on record when
    /// there were any; how many there were.
    pub fn purge_expired_sms(&mut self, retention_ms: i64) -> Result<u64> {
        let before = unix_now_ms().saturating_sub(retention_ms.max(0));
        let tx = self.store.begin_write()?;
        let purged = tx.delete_sms_messages(None, before)?;
        if purged > 0 {
            let who = Requester::cli(SMS_RETENTION_ACTOR);
            let mut e = AuditEvent::new(who.user, AuditAction::SmsPurge, true);
            e.reason = Some(format!(
                "{purged} messages older than {} h purged",
                retention_ms / 3_600_000
            ));
            append(&*tx, &self.audit_key, unix_now_ms(), &e)?;
        }
        tx.commit()?;
        Ok(purged)
    }

    /// Stores a message the server verified (its signature checked first),
    /// once per provider message id, for a number that is an inbox; an
    /// unknown number is stored nowhere and recorded as unroutable. The
    /// record names the provider, the message id and whether a code was
    /// found, never the text or the code.
    pub fn receive_sms(&mut self, sms: &NewSms<'_>) -> Result<SmsIntake> {
        check_e164(sms.to)?;
        for (what, value, max) in [
            ("provider", sms.provider, MAX_FIELD_BYTES),
            ("message id", sms.message_id, MAX_FIELD_BYTES),
            ("sender", sms.from, MAX_FIELD_BYTES),
            ("text", sms.text, MAX_TEXT_BYTES),
        ] {
            if value.len() > max || (what != "text" && value.is_empty()) {
                return Err(VaultError::Invalid(format!(
                    "the message's {what} is empty or longer than {max} bytes; nothing was stored"
                )));
            }
        }
        let result = (|| {
            let tx = self.store.begin_write()?;
            let who = Requester::cli(&format!("{SMS_PROVIDER_ACTOR_PREFIX}{}", sms.provider));
            let inbox = self.authz_key.sms_inbox(tx.sms_inbox(sms.to)?)?;
            let (intake, e) = if inbox.is_none() {
                let mut e = event(&who, AuditAction::SmsRefused, sms.to, false);
                e.reason = Some(format!(
                    "unroutable: {} is not an SMS inbox; message {} stored nowhere",
                    sms.to, sms.message_id
                ));
                (SmsIntake::Unroutable, e)
            } else {
                let sealed = SealedSms {
                    from: sms.from.to_owned(),
                    text: sms.text.to_owned(),
                    code: sms.code.map(|c| c.code.to_owned()),
                };
                let plain = zeroize::Zeroizing::new(
                    serde_json::to_vec(&sealed).expect("JSON of plain values"),
                );
                let row = SmsMessageRow {
                    id: 0,
                    provider: sms.provider.to_owned(),
                    message_id: sms.message_id.to_owned(),
                    number: sms.to.to_owned(),
                    received_at_ms: sms.received_at_ms,
                    sealed_sms: self
                        .key
                        .seal(&plain, &sms_aad(sms.provider, sms.message_id, sms.to)),
                    has_code: sms.code.is_some(),
                    rule: sms.code.map(|c| c.rule.to_owned()),
                    bound_origin: sms.code.and_then(|c| c.bound_origin.map(str::to_owned)),
                    embedded_origin: sms.code.and_then(|c| c.embedded_origin.map(str::to_owned)),
                };
                let mut e = event(&who, AuditAction::SmsReceive, sms.to, true);
                match tx.insert_sms_message(&row)? {
                    None => {
                        e.reason = Some(format!(
                            "message {}: a retry of one stored already",
                            sms.message_id
                        ));
                        (SmsIntake::Duplicate, e)
                    }
                    Some(id) => {
                        let found = match sms.code {
                            None => "no code".to_owned(),
                            Some(c) => match c.bound_origin {
                                Some(o) => format!("a code ({}) for {o} only", c.rule),
                                None => format!("a code ({})", c.rule),
                            },
                        };
                        e.reason = Some(format!("message {} as {id}: {found}", sms.message_id));
                        (SmsIntake::Stored { id }, e)
                    }
                }
            };
            append(&*tx, &self.audit_key, unix_now_ms(), &e)?;
            tx.commit()?;
            Ok(intake)
        })();
        let who = Requester::cli(&format!("{SMS_PROVIDER_ACTOR_PREFIX}{}", sms.provider));
        self.noting_tampering(&who, AuditAction::SmsRefused, None, result)
    }

    /// Records a webhook refused before anything in it was believed
    /// (forged, unsigned, stale, oversized): `source` is where it came
    /// from (the peer address), `reason` why.
    pub fn refuse_sms_webhook(&mut self, provider: &str, source: &str, reason: &str) -> Result<()> {
        let mut e = AuditEvent::new(
            format!("{SMS_PROVIDER_ACTOR_PREFIX}{provider}"),
            AuditAction::SmsRefused,
            false,
        );
        e.reason = Some(format!("from {source}: {reason}"));
        self.record(&e).map(drop)
    }

    /// The inboxes `user` may read, with their level.
    pub fn permitted_sms_inboxes(&self, user: &str) -> Result<Vec<PermittedInbox>> {
        let store = self.store.reader()?;
        Ok(inboxes_of(&*store, &self.authz_key, user)?
            .into_iter()
            .filter_map(|(row, level)| {
                Some(PermittedInbox {
                    level: level?,
                    sites: row.sites.into_iter().map(|(s, _)| s).collect(),
                    number: row.number,
                })
            })
            .collect())
    }

    /// The newest code received at or after `since_ms` in an inbox bound to
    /// `origin` that `who` holds a grant on, and meant for `origin`; `None`
    /// while there is none (the caller waits and asks again). A code
    /// handed out is on record (`sms.code.fill` / `view` / `copy`) before it
    /// is returned. No inbox bound to the origin, or no grant on any that
    /// is, is a refusal on record.
    pub fn sms_code(
        &mut self,
        who: &Requester,
        origin: &Origin,
        since_ms: i64,
        purpose: Purpose,
    ) -> Result<Option<SmsCode>> {
        let result = self.sms_code_unnoted(who, origin, since_ms, purpose);
        self.noting_tampering(who, code_action(purpose), Some(origin), result)
    }

    fn sms_code_unnoted(
        &mut self,
        who: &Requester,
        origin: &Origin,
        since_ms: i64,
        purpose: Purpose,
    ) -> Result<Option<SmsCode>> {
        let tx = self.store.begin_write()?;
        let bound: Vec<_> = inboxes_of(&*tx, &self.authz_key, &who.user)?
            .into_iter()
            .filter(|(row, _)| bound_to(row, origin))
            .collect();
        let refusal = if bound.is_empty() {
            Some(Refusal::NoTokenForOrigin {
                origin: format!("{origin} (no SMS inbox)"),
            })
        } else if bound.iter().all(|(_, level)| level.is_none()) {
            Some(Refusal::NotPermitted {
                user: who.user.clone(),
                what: format!("read the SMS inbox bound to {origin}"),
            })
        } else {
            None
        };
        if let Some(refusal) = refusal {
            let number = bound.first().map_or("", |(row, _)| row.number.as_str());
            let mut e = event(who, code_action(purpose), number, false);
            if bound.is_empty() {
                e.token_id = None;
                e.token_label = None;
            }
            e.origin = Some(origin.to_string());
            e.reason = Some(format!("{}: {refusal}", refusal.short()));
            append(&*tx, &self.audit_key, unix_now_ms(), &e)?;
            tx.commit()?;
            return Err(VaultError::Refused(refusal));
        }
        let mut newest: Option<SmsMessageRow> = None;
        for (row, _) in bound.iter().filter(|(_, level)| level.is_some()) {
            let candidate = tx
                .sms_messages(&row.number, since_ms, MAX_SMS_LISTED)?
                .into_iter()
                .find(|m| m.has_code && code_is_for(m, origin));
            if let Some(m) = candidate
                && newest
                    .as_ref()
                    .is_none_or(|n| m.received_at_ms > n.received_at_ms)
            {
                newest = Some(m);
            }
        }
        let Some(message) = newest else {
            return Ok(None);
        };
        let Some(code) = open_sms(&self.key, &message)?.code else {
            return Ok(None);
        };
        let mut e = event(who, code_action(purpose), &message.number, true);
        e.origin = Some(origin.to_string());
        e.reason = Some(format!(
            "message {} received at {} ms",
            message.id, message.received_at_ms
        ));
        append(&*tx, &self.audit_key, unix_now_ms(), &e)?;
        // Durable before the code exists outside this function.
        tx.commit()?;
        Ok(Some(SmsCode {
            message: message.id,
            inbox: message.number,
            code,
            received_at_ms: message.received_at_ms,
        }))
    }

    /// The newest messages of an inbox (at most `limit`, capped at
    /// [`MAX_SMS_LISTED`]) for a user with a grant on it: the code for
    /// `code-only`, the sender and text too for `full`. Each message
    /// shown is on record (`sms.code.view`, or `sms.read` with its text),
    /// committed before the list is returned.
    pub fn sms_messages(
        &mut self,
        who: &Requester,
        number: &str,
        limit: u32,
    ) -> Result<Vec<SmsMessage>> {
        let result = self.sms_messages_unnoted(who, number, limit);
        self.noting_tampering(who, AuditAction::SmsRead, None, result)
    }

    fn sms_messages_unnoted(
        &mut self,
        who: &Requester,
        number: &str,
        limit: u32,
    ) -> Result<Vec<SmsMessage>> {
        let tx = self.store.begin_write()?;
        let Some(inbox) = self.authz_key.sms_inbox(tx.sms_inbox(number)?)? else {
            return Err(no_inbox(number));
        };
        let groups = self.authz_key.groups_of(&*tx, &who.user)?;
        let Some(level) = level_on(&inbox, &groups) else {
            let refusal = Refusal::NotPermitted {
                user: who.user.clone(),
                what: format!("read the SMS inbox {number}"),
            };
            let mut e = event(who, AuditAction::SmsRead, number, false);
            e.reason = Some(format!("{}: {refusal}", refusal.short()));
            append(&*tx, &self.audit_key, unix_now_ms(), &e)?;
            tx.commit()?;
            return Err(VaultError::Refused(refusal));
        };
        let mut out = Vec::new();
        for row in tx.sms_messages(number, i64::MIN, limit.min(MAX_SMS_LISTED))? {
            let sealed = open_sms(&self.key, &row)?;
            let full = level.includes_text();
            let action = if full {
                AuditAction::SmsRead
            } else {
                AuditAction::SmsCodeView
            };
            let mut e = event(who, action, number, true);
            e.reason = Some(format!("message {} ({level})", row.id));
            append(&*tx, &self.audit_key, unix_now_ms(), &e)?;
            out.push(SmsMessage {
                id: row.id,
                inbox: row.number,
                received_at_ms: row.received_at_ms,
                code: sealed.code,
                bound_origin: row.bound_origin,
                sender: full.then_some(sealed.from),
                text: full.then_some(sealed.text),
            });
        }
        tx.commit()?;
        Ok(out)
    }
}

/// New messages stored by any process on a PostgreSQL vault (a team
/// server's replicas), heard on a connection of its own; SQLite has one
/// process, which knows when it stores one.
pub struct SmsArrivals(crate::store::postgres::sms::SmsListener);

impl SmsArrivals {
    pub fn listen_postgres(url: &str) -> Result<SmsArrivals> {
        crate::store::postgres::sms::SmsListener::connect(url).map(SmsArrivals)
    }

    /// Blocks until a message is stored anywhere (true) or `timeout` passes.
    pub fn wait(&mut self, timeout: std::time::Duration) -> Result<bool> {
        self.0.wait(timeout)
    }
}

/// The inbox must exist (its row checked).
fn existing(c: &Change<'_>, number: &str) -> Result<SmsInboxRow> {
    c.authz
        .sms_inbox(c.tx.sms_inbox(number)?)?
        .ok_or_else(|| no_inbox(number))
}

/// Records an admin change on an inbox.
fn record(c: &Change<'_>, number: &str, detail: String) -> Result<()> {
    let mut e = event(&c.who, c.action, number, true);
    e.reason = (!detail.is_empty()).then_some(detail);
    append(c.tx, c.audit_key, unix_now_ms(), &e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_shape_is_checked() {
        for good in ["+4915112345678", "+12025550123", "+61412345678"] {
            check_e164(good).unwrap();
        }
        for bad in [
            "4915112345678",
            "+0915112345678",
            "+49 151 1234",
            "+1234567",
            "+1234567890123456",
            "",
        ] {
            assert!(check_e164(bad).is_err(), "{bad}");
        }
    }
}
