//! The toolbar popup: the tokens this user may use, with live codes.
//!
//! `popup.html` holds the static skeleton (header, search box, state panel,
//! list, status line); everything else is built here with web-sys. The popup
//! talks to the native host directly (`chrome.runtime.sendNativeMessage`
//! works from extension pages); the service worker only keeps the clipboard
//! clean after the popup has closed.
//!
//! What the host sees from us: `list_tokens` with the active tab's origin,
//! `get_code` with purpose `view` per token (again when its window rolls
//! over) and `copy` on copy, `reveal_seed` with purpose `reveal`/`qr` only
//! after an explicit click on a `full-seed` token. Every one is audited by
//! the host. Seeds are never kept: hiding the panel drops them from the DOM.

use std::cell::RefCell;
use std::rc::Rc;

use twofill_protocol::{CodePurpose, CodeReply, ErrorCode, SeedPurpose, TokenEntry};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Document, Element, HtmlElement, HtmlInputElement, KeyboardEvent};

use crate::browser;
use crate::host_client::{HostClient, HostError};
use crate::policy::{AutofillMode, ManagedPolicy};

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const RING_RADIUS: f64 = 15.0;

struct Item {
    entry: TokenEntry,
    li: HtmlElement,
    code_el: Element,
    ring: Element,
    secs: Element,
    seed: Element,
    code: Option<CodeReply>,
    loading: bool,
    /// Lower-cased issuer, account and sites, for the search box.
    haystack: String,
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

/// Why the list could not be shown.
enum Failure {
    NotInstalled(String),
    Refused(String),
    Host(String),
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Failure {
        match e {
            HostError::NotInstalled(m) => Failure::NotInstalled(m),
            HostError::RefusedByPolicy(m) => Failure::Refused(m),
            HostError::Host(error)
                if matches!(
                    error.code,
                    ErrorCode::CallerNotAllowed | ErrorCode::NotPermitted
                ) =>
            {
                Failure::Refused(error.message)
            }
            other => Failure::Host(other.to_string()),
        }
    }
}

fn label(entry: &TokenEntry) -> String {
    twofill_words::token_label(entry.token.issuer.as_deref(), &entry.token.account)
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

/// Groups a code for reading: `123 456`, `1234 5678`.
fn spaced(code: &str) -> String {
    let half = code.len().div_ceil(2);
    if code.len() < 6 || !code.is_ascii() {
        return code.to_owned();
    }
    format!("{} {}", &code[..half], &code[half..])
}

fn el(doc: &Document, tag: &str, class: &str) -> Element {
    let e = doc.create_element(tag).expect("create element");
    if !class.is_empty() {
        e.set_class_name(class);
    }
    e
}

fn text(doc: &Document, tag: &str, class: &str, content: &str) -> Element {
    let e = el(doc, tag, class);
    e.set_text_content(Some(content));
    e
}

fn svg(doc: &Document, tag: &str, attrs: &[(&str, &str)]) -> Element {
    let e = doc
        .create_element_ns(Some(SVG_NS), tag)
        .expect("create svg element");
    for (k, v) in attrs {
        e.set_attribute(k, v).expect("set attribute");
    }
    e
}

fn by_id(doc: &Document, id: &str) -> Element {
    doc.get_element_by_id(id)
        .unwrap_or_else(|| panic!("popup.html lacks #{id}"))
}

fn set_hidden(e: &Element, hidden: bool) {
    if hidden {
        e.set_attribute("hidden", "").ok();
    } else {
        e.remove_attribute("hidden").ok();
    }
}

fn on(target: &Element, event: &str, handler: impl FnMut(web_sys::Event) + 'static) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
    target
        .add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())
        .expect("add listener");
    closure.forget();
}

fn on_key(target: &Element, mut handler: impl FnMut(KeyboardEvent) + 'static) {
    on(target, "keydown", move |e| {
        if let Ok(k) = e.dyn_into::<KeyboardEvent>() {
            handler(k);
        }
    });
}

fn say(popup: &Shared, message: &str) {
    let status = popup.borrow().status.clone();
    // Empty first, so that the same message twice is announced twice.
    status.set_text_content(None);
    status.set_text_content(Some(message));
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
    by_id(&doc, "site").set_text_content(Some(match &origin {
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
    show_managed(&doc, &policy, host_sinks.as_deref());
    let popup = Rc::new(RefCell::new(Popup {
        status: by_id(&doc, "status"),
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
            show_list(&popup, tokens);
        }
        Ok(_) => show_empty(&doc, policy.allow_personal_tokens()),
        Err(e) => show_failure(&doc, e.into()),
    }
    if let Some(url) = &policy.support_url
        && body_state(&doc).is_some_and(|s| s != "list")
    {
        let panel = by_id(&doc, "state");
        let p = el(&doc, "p", "help");
        let a = text(&doc, "a", "", "Get help from your IT department");
        a.set_attribute("href", url).ok();
        a.set_attribute("target", "_blank").ok();
        a.set_attribute("rel", "noopener").ok();
        p.append_child(&a).ok();
        panel.append_child(&p).ok();
    }
    Ok(())
}

fn body_state(doc: &Document) -> Option<String> {
    doc.body()?.get_attribute("data-state")
}

/// "Managed by your organization": shown whenever IT set any policy, with
/// the organization's notice and anything in its policy that was ignored
/// or that this computer's host does not match.
fn show_managed(doc: &Document, policy: &ManagedPolicy, host_sinks: Option<&[String]>) {
    let Some(section) = doc.get_element_by_id("managed") else {
        return;
    };
    if !policy.managed {
        return;
    }
    section.set_text_content(None);
    let who = policy
        .organization_name
        .as_deref()
        .unwrap_or("your organization");
    section
        .append_child(&text(doc, "p", "managed-by", &format!("Managed by {who}")))
        .ok();
    let mut notes = Vec::new();
    match policy.autofill_mode() {
        AutofillMode::Auto => {}
        AutofillMode::Click => {
            notes.push("Codes are filled when you click “Fill code” on the page.".to_owned())
        }
        AutofillMode::Off => {
            notes.push("Filling codes into pages is turned off; copy them from here.".to_owned())
        }
    }
    if let Some(notice) = &policy.audit_notice {
        notes.push(notice.clone());
    }
    for note in notes {
        section
            .append_child(&text(doc, "p", "managed-note", &note))
            .ok();
    }
    if let Some(sinks) = host_sinks {
        let missing = policy.missing_audit_sinks(sinks);
        if !missing.is_empty() {
            section
                .append_child(&text(
                    doc,
                    "p",
                    "managed-warning",
                    &format!(
                        "This computer's twofill host does not stream audit records to {}. Tell your IT department.",
                        missing.join(", ")
                    ),
                ))
                .ok();
        }
    }
    for problem in &policy.problems {
        section
            .append_child(&text(
                doc,
                "p",
                "managed-warning",
                &format!("Policy value ignored: {problem}"),
            ))
            .ok();
    }
    set_hidden(&section, false);
}

fn set_state(doc: &Document, state: &str) {
    if let Some(body) = doc.body() {
        body.set_attribute("data-state", state).ok();
    }
}

/// Fills the state panel: a heading, paragraphs, and an optional command.
fn state_panel(doc: &Document, state: &str, title: &str, lines: &[&str], command: Option<&str>) {
    set_state(doc, state);
    let panel = by_id(doc, "state");
    panel.set_text_content(None);
    panel.set_class_name(&format!("state state-{state}"));
    panel.append_child(&text(doc, "h2", "", title)).ok();
    for line in lines {
        panel.append_child(&text(doc, "p", "", line)).ok();
    }
    if let Some(cmd) = command {
        let pre = el(doc, "pre", "command");
        pre.append_child(&text(doc, "code", "", cmd)).ok();
        panel.append_child(&pre).ok();
    }
    set_hidden(&panel, false);
}

fn show_empty(doc: &Document, personal_allowed: bool) {
    if personal_allowed {
        state_panel(
            doc,
            "empty",
            "No tokens yet",
            &[
                "The vault has no token you may use.",
                "Ask your twofill admin to grant you one, or enroll one for yourself:",
            ],
            Some("twofill-host token add --personal --site example.com --uri 'otpauth://…'"),
        );
    } else {
        state_panel(
            doc,
            "empty",
            "No tokens yet",
            &[
                "The vault has no token shared with you.",
                "Ask your twofill admin to grant you one.",
            ],
            None,
        );
    }
}

fn show_failure(doc: &Document, failure: Failure) {
    match failure {
        Failure::NotInstalled(detail) => state_panel(
            doc,
            "not-installed",
            "The twofill host is not installed",
            &[
                "twofill needs its companion program, twofill-host, on this computer.",
                "Install it, then register it for your browsers:",
                &format!("(Browser: {detail})"),
            ],
            Some("twofill-host install"),
        ),
        Failure::Refused(detail) => state_panel(
            doc,
            "refused",
            "Refused by policy",
            &[
                "Your organisation's policy does not let this browser or account use twofill.",
                &detail,
                "Ask your twofill admin for access.",
            ],
            None,
        ),
        Failure::Host(detail) => state_panel(
            doc,
            "host-error",
            "The twofill host reported an error",
            &[
                &detail,
                "Try again; if it persists, tell your twofill admin.",
            ],
            None,
        ),
    }
}

fn show_list(popup: &Shared, tokens: Vec<TokenEntry>) {
    let doc = popup.borrow().doc.clone();
    set_state(&doc, "list");
    set_hidden(&by_id(&doc, "state"), true);
    let list = by_id(&doc, "tokens");
    let search: HtmlInputElement = by_id(&doc, "search").unchecked_into();
    set_hidden(&by_id(&doc, "search-box"), false);
    set_hidden(&list, false);
    let (can_fill, origin) = {
        let p = popup.borrow();
        let site_ok = p
            .origin
            .as_deref()
            .is_some_and(|o| p.policy.may_fill(o).is_ok());
        (p.tab_id.is_some() && site_ok, p.origin.clone())
    };

    for (index, entry) in tokens.into_iter().enumerate() {
        let item = build_item(popup, &doc, index, entry, can_fill);
        list.append_child(&item.li).ok();
        popup.borrow_mut().items.push(item);
    }
    if origin.is_some() && !popup.borrow().items.iter().any(|i| i.entry.bound_here) {
        say(
            popup,
            "No token is bound to this site; all your tokens are listed.",
        );
    }

    // Search: filter as you type; arrows leave the box for the list.
    {
        let popup = popup.clone();
        let input = search.clone();
        on(&search, "input", move |_: web_sys::Event| {
            filter(&popup, &input.value());
        });
    }
    {
        let popup = popup.clone();
        let input = search.clone();
        on_key(&search, move |e: KeyboardEvent| match e.key().as_str() {
            "ArrowDown" | "Enter" => {
                e.prevent_default();
                if let Some(first) = visible_items(&popup).first() {
                    first.focus().ok();
                }
            }
            "Escape" if !input.value().is_empty() => {
                e.prevent_default();
                input.set_value("");
                filter(&popup, "");
            }
            _ => {}
        });
    }
    search.focus().ok();

    for index in 0..popup.borrow().items.len() {
        let popup = popup.clone();
        spawn_local(async move { load_code(&popup, index).await });
    }
    start_ticker(popup);
}

fn build_item(
    popup: &Shared,
    doc: &Document,
    index: usize,
    entry: TokenEntry,
    can_fill: bool,
) -> Item {
    let li: HtmlElement = el(doc, "li", "token").unchecked_into();
    li.set_tab_index(0);
    li.set_attribute("data-token", &entry.token.id).ok();
    li.set_attribute("data-access", entry.access.as_str()).ok();
    if entry.bound_here {
        li.class_list().add_1("bound").ok();
    }
    li.set_attribute(
        "aria-label",
        &format!("{}: press Enter to copy the code", label(&entry)),
    )
    .ok();

    // Countdown ring.
    let ring_box = el(doc, "div", "ring");
    let svg_el = svg(
        doc,
        "svg",
        &[("viewBox", "0 0 36 36"), ("aria-hidden", "true")],
    );
    let r = RING_RADIUS.to_string();
    svg_el
        .append_child(&svg(
            doc,
            "circle",
            &[("class", "track"), ("cx", "18"), ("cy", "18"), ("r", &r)],
        ))
        .ok();
    let circumference = (2.0 * std::f64::consts::PI * RING_RADIUS).to_string();
    let ring = svg(
        doc,
        "circle",
        &[
            ("class", "progress"),
            ("cx", "18"),
            ("cy", "18"),
            ("r", &r),
            ("stroke-dasharray", &circumference),
            ("stroke-dashoffset", "0"),
            ("transform", "rotate(-90 18 18)"),
        ],
    );
    svg_el.append_child(&ring).ok();
    ring_box.append_child(&svg_el).ok();
    let secs = text(doc, "span", "secs", "");
    ring_box.append_child(&secs).ok();
    li.append_child(&ring_box).ok();

    let info = el(doc, "div", "info");
    let title = el(doc, "div", "title");
    title
        .append_child(&text(
            doc,
            "span",
            "issuer",
            entry
                .token
                .issuer
                .as_deref()
                .unwrap_or(&entry.token.account),
        ))
        .ok();
    if entry.bound_here {
        title
            .append_child(&text(doc, "span", "badge", "this site"))
            .ok();
    }
    if entry.access.includes_seed() {
        title
            .append_child(&text(doc, "span", "badge seed-badge", "full seed"))
            .ok();
    }
    if entry.personal {
        title
            .append_child(&text(doc, "span", "badge personal-badge", "personal"))
            .ok();
    }
    info.append_child(&title).ok();
    if entry.token.issuer.is_some() {
        info.append_child(&text(doc, "div", "account", &entry.token.account))
            .ok();
    }
    if !entry.sites.is_empty() {
        info.append_child(&text(doc, "div", "sites", &entry.sites.join(", ")))
            .ok();
    }
    li.append_child(&info).ok();

    let code_el = text(doc, "div", "code", "······");
    code_el.set_attribute("aria-live", "off").ok();
    li.append_child(&code_el).ok();

    let actions = el(doc, "div", "actions");
    let name = label(&entry);
    let copy = button(doc, "copy", "Copy", &format!("Copy the code for {name}"));
    {
        let popup = popup.clone();
        on(&copy, "click", move |e: web_sys::Event| {
            e.stop_propagation();
            let popup = popup.clone();
            spawn_local(async move { copy_code(&popup, index).await });
        });
    }
    actions.append_child(&copy).ok();
    if can_fill && entry.bound_here {
        let fill = button(
            doc,
            "fill",
            "Fill",
            &format!("Fill the code for {name} on this page"),
        );
        let popup = popup.clone();
        on(&fill, "click", move |e: web_sys::Event| {
            e.stop_propagation();
            let popup = popup.clone();
            spawn_local(async move { fill_on_page(&popup, index).await });
        });
        actions.append_child(&fill).ok();
    }
    if entry.access.includes_seed() && seeds_allowed(popup) {
        let reveal = button(
            doc,
            "reveal",
            "Seed…",
            &format!("Reveal the seed of {name}"),
        );
        let popup = popup.clone();
        on(&reveal, "click", move |e: web_sys::Event| {
            e.stop_propagation();
            let popup = popup.clone();
            spawn_local(async move { show_seed(&popup, index, SeedPurpose::Reveal).await });
        });
        actions.append_child(&reveal).ok();
    }
    li.append_child(&actions).ok();

    let seed = el(doc, "div", "seed");
    set_hidden(&seed, true);
    li.append_child(&seed).ok();

    // Keyboard: Enter copies, arrows/Home/End move between visible items.
    {
        let popup = popup.clone();
        let me = li.clone();
        on_key(&li, move |e: KeyboardEvent| {
            // Only when the item itself has focus, not one of its buttons.
            let target = e.target().and_then(|t| t.dyn_into::<HtmlElement>().ok());
            let on_item = target.as_ref() == Some(&me);
            let key = e.key();
            match key.as_str() {
                "Enter" | " " if on_item => {
                    e.prevent_default();
                    let popup = popup.clone();
                    spawn_local(async move { copy_code(&popup, index).await });
                }
                "ArrowDown" | "ArrowUp" | "Home" | "End" => {
                    e.prevent_default();
                    move_focus(&popup, &me, &key);
                }
                _ => {}
            }
        });
    }

    let haystack = format!(
        "{} {} {}",
        entry.token.issuer.as_deref().unwrap_or(""),
        entry.token.account,
        entry.sites.join(" ")
    )
    .to_lowercase();
    Item {
        entry,
        li,
        code_el,
        ring,
        secs,
        seed,
        code: None,
        loading: false,
        haystack,
    }
}

/// Seeds are offered only when neither the organization's extension policy
/// (`ShowSeeds`) nor the host's policy forbids it.
fn seeds_allowed(popup: &Shared) -> bool {
    seeds_allowed_in(&popup.borrow())
}

fn seeds_allowed_in(p: &Popup) -> bool {
    p.policy.show_seeds() && p.host_allows_seeds
}

fn button(doc: &Document, class: &str, caption: &str, aria: &str) -> Element {
    let b = text(doc, "button", class, caption);
    b.set_attribute("type", "button").ok();
    b.set_attribute("aria-label", aria).ok();
    b
}

fn visible_items(popup: &Shared) -> Vec<HtmlElement> {
    popup
        .borrow()
        .items
        .iter()
        .filter(|i| !i.li.has_attribute("hidden"))
        .map(|i| i.li.clone())
        .collect()
}

fn move_focus(popup: &Shared, from: &HtmlElement, key: &str) {
    let items = visible_items(popup);
    let Some(pos) = items.iter().position(|li| li == from) else {
        return;
    };
    let target = match key {
        "ArrowDown" => items.get(pos + 1),
        "ArrowUp" if pos == 0 => {
            let doc = popup.borrow().doc.clone();
            let search: HtmlElement = by_id(&doc, "search").unchecked_into();
            search.focus().ok();
            return;
        }
        "ArrowUp" => items.get(pos - 1),
        "Home" => items.first(),
        _ => items.last(),
    };
    if let Some(t) = target {
        t.focus().ok();
    }
}

fn filter(popup: &Shared, query: &str) {
    let query = query.trim().to_lowercase();
    let words: Vec<&str> = query.split_whitespace().collect();
    let p = popup.borrow();
    let mut shown = 0;
    for item in &p.items {
        let hit = words.iter().all(|w| item.haystack.contains(w));
        set_hidden(&item.li, !hit);
        shown += usize::from(hit);
    }
    set_hidden(&by_id(&p.doc, "nomatch"), shown > 0);
}

/// Fetches the code shown for one token (purpose `view`).
async fn load_code(popup: &Shared, index: usize) {
    let (token, origin, host) = {
        let mut p = popup.borrow_mut();
        let origin = p.origin.clone();
        let host = p.host.clone();
        let item = &mut p.items[index];
        if item.loading {
            return;
        }
        item.loading = true;
        (item.entry.token.id.clone(), origin, host)
    };
    let reply = host
        .get_code(CodePurpose::View, origin.as_deref(), Some(&token))
        .await;
    let mut p = popup.borrow_mut();
    let item = &mut p.items[index];
    item.loading = false;
    match reply {
        Ok(code) => {
            item.code_el.set_text_content(Some(&spaced(&code.code)));
            item.li
                .set_attribute(
                    "aria-label",
                    &format!(
                        "{}: code {}. Press Enter to copy",
                        label(&item.entry),
                        code.code
                            .chars()
                            .map(String::from)
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                )
                .ok();
            item.li.set_attribute("data-code", &code.code).ok();
            item.li.class_list().remove_1("failed").ok();
            item.code = Some(code);
        }
        Err(e) => {
            item.code = None;
            item.code_el.set_text_content(Some("—"));
            item.li.remove_attribute("data-code").ok();
            item.li.class_list().add_1("failed").ok();
            item.code_el.set_attribute("title", &e.to_string()).ok();
        }
    }
    drop(p);
    tick(popup);
}

fn start_ticker(popup: &Shared) {
    let popup = popup.clone();
    let closure = Closure::<dyn FnMut()>::new(move || tick(&popup));
    if let Some(w) = web_sys::window() {
        w.set_interval_with_callback_and_timeout_and_arguments_0(
            closure.as_ref().unchecked_ref(),
            1000,
        )
        .ok();
    }
    closure.forget();
}

/// Once a second: move the rings, and fetch codes whose window is over.
fn tick(popup: &Shared) {
    let now = browser::now_seconds();
    let circumference = 2.0 * std::f64::consts::PI * RING_RADIUS;
    let mut stale = Vec::new();
    {
        let p = popup.borrow();
        for (index, item) in p.items.iter().enumerate() {
            let Some(code) = &item.code else {
                continue;
            };
            let period = (code.valid_until - code.valid_from).max(1) as f64;
            let left = code.valid_until as f64 - now;
            if left <= 0.0 {
                if !item.loading {
                    stale.push(index);
                }
                continue;
            }
            let shown = left.ceil() as u64;
            item.secs.set_text_content(Some(&shown.to_string()));
            let offset = circumference * (1.0 - left / period);
            item.ring
                .set_attribute("stroke-dashoffset", &format!("{offset:.2}"))
                .ok();
            let low = left <= 5.0;
            if low != item.li.class_list().contains("low") {
                item.li.class_list().toggle("low").ok();
            }
        }
    }
    for index in stale {
        let popup = popup.clone();
        spawn_local(async move { load_code(&popup, index).await });
    }
}

/// Copies a fresh code (purpose `copy`, audited by the host) and asks the
/// service worker to clear the clipboard later.
async fn copy_code(popup: &Shared, index: usize) {
    let (token, origin, name, clear_after, li, host) = {
        let p = popup.borrow();
        let item = &p.items[index];
        (
            item.entry.token.id.clone(),
            p.origin.clone(),
            label(&item.entry),
            p.clear_after,
            item.li.clone(),
            p.host.clone(),
        )
    };
    let reply = host
        .get_code(CodePurpose::Copy, origin.as_deref(), Some(&token))
        .await;
    let code = match reply {
        Ok(code) => code.code,
        Err(e) => {
            say(popup, &format!("Could not copy: {e}"));
            return;
        }
    };
    if let Err(e) = browser::copy_to_clipboard(&code).await {
        say(popup, &format!("Could not copy: {e}"));
        return;
    }
    browser::clear_clipboard_later(clear_after * 1000);
    li.class_list().add_1("copied").ok();
    say(
        popup,
        &format!("Copied the code for {name}. The clipboard is cleared in {clear_after} s."),
    );
    browser::sleep_ms(1500).await;
    li.class_list().remove_1("copied").ok();
}

/// Asks the content script in the active tab to fill this token's code.
/// The service worker takes the origin from the browser's sender info and
/// the content script fills only a field the detector accepts, or the
/// focused one.
async fn fill_on_page(popup: &Shared, index: usize) {
    let (tab, token, name) = {
        let p = popup.borrow();
        let item = &p.items[index];
        (p.tab_id, item.entry.token.id.clone(), label(&item.entry))
    };
    let Some(tab) = tab else {
        return;
    };
    match browser::fill_in_tab(tab, &token).await {
        Ok(()) => {
            say(popup, &format!("Filled the code for {name}."));
            browser::sleep_ms(600).await;
            if let Some(w) = web_sys::window() {
                w.close().ok();
            }
        }
        Err(e) => say(popup, &format!("Could not fill: {e}")),
    }
}

/// Shows the seed (or its QR code) of a full-seed token, after the user
/// asked for it; the host audits it as `seed.reveal` / `seed.qr`.
async fn show_seed(popup: &Shared, index: usize, purpose: SeedPurpose) {
    let (token, panel, doc, host) = {
        let p = popup.borrow();
        let item = &p.items[index];
        if !item.entry.access.includes_seed() || !seeds_allowed_in(&p) {
            return;
        }
        (
            item.entry.token.id.clone(),
            item.seed.clone(),
            p.doc.clone(),
            p.host.clone(),
        )
    };
    let seed = match host.reveal_seed(&token, purpose).await {
        Ok(seed) => seed,
        Err(e) => {
            say(popup, &format!("Could not reveal the seed: {e}"));
            return;
        }
    };
    panel.set_text_content(None);
    panel.set_attribute("role", "group").ok();
    panel.set_attribute("aria-label", "Seed").ok();
    match purpose {
        SeedPurpose::Qr => match qr_svg(&doc, &seed.uri) {
            Some(svg) => {
                panel.append_child(&svg).ok();
            }
            None => {
                panel
                    .append_child(&text(&doc, "p", "", "The URI is too long for a QR code."))
                    .ok();
            }
        },
        _ => {
            panel
                .append_child(&text(&doc, "div", "seed-label", "Secret (base32)"))
                .ok();
            panel
                .append_child(&text(&doc, "code", "secret", &seed.secret))
                .ok();
        }
    }
    let row = el(&doc, "div", "seed-actions");
    if purpose != SeedPurpose::Qr {
        let qr = button(&doc, "qr", "Show QR", "Show the seed as a QR code");
        let popup2 = popup.clone();
        on(&qr, "click", move |e: web_sys::Event| {
            e.stop_propagation();
            let popup = popup2.clone();
            spawn_local(async move { show_seed(&popup, index, SeedPurpose::Qr).await });
        });
        row.append_child(&qr).ok();
    }
    let hide = button(&doc, "hide", "Hide", "Hide the seed");
    {
        let panel = panel.clone();
        let li = popup.borrow().items[index].li.clone();
        on(&hide, "click", move |e: web_sys::Event| {
            e.stop_propagation();
            panel.set_text_content(None);
            set_hidden(&panel, true);
            li.focus().ok();
        });
    }
    row.append_child(&hide).ok();
    panel.append_child(&row).ok();
    set_hidden(&panel, false);
    say(
        popup,
        match purpose {
            SeedPurpose::Qr => "Showing the seed as a QR code. This was recorded.",
            _ => "Showing the seed. This was recorded.",
        },
    );
}

/// The otpauth URI as an SVG QR code: one path of unit squares.
fn qr_svg(doc: &Document, uri: &str) -> Option<Element> {
    let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let size = width + 2 * quiet;
    let mut d = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            d.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    let view = format!("0 0 {size} {size}");
    let root = svg(
        doc,
        "svg",
        &[
            ("class", "qr"),
            ("viewBox", &view),
            ("role", "img"),
            ("aria-label", "QR code of the token's otpauth URI"),
            ("shape-rendering", "crispEdges"),
        ],
    );
    let s = size.to_string();
    root.append_child(&svg(
        doc,
        "rect",
        &[("width", &s), ("height", &s), ("fill", "#fff")],
    ))
    .ok();
    root.append_child(&svg(doc, "path", &[("d", &d), ("fill", "#000")]))
        .ok();
    Some(root)
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

    #[test]
    fn codes_are_grouped() {
        assert_eq!(spaced("123456"), "123 456");
        assert_eq!(spaced("12345678"), "1234 5678");
        assert_eq!(spaced("12345"), "12345");
    }
}
