//! "Managed by your organization": shown whenever IT set any policy, with
//! the organization's notice and anything in its policy that was ignored or
//! that this computer's host does not match (`#managed-…` templates).

use web_sys::Document;

use super::dom;
use crate::policy::{AutofillMode, ManagedPolicy};

pub fn show_managed(doc: &Document, policy: &ManagedPolicy, host_sinks: Option<&[String]>) {
    let Some(section) = doc.get_element_by_id("managed") else {
        return;
    };
    if !policy.managed {
        return;
    }
    section.set_text_content(None);
    let add = |template: &str, part: Option<(&str, &str)>| {
        let p = dom::clone_element(doc, template);
        if let Some((name, text)) = part {
            dom::fill(&p, name, text);
        }
        section.append_child(&p).ok();
    };
    let who = policy
        .organization_name
        .as_deref()
        .unwrap_or("your organization");
    add("managed-by", Some(("who", who)));
    match policy.autofill_mode() {
        AutofillMode::Auto => {}
        AutofillMode::Click => add("managed-note-click", None),
        AutofillMode::Off => add("managed-note-off", None),
    }
    if let Some(notice) = &policy.audit_notice {
        add("managed-notice", Some(("text", notice)));
    }
    if let Some(sinks) = host_sinks {
        let missing = policy.missing_audit_sinks(sinks);
        if !missing.is_empty() {
            add(
                "managed-missing-sinks",
                Some(("sinks", &missing.join(", "))),
            );
        }
    }
    for problem in &policy.problems {
        add("managed-ignored", Some(("problem", problem)));
    }
    dom::set_hidden(&section, false);
}
