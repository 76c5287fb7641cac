//! The SMS providers' webhooks (`SMS_INBOUND_PATH_PREFIX` + provider):
//! no device certificate; each request is believed only once its
//! provider's signature verified (`twofill-sms`), and only then stored
//! (`Vault::receive_sms`).
//!
//! Order, for every provider: the per-source limit (429, body unread), the
//! body cap (413, before parsing), the signature and freshness (403 and a
//! `sms.refused` record, nothing stored), the fields (400 and a record),
//! then the message: stored once per provider message id, or, for a number
//! that is no inbox, stored nowhere and answered 200 so the provider stops
//! retrying (recorded as unroutable).

pub mod config;
mod limit;
mod wait;

use std::net::IpAddr;

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use twofill_sms::android_gateway::{self, GatewayEvent};
use twofill_sms::{InboundSms, IntakeError, Provider, sms_forwarder, twilio, vonage};
use twofill_team_api::ErrorCode;
use twofill_vault::{FoundCode, NewSms, SmsIntake};
use twofill_words::{unix_now_ms, unix_now_secs};

use crate::App;
use crate::http::{ApiError, Reply, read_body};
use crate::refusal::vault_failure;

pub use config::{Providers, SmsConfig};
pub use limit::SourceLimit;
pub use wait::{Arrivals, inboxes, spawn_listener, wait};

/// The intake's state in a running server.
pub struct Intake {
    pub providers: Providers,
    pub limit: SourceLimit,
}

impl Intake {
    pub fn new(providers: Providers) -> Intake {
        Intake {
            limit: SourceLimit::new(providers.webhooks_per_minute),
            providers,
        }
    }
}

/// What a provider is answered when all went well: Twilio reads TwiML (an
/// empty `<Response/>` sends no reply SMS), the others only the status.
fn accepted(provider: Provider) -> Reply {
    let (body, kind) = match provider {
        Provider::Twilio => (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
            "text/xml",
        ),
        _ => ("{}", "application/json"),
    };
    let mut reply = Reply::new(Full::new(body.into()));
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    reply
}

