//! The audit log: an append-only, hash-chained table in the vault.
//!
//! Each record carries `mac = HMAC-SHA256(audit_key, prev_mac ‖ canonical(record))`
//! where `audit_key` is derived from the vault's data key. Editing,
//! reordering or deleting a record in the middle breaks every later MAC,
//! and forging a new chain needs the key, not just write access to the file.
//! Cutting records off the *end* leaves a valid shorter chain; that is caught
//! by comparing with a head exported earlier (`audit verify --anchor`, or the
//! copy a SIEM already holds).
//!
//! Records are appended inside the same transaction as the change they
//! describe, and for codes the transaction commits (synchronous=FULL) before
//! the code is handed out: no code leaves the host without a durable record.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use twofill_words::{AuditAction, unix_now_ms};

use crate::store::{StoreRead, StoreTx};
use crate::{Origin, Refusal, Requester, Result, TokenSummary, Vault, VaultError};

/// MAC of the (virtual) record before the first one.
pub const GENESIS: [u8; 32] = [0; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// What happened, as the caller describes it. The vault adds the sequence
/// number, the time and the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The person (OS user, or as configured) on whose behalf it happened.
    pub user: String,
    /// What happened (`code.fill`, `seed.reveal`, `grant.set`, …).
    pub action: AuditAction,
    pub success: bool,
    pub token_id: Option<String>,
    /// "Issuer (account)" at the time, so the record stays readable after
    /// the token is removed.
    pub token_label: Option<String>,
    /// Web origin the request came from (fills), if any.
    pub origin: Option<String>,
    /// Browser that launched the host, best effort (e.g. `chromium`).
    pub browser: Option<String>,
    /// Extension id / add-on id that asked.
    pub extension_id: Option<String>,
    /// Why it was refused, or what changed (admin actions).
    pub reason: Option<String>,
}

impl AuditEvent {
    /// An event with only the person, the action and the outcome filled in.
    pub fn new(user: impl Into<String>, action: AuditAction, success: bool) -> AuditEvent {
        AuditEvent {
            user: user.into(),
            action,
            success,
            token_id: None,
            token_label: None,
            origin: None,
            browser: None,
            extension_id: None,
            reason: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_mac: [u8; 32],
    pub mac: [u8; 32],
}

impl AuditRecord {
    pub fn outcome(&self) -> Outcome {
        if self.event.success {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

/// The exact bytes the MAC covers: a JSON array in a fixed order, so the
/// encoding cannot drift with struct changes or serde versions.
fn canonical(seq: i64, time_ms: i64, e: &AuditEvent) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!([
        1, // canonical form version
        seq,
        time_ms,
        e.user,
        e.action.as_str(),
        e.success,
        e.token_id,
        e.token_label,
        e.origin,
        e.browser,
        e.extension_id,
        e.reason,
    ]))
    .expect("JSON of plain values")
}

fn mac(key: &[u8; 32], prev: &[u8; 32], seq: i64, time_ms: i64, e: &AuditEvent) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(prev);
    m.update(&canonical(seq, time_ms, e));
    m.finalize().into_bytes().into()
}

/// Appends `event` after the current head, in the caller's transaction:
/// the record commits or rolls back with the change it describes.
pub(crate) fn append(
    tx: &dyn StoreTx,
    key: &[u8; 32],
    time_ms: i64,
    event: &AuditEvent,
) -> Result<AuditRecord> {
    let (seq, prev_mac) = match tx.audit_head()? {
        Some((seq, mac)) => (seq + 1, mac),
        None => (1, GENESIS),
    };
    let record = AuditRecord {
        seq,
        time_ms,
        event: event.clone(),
        prev_mac,
        mac: mac(key, &prev_mac, seq, time_ms, event),
    };
    tx.append_audit(&record)?;
    Ok(record)
}

/// Result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub records: u64,
    /// Sequence number and MAC (hex) of the last record: the anchor to keep.
    pub head_seq: i64,
    pub head_mac: String,
    /// The first problem found, if any.
    pub problem: Option<ChainProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainProblem {
    pub seq: i64,
    pub what: String,
}

pub(crate) fn verify(
    store: &dyn StoreRead,
    key: &[u8; 32],
    anchor: Option<(i64, [u8; 32])>,
) -> Result<ChainReport> {
    let mut prev = GENESIS;
    let mut expected_seq = 1;
    let mut records = 0u64;
    let mut problem = None;
    let mut anchor_seen = anchor.is_none();
    let mut after = 0;
    'outer: loop {
        let batch = store.audit_records(after, 1000)?;
        if batch.is_empty() {
            break;
        }
        for r in batch {
            after = r.seq;
            records += 1;
            let fail = |what: String| Some(ChainProblem { seq: r.seq, what });
            if r.seq != expected_seq {
                problem = fail(format!(
                    "sequence jumps from {} to {}: records were deleted",
                    expected_seq - 1,
                    r.seq
                ));
                break 'outer;
            }
            if r.prev_mac != prev {
                problem = fail("does not link to the record before it".into());
                break 'outer;
            }
            if mac(key, &prev, r.seq, r.time_ms, &r.event) != r.mac {
                problem = fail("content does not match its MAC: the record was altered".into());
                break 'outer;
            }
            if let Some((seq, m)) = anchor
                && seq == r.seq
            {
                if m != r.mac {
                    problem = fail("differs from the anchor exported earlier".into());
                    break 'outer;
                }
                anchor_seen = true;
            }
            prev = r.mac;
            expected_seq += 1;
        }
    }
    if problem.is_none() && !anchor_seen {
        let (seq, _) = anchor.expect("anchor_seen is only false with an anchor");
        problem = Some(ChainProblem {
            seq,
            what: format!(
                "the log ends at {} but the anchor names record {seq}: records were cut off the end",
                expected_seq - 1
            ),
        });
    }
    Ok(ChainReport {
        records,
        head_seq: expected_seq - 1,
        head_mac: hex(&prev),
        problem,
    })
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
    }
    Some(out)
}

