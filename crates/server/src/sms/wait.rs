//! `SMS_WAIT_PATH`: a device's long-poll for the code of an SMS on a page.
//! It answers at once when a code is there, else when a message arrives
//! (announced by this process's intake, or on PostgreSQL by any replica's
//! through LISTEN/NOTIFY), else with no code when the wait runs out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use twofill_team_api::{ErrorCode, MAX_SMS_WAIT_MS, SmsCodeReply, SmsWaitReply, SmsWaitRequest};
use twofill_vault::{Origin, Purpose, SmsArrivals};

use crate::App;
use crate::device::{Peer, authenticate, requester};
use crate::http::{ApiError, Reply, ok};
use crate::refusal::vault_failure;

/// A waiter looks again this often even when it heard nothing (a lost
/// notification, or the listener reconnecting).
const RECHECK: Duration = Duration::from_secs(10);

/// Announces stored messages to this process's waiters.
pub struct Arrivals(watch::Sender<u64>);

impl Default for Arrivals {
    fn default() -> Self {
        Arrivals(watch::Sender::new(0))
    }
}

impl Arrivals {
    pub fn announce(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// Hears the other replicas' messages (PostgreSQL), reconnecting when the
/// connection drops.
pub fn spawn_listener(url: String, arrivals: Arc<Arrivals>) {
    std::thread::spawn(move || {
        let mut reported = false;
        loop {
            match SmsArrivals::listen_postgres(&url) {
                Ok(mut listener) => {
                    reported = false;
                    while let Ok(heard) = listener.wait(Duration::from_secs(30)) {
                        if heard {
                            arrivals.announce();
                        }
                    }
                }
                Err(e) if !reported => {
                    eprintln!("twofill-server: cannot listen for other replicas' SMS: {e}");
                    reported = true;
                }
                Err(_) => {}
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    });
}

pub async fn wait(app: &App, peer: Peer, request: SmsWaitRequest) -> Result<Reply, ApiError> {
    let origin: Origin = request.origin.parse().map_err(|e| {
        ApiError::new(
            ErrorCode::BadOrigin,
            format!("`{}` is not a web origin: {e}", request.origin),
        )
    })?;
    let deadline = Instant::now() + Duration::from_millis(request.timeout_ms.min(MAX_SMS_WAIT_MS));
    // Subscribed before the first look: a message stored between the look
    // and the wait still wakes it.
    let mut arrivals = app.arrivals.subscribe();
    let who = app
        .pool
        .run(move |vault| {
            let device = authenticate(vault, &peer)?;
            Ok(requester(&device, &request.client))
        })
        .await?;
    loop {
        arrivals.borrow_and_update();
        let (who_now, origin_now) = (who.clone(), origin.clone());
        let since = request.since_ms;
        let found = app
            .pool
            .run(move |vault| {
                vault
                    .sms_code(&who_now, &origin_now, since, Purpose::Fill)
                    .map_err(vault_failure)
            })
            .await?;
        if let Some(c) = found {
            return Ok(ok(&SmsWaitReply {
                code: Some(SmsCodeReply {
                    code: c.code,
                    received_at_ms: c.received_at_ms,
                    inbox: c.inbox,
                }),
            }));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(ok(&SmsWaitReply { code: None }));
        }
        let heard = tokio::time::timeout_at(deadline.min(now + RECHECK), arrivals.changed())
            .await
            .is_ok();
        // Out of time with nothing announced: the caller asks again if it
        // still waits (a message stored unannounced is found then).
        if !heard && Instant::now() >= deadline {
            return Ok(ok(&SmsWaitReply { code: None }));
        }
    }
}

/// `SMS_INBOXES_PATH`: the inboxes the device's user may read, each with
/// its newest messages as their level allows (every message on record).
pub async fn inboxes(
    app: &App,
    peer: Peer,
    request: twofill_team_api::SmsInboxesRequest,
) -> Result<Reply, ApiError> {
    use twofill_team_api::{SmsInboxEntry, SmsInboxesReply, SmsMessageEntry};
    let reply = app
        .pool
        .run(move |vault| {
            let device = authenticate(vault, &peer)?;
            let who = requester(&device, &request.client);
            let mut inboxes = Vec::new();
            for inbox in vault
                .permitted_sms_inboxes(&who.user)
                .map_err(vault_failure)?
            {
                let messages = vault
                    .sms_messages(&who, &inbox.number, request.messages)
                    .map_err(vault_failure)?
                    .into_iter()
                    .map(|m| SmsMessageEntry {
                        id: m.id,
                        received_at_ms: m.received_at_ms,
                        code: m.code,
                        bound_origin: m.bound_origin,
                        sender: m.sender,
                        text: m.text,
                    })
                    .collect();
                inboxes.push(SmsInboxEntry {
                    number: inbox.number,
                    level: inbox.level,
                    sites: inbox.sites,
                    messages,
                });
            }
            Ok(SmsInboxesReply { inboxes })
        })
        .await?;
    Ok(ok(&reply))
}