fn header_text(request: &Request<Incoming>, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Verifies and reads one webhook; `None` for a genuine event that is not
/// a received SMS.
fn parse(
    providers: &Providers,
    provider: Provider,
    url: &str,
    body: &[u8],
    headers: &Headers,
    now: u64,
) -> Result<Option<InboundSms>, IntakeError> {
    let configured = "configured: checked before";
    match provider {
        Provider::Twilio => twilio::inbound_sms(
            url,
            body,
            headers.twilio_signature.as_deref(),
            providers.twilio.as_deref().expect(configured),
            now,
        )
        .map(Some),
        Provider::Vonage => {
            let config = providers.vonage.as_ref().expect(configured);
            if headers.json {
                vonage::inbound_json(body, config, now).map(Some)
            } else {
                vonage::inbound_form(body, config, now).map(Some)
            }
        }
        Provider::AndroidSmsGateway => android_gateway::inbound(
            body,
            headers.signature.as_deref(),
            headers.timestamp.as_deref(),
            providers.gateway.as_ref().expect(configured),
            now,
        )
        .map(|event| match event {
            GatewayEvent::Sms(sms) => Some(sms),
            GatewayEvent::Ignored { .. } => None,
        }),
        Provider::SmsForwarder => {
            sms_forwarder::inbound(body, providers.forwarder.as_ref().expect(configured), now)
                .map(Some)
        }
    }
}

struct Headers {
    twilio_signature: Option<String>,
    signature: Option<String>,
    timestamp: Option<String>,
    json: bool,
}

pub async fn inbound(
    app: &App,
    provider: &str,
    request: Request<Incoming>,
    source: IpAddr,
) -> Result<Reply, ApiError> {
    let not_here = || {
        ApiError::new(
            ErrorCode::UnknownType,
            "this server takes no SMS from that provider; configure it under [sms] in server.toml",
        )
        .with_status(StatusCode::NOT_FOUND)
    };
    let Some(intake) = &app.sms else {
        return Err(not_here());
    };
    let Some(provider) = Provider::parse(provider).filter(|p| intake.providers.configured(*p))
    else {
        return Err(not_here());
    };
    if request.method() != Method::POST {
        return Err(
            ApiError::new(ErrorCode::BadRequest, "SMS webhooks are POSTs")
                .with_status(StatusCode::METHOD_NOT_ALLOWED),
        );
    }
    if !intake.limit.allow(source) {
        let mut e = ApiError::new(
            ErrorCode::RateLimited,
            "too many webhooks from this address; try again in a minute",
        )
        .with_status(StatusCode::TOO_MANY_REQUESTS);
        e.body.retry_after_ms = Some(60_000);
        e.close = true;
        return Err(e);
    }
    // Twilio signs the URL it was configured with: the public one, and
    // the query as sent.
    let url = format!(
        "{}{}{}",
        intake
            .providers
            .public_url
            .as_deref()
            .unwrap_or_default()
            .trim_end_matches('/'),
        request.uri().path(),
        request
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    let headers = Headers {
        twilio_signature: header_text(&request, twilio::SIGNATURE_HEADER),
        signature: header_text(&request, android_gateway::SIGNATURE_HEADER),
        timestamp: header_text(&request, android_gateway::TIMESTAMP_HEADER),
        json: header_text(&request, header::CONTENT_TYPE.as_str())
            .is_some_and(|t| t.starts_with("application/json")),
    };
    let body = read_body(request, app.limits.request(), twofill_sms::MAX_BODY_BYTES).await?;
    let providers = intake.providers.clone();
    let stored = app
        .pool
        .run(move |vault| {
            let now = unix_now_secs();
            let refuse = |vault: &mut twofill_vault::Vault, e: &IntakeError| {
                vault
                    .refuse_sms_webhook(
                        provider.as_str(),
                        &source.to_string(),
                        &format!("{}: {e}", e.code()),
                    )
                    .map_err(vault_failure)
            };
            let sms = match parse(&providers, provider, &url, &body, &headers, now) {
                Ok(Some(sms)) => sms,
                Ok(None) => return Ok(SmsIntake::Duplicate),
                Err(e) => {
                    refuse(vault, &e)?;
                    let (status, code) = if e.is_forgery() {
                        (StatusCode::FORBIDDEN, ErrorCode::NotPermitted)
                    } else if matches!(e, IntakeError::Unsupported(_)) {
                        // The provider would retry in vain.
                        return Ok(SmsIntake::Duplicate);
                    } else {
                        (StatusCode::BAD_REQUEST, ErrorCode::BadRequest)
                    };
                    return Err(ApiError::new(code, e.to_string()).with_status(status));
                }
            };
            // A part of a longer message is kept for `full` readers, but
            // offers no code: an origin-bound line is in the last part.
            let found = if sms.segment.as_ref().is_some_and(|s| s.total > 1) {
                None
            } else {
                twofill_sms::extract(&sms.text)
            };
            let rule = found.as_ref().map(|f| match f.rule {
                twofill_sms::ExtractionRule::OriginBound => "origin_bound",
                twofill_sms::ExtractionRule::SenderPattern(name) => name,
                twofill_sms::ExtractionRule::Fallback => "fallback",
            });
            let stored = vault
                .receive_sms(&NewSms {
                    provider: provider.as_str(),
                    message_id: &sms.message_id,
                    to: sms.to.as_str(),
                    from: match &sms.from {
                        twofill_sms::Sender::Number(n) => n.as_str(),
                        twofill_sms::Sender::Name(name) => name,
                    },
                    text: &sms.text,
                    received_at_ms: unix_now_ms(),
                    code: found.as_ref().map(|f| FoundCode {
                        code: &f.code,
                        rule: rule.unwrap_or_default(),
                        bound_origin: f.bound_origin.as_deref(),
                        embedded_origin: f.embedded_origin.as_deref(),
                    }),
                })
                .map_err(vault_failure)?;
            Ok(stored)
        })
        .await?;
    if let SmsIntake::Stored { .. } = stored {
        app.arrivals.announce();
    }
    Ok(accepted(provider))
}

/// How often messages past the retention time are purged.
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Purges messages older than `retention_ms` now and every ten minutes
/// (each replica does; a purge that finds nothing writes nothing).
pub fn spawn_retention(pool: std::sync::Arc<crate::pool::VaultPool>, retention_ms: i64) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RETENTION_EVERY);
        loop {
            every.tick().await;
            let purged = pool
                .run(move |vault| vault.purge_expired_sms(retention_ms).map_err(vault_failure))
                .await;
            if let Err(e) = purged {
                eprintln!("twofill-server: purging old SMS failed: {}", e.body.message);
            }
        }
    });
}
