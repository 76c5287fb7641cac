//! Recovery (backup) codes kept with their token: attached or replaced by
//! an admin (or a personal token's owner), sealed like seeds, and handed
//! out one at a time to `full-seed` holders, each marked used in the same
//! write transaction as its `recovery.take` record.
//!
//! This is the only module that seals or opens a recovery code (as
//! `issue.rs` is for seeds); audit records name a code's set and slot,
//! never its text.

use twofill_seal::DataKey;
use twofill_words::{AuditAction, unix_now_ms};
use zeroize::Zeroizing;

use crate::audit::About;
use crate::permission::full_seed_holder;
use crate::store::{RecoveryCodeRow, RecoveryCounts, StoreRead};
use crate::{
    Policy, RecoveryStatus, Refusal, Requester, Result, TakenRecoveryCode, Vault, VaultError,
};

/// Services hand out 8–16 codes; a set larger than this is not a list of
/// recovery codes.
pub const MAX_RECOVERY_CODES: usize = 100;
/// The longest code kept (Kaspersky's and GitHub's are under 20 characters).
pub const MAX_RECOVERY_CODE_CHARS: usize = 64;

/// Binds a sealed code to its token, set and slot: a sealed code copied to
/// another row does not open.
fn recovery_aad(token_id: &str, set: i64, slot: i64) -> Vec<u8> {
    format!("twofill recovery code v1\0{token_id}\0{set}\0{slot}").into_bytes()
}

