//! capcom6/android-sms-gateway webhooks: an Android phone with the SIM
//! posts each received SMS.
//!
//! `X-Timestamp` is unix seconds and `X-Signature` is lowercase hex
//! HMAC-SHA256(signing key, body bytes followed by the timestamp's text),
//! so the signature covers the message and the time (the app's
//! `PayloadSigningPlugin`). The timestamp must be within the freshness
//! window. The body is the envelope `{id, webhookId, event, deviceId,
//! payload}`; only `sms:received` carries an SMS, other events are
//! acknowledged and ignored.

use serde::Deserialize;

use crate::{
    DEFAULT_FRESHNESS_SECS, E164, InboundSms, IntakeError, Provider, Sender, check_fresh,
    checked_body, mac,
};

pub const SIGNATURE_HEADER: &str = "X-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Timestamp";
pub const SMS_RECEIVED: &str = "sms:received";

#[derive(Clone, Debug)]
pub struct GatewayConfig {
    pub signing_key: String,
    pub freshness_secs: u64,
    /// The phone's own number, for payloads whose `recipient` is null (the
    /// app cannot always read the SIM's number).
    pub own_number: Option<E164>,
}

impl GatewayConfig {
    pub fn new(signing_key: impl Into<String>) -> GatewayConfig {
        GatewayConfig {
            signing_key: signing_key.into(),
            freshness_secs: DEFAULT_FRESHNESS_SECS,
            own_number: None,
        }
    }
}

/// What a verified webhook was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayEvent {
    Sms(InboundSms),
    /// A genuine event that carries no received SMS (`sms:sent`,
    /// `system:ping`, …): answer 200, store nothing.
    Ignored {
        event: String,
        reason: &'static str,
    },
}

#[derive(Deserialize)]
struct Envelope {
    event: Option<String>,
    payload: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceivedPayload {
    message_id: Option<String>,
    sender: Option<String>,
    /// The older name of `sender`.
    phone_number: Option<String>,
    recipient: Option<String>,
    message: Option<String>,
}

/// Verify a webhook and read it.
pub fn inbound(
    body: &[u8],
    signature_header: Option<&str>,
    timestamp_header: Option<&str>,
    config: &GatewayConfig,
    now: u64,
) -> Result<GatewayEvent, IntakeError> {
    let text = checked_body(body)?;
    let signature = signature_header.ok_or(IntakeError::MissingSignature {
        header: "X-Signature header",
    })?;
    let timestamp = timestamp_header.ok_or(IntakeError::MissingSignature {
        header: "X-Timestamp header",
    })?;
    let mut signed = body.to_vec();
    signed.extend_from_slice(timestamp.as_bytes());
    let expected = mac::hmac_sha256(config.signing_key.as_bytes(), &signed);
    if !mac::same_hex(&expected, signature) {
        return Err(IntakeError::BadSignature {
            header: "X-Signature header",
        });
    }
    let stamp: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| IntakeError::InvalidField {
            field: "X-Timestamp",
            reason: "expected unix seconds".into(),
        })?;
    check_fresh(stamp, now, config.freshness_secs)?;

    let malformed = |reason: String| IntakeError::Malformed {
        expected: "an android-sms-gateway webhook (JSON)",
        reason,
    };
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let event = envelope.event.ok_or(IntakeError::MissingField("event"))?;
    if event != SMS_RECEIVED {
        return Ok(GatewayEvent::Ignored {
            event,
            reason: "only sms:received events carry a received SMS",
        });
    }
    let payload = envelope
        .payload
        .ok_or(IntakeError::MissingField("payload"))?;
    let payload: ReceivedPayload =
        serde_json::from_value(payload).map_err(|e| malformed(format!("payload: {e}")))?;
    let message_id = payload
        .message_id
        .filter(|id| !id.is_empty())
        .ok_or(IntakeError::MissingField("payload.messageId"))?;
    if message_id.len() > 128 {
        return Err(IntakeError::InvalidField {
            field: "payload.messageId",
            reason: "longer than 128 characters".into(),
        });
    }
    let sender = payload
        .sender
        .or(payload.phone_number)
        .ok_or(IntakeError::MissingField("payload.sender"))?;
    let from = Sender::parse(&sender).map_err(|e| e.field("payload.sender"))?;
    let to = match payload.recipient {
        Some(recipient) => E164::parse(&recipient).map_err(|e| e.field("payload.recipient"))?,
        None => config.own_number.clone().ok_or(IntakeError::InvalidField {
            field: "payload.recipient",
            reason: "the phone did not say its number; set the gateway's own_number in the config"
                .into(),
        })?,
    };
    Ok(GatewayEvent::Sms(InboundSms {
        provider: Provider::AndroidSmsGateway,
        message_id,
        from,
        to,
        text: payload
            .message
            .ok_or(IntakeError::MissingField("payload.message"))?,
        received_at: now,
        provider_timestamp: Some(stamp),
        segment: None,
    }))
}
