//! What can be wrong with a webhook, each with what to do about it.

/// Why a webhook was not accepted. [`IntakeError::is_forgery`] tells the
/// server which are "not from the provider" (403, audited) rather than
/// "from the provider but unusable".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("the request body is {len} bytes; at most {max} are accepted")]
    TooLarge { len: usize, max: usize },
    #[error("the request body is not valid UTF-8 (first bad byte at {at})")]
    NotUtf8 { at: usize },
    #[error(
        "the request has no {header}: turn on request signing at the provider and give this server the same secret"
    )]
    MissingSignature { header: &'static str },
    #[error(
        "the {header} does not match this request: it was not signed with the configured secret (or the URL configured here differs from the provider's)"
    )]
    BadSignature { header: &'static str },
    #[error(
        "the request's timestamp is {skew} s away from this server's clock (at most {window} s allowed): a replay, or a clock to fix with NTP"
    )]
    Stale { skew: u64, window: u64 },
    #[error(
        "this forwarder's signature does not cover the message text, so anyone who saw one request can forge others; set allow_unsigned_body = true for it only on a trusted network"
    )]
    UnsignedBodyRefused,
    #[error("the request lacks the field `{0}`")]
    MissingField(&'static str),
    #[error("the field `{0}` appears more than once")]
    DuplicateField(String),
    #[error("the field `{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("the request body is not {expected}: {reason}")]
    Malformed {
        expected: &'static str,
        reason: String,
    },
    #[error("this message is not supported: {0}")]
    Unsupported(String),
}

impl IntakeError {
    /// Not shown to come from the provider: missing, wrong or stale
    /// signature, or a forwarder whose signature proves nothing about the
    /// text. The server answers 403 and stores nothing.
    pub fn is_forgery(&self) -> bool {
        matches!(
            self,
            IntakeError::MissingSignature { .. }
                | IntakeError::BadSignature { .. }
                | IntakeError::Stale { .. }
                | IntakeError::UnsignedBodyRefused
        )
    }

    /// A stable word for the audit log and error replies.
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::TooLarge { .. } => "too_large",
            IntakeError::NotUtf8 { .. } => "not_utf8",
            IntakeError::MissingSignature { .. } => "missing_signature",
            IntakeError::BadSignature { .. } => "bad_signature",
            IntakeError::Stale { .. } => "stale",
            IntakeError::UnsignedBodyRefused => "unsigned_body_refused",
            IntakeError::MissingField(_) => "missing_field",
            IntakeError::DuplicateField(_) => "duplicate_field",
            IntakeError::InvalidField { .. } => "invalid_field",
            IntakeError::Malformed { .. } => "malformed",
            IntakeError::Unsupported(_) => "unsupported",
        }
    }
}
