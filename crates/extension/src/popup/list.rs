//! The token list: one `#token-item` clone per token, the search box and
//! keyboard movement between items.

use twofill_protocol::{SeedPurpose, TokenEntry};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Document, HtmlElement, HtmlInputElement, KeyboardEvent};

use super::{Countdown, Item, Shared, actions, codes, dom, say, states};

pub fn show_list(popup: &Shared, tokens: Vec<TokenEntry>) {
    let doc = popup.borrow().doc.clone();
    states::set_state(&doc, "list");
    dom::set_hidden(&dom::by_id(&doc, "state"), true);
    let list = dom::by_id(&doc, "tokens");
    let search: HtmlInputElement = dom::by_id(&doc, "search").unchecked_into();
    dom::set_hidden(&dom::by_id(&doc, "search-box"), false);
    dom::set_hidden(&list, false);
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
        dom::on(&search, "input", move |_: web_sys::Event| {
            filter(&popup, &input.value());
        });
    }
    {
        let popup = popup.clone();
        let input = search.clone();
        dom::on_key(&search, move |e: KeyboardEvent| match e.key().as_str() {
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

    // HOTP codes only on a click: each one advances the token's counter.
    let live: Vec<usize> = (popup.borrow().items.iter().enumerate())
        .filter(|(_, item)| item.countdown.is_some())
        .map(|(index, _)| index)
        .collect();
    for index in live {
        let popup = popup.clone();
        spawn_local(async move { codes::load_code(&popup, index).await });
    }
    codes::start_ticker(popup);
}

/// Runs `action` for item `index` on a click of `button`.
fn on_action<F, Fut>(popup: &Shared, button: &web_sys::Element, index: usize, action: F)
where
    F: Fn(Shared, usize) -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let popup = popup.clone();
    dom::on_click(button, move || spawn_local(action(popup.clone(), index)));
}

fn build_item(
    popup: &Shared,
    doc: &Document,
    index: usize,
    entry: TokenEntry,
    can_fill: bool,
) -> Item {
    let li: HtmlElement = dom::clone_element(doc, "token-item").unchecked_into();
    li.set_attribute("data-token", &entry.token.id).ok();
    li.set_attribute("data-access", entry.access.as_str()).ok();
    if entry.bound_here {
        li.class_list().add_1("bound").ok();
    }
    let name = entry.token.label();
    li.set_attribute(
        "aria-label",
        &format!("{name}: press Enter to copy the code"),
    )
    .ok();

    let issuer = entry
        .token
        .issuer
        .as_deref()
        .unwrap_or(&entry.token.account);
    dom::fill(&li, "issuer", issuer);
    dom::keep_if(&li, "bound-badge", entry.bound_here);
    dom::keep_if(&li, "seed-badge", entry.access.includes_seed());
    dom::keep_if(&li, "personal-badge", entry.personal);
    if let Some(account) = dom::keep_if(&li, "account", entry.token.issuer.is_some()) {
        account.set_text_content(Some(&entry.token.account));
    }
    if let Some(sites) = dom::keep_if(&li, "sites", !entry.sites.is_empty()) {
        sites.set_text_content(Some(&entry.sites.join(", ")));
    }

    let hotp = entry.kind.is_counter_based();
    let countdown = dom::keep_if(&li, "ring", !hotp).map(|ring| Countdown {
        secs: dom::part(&ring, "secs"),
        ring: dom::part(&ring, "progress"),
    });
    if let Some(next) = dom::keep_if(&li, "next", hotp) {
        li.class_list().add_1("hotp").ok();
        next.set_attribute(
            "aria-label",
            &format!("Show the next code for {name} (counter-based: each code is used once)"),
        )
        .ok();
        on_action(popup, &next, index, |popup, index| async move {
            codes::load_code(&popup, index).await
        });
    }

    let copy = dom::part(&li, "copy");
    copy.set_attribute("aria-label", &format!("Copy the code for {name}"))
        .ok();
    on_action(popup, &copy, index, |popup, index| async move {
        actions::copy_code(&popup, index).await
    });
    if let Some(fill) = dom::keep_if(&li, "fill", can_fill && entry.bound_here) {
        fill.set_attribute(
            "aria-label",
            &format!("Fill the code for {name} on this page"),
        )
        .ok();
        on_action(popup, &fill, index, |popup, index| async move {
            actions::fill_on_page(&popup, index).await
        });
    }
    let seeds = entry.access.includes_seed() && popup.borrow().seeds_allowed();
    if let Some(reveal) = dom::keep_if(&li, "reveal", seeds) {
        reveal
            .set_attribute("aria-label", &format!("Reveal the seed of {name}"))
            .ok();
        on_action(popup, &reveal, index, |popup, index| async move {
            actions::show_seed(&popup, index, SeedPurpose::Reveal).await
        });
    }

    let recovery = entry.access.includes_seed() && entry.recovery_codes.is_some();
    if let Some(button) = dom::keep_if(&li, "recovery", recovery) {
        button
            .set_attribute(
                "aria-label",
                &format!("Take one single-use recovery code of {name}"),
            )
            .ok();
        on_action(popup, &button, index, |popup, index| async move {
            actions::offer_recovery_code(&popup, index)
        });
    }

    // Keyboard: Enter copies, arrows/Home/End move between visible items.
    {
        let popup = popup.clone();
        let me = li.clone();
        dom::on_key(&li, move |e: KeyboardEvent| {
            // Only when the item itself has focus, not one of its buttons.
            let target = e.target().and_then(|t| t.dyn_into::<HtmlElement>().ok());
            let on_item = target.as_ref() == Some(&me);
            let key = e.key();
            match key.as_str() {
                "Enter" | " " if on_item => {
                    e.prevent_default();
                    let popup = popup.clone();
                    spawn_local(async move { actions::copy_code(&popup, index).await });
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
        code_el: dom::part(&li, "code"),
        countdown,
        seed: dom::part(&li, "seed"),
        entry,
        li,
        code: None,
        loading: false,
        haystack,
    }
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
            let search: HtmlElement = dom::by_id(&doc, "search").unchecked_into();
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
        dom::set_hidden(&item.li, !hit);
        shown += usize::from(hit);
    }
    dom::set_hidden(&dom::by_id(&p.doc, "nomatch"), shown > 0);
}
