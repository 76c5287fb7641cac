//! The shared SMS inbox's intake: each provider's webhook is checked for its
//! signature before anything in it is believed, then turned into one common
//! [`InboundSms`]; the text's one-time code is found by [`extract::extract`].
//!
//! Pure: no I/O and no clock of its own. Callers pass the request's bytes,
//! the URL the provider was configured with and `now` (unix seconds), so the
//! server decides what to store and tests control time.
//!
//! Order of checks in every adapter: size cap, then signature (and
//! freshness), and only then the fields. A request that fails the signature
//! tells nothing about its content.
//!
//! For the server that calls it: pass Twilio the public URL exactly as
//! configured in Twilio's console (scheme, host, path and the request's
//! query); answer an error with [`IntakeError::is_forgery`] with 403 and an
//! audit record, other errors with 400 (or 200 where the provider would
//! retry in vain, e.g. [`IntakeError::Unsupported`]); deduplicate on
//! `(provider, message_id)`; join Vonage's [`Segment`]s before
//! [`extract::extract`]; route on `to` (an [`E164`]).

pub mod android_gateway;
mod error;
pub mod extract;
mod mac;
mod params;
pub mod phone;
pub mod sms_forwarder;
pub mod twilio;
pub mod vonage;

pub use error::IntakeError;
pub use extract::{Extracted, ExtractionRule, extract};
pub use phone::{E164, PhoneError, Sender};

use serde::Serialize;

/// Webhook bodies above this are refused before they are parsed or
/// verified. The largest legitimate one, a Twilio request for a 1600-char
/// body with its geo fields, is a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The default freshness window for signed timestamps (capcom6's own
/// guidance is 5 minutes).
pub const DEFAULT_FRESHNESS_SECS: u64 = 5 * 60;

/// Who delivered a message to us. The name is the path segment and the
/// audit word for the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Twilio,
    Vonage,
    AndroidSmsGateway,
    SmsForwarder,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Twilio,
        Provider::Vonage,
        Provider::AndroidSmsGateway,
        Provider::SmsForwarder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::Vonage => "vonage",
            Provider::AndroidSmsGateway => "android-sms-gateway",
            Provider::SmsForwarder => "sms-forwarder",
        }
    }

    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// One received SMS, whichever provider brought it, after its signature
/// was verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InboundSms {
    pub provider: Provider,
    /// The provider's id for the message: a retry carries the same one,
    /// so it is the deduplication key (with `provider`).
    pub message_id: String,
    pub from: Sender,
    /// The number that received it: the inbox.
    pub to: E164,
    pub text: String,
    /// When this server accepted it (the caller's `now`, unix seconds):
    /// the clock that "arrived after the prompt" is judged by.
    pub received_at: u64,
    /// The time the provider or phone signed or stamped it, if it says.
    pub provider_timestamp: Option<u64>,
    /// One part of a long SMS the provider did not join (Vonage sends
    /// each part alone). Extract codes only from the joined text: an
    /// origin-bound code's `@host` line is in the last part, so a code
    /// found in an earlier part would lose its binding.
    pub segment: Option<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// Shared by the parts of one message.
    pub reference: String,
    /// 1-based.
    pub part: u32,
    pub total: u32,
}

/// Refuse bodies over [`MAX_BODY_BYTES`] and bodies that are not UTF-8.
fn checked_body(body: &[u8]) -> Result<&str, IntakeError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(IntakeError::TooLarge {
            len: body.len(),
            max: MAX_BODY_BYTES,
        });
    }
    std::str::from_utf8(body).map_err(|e| IntakeError::NotUtf8 {
        at: e.valid_up_to(),
    })
}

/// Is `stamp` within `window` seconds of `now`, either side?
fn check_fresh(stamp: u64, now: u64, window: u64) -> Result<(), IntakeError> {
    let skew = stamp.abs_diff(now);
    if skew > window {
        return Err(IntakeError::Stale { skew, window });
    }
    Ok(())
}
