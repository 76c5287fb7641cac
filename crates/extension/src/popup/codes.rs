//! Live codes: each item's code (purpose `view`), fetched again when its
//! window is over, and the countdown ring moved once a second. A HOTP
//! token's code is fetched only when asked for ("Next code") and stays
//! until the next one: it has no window to run out.

use twofill_protocol::CodePurpose;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::Shared;
use crate::browser;

/// The ring's radius: `r` of the circles in popup.html's `#token-item`.
const RING_RADIUS: f64 = 15.0;

/// Groups a code for reading: `123 456`, `1234 5678`.
pub fn spaced(code: &str) -> String {
    let half = code.len().div_ceil(2);
    if code.len() < 6 || !code.is_ascii() {
        return code.to_owned();
    }
    format!("{} {}", &code[..half], &code[half..])
}

/// Fetches the code shown for one token (purpose `view`); for a HOTP
/// token, the next code of its counter.
pub async fn load_code(popup: &Shared, index: usize) {
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
                        item.entry.token.label(),
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

pub fn start_ticker(popup: &Shared) {
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
            let (Some(code), Some(countdown)) = (&item.code, &item.countdown) else {
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
            countdown.secs.set_text_content(Some(&shown.to_string()));
            let offset = circumference * (1.0 - left / period);
            countdown
                .ring
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped() {
        assert_eq!(spaced("123456"), "123 456");
        assert_eq!(spaced("12345678"), "1234 5678");
        assert_eq!(spaced("12345"), "12345");
    }

    #[test]
    fn the_ring_matches_popup_html() {
        let html = include_str!("../../../../extension/popup.html");
        let circumference = (2.0 * std::f64::consts::PI * RING_RADIUS).to_string();
        assert!(html.contains(&format!("r=\"{RING_RADIUS}\"")));
        assert!(html.contains(&format!("stroke-dasharray=\"{circumference}\"")));
    }
}
