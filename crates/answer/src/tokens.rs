//! `list_tokens`: what the requester may use, that site's tokens marked.

use twofill_protocol::{ErrorBody, TokenEntry};
use twofill_team_api::TokensReply;
use twofill_vault::{AuditAction, TokensRequest};

use crate::{Answerer, info, scope, vault_error};

impl Answerer<'_> {
    pub fn list_tokens(
        &mut self,
        origin: Option<&str>,
        exclude_personal: bool,
    ) -> Result<TokensReply, ErrorBody> {
        let origin = self.parse_origin(AuditAction::TokenList, origin)?;
        let tokens = self
            .vault
            .permitted_tokens(&TokensRequest {
                user: &self.who.user,
                origin: origin.as_ref(),
                scope: scope(exclude_personal),
            })
            .map_err(vault_error)?
            .into_iter()
            .map(|t| TokenEntry {
                bound_here: origin
                    .as_ref()
                    .is_some_and(|o| t.summary.bindings.iter().any(|b| b.matches(o))),
                token: info(&t.summary),
                sites: t.summary.bindings.iter().map(|b| b.to_string()).collect(),
                access: t.access,
                period: t.period,
                digits: t.digits,
                kind: t.kind,
                personal: t.summary.is_personal(),
                recovery_codes: t.recovery_codes,
            })
            .collect();
        Ok(TokensReply {
            user: self.who.user.clone(),
            tokens,
        })
    }
}
