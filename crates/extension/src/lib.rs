//! The extension's brain, in the service worker and the popup (`popup`).
//!
//! The content script sends a [`PageScan`]; we decide with
//! `twofill-detection` whether it is a TOTP prompt, ask the native host for
//! the code of the token bound to the *sender's* origin — as reported by the
//! browser, never by the page — and answer with a fill plan. The host makes
//! every permission decision; this side only decides where a code goes.

// A module built with one of the two features leaves the other's code unused.
#![cfg_attr(
    not(all(feature = "worker", feature = "popup")),
    allow(dead_code, unused_imports)
)]

mod browser;
mod host_client;
mod messages;
mod policy;
#[cfg(feature = "popup")]
mod popup;
mod sms;

use host_client::{HostClient, HostError};
use messages::{ContentMessage, FillPlan};
use policy::AutofillMode;
use twofill_detection::{PageScan, PromptKind, detect, detect_recovery};
use twofill_protocol::{CodePurpose, ErrorCode};
use wasm_bindgen::prelude::*;

/// A code with less than this many seconds left is not filled: by the time
/// the user submits it may have expired, so we wait for the next one.
const MIN_SECONDS_LEFT: f64 = 3.0;

/// Entry point for `chrome.runtime.onMessage` from our content scripts.
#[cfg(feature = "worker")]
#[wasm_bindgen(js_name = onContentMessage)]
pub async fn on_content_message(message: JsValue, sender: JsValue) -> Result<JsValue, JsValue> {
    // Through JSON text both ways: serde_json is here anyway (the host
    // protocol), and a second deserializer for every message type would
    // double their code in the WASM.
    let text = js_sys::JSON::stringify(&message)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    let plan = match serde_json::from_str::<ContentMessage>(&text) {
        Ok(ContentMessage::Scan {
            page,
            recovery: true,
            ..
        }) => recovery_plan(&page, true, &sender).await,
        Ok(ContentMessage::Scan {
            page, confirmed, ..
        }) => plan_for(&page, confirmed, &sender).await,
        Ok(ContentMessage::ScanForToken {
            page,
            token,
            focused,
        }) => plan_for_token(&page, &token, focused, &sender).await,
        Ok(ContentMessage::WaitSms { prompt }) => {
            let policy = browser::policy().await;
            sms::wait(&HostClient::new(&policy), prompt, &sender).await
        }
        Ok(ContentMessage::SmsGone { prompt }) => sms::gone(prompt, &sender),
        Err(e) => FillPlan::None {
            reason: format!("unreadable message: {e}"),
        },
    };
    let json = serde_json::to_string(&plan).map_err(|e| JsValue::from_str(&e.to_string()))?;
    js_sys::JSON::parse(&json)
}

async fn plan_for(page: &PageScan, confirmed: bool, sender: &JsValue) -> FillPlan {
    let Some(prompt) = detect(page) else {
        return recovery_plan(page, false, sender).await;
    };
    if prompt.kind == PromptKind::Sms && detect_recovery(page).is_none() {
        return sms_plan(prompt.fields, sender).await;
    }
    if prompt.kind != PromptKind::Totp {
        if detect_recovery(page).is_some() {
            return recovery_plan(page, false, sender).await;
        }
        return none(&format!(
            "{:?} prompt: not an authenticator code",
            prompt.kind
        ));
    }
    let Some(origin) = browser::sender_origin(sender) else {
        return none("sender has no web origin");
    };
    let policy = browser::policy().await;
    if let Err(why) = policy.may_fill(&origin) {
        return none(&why);
    }
    let host = HostClient::new(&policy);
    if policy.autofill_mode() == AutofillMode::Click && !confirmed {
        return offer(&host, prompt.fields, &origin).await;
    }
    let mut reply = host.get_code(CodePurpose::Fill, Some(&origin), None).await;
    // Wait out a nearly expired code rather than fill one that dies in the user's hands.
    // A HOTP code (with its counter) does not expire with time; asking again
    // would only burn a counter.
    if let Some(code) = reply.as_ref().ok().filter(|c| c.counter.is_none()) {
        let left = code.valid_until as f64 - browser::now_seconds();
        if left < MIN_SECONDS_LEFT {
            browser::sleep_ms((left.max(0.0) * 1000.0) as i32 + 200).await;
            reply = host
                .get_code(CodePurpose::Fill, Some(&origin), Some(&code.token.id))
                .await;
        }
    }
    match reply {
        Ok(code) => FillPlan::Fill {
            fields: prompt.fields,
            code: code.code,
            token_label: code.token.label(),
        },
        Err(e) => {
            if e.code() == Some(ErrorCode::Internal) {
                browser::log(&format!("twofill host error: {}", e.message()));
            }
            refused(&e)
        }
    }
}

