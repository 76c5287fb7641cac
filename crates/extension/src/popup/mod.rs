//! The toolbar popup: the tokens this user may use, with live codes.
//!
//! `popup.html` holds the markup: the fixed skeleton (header, search box,
//! state panel, list, status line) and `<template>`s that `dom` clones and
//! fills. The popup talks to the native host directly through
//! [`HostClient`] (`chrome.runtime.sendNativeMessage` works from extension
//! pages); the service worker only keeps the clipboard clean after the popup
//! has closed.
//!
//! What the host sees from us: `list_tokens` with the active tab's origin,
//! `get_code` with purpose `view` per time-based token (again when its
//! window rolls over) and `copy` on copy; a HOTP token's code is asked for
//! only on a click of its "Next code" (`view`) or copy (`copy`), since each
//! one advances its counter, `reveal_seed` with purpose `reveal`/`qr` only
//! after an explicit click on a `full-seed` token. Every one is audited by
//! the host. Seeds are never kept: hiding the panel drops them from the DOM.
//!
//! - `mod.rs`: start-up (what the popup is about, the host, the policy) and
//!   the popup's state;
//! - `dom`: finding, cloning and filling popup.html's markup;
//! - `states`: the panels shown instead of a list (empty, not installed,
//!   refused, host error, the team server's states, "Sign in to <org>");
//! - `notes`: the organization policy's "Managed by" section;
//! - `list`: the token list, its search and keyboard;
//! - `codes`: live codes and their countdown rings (none for HOTP);
//! - `actions`: copy, fill on the page, reveal the seed.

mod actions;
mod codes;
mod dom;
mod list;
mod notes;
mod states;

use std::cell::RefCell;
use std::rc::Rc;

use twofill_protocol::{CodeReply, TokenEntry};
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, HtmlElement};

use crate::browser;
use crate::host_client::HostClient;
use crate::policy::ManagedPolicy;

/// One listed token and the parts of its `#token-item` clone we update.
struct Item {
    entry: TokenEntry,
    li: HtmlElement,
    code_el: Element,
    /// The countdown ring; `None` for a HOTP token, whose codes do not expire.
    countdown: Option<Countdown>,
    seed: Element,
    code: Option<CodeReply>,
    loading: bool,
    /// Lower-cased issuer, account and sites, for the search box.
    haystack: String,
}

/// The ring's arc and the seconds in its middle.
struct Countdown {
    ring: Element,
    secs: Element,
}

struct Popup {
    doc: Document,
    status: Element,
    items: Vec<Item>,
    /// The site the popup is about: the active tab's, or `?origin=`.
    origin: Option<String>,
    /// The active tab, when the origin came from it ("fill on this page").
    tab_id: Option<i32>,
    clear_after: u32,
    /// The organization's extension policy (`storage.managed`).
    policy: Rc<ManagedPolicy>,
    host: Rc<HostClient>,
    /// The host's own policy lets full-seed holders see seeds.
    host_allows_seeds: bool,
}

type Shared = Rc<RefCell<Popup>>;

impl Popup {
    /// Seeds are offered only when neither the organization's extension
    /// policy (`ShowSeeds`) nor the host's policy forbids it.
    fn seeds_allowed(&self) -> bool {
        self.policy.show_seeds() && self.host_allows_seeds
    }
}

/// Announces `message` on the status line.
fn say(popup: &Shared, message: &str) {
    let status = popup.borrow().status.clone();
    // Empty first, so that the same message twice is announced twice.
    status.set_text_content(None);
    status.set_text_content(Some(message));
}

/// `https://host:port` from a tab URL; `None` for anything but http(s).
fn web_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// Entry point, called by `popup.js` once the module is instantiated.
#[wasm_bindgen(js_name = startPopup)]
pub async fn start_popup() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let doc = window.document().ok_or("no document")?;
    let params = web_sys::UrlSearchParams::new_with_str(&window.location().search()?)?;
    // `?theme=` and `?origin=` let tests render a state without a toolbar
    // click; web pages cannot navigate to extension pages, so they are not
    // a way in for a site.
    if let (Some(theme), Some(root)) = (
        params.get("theme").filter(|t| t == "light" || t == "dark"),
        doc.document_element(),
    ) {
        root.set_attribute("data-theme", &theme)?;
    }
    let policy = browser::policy().await;
    // The organization's delay wins over the test parameter.
    let clear_after = policy.clipboard_clear_seconds().unwrap_or_else(|| {
        params
            .get("clear_after")
            .and_then(|s| s.parse().ok())
            .filter(|s| (1..=600).contains(s))
            .unwrap_or(ManagedPolicy::default_clipboard_clear_seconds())
    });
    // `?tab=` (tests) names the tab "fill on this page" goes to. The origin
    // a fill is asked for is still the one the browser reports for the
    // frame that fills, never this parameter.
    let tab_override = params.get("tab").and_then(|t| t.parse::<i32>().ok());
    let (origin, tab_id) = match params.get("origin") {
        Some(o) => (web_origin(&o), tab_override),
        None => match browser::active_tab().await {
            Some((id, url)) => match web_origin(&url) {
                Some(o) => (Some(o), Some(id)),
                None => (None, None),
            },
            None => (None, None),
        },
    };
    dom::by_id(&doc, "site").set_text_content(Some(match &origin {
        Some(o) => o.as_str(),
        None => "No web page in this tab",
    }));
    // What the host says about itself (its policy, its audit streams); a
    // host that cannot be reached fails again, visibly, on the list below.
    let host = Rc::new(HostClient::new(&policy));
    let (host_allows_seeds, host_sinks) = match host.hello().await {
        Ok(hello) => (hello.policy.allow_seed_reveal, Some(hello.audit_sinks)),
        Err(_) => (true, None),
    };
    notes::show_managed(&doc, &policy, host_sinks.as_deref());
    let popup = Rc::new(RefCell::new(Popup {
        status: dom::by_id(&doc, "status"),
        doc: doc.clone(),
        items: Vec::new(),
        origin: origin.clone(),
        tab_id,
        clear_after,
        policy: policy.clone(),
        host: host.clone(),
        host_allows_seeds,
    }));

    match host.list_tokens(origin.as_deref()).await {
        Ok(mut tokens) if !tokens.is_empty() => {
            // The host already puts this site's tokens first; keep it so.
            tokens.sort_by_key(|t| !t.bound_here);
            list::show_list(&popup, tokens);
        }
        Ok(_) => states::show_empty(&doc, policy.allow_personal_tokens()),
        Err(e) => states::show_failure(&doc, e.into(), &host),
    }
    if let Some(url) = &policy.support_url
        && states::body_state(&doc).is_some_and(|s| s != "list")
    {
        states::add_help_link(&doc, url);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_come_from_http_urls_only() {
        assert_eq!(
            web_origin("https://a.example:8443/x?y#z").as_deref(),
            Some("https://a.example:8443")
        );
        assert_eq!(
            web_origin("http://u:p@a.example/").as_deref(),
            Some("http://a.example")
        );
        assert_eq!(web_origin("chrome://extensions"), None);
        assert_eq!(web_origin("file:///etc/passwd"), None);
    }
}
