//! The state panel: what the popup shows instead of a list, each state a
//! `<template id="state-…">` in popup.html. `body[data-state]` names the
//! state (`loading`, `list`, `empty`, `not-installed`, `refused`,
//! `host-error`, the team server's `server-unreachable`,
//! `device-not-enrolled`, `device-revoked` and `signed-out`).

use std::rc::Rc;

use twofill_protocol::ErrorCode;
use wasm_bindgen_futures::spawn_local;
use web_sys::Document;

use super::dom;
use crate::host_client::{HostClient, HostError};

/// Why the list could not be shown.
pub enum Failure {
    NotInstalled(String),
    Refused(String),
    Host(String),
    /// Team server mode: the host cannot reach its server (or it is not the
    /// one this device pinned).
    ServerUnreachable(String),
    /// Team server mode: this computer has not joined the server.
    DeviceNotEnrolled(String),
    /// Team server mode: the server no longer accepts this device.
    DeviceRevoked(String),
    /// Team server with single sign-on: no session, or it ran out and
    /// could not be renewed; the popup offers "Sign in to <org>".
    SignedOut {
        org: String,
        detail: String,
    },
}

impl Failure {
    /// The `body[data-state]` value, which is also the template's name
    /// (`#state-…`), and the detail to show in it.
    fn state(&self) -> (&'static str, &str) {
        match self {
            Failure::NotInstalled(d) => ("not-installed", d),
            Failure::Refused(d) => ("refused", d),
            Failure::Host(d) => ("host-error", d),
            Failure::ServerUnreachable(d) => ("server-unreachable", d),
            Failure::DeviceNotEnrolled(d) => ("device-not-enrolled", d),
            Failure::DeviceRevoked(d) => ("device-revoked", d),
            Failure::SignedOut { detail, .. } => ("signed-out", detail),
        }
    }
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Failure {
        if let Some(org) = e.sign_in_needed() {
            return Failure::SignedOut {
                org: org.to_owned(),
                detail: e.message().to_owned(),
            };
        }
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
            HostError::Host(error) if error.code == ErrorCode::ServerUnreachable => {
                Failure::ServerUnreachable(error.message)
            }
            HostError::Host(error) if error.code == ErrorCode::DeviceNotEnrolled => {
                Failure::DeviceNotEnrolled(error.message)
            }
            HostError::Host(error) if error.code == ErrorCode::DeviceRevoked => {
                Failure::DeviceRevoked(error.message)
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

/// Shows why there is no list. For [`Failure::SignedOut`] the panel's
/// button asks the host to start the sign-in (`start_login`).
pub fn show_failure(doc: &Document, failure: Failure, host: &Rc<HostClient>) {
    let (state, detail) = failure.state();
    state_panel(doc, state, state, Some(detail));
    if let Failure::SignedOut { org, .. } = &failure {
        let panel = dom::by_id(doc, "state");
        let org = if org.is_empty() {
            "your organization"
        } else {
            org.as_str()
        };
        dom::fill(&panel, "org", org);
        let button = dom::fill(&panel, "sign-in", &format!("Sign in to {org}"));
        let (host, doc) = (host.clone(), doc.clone());
        dom::on_click(&button, move || {
            let (host, doc) = (host.clone(), doc.clone());
            spawn_local(async move { sign_in(&doc, &host, false).await });
        });
    }
}

/// Asks the host to start the sign-in and says what happens next.
/// `fresh` for a step-up (`sign_in_again`).
pub async fn sign_in(doc: &Document, host: &HostClient, fresh: bool) {
    let status = dom::by_id(doc, "status");
    status.set_text_content(None);
    match host.start_login(fresh).await {
        Ok(()) => {
            set_state(doc, "signing-in");
            status.set_text_content(Some(
                "Continue in the browser window that opened, then open twofill again.",
            ));
        }
        Err(e) => status.set_text_content(Some(&format!(
            "Could not start the sign-in: {e}. Run `twofill-host login` in a terminal."
        ))),
    }
}

/// The organization's `SupportUrl`, under a panel that is not the list.
pub fn add_help_link(doc: &Document, url: &str) {
    let help = dom::clone_element(doc, "state-help");
    dom::part(&help, "link").set_attribute("href", url).ok();
    dom::by_id(doc, "state").append_child(&help).ok();
}

#[cfg(test)]
mod tests {
    use super::*;
    use twofill_protocol::ErrorBody;

    fn from_host(code: ErrorCode) -> Failure {
        Failure::from(HostError::Host(ErrorBody {
            code,
            message: "what to do".into(),
            candidates: Vec::new(),
            retry_after_ms: None,
            org: Some("Example Corp".into()),
        }))
    }

    #[test]
    fn every_failure_has_its_template_and_server_errors_their_own_state() {
        const HTML: &str = include_str!("../../../../extension/popup.html");
        let failures = [
            Failure::NotInstalled(String::new()),
            Failure::Refused(String::new()),
            Failure::Host(String::new()),
            from_host(ErrorCode::ServerUnreachable),
            from_host(ErrorCode::DeviceNotEnrolled),
            from_host(ErrorCode::DeviceRevoked),
            from_host(ErrorCode::NotPermitted),
            from_host(ErrorCode::Internal),
            from_host(ErrorCode::SignedOut),
            from_host(ErrorCode::SessionExpired),
            from_host(ErrorCode::SignInAgain),
        ];
        let states: Vec<&str> = failures.iter().map(|f| f.state().0).collect();
        assert_eq!(
            states,
            [
                "not-installed",
                "refused",
                "host-error",
                "server-unreachable",
                "device-not-enrolled",
                "device-revoked",
                "refused",
                "host-error",
                "signed-out",
                "signed-out",
                "signed-out"
            ]
        );
        for state in states {
            let template = format!("<template id=\"state-{state}\">");
            let at = HTML
                .find(&template)
                .unwrap_or_else(|| panic!("no {template}"));
            let body = &HTML[at..];
            let body = &body[..body.find("</template>").unwrap()];
            assert!(
                body.contains("data-part=\"detail\""),
                "{template} shows no detail"
            );
        }
        // The host's message, which says what to do, is what is shown.
        assert_eq!(from_host(ErrorCode::DeviceRevoked).state().1, "what to do");
        // Signed out: the organization for the button, and the button.
        match from_host(ErrorCode::SessionExpired) {
            Failure::SignedOut { org, .. } => assert_eq!(org, "Example Corp"),
            _ => panic!("not signed out"),
        }
        let at = HTML.find("<template id=\"state-signed-out\">").unwrap();
        let body = &HTML[at..];
        let body = &body[..body.find("</template>").unwrap()];
        for part in ["data-part=\"org\"", "data-part=\"sign-in\""] {
            assert!(body.contains(part), "state-signed-out has no {part}");
        }
    }
}