impl Vault {
    /// Records after `after_seq`, oldest first, at most `limit`.
    pub fn audit_records(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        self.store.reader()?.audit_records(after_seq, limit)
    }

    /// Sequence number of the newest record (0 when the log is empty).
    pub fn audit_head_seq(&self) -> Result<i64> {
        Ok(self.store.reader()?.audit_head()?.map_or(0, |(seq, _)| seq))
    }

    /// Walks the whole chain; with an anchor `(seq, mac)` also checks that
    /// the log still reaches it unchanged.
    pub fn verify_audit(&self, anchor: Option<(i64, [u8; 32])>) -> Result<ChainReport> {
        verify(&*self.store.reader()?, &self.audit_key, anchor)
    }

    /// Passes `result` on; when it is [`VaultError::Tampered`], first
    /// records the refusal in a transaction of its own (when the store
    /// takes one: the error is what matters), since the request's own
    /// transaction stops where the tampered row was found.
    pub(crate) fn noting_tampering<T>(
        &mut self,
        who: &Requester,
        action: AuditAction,
        origin: Option<&Origin>,
        result: Result<T>,
    ) -> Result<T> {
        if let Err(e @ VaultError::Tampered { .. }) = &result {
            let about = About {
                who,
                action,
                token: None,
                origin,
            };
            let event = about.event(false, Some(format!("tampered: {e}")));
            let _ = self.record(&event);
        }
        result
    }

    /// Appends a record for something that happened outside the vault
    /// (e.g. a request refused before it reached the vault).
    pub fn record(&mut self, event: &AuditEvent) -> Result<AuditRecord> {
        let tx = self.store.begin_write()?;
        let r = append(&*tx, &self.audit_key, unix_now_ms(), event)?;
        tx.commit()?;
        Ok(r)
    }

    /// Appends `events` in one transaction (one durable commit for all):
    /// for bulk imports and for seeding a large log, where a commit per
    /// record would be bound by the disk's flush rate. Returns the new head.
    pub fn record_batch(&mut self, events: &[AuditEvent]) -> Result<i64> {
        let tx = self.store.begin_write()?;
        let mut head = 0;
        for event in events {
            head = append(&*tx, &self.audit_key, unix_now_ms(), event)?.seq;
        }
        tx.commit()?;
        Ok(head)
    }
}

/// What a record the vault writes is about: who, what, which token, where.
pub(crate) struct About<'a> {
    pub who: &'a Requester,
    pub action: AuditAction,
    pub token: Option<&'a TokenSummary>,
    pub origin: Option<&'a Origin>,
}

impl About<'_> {
    fn event(&self, success: bool, reason: Option<String>) -> AuditEvent {
        AuditEvent {
            user: self.who.user.clone(),
            action: self.action,
            success,
            token_id: self.token.map(|t| t.id.clone()),
            token_label: self.token.map(|t| t.label()),
            origin: self.origin.map(|o| o.to_string()),
            browser: self.who.browser.clone(),
            extension_id: self.who.extension_id.clone(),
            reason,
        }
    }

    /// Records that it happened; `detail` says what changed (admin changes).
    pub fn record_success(
        &self,
        tx: &dyn StoreTx,
        key: &[u8; 32],
        time_ms: i64,
        detail: String,
    ) -> Result<AuditRecord> {
        let reason = (!detail.is_empty()).then_some(detail);
        append(tx, key, time_ms, &self.event(true, reason))
    }

    /// Records that it was refused, and why.
    pub fn record_refusal(
        &self,
        tx: &dyn StoreTx,
        key: &[u8; 32],
        refusal: &Refusal,
    ) -> Result<()> {
        let reason = format!("{}: {refusal}", refusal.short());
        append(tx, key, unix_now_ms(), &self.event(false, Some(reason)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let b = [7u8; 32];
        assert_eq!(parse_hex32(&hex(&b)), Some(b));
        assert_eq!(parse_hex32("zz"), None);
    }
}