/// An SMS prompt: filled from a shared SMS inbox when one is bound to this
/// site (`sms`). The organization's fill policy applies as to TOTP codes.
async fn sms_plan(fields: Vec<u32>, sender: &JsValue) -> FillPlan {
    let Some(origin) = browser::sender_origin(sender) else {
        return none("sender has no web origin");
    };
    let policy = browser::policy().await;
    if let Err(why) = policy.may_fill(&origin) {
        return none(&why);
    }
    // `AutofillMode: click` hands out a code only on the user's click; an
    // SMS wait would take one unasked, so it is not started.
    if policy.autofill_mode() == AutofillMode::Click {
        return none("SMS codes are filled only when the organization lets twofill fill by itself");
    }
    sms::plan(&HostClient::new(&policy), fields, &origin, sender).await
}

/// A fill the host refused: signed out gets its notice, the rest nothing.
fn refused(e: &HostError) -> FillPlan {
    match e.sign_in_needed() {
        Some(org) => FillPlan::SignedOut {
            org: org.to_owned(),
            reason: e.message().to_owned(),
        },
        None => none(e.message()),
    }
}

/// A "Fill code" button instead of a fill, when a token is bound to this
/// site. Listing tokens hands out no code, so nothing is audited until the
/// user clicks.
async fn offer(host: &HostClient, fields: Vec<u32>, origin: &str) -> FillPlan {
    match host.list_tokens(Some(origin)).await {
        Ok(tokens) => match tokens.iter().find(|t| t.bound_here) {
            Some(t) => FillPlan::Offer {
                fields,
                token_label: t.token.label(),
            },
            None => none("no token is bound to this site"),
        },
        Err(e) => refused(&e),
    }
}

/// A recovery-code prompt: never filled by itself. Unless `clicked`, an
/// offer when a token bound to this site has unused recovery codes the user
/// may take (full-seed holders: the host lists the count to them alone);
/// after the user's trusted click, one code taken from the host (marked
/// used, on record) and filled.
async fn recovery_plan(page: &PageScan, clicked: bool, sender: &JsValue) -> FillPlan {
    let Some(field) = detect_recovery(page) else {
        return none("no code prompt");
    };
    let Some(origin) = browser::sender_origin(sender) else {
        return none("sender has no web origin");
    };
    let policy = browser::policy().await;
    if let Err(why) = policy.may_fill(&origin) {
        return none(&why);
    }
    if policy.autofill_mode() == AutofillMode::Off {
        return none("filling is turned off by the organization");
    }
    let host = HostClient::new(&policy);
    let tokens = match host.list_tokens(Some(&origin)).await {
        Ok(tokens) => tokens,
        Err(e) => return none(e.message()),
    };
    let bound: Vec<_> = tokens.iter().filter(|t| t.bound_here).collect();
    let takeable: Vec<_> = bound
        .iter()
        .filter(|t| t.recovery_codes.is_some_and(|n| n > 0))
        .collect();
    let [token] = takeable[..] else {
        return none(if takeable.is_empty() {
            "no recovery code this user may take for this site"
        } else {
            "several tokens with recovery codes fit this site; take one from the popup"
        });
    };
    if !clicked {
        return FillPlan::OfferRecovery {
            fields: vec![field],
            token_label: token.token.label(),
        };
    }
    match host.take_recovery_code(&token.token.id).await {
        Ok(taken) => FillPlan::Fill {
            fields: vec![field],
            code: taken.code,
            token_label: taken.token.label(),
        },
        Err(e) => none(e.message()),
    }
}

/// The popup's "fill on this page": like a scan, but the user chose the
/// token and may have put the cursor in the field. The origin is still the
/// browser's, and the host still checks the binding.
async fn plan_for_token(
    page: &PageScan,
    token: &str,
    focused: Option<u32>,
    sender: &JsValue,
) -> FillPlan {
    let fields = match detect(page) {
        Some(prompt) if prompt.kind == PromptKind::Totp => prompt.fields,
        _ => match focused.and_then(|i| page.fields.iter().find(|f| f.index == i)) {
            Some(f) if fillable(f) => vec![f.index],
            _ => return none("no authenticator-code field here; click into the field first"),
        },
    };
    let Some(origin) = browser::sender_origin(sender) else {
        return none("sender has no web origin");
    };
    let policy = browser::policy().await;
    if let Err(why) = policy.may_fill(&origin) {
        return none(&why);
    }
    match HostClient::new(&policy)
        .get_code(CodePurpose::Fill, Some(&origin), Some(token))
        .await
    {
        Ok(code) => FillPlan::Fill {
            fields,
            code: code.code,
            token_label: code.token.label(),
        },
        Err(e) => refused(&e),
    }
}

/// A focused field we may type a code into: visible, editable, text-like.
fn fillable(f: &twofill_detection::FieldFeatures) -> bool {
    f.visible
        && !f.read_only
        && !f.disabled
        && matches!(f.input_type.as_str(), "" | "text" | "tel" | "number")
}

fn none(reason: &str) -> FillPlan {
    FillPlan::None {
        reason: reason.to_owned(),
    }
}
