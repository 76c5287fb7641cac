//! What a click on an item does: copy its code, fill it on the page, show
//! its seed, take a recovery code. Each asks the host afresh, and the host
//! audits it.

use twofill_protocol::{CodePurpose, SeedPurpose};
use wasm_bindgen_futures::spawn_local;
use web_sys::{Document, Element};

use super::{Shared, dom, say};
use crate::browser;

/// Copies a fresh code (purpose `copy`, audited by the host) and asks the
/// service worker to clear the clipboard later.
pub async fn copy_code(popup: &Shared, index: usize) {
    let (token, origin, name, clear_after, li, host) = {
        let p = popup.borrow();
        let item = &p.items[index];
        (
            item.entry.token.id.clone(),
            p.origin.clone(),
            item.entry.token.label(),
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
    {
        // A HOTP copy is a new code, and the one shown before is now spent.
        let p = popup.borrow();
        let item = &p.items[index];
        if item.countdown.is_none() {
            item.code_el
                .set_text_content(Some(&super::codes::spaced(&code)));
        }
    }
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
pub async fn fill_on_page(popup: &Shared, index: usize) {
    let (tab, token, name) = {
        let p = popup.borrow();
        let item = &p.items[index];
        (
            p.tab_id,
            item.entry.token.id.clone(),
            item.entry.token.label(),
        )
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
pub async fn show_seed(popup: &Shared, index: usize, purpose: SeedPurpose) {
    let (token, panel, doc, host, li) = {
        let p = popup.borrow();
        let item = &p.items[index];
        if !item.entry.access.includes_seed() || !p.seeds_allowed() {
            return;
        }
        (
            item.entry.token.id.clone(),
            item.seed.clone(),
            p.doc.clone(),
            p.host.clone(),
            item.li.clone(),
        )
    };
    let seed = match host.reveal_seed(&token, purpose).await {
        Ok(seed) => seed,
        // Step-up: a seed needs a recent sign-in; offer it in place.
        Err(e) if e.sign_in_needed().is_some() => {
            panel.set_text_content(None);
            let again = dom::clone_element(&doc, "seed-sign-in-again");
            let button = dom::part(&again, "sign-in");
            let (doc, host) = (doc.clone(), host.clone());
            dom::on_click(&button, move || {
                let (doc, host) = (doc.clone(), host.clone());
                spawn_local(async move { super::states::sign_in(&doc, &host, true).await });
            });
            panel.append_child(&again).ok();
            dom::set_hidden(&panel, false);
            say(popup, e.message());
            return;
        }
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
            Some(svg) => panel.append_child(&svg).ok(),
            None => panel
                .append_child(&dom::clone_element(&doc, "seed-too-long"))
                .ok(),
        },
        _ => {
            let secret = dom::clone_template(&doc, "seed-secret");
            dom::fill(&secret, "secret", &seed.secret);
            panel.append_child(&secret).ok()
        }
    };
    let row = dom::clone_element(&doc, "seed-actions");
    if let Some(qr) = dom::keep_if(&row, "qr", purpose != SeedPurpose::Qr) {
        let popup = popup.clone();
        dom::on_click(&qr, move || {
            let popup = popup.clone();
            spawn_local(async move { show_seed(&popup, index, SeedPurpose::Qr).await });
        });
    }
    {
        let panel = panel.clone();
        dom::on_click(&dom::part(&row, "hide"), move || {
            panel.set_text_content(None);
            dom::set_hidden(&panel, true);
            li.focus().ok();
        });
    }
    panel.append_child(&row).ok();
    dom::set_hidden(&panel, false);
    say(
        popup,
        match purpose {
            SeedPurpose::Qr => "Showing the seed as a QR code. This was recorded.",
            _ => "Showing the seed. This was recorded.",
        },
    );
}

/// The first click on "Recovery code…": a warning that the code is
/// single-use, with the button that takes one. Nothing is asked of the host
/// yet.
pub fn offer_recovery_code(popup: &Shared, index: usize) {
    let (panel, doc, left, li) = {
        let p = popup.borrow();
        let item = &p.items[index];
        let Some(left) = item.entry.recovery_codes else {
            return;
        };
        (item.seed.clone(), p.doc.clone(), left, item.li.clone())
    };
    panel.set_text_content(None);
    let warning = dom::clone_element(&doc, "recovery-warning");
    dom::fill(&warning, "left", &left.to_string());
    {
        let popup = popup.clone();
        dom::on_click(&dom::part(&warning, "take"), move || {
            let popup = popup.clone();
            spawn_local(async move { take_recovery_code(&popup, index).await });
        });
    }
    {
        let panel = panel.clone();
        dom::on_click(&dom::part(&warning, "cancel"), move || {
            panel.set_text_content(None);
            dom::set_hidden(&panel, true);
            li.focus().ok();
        });
    }
    panel.append_child(&warning).ok();
    dom::set_hidden(&panel, false);
    say(
        popup,
        "Recovery codes are single-use. Nothing was taken yet.",
    );
}

/// The second, explicit click: one code from the host (marked used and
/// recorded there before it answers), shown once.
async fn take_recovery_code(popup: &Shared, index: usize) {
    let (token, panel, doc, host, li) = {
        let p = popup.borrow();
        let item = &p.items[index];
        (
            item.entry.token.id.clone(),
            item.seed.clone(),
            p.doc.clone(),
            p.host.clone(),
            item.li.clone(),
        )
    };
    let taken = match host.take_recovery_code(&token).await {
        Ok(taken) => taken,
        Err(e) => {
            say(popup, &format!("Could not take a recovery code: {e}"));
            return;
        }
    };
    {
        let mut p = popup.borrow_mut();
        p.items[index].entry.recovery_codes = Some(taken.remaining);
    }
    panel.set_text_content(None);
    let shown = dom::clone_template(&doc, "recovery-code");
    dom::fill(&shown, "code", &taken.code);
    {
        let panel = panel.clone();
        dom::on_click(&dom::part(&shown, "hide"), move || {
            panel.set_text_content(None);
            dom::set_hidden(&panel, true);
            li.focus().ok();
        });
    }
    panel.append_child(&shown).ok();
    dom::set_hidden(&panel, false);
    say(
        popup,
        &format!(
            "Took a recovery code; it is now used and this was recorded. {} left.",
            taken.remaining
        ),
    );
}

/// The otpauth URI as an SVG QR code (`#seed-qr`): one path of unit squares.
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
    let root = dom::clone_element(doc, "seed-qr");
    root.set_attribute("viewBox", &format!("0 0 {size} {size}"))
        .ok();
    let background = dom::part(&root, "background");
    let s = size.to_string();
    background.set_attribute("width", &s).ok();
    background.set_attribute("height", &s).ok();
    dom::part(&root, "modules").set_attribute("d", &d).ok();
    Some(root)
}
