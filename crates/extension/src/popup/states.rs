//! The state panel: what the popup shows instead of a list, each state a
//! `<template id="state-…">` in popup.html. `body[data-state]` names the
//! state (`loading`, `list`, `empty`, `not-installed`, `refused`,
//! `host-error`).

use twofill_protocol::ErrorCode;
use web_sys::Document;

use super::dom;
use crate::host_client::HostError;

/// Why the list could not be shown.
pub enum Failure {
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

pub fn body_state(doc: &Document) -> Option<String> {
    doc.body()?.get_attribute("data-state")
}

pub fn set_state(doc: &Document, state: &str) {
    if let Some(body) = doc.body() {
        body.set_attribute("data-state", state).ok();
    }
}

/// Shows `#state-{template}` in the state panel, with `detail` in its
/// `detail` part when it has one.
fn state_panel(doc: &Document, state: &str, template: &str, detail: Option<&str>) {
    set_state(doc, state);
    let content = dom::clone_template(doc, &format!("state-{template}"));
    if let Some(detail) = detail {
        dom::fill(&content, "detail", detail);
    }
    let panel = dom::by_id(doc, "state");
    panel.set_text_content(None);
    panel.set_class_name(&format!("state state-{state}"));
    panel.append_child(&content).ok();
    dom::set_hidden(&panel, false);
}

pub fn show_empty(doc: &Document, personal_allowed: bool) {
    let template = if personal_allowed {
        "empty-personal"
    } else {
        "empty-shared"
    };
    state_panel(doc, "empty", template, None);
}

pub fn show_failure(doc: &Document, failure: Failure) {
    match failure {
        Failure::NotInstalled(detail) => {
            state_panel(doc, "not-installed", "not-installed", Some(&detail))
        }
        Failure::Refused(detail) => state_panel(doc, "refused", "refused", Some(&detail)),
        Failure::Host(detail) => state_panel(doc, "host-error", "host-error", Some(&detail)),
    }
}

/// The organization's `SupportUrl`, under a panel that is not the list.
pub fn add_help_link(doc: &Document, url: &str) {
    let help = dom::clone_element(doc, "state-help");
    dom::part(&help, "link").set_attribute("href", url).ok();
    dom::by_id(doc, "state").append_child(&help).ok();
}
