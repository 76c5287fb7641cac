//! SMS prompts: the worker waits for the code of a shared SMS inbox (team
//! server) and has it filled, once per prompt.
//!
//! A scan that finds an SMS prompt looks once (`wait_for_sms` with no
//! wait): a refusal (no inbox bound to this site, not granted, signed out)
//! ends it there, with nothing or the existing refusal notice. Otherwise the
//! frame gets a wait: the content script shows "Waiting for the SMS…" and
//! sends `content.wait_sms`, which asks the host again and again (each ask
//! held at most `MAX_SMS_WAIT_PER_ASK_MS`) until a code comes, two minutes
//! pass, the content script says the prompt is gone or the tab navigates.
//! Every ask carries the same `since_ms`: when the prompt appeared less
//! [`GRACE_MS`], and never at or before a code already filled in this
//! origin, so an older code is never filled and one code fills one prompt.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use twofill_protocol::MAX_SMS_WAIT_PER_ASK_MS;
use wasm_bindgen::prelude::*;

use crate::host_client::HostClient;
use crate::messages::FillPlan;
use crate::{browser, none, refused};

/// An SMS that arrived this long before the prompt appeared still counts:
/// the site may send it as the page changes, and clocks differ a little.
pub const GRACE_MS: i64 = 10_000;
/// The longest a prompt waits for its SMS.
pub const MAX_WAIT_MS: f64 = 120_000.0;

/// A frame: its tab's id and frame id.
type Frame = (i32, i32);

struct Wait {
    prompt: u32,
    fields: Vec<u32>,
    origin: String,
    since_ms: i64,
    until_ms: f64,
}

thread_local! {
    /// The one SMS wait of each frame that has one.
    static WAITS: RefCell<HashMap<Frame, Wait>> = RefCell::default();
    /// Per origin, when the SMS of the last code filled there arrived: no
    /// later prompt on that origin is offered it, or anything older.
    static FILLED_UP_TO: RefCell<HashMap<String, i64>> = RefCell::default();
    static NEXT_PROMPT: Cell<u32> = const { Cell::new(1) };
}

/// A scan found an SMS prompt at `fields` on `origin` (policy checked).
pub async fn plan(host: &HostClient, fields: Vec<u32>, origin: &str, sender: &JsValue) -> FillPlan {
    let Some(frame) = browser::sender_frame(sender) else {
        return none("sender is not a tab's frame");
    };
    let now = js_sys::Date::now();
    // A rescan of the prompt already waited for keeps its wait.
    let waiting = WAITS.with(|w| {
        w.borrow()
            .get(&frame)
            .filter(|w| w.fields == fields && w.origin == origin && w.until_ms > now)
            .map(|w| w.prompt)
    });
    if let Some(prompt) = waiting {
        return FillPlan::WaitSms { fields, prompt };
    }
    let floor = FILLED_UP_TO.with(|f| f.borrow().get(origin).copied());
    let since_ms = (now as i64 - GRACE_MS).max(floor.map_or(i64::MIN, |t| t + 1));
    match host.wait_for_sms(origin, since_ms, 0).await {
        Ok(Some(code)) => filled(origin, code, fields),
        Ok(None) => {
            let prompt = NEXT_PROMPT.with(|n| n.replace(n.get().wrapping_add(1)));
            let wait = Wait {
                prompt,
                fields: fields.clone(),
                origin: origin.to_owned(),
                since_ms,
                until_ms: now + MAX_WAIT_MS,
            };
            WAITS.with(|w| w.borrow_mut().insert(frame, wait));
            FillPlan::WaitSms { fields, prompt }
        }
        Err(e) => refused(&e),
    }
}

/// `content.wait_sms`: asks until the code comes or the wait ends.
pub async fn wait(host: &HostClient, prompt: u32, sender: &JsValue) -> FillPlan {
    let Some(frame) = browser::sender_frame(sender) else {
        return none("sender is not a tab's frame");
    };
    loop {
        let Some((origin, since_ms, left)) = WAITS.with(|w| {
            w.borrow()
                .get(&frame)
                .filter(|w| w.prompt == prompt)
                .map(|w| {
                    (
                        w.origin.clone(),
                        w.since_ms,
                        w.until_ms - js_sys::Date::now(),
                    )
                })
        }) else {
            return none("the SMS prompt went away");
        };
        if left <= 0.0 {
            drop_wait(frame, prompt);
            return none("no SMS came within 2 minutes");
        }
        let timeout = (left as u64).min(MAX_SMS_WAIT_PER_ASK_MS);
        let reply = host.wait_for_sms(&origin, since_ms, timeout).await;
        // Cancelled while the host waited: what it found is not filled.
        if !is_waiting(frame, prompt) {
            return none("the SMS prompt went away");
        }
        match reply {
            Ok(Some(code)) => {
                let fields = drop_wait(frame, prompt).unwrap_or_default();
                return filled(&origin, code, fields);
            }
            Ok(None) => {}
            Err(e) => {
                drop_wait(frame, prompt);
                return refused(&e);
            }
        }
    }
}

/// `content.sms_gone`: the prompt went away; its wait ends at the next ask.
pub fn gone(prompt: u32, sender: &JsValue) -> FillPlan {
    if let Some(frame) = browser::sender_frame(sender) {
        drop_wait(frame, prompt);
    }
    none("stopped waiting for the SMS")
}

/// The tab started loading another page: its frames' waits end.
#[wasm_bindgen(js_name = tabNavigated)]
pub fn tab_navigated(tab: i32) {
    WAITS.with(|w| w.borrow_mut().retain(|(t, _), _| *t != tab));
}

fn filled(origin: &str, code: twofill_protocol::SmsCodeReply, fields: Vec<u32>) -> FillPlan {
    FILLED_UP_TO.with(|f| {
        let mut f = f.borrow_mut();
        let t = f.entry(origin.to_owned()).or_insert(code.received_at_ms);
        *t = (*t).max(code.received_at_ms);
    });
    FillPlan::FillSms {
        fields,
        code: code.code,
    }
}

fn is_waiting(frame: Frame, prompt: u32) -> bool {
    WAITS.with(|w| w.borrow().get(&frame).is_some_and(|w| w.prompt == prompt))
}

/// Ends `prompt`'s wait (not a newer one of the frame); its fields.
fn drop_wait(frame: Frame, prompt: u32) -> Option<Vec<u32>> {
    WAITS.with(|w| {
        let mut w = w.borrow_mut();
        if w.get(&frame)?.prompt != prompt {
            return None;
        }
        w.remove(&frame).map(|w| w.fields)
    })
}
