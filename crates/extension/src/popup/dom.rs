//! The popup's markup lives in `popup.html`: fixed elements by id, and
//! `<template>`s that are cloned and filled in here. Nothing else in the
//! popup creates elements.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Document, DocumentFragment, Element, HtmlTemplateElement, KeyboardEvent};

pub fn by_id(doc: &Document, id: &str) -> Element {
    doc.get_element_by_id(id)
        .unwrap_or_else(|| panic!("popup.html lacks #{id}"))
}

/// A fresh copy of `<template id={id}>`'s content.
pub fn clone_template(doc: &Document, id: &str) -> DocumentFragment {
    let template: HtmlTemplateElement = by_id(doc, id)
        .dyn_into()
        .unwrap_or_else(|_| panic!("popup.html's #{id} is not a <template>"));
    template
        .content()
        .clone_node_with_deep(true)
        .expect("clone a template")
        .unchecked_into()
}

/// A fresh copy of a template that holds one element.
pub fn clone_element(doc: &Document, id: &str) -> Element {
    clone_template(doc, id)
        .first_element_child()
        .unwrap_or_else(|| panic!("popup.html's #{id} template is empty"))
}

/// The `[data-part={name}]` element in a cloned template: `root` itself or
/// one inside it.
pub fn part(root: &impl AsRef<JsValue>, name: &str) -> Element {
    let selector = format!("[data-part=\"{name}\"]");
    let root = root.as_ref();
    let found = if let Some(e) = root.dyn_ref::<Element>() {
        if e.matches(&selector).unwrap_or(false) {
            return e.clone();
        }
        e.query_selector(&selector)
    } else {
        root.unchecked_ref::<DocumentFragment>()
            .query_selector(&selector)
    };
    found
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("popup.html's template lacks [data-part={name}]"))
}

/// Fills a part with text.
pub fn fill(root: &impl AsRef<JsValue>, name: &str, text: &str) -> Element {
    let e = part(root, name);
    e.set_text_content(Some(text));
    e
}

/// Keeps a part only when it applies.
pub fn keep_if(root: &impl AsRef<JsValue>, name: &str, applies: bool) -> Option<Element> {
    let e = part(root, name);
    if applies {
        Some(e)
    } else {
        e.remove();
        None
    }
}

pub fn set_hidden(e: &Element, hidden: bool) {
    if hidden {
        e.set_attribute("hidden", "").ok();
    } else {
        e.remove_attribute("hidden").ok();
    }
}

pub fn on(target: &Element, event: &str, handler: impl FnMut(web_sys::Event) + 'static) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
    target
        .add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())
        .expect("add listener");
    closure.forget();
}

/// A click handler that keeps the click from reaching the token item.
pub fn on_click(target: &Element, mut handler: impl FnMut() + 'static) {
    on(target, "click", move |e| {
        e.stop_propagation();
        handler();
    });
}

pub fn on_key(target: &Element, mut handler: impl FnMut(KeyboardEvent) + 'static) {
    on(target, "keydown", move |e| {
        if let Ok(k) = e.dyn_into::<KeyboardEvent>() {
            handler(k);
        }
    });
}

#[cfg(test)]
mod tests {
    const HTML: &str = include_str!("../../../../extension/popup.html");
    const SOURCES: [&str; 7] = [
        include_str!("mod.rs"),
        include_str!("actions.rs"),
        include_str!("codes.rs"),
        include_str!("list.rs"),
        include_str!("notes.rs"),
        include_str!("states.rs"),
        include_str!("dom.rs"),
    ];

    /// The first string literal among the call's arguments on its line,
    /// for each call of `function(` in the popup's sources (skipping
    /// `format!` patterns and definitions).
    fn literal_arguments(function: &str) -> Vec<String> {
        let mut found = Vec::new();
        for source in SOURCES {
            let code = source.split("#[cfg(test)]").next().unwrap_or("");
            for line in code.lines() {
                for (at, _) in line.match_indices(function) {
                    let args = &line[at + function.len()..];
                    let args = args.split(')').next().unwrap_or("");
                    let mut quoted = args.split('"');
                    if let (Some(_), Some(word)) = (quoted.next(), quoted.next())
                        && !word.is_empty()
                        && !word.contains('{')
                        && !word.contains('\\')
                        && !line.contains("fn ")
                    {
                        found.push(word.to_owned());
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_template_and_part_the_code_uses_is_in_popup_html() {
        let templates = literal_arguments("clone_element(");
        assert!(
            templates.contains(&"token-item".to_owned()),
            "{templates:?}"
        );
        for id in templates
            .iter()
            .chain(&literal_arguments("clone_template("))
        {
            assert!(
                HTML.contains(&format!("<template id=\"{id}\">")),
                "popup.html has no <template id=\"{id}\">"
            );
        }
        let parts: Vec<String> = ["part(", "fill(", "keep_if("]
            .iter()
            .flat_map(|f| literal_arguments(f))
            .collect();
        assert!(parts.contains(&"progress".to_owned()), "{parts:?}");
        for name in &parts {
            assert!(
                HTML.contains(&format!("data-part=\"{name}\"")),
                "popup.html has no [data-part=\"{name}\"]"
            );
        }
        for state in [
            "empty-personal",
            "empty-shared",
            "not-installed",
            "refused",
            "host-error",
        ] {
            assert!(HTML.contains(&format!("<template id=\"state-{state}\">")));
        }
    }
}
