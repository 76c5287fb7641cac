//! The few browser APIs the core needs, behind typed Rust functions.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::messages;
use crate::policy::ManagedPolicy;

#[wasm_bindgen]
extern "C" {
    /// One request to the native host, on the worker's long-lived port
    /// (`extension/native.js`), or a one-shot message where there is none
    /// or when `alone` (a request the host may hold for seconds).
    #[wasm_bindgen(catch, js_namespace = __twofillNative, js_name = ask)]
    pub fn ask_native_host(host: &str, message: &JsValue, alone: bool) -> Result<Promise, JsValue>;

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: i32) -> JsValue;

    #[wasm_bindgen(js_namespace = console)]
    pub fn log(s: &str);

    #[wasm_bindgen(catch, js_namespace = ["chrome", "tabs"], js_name = query)]
    fn tabs_query(query: &JsValue) -> Result<Promise, JsValue>;

    #[wasm_bindgen(catch, js_namespace = ["chrome", "tabs"], js_name = sendMessage)]
    fn tabs_send_message(tab: i32, message: &JsValue) -> Result<Promise, JsValue>;

    #[wasm_bindgen(catch, js_namespace = ["chrome", "runtime"], js_name = sendMessage)]
    fn runtime_send_message(message: &JsValue) -> Result<Promise, JsValue>;

    #[wasm_bindgen(catch, js_namespace = ["navigator", "clipboard"], js_name = writeText)]
    fn clipboard_write_text(text: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(catch, js_namespace = ["chrome", "storage", "managed"], js_name = get)]
    fn managed_storage_get() -> Result<Promise, JsValue>;
}

thread_local! {
    /// The organization policy, read once and dropped when it changes
    /// (`policyChanged`, called from `storage.onChanged` for `managed`).
    static POLICY: RefCell<Option<Rc<ManagedPolicy>>> = const { RefCell::new(None) };
}

/// The organization policy in force (empty when the browser has none).
pub async fn policy() -> Rc<ManagedPolicy> {
    if let Some(p) = POLICY.with(|c| c.borrow().clone()) {
        return p;
    }
    // Firefox rejects when no managed storage is configured; Chromium
    // answers `{}`. Both mean "no policy".
    let value = match settle(managed_storage_get()).await {
        Ok(v) => js_sys::JSON::stringify(&v)
            .ok()
            .and_then(|s| s.as_string())
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null),
        Err(_) => serde_json::Value::Null,
    };
    let p = Rc::new(ManagedPolicy::from_value(&value));
    POLICY.with(|c| *c.borrow_mut() = Some(p.clone()));
    p
}

/// Forgets the cached policy; the next request reads it again. Policies
/// change live (an admin edits them, or they arrive a few seconds after a
/// force-install), and nothing should need a browser restart to see them.
#[wasm_bindgen(js_name = policyChanged)]
pub fn policy_changed() {
    POLICY.with(|c| *c.borrow_mut() = None);
}

pub fn now_seconds() -> f64 {
    js_sys::Date::now() / 1000.0
}

pub async fn sleep_ms(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

pub fn js_error(e: &JsValue) -> String {
    Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// The web origin of the frame that sent a runtime message, from the
/// browser's `MessageSender`: `origin` (Chromium) or the origin of `url`
/// (Firefox, which has no `origin`). Page content never influences it.
pub fn sender_origin(sender: &JsValue) -> Option<String> {
    let get = |key: &str| {
        Reflect::get(sender, &key.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    // An opaque origin ("null": sandboxed frame, data: URL) gets nothing,
    // even though its URL may name a real site.
    if let Some(origin) = get("origin") {
        return (origin != "null").then_some(origin);
    }
    let url = get("url")?;
    let (scheme, rest) = url.split_once("://")?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(format!("{scheme}://{}", &rest[..host_end]))
}

/// The frame that sent a runtime message: its tab's id and its frame id,
/// as the browser reports them.
pub fn sender_frame(sender: &JsValue) -> Option<(i32, i32)> {
    let tab = field(&field(sender, "tab"), "id").as_f64()?;
    let frame = field(sender, "frameId").as_f64().unwrap_or(0.0);
    Some((tab as i32, frame as i32))
}

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &(*k).into(), v);
    }
    o.into()
}

fn field(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

async fn settle(p: Result<Promise, JsValue>) -> Result<JsValue, String> {
    let p = p.map_err(|e| js_error(&e))?;
    JsFuture::from(p).await.map_err(|e| js_error(&e))
}

/// The active tab of the popup's window: its id and URL. The URL is only
/// there when the user opened the popup on it (`activeTab`).
pub async fn active_tab() -> Option<(i32, String)> {
    let query = object(&[("active", JsValue::TRUE), ("currentWindow", JsValue::TRUE)]);
    let tabs = settle(tabs_query(&query)).await.ok()?;
    let tab = js_sys::Array::from(&tabs).get(0);
    let id = field(&tab, "id").as_f64()? as i32;
    let url = field(&tab, "url").as_string()?;
    Some((id, url))
}

/// Puts `text` on the clipboard: directly (the popup has the user's
/// click), else through the service worker's offscreen document.
pub async fn copy_to_clipboard(text: &str) -> Result<(), String> {
    if settle(clipboard_write_text(text)).await.is_ok() {
        return Ok(());
    }
    let reply = settle(runtime_send_message(&object(&[
        ("type", messages::POPUP_COPY.into()),
        ("text", text.into()),
    ])))
    .await?;
    if field(&reply, "ok").is_truthy() {
        Ok(())
    } else {
        Err(field(&reply, "error")
            .as_string()
            .unwrap_or_else(|| "the clipboard is not available".into()))
    }
}

/// Asks the service worker to clear the clipboard in `ms`, even if the
/// popup is closed by then.
pub fn clear_clipboard_later(ms: u32) {
    if let Ok(p) = runtime_send_message(&object(&[
        ("type", messages::POPUP_CLEAR_CLIPBOARD.into()),
        ("afterMs", ms.into()),
    ])) {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(p).await;
        });
    }
}

/// Asks the content scripts of `tab` to fill `token`'s code (see
/// `content.js`); `Ok` once a frame reports a fill.
pub async fn fill_in_tab(tab: i32, token: &str) -> Result<(), String> {
    let reply = settle(tabs_send_message(
        tab,
        &object(&[
            ("type", messages::POPUP_FILL_TOKEN.into()),
            ("token", token.into()),
        ]),
    ))
    .await
    .map_err(|e| {
        if e.contains("Receiving end does not exist") {
            "twofill is not active on this page (reload it and try again)".to_owned()
        } else {
            e
        }
    })?;
    if field(&reply, "filled").is_truthy() {
        Ok(())
    } else {
        Err(field(&reply, "reason")
            .as_string()
            .unwrap_or_else(|| "no code field on this page".into()))
    }
}
