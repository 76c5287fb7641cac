//! Answers the extension's requests from a vault: protocol in, vault rules,
//! protocol out.
//!
//! The native host (against its local vault) and the team server (against
//! the team's) answer the same requests with the same rules, so the mapping
//! lives here once: a request's fields become a vault call
//! ([`Vault::permitted_tokens`], [`Vault::issue_code`], [`Vault::reveal_seed`],
//! [`Vault::take_recovery_code`]),
//! and the outcome becomes the protocol's reply or an [`ErrorBody`] with a
//! stable [`ErrorCode`](twofill_protocol::ErrorCode). The rules themselves
//! stay in the vault; this crate decides nothing beyond what the wire
//! format needs (an unparsable origin is refused here, on record).
//!
//! What only one side can do stays there: the host checks its caller and
//! knows the browser; the server authenticates the device. Both hand the
//! result in as the [`Requester`].

mod code;
mod error;
mod recovery;
mod seed;
mod tokens;

use twofill_protocol::{ErrorBody, ErrorCode, TokenInfo};
use twofill_vault::{AuditAction, AuditEvent, Origin, Requester, Scope, TokenSummary, Vault};

pub use code::{CodeAsk, answer_codes, purpose};
pub use error::{error, vault_error};
pub use seed::seed_action;
pub use twofill_team_api::TokensReply;

/// One requester's view of one opened vault, for as many requests as the
/// caller likes.
pub struct Answerer<'v> {
    vault: &'v mut Vault,
    who: Requester,
}

impl<'v> Answerer<'v> {
    /// `who` is already authenticated by the caller (the host's caller
    /// check and OS user, the server's device certificate).
    pub fn new(vault: &'v mut Vault, who: Requester) -> Answerer<'v> {
        Answerer { vault, who }
    }

    pub fn who(&self) -> &Requester {
        &self.who
    }

    /// Parses the origin a request names. One that is not an origin is
    /// refused with `bad_origin` and recorded under `action` (shortened:
    /// the audit log is not a place for megabytes of attacker input).
    pub fn parse_origin(
        &mut self,
        action: AuditAction,
        origin: Option<&str>,
    ) -> Result<Option<Origin>, ErrorBody> {
        let Some(text) = origin else {
            return Ok(None);
        };
        text.parse::<Origin>().map(Some).map_err(|e| {
            let message = e.to_string();
            let shown: String = text.chars().take(200).collect();
            self.record_refusal(action, Some(&shown), format!("bad_origin: {message}"));
            error(ErrorCode::BadOrigin, message)
        })
    }

    /// Records a refusal decided outside the vault's own checks. Best
    /// effort: the reply already says why, and a vault that cannot take the
    /// record will fail the next request visibly.
    pub fn record_refusal(&mut self, action: AuditAction, origin: Option<&str>, reason: String) {
        let who = &self.who;
        let _ = self.vault.record(&AuditEvent {
            origin: origin.map(str::to_owned),
            browser: who.browser.clone(),
            extension_id: who.extension_id.clone(),
            reason: Some(reason),
            ..AuditEvent::new(who.user.clone(), action, false)
        });
    }
}

/// `exclude_personal` in a request: the user's personal tokens are absent.
pub fn scope(exclude_personal: bool) -> Scope {
    if exclude_personal {
        Scope::SharedOnly
    } else {
        Scope::All
    }
}

/// How a token is named on the wire.
pub fn info(t: &TokenSummary) -> TokenInfo {
    TokenInfo {
        id: t.id.clone(),
        issuer: t.issuer.clone(),
        account: t.account.clone(),
    }
}
