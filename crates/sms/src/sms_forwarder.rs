//! pppscn/SmsForwarder's webhook, a forwarder whose signature does NOT
//! cover the message: `sign` = base64(HMAC-SHA256(secret,
//! "`timestamp_ms`\n`secret`")) proves only that the sender knew the secret
//! at that time, so whoever sees one request can post any text with the
//! same `timestamp` and `sign` within the window. It is therefore refused
//! unless the config names it explicitly (`allow_unsigned_body = true`),
//! meant for a phone on a trusted network.
//!
//! Form body: `from`, `content`, `timestamp` (milliseconds), `sign`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::params::{parse_form, single};
use crate::{
    DEFAULT_FRESHNESS_SECS, E164, InboundSms, IntakeError, Provider, Sender, check_fresh,
    checked_body, mac,
};

/// Android forwarders, by what their signature proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwarderKind {
    /// capcom6/android-sms-gateway: HMAC over body and timestamp.
    AndroidSmsGateway,
    /// pppscn/SmsForwarder: HMAC over timestamp and secret only.
    SmsForwarder,
}

impl ForwarderKind {
    pub fn signature_covers_body(self) -> bool {
        match self {
            ForwarderKind::AndroidSmsGateway => true,
            ForwarderKind::SmsForwarder => false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ForwarderConfig {
    pub secret: String,
    pub freshness_secs: u64,
    /// Off by default: a forged text with a replayed `sign` would pass.
    pub allow_unsigned_body: bool,
    /// SmsForwarder does not send the receiving number.
    pub own_number: E164,
}

impl ForwarderConfig {
    pub fn new(secret: impl Into<String>, own_number: E164) -> ForwarderConfig {
        ForwarderConfig {
            secret: secret.into(),
            freshness_secs: DEFAULT_FRESHNESS_SECS,
            allow_unsigned_body: false,
            own_number,
        }
    }
}

pub fn inbound(body: &[u8], config: &ForwarderConfig, now: u64) -> Result<InboundSms, IntakeError> {
    if !config.allow_unsigned_body {
        return Err(IntakeError::UnsignedBodyRefused);
    }
    let text = checked_body(body)?;
    let params = parse_form(text);
    let sign = match single(&params, "sign") {
        Err(IntakeError::MissingField(_)) => {
            return Err(IntakeError::MissingSignature {
                header: "`sign` parameter",
            });
        }
        other => other?,
    };
    let stamp_ms = single(&params, "timestamp")?;
    let expected = STANDARD.encode(mac::hmac_sha256(
        config.secret.as_bytes(),
        format!("{stamp_ms}\n{}", config.secret).as_bytes(),
    ));
    if !mac::same(expected.as_bytes(), sign.trim().as_bytes()) {
        return Err(IntakeError::BadSignature {
            header: "`sign` parameter",
        });
    }
    let stamp_ms: u64 = stamp_ms.parse().map_err(|_| IntakeError::InvalidField {
        field: "timestamp",
        reason: "expected unix milliseconds".into(),
    })?;
    check_fresh(stamp_ms / 1000, now, config.freshness_secs)?;
    let from = single(&params, "from")?;
    let content = single(&params, "content")?;
    // No message id is sent: the signed time, sender and text identify a retry.
    let id = mac::sha256(format!("{stamp_ms}\n{from}\n{content}").as_bytes());
    Ok(InboundSms {
        provider: Provider::SmsForwarder,
        message_id: hex::encode(&id[..16]),
        from: Sender::parse(from).map_err(|e| e.field("from"))?,
        to: config.own_number.clone(),
        text: content.to_owned(),
        received_at: now,
        provider_timestamp: Some(stamp_ms / 1000),
        segment: None,
    })
}
