//! `take_recovery_code`: one single-use code for full-seed holders, marked
//! used on record before it is sent.

use twofill_protocol::{ErrorBody, RecoveryCodeReply};

use crate::{Answerer, info, vault_error};

impl Answerer<'_> {
    pub fn take_recovery_code(&mut self, token: &str) -> Result<RecoveryCodeReply, ErrorBody> {
        let taken = self
            .vault
            .take_recovery_code(&self.who, token)
            .map_err(vault_error)?;
        Ok(RecoveryCodeReply {
            token: info(&taken.token),
            code: taken.code.to_string(),
            remaining: taken.remaining,
        })
    }
}
