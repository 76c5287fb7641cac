//! `get_code`: one code, checked and recorded by the vault.

use twofill_protocol::{CodePurpose, CodeReply, ErrorBody};
use twofill_vault::{CodeRequest, IssuedCode, Origin, Purpose, Requester, Vault};

use crate::{Answerer, info, scope, vault_error};

/// The vault's purpose (and so the audit action) for the wire's.
pub fn purpose(purpose: CodePurpose) -> Purpose {
    match purpose {
        CodePurpose::Fill => Purpose::Fill,
        CodePurpose::Copy => Purpose::Copy,
        CodePurpose::View => Purpose::View,
    }
}

impl Answerer<'_> {
    pub fn get_code(
        &mut self,
        origin: Option<&str>,
        token: Option<&str>,
        code_purpose: CodePurpose,
        exclude_personal: bool,
    ) -> Result<CodeReply, ErrorBody> {
        let purpose = purpose(code_purpose);
        let origin = self.parse_origin(purpose.action(), origin)?;
        self.issue_code(origin.as_ref(), token, purpose, exclude_personal)
    }

    /// [`Answerer::get_code`] for an origin already parsed (with
    /// [`Answerer::parse_origin`]).
    pub fn issue_code(
        &mut self,
        origin: Option<&Origin>,
        token: Option<&str>,
        purpose: Purpose,
        exclude_personal: bool,
    ) -> Result<CodeReply, ErrorBody> {
        let issued = self
            .vault
            .issue_code(&CodeRequest {
                who: &self.who,
                token,
                origin,
                purpose,
                scope: scope(exclude_personal),
            })
            .map_err(vault_error)?;
        Ok(code_reply(issued))
    }
}

/// One `get_code` of a batch ([`answer_codes`]), its origin already parsed
/// (with [`Answerer::parse_origin`]).
#[derive(Debug, Clone)]
pub struct CodeAsk {
    pub who: Requester,
    pub origin: Option<Origin>,
    pub token: Option<String>,
    pub purpose: Purpose,
    pub exclude_personal: bool,
}

/// Answers many `get_code`s with one commit for all their records
/// (`Vault::issue_codes`), each as [`Answerer::issue_code`] would alone.
pub fn answer_codes(vault: &mut Vault, asks: &[CodeAsk]) -> Vec<Result<CodeReply, ErrorBody>> {
    let requests: Vec<CodeRequest<'_>> = asks
        .iter()
        .map(|a| CodeRequest {
            who: &a.who,
            token: a.token.as_deref(),
            origin: a.origin.as_ref(),
            purpose: a.purpose,
            scope: scope(a.exclude_personal),
        })
        .collect();
    vault
        .issue_codes(&requests)
        .into_iter()
        .map(|r| r.map(code_reply).map_err(vault_error))
        .collect()
}

fn code_reply(issued: IssuedCode) -> CodeReply {
    CodeReply {
        token: info(&issued.token),
        code: issued.window.code,
        valid_from: issued.window.valid_from,
        valid_until: issued.window.valid_until,
        counter: issued.counter,
    }
}