/// The codes as the vault keeps them: each non-empty, printable, without
/// whitespace inside, at most [`MAX_RECOVERY_CODE_CHARS`], no two alike;
/// 1 to [`MAX_RECOVERY_CODES`] of them. Parsing a service's file into
/// codes is `twofill-import`'s; this is the last check before storing.
fn check_codes(codes: &[String]) -> Result<()> {
    let invalid = |what: String| Err(VaultError::Invalid(what));
    if codes.is_empty() {
        return invalid(
            "no recovery codes given; paste the codes the service shows, one per line".into(),
        );
    }
    if codes.len() > MAX_RECOVERY_CODES {
        return invalid(format!(
            "{} recovery codes is more than any service gives (at most {MAX_RECOVERY_CODES}); check that this is the recovery-code file",
            codes.len()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, code) in codes.iter().enumerate() {
        let n = i + 1;
        if code.is_empty()
            || code.chars().count() > MAX_RECOVERY_CODE_CHARS
            || code.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return invalid(format!(
                "recovery code {n} is not a code (1–{MAX_RECOVERY_CODE_CHARS} characters without spaces); nothing was saved"
            ));
        }
        if !seen.insert(code.as_str()) {
            return invalid(format!(
                "recovery code {n} appears twice; each code is single-use, so a duplicate is a copying mistake; nothing was saved"
            ));
        }
    }
    Ok(())
}

fn status(counts: RecoveryCounts, policy: Policy) -> RecoveryStatus {
    RecoveryStatus {
        set: counts.generation,
        total: counts.total,
        remaining: counts.unused,
        low: counts.total > 0 && counts.unused <= policy.recovery_codes_warn_at,
    }
}

pub(crate) fn recovery_status(
    store: &dyn StoreRead,
    policy: Policy,
    id: &str,
) -> Result<RecoveryStatus> {
    Ok(status(store.recovery_counts(id)?, policy))
}

impl Vault {
    /// Attaches `codes` to token `id`, or replaces the set it has: the old
    /// codes (used or not) are discarded in the same transaction as the
    /// `recovery.replace` record (`recovery.attach` for a first set). Admins
    /// for any token, owners for their personal tokens; anyone else is
    /// refused on record. Bad input is an error before anything is written.
    pub fn set_recovery_codes(
        &mut self,
        actor: &str,
        id: &str,
        codes: &[String],
    ) -> Result<RecoveryStatus> {
        check_codes(codes)?;
        let policy = self.policy;
        self.manage_token(actor, AuditAction::RecoveryAttach, id, |c, key, summary| {
            let before = c.tx.recovery_counts(id)?;
            let set = before.generation + 1;
            let discarded = c.tx.delete_recovery_codes(id)?;
            for (i, code) in codes.iter().enumerate() {
                let slot = i as i64 + 1;
                c.tx.insert_recovery_code(&RecoveryCodeRow {
                    token_id: id.to_owned(),
                    generation: set,
                    slot,
                    sealed_code: key.seal(code.as_bytes(), &recovery_aad(id, set, slot)),
                })?;
            }
            let (action, detail) = if discarded == 0 {
                (
                    AuditAction::RecoveryAttach,
                    format!("set {set}: {} codes attached", codes.len()),
                )
            } else {
                (
                    AuditAction::RecoveryReplace,
                    format!(
                        "set {set}: {} codes attached; set {} discarded ({discarded} codes, {} unused)",
                        codes.len(),
                        before.generation,
                        before.unused
                    ),
                )
            };
            About {
                who: &c.who,
                action,
                token: Some(summary),
                origin: None,
            }
            .record_success(c.tx, c.audit_key, unix_now_ms(), detail)?;
            Ok(status(c.tx.recovery_counts(id)?, policy))
        })
    }

    /// How many recovery codes token `id` has left (counts only: listing
    /// never opens a code).
    pub fn recovery_status(&self, id: &str) -> Result<RecoveryStatus> {
        let store = self.store.reader()?;
        recovery_status(&*store, self.policy, id)
    }

    /// One unused recovery code of token `id`, for a `full-seed` holder (or
    /// the owner of a personal token). It is marked used by `who` and its
    /// `recovery.take` record (naming its slot, never its text) appended in
    /// one write transaction, committed before the code is returned, so
    /// concurrent takers on any number of handles get different codes. A
    /// code-only user, or a token without unused codes, is refused on record.
    pub fn take_recovery_code(&mut self, who: &Requester, id: &str) -> Result<TakenRecoveryCode> {
        let result = self.take_recovery_code_unnoted(who, id);
        self.noting_tampering(who, AuditAction::RecoveryTake, None, result)
    }

    fn take_recovery_code_unnoted(
        &mut self,
        who: &Requester,
        id: &str,
    ) -> Result<TakenRecoveryCode> {
        let action = AuditAction::RecoveryTake;
        let unverified = self.unverified(&who.user);
        let tx = self.store.begin_write()?;
        let held = full_seed_holder(
            &*tx,
            &self.audit_key,
            &self.authz_key,
            self.policy,
            who,
            action,
            id,
            || unverified,
            "take a recovery code of",
        )?;
        let summary = match held {
            Ok(summary) => summary,
            Err(refusal) => {
                tx.commit()?;
                return Err(VaultError::Refused(refusal));
            }
        };
        let about = About {
            who,
            action,
            token: Some(&summary),
            origin: None,
        };
        let Some(row) = tx.first_unused_recovery_code(id)? else {
            let refusal = Refusal::NoRecoveryCodes {
                token: summary.label(),
            };
            about.record_refusal(&*tx, &self.audit_key, &refusal)?;
            tx.commit()?;
            return Err(VaultError::Refused(refusal));
        };
        let code = open_code(&self.key, &row)?;
        let time_ms = unix_now_ms();
        // Under the write lock: nobody else can take this row between the
        // read above and this update, and the update takes only an unused one.
        if !tx.use_recovery_code(id, row.generation, row.slot, time_ms, &who.user)? {
            return Err(VaultError::Invalid(
                "that recovery code was taken at the same moment; ask again".into(),
            ));
        }
        let after = tx.recovery_counts(id)?;
        let record = about.record_success(
            &*tx,
            &self.audit_key,
            time_ms,
            format!(
                "set {}, code {} of {}; {} left",
                row.generation, row.slot, after.total, after.unused
            ),
        )?;
        // Durable before the code exists outside this function.
        tx.commit()?;
        Ok(TakenRecoveryCode {
            token: summary,
            code,
            slot: row.slot,
            set: row.generation,
            remaining: after.unused,
            audit_seq: record.seq,
        })
    }
}

/// The one place the vault opens a sealed recovery code.
fn open_code(key: &DataKey, row: &RecoveryCodeRow) -> Result<Zeroizing<String>> {
    let bad = |detail: String| VaultError::BadSeed {
        id: row.token_id.clone(),
        detail: format!(
            "recovery code {} of set {}: {detail}",
            row.slot, row.generation
        ),
    };
    let plain = key
        .open(
            &row.sealed_code,
            &recovery_aad(&row.token_id, row.generation, row.slot),
        )
        .map_err(|e| bad(e.to_string()))?;
    let text = std::str::from_utf8(&plain).map_err(|_| bad("not UTF-8".into()))?;
    Ok(Zeroizing::new(text.to_owned()))
}
