//! `reveal_seed`: for full-seed holders, on record.

use twofill_protocol::{ErrorBody, SeedPurpose, SeedReply, TokenInfo};
use twofill_vault::AuditAction;

use crate::{Answerer, vault_error};

/// The audit action for what the seed is revealed for.
pub fn seed_action(purpose: SeedPurpose) -> AuditAction {
    match purpose {
        SeedPurpose::Reveal => AuditAction::SeedReveal,
        SeedPurpose::Qr => AuditAction::SeedQr,
        SeedPurpose::Export => AuditAction::SeedExport,
    }
}

impl Answerer<'_> {
    pub fn reveal_seed(
        &mut self,
        token: &str,
        purpose: SeedPurpose,
    ) -> Result<SeedReply, ErrorBody> {
        let seed = self
            .vault
            .reveal_seed(&self.who, token, seed_action(purpose))
            .map_err(vault_error)?;
        let issuer = self
            .vault
            .tokens()
            .map_err(vault_error)?
            .into_iter()
            .find(|t| t.id == token)
            .and_then(|s| s.issuer);
        Ok(SeedReply {
            token: TokenInfo {
                id: token.to_owned(),
                issuer,
                account: seed.account.clone(),
            },
            secret: seed.secret.to_base32(),
            uri: seed.to_uri(),
        })
    }
}
