//! The messages the Rust side sends and receives between the extension's
//! parts. The catalogue of all of them, with the naming scheme
//! (`<sender>.<request>`), is `extension/messages.js`; the tests below keep
//! these names equal to it.

use serde::{Deserialize, Serialize};
use twofill_detection::PageScan;

/// popup → worker: put `text` on the clipboard (`{ ok, error? }`).
pub const POPUP_COPY: &str = "popup.copy";
/// popup → worker: clear the clipboard in `afterMs` (`{ ok }`).
pub const POPUP_CLEAR_CLIPBOARD: &str = "popup.clear_clipboard";
/// popup → content: fill `token`'s code on this page (`{ filled, reason? }`).
/// The content script answers it with a [`ContentMessage::ScanForToken`].
pub const POPUP_FILL_TOKEN: &str = "popup.fill_token";

/// content → worker: what the content script asks of the service worker;
/// each is answered with a [`FillPlan`].
#[derive(Deserialize)]
#[serde(tag = "type")]
pub enum ContentMessage {
    /// A scan of the frame's inputs.
    #[serde(rename = "content.scan")]
    Scan {
        page: PageScan,
        /// The user clicked the "Fill code" offer (`AutofillMode: click`).
        #[serde(default)]
        confirmed: bool,
        /// The user clicked the "Use a recovery code" offer (a trusted
        /// click): take one single-use code and fill it.
        #[serde(default)]
        recovery: bool,
    },
    /// "Fill on this page" from the popup (`popup.fill_token`): the user
    /// picked `token`. Filled only into the prompt the detector accepts,
    /// else the focused field.
    #[serde(rename = "content.scan_for_token")]
    ScanForToken {
        page: PageScan,
        token: String,
        #[serde(default)]
        focused: Option<u32>,
    },
    /// After a [`FillPlan::WaitSms`]: wait for the SMS of `prompt` (the
    /// worker asks the host again and again, up to 2 minutes). Answered
    /// with a [`FillPlan::FillSms`] or [`FillPlan::None`].
    #[serde(rename = "content.wait_sms")]
    WaitSms { prompt: u32 },
    /// The SMS prompt `prompt` went away (removed, hidden, typed into, or
    /// the page is leaving): stop waiting. Answered with a `none` plan.
    #[serde(rename = "content.sms_gone")]
    SmsGone { prompt: u32 },
}

/// The answer to a [`ContentMessage`]: fill these fields, or do nothing (and why).
#[derive(Serialize, Debug)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FillPlan {
    Fill {
        fields: Vec<u32>,
        code: String,
        #[serde(rename = "tokenLabel")]
        token_label: String,
    },
    /// `AutofillMode: click`: show a "Fill code" button by these fields;
    /// no code has been asked for (or audited) yet.
    Offer {
        fields: Vec<u32>,
        #[serde(rename = "tokenLabel")]
        token_label: String,
    },
    /// A recovery-code prompt on a site whose token the user may take a
    /// recovery code of: show "Use a recovery code (single-use)" by the
    /// field; nothing is taken (or audited) until the user clicks.
    OfferRecovery {
        fields: Vec<u32>,
        #[serde(rename = "tokenLabel")]
        token_label: String,
    },
    /// Team server with single sign-on: the user is signed out (or must
    /// sign in again); the page gets a small notice that says so instead
    /// of nothing. `org` is `""` when the host did not name it.
    SignedOut {
        org: String,
        reason: String,
    },
    /// An SMS prompt on a site with a shared SMS inbox and no code yet:
    /// show "Waiting for the SMS…" and send `content.wait_sms` for
    /// `prompt`, the worker's name for this wait.
    WaitSms {
        fields: Vec<u32>,
        prompt: u32,
    },
    /// The code of an SMS that arrived for this prompt.
    FillSms {
        fields: Vec<u32>,
        code: String,
    },
    None {
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOGUE: &str = include_str!("../../../extension/messages.js");

    fn in_catalogue(name: &str) -> bool {
        CATALOGUE.contains(&format!(": \"{name}\","))
    }

    #[test]
    fn names_are_the_catalogues() {
        for name in [POPUP_COPY, POPUP_CLEAR_CLIPBOARD, POPUP_FILL_TOKEN] {
            assert!(in_catalogue(name), "{name} is not in extension/messages.js");
        }
        for name in [
            "content.scan",
            "content.scan_for_token",
            "content.wait_sms",
            "content.sms_gone",
        ] {
            assert!(in_catalogue(name), "{name} is not in extension/messages.js");
            let message =
                serde_json::json!({ "type": name, "page": {}, "token": "t", "prompt": 1 });
            assert!(
                serde_json::from_value::<ContentMessage>(message).is_ok(),
                "{name} is not a ContentMessage"
            );
        }
    }

    #[test]
    fn the_two_fill_messages_differ() {
        let popup = serde_json::json!({ "type": POPUP_FILL_TOKEN, "token": "t" });
        assert!(serde_json::from_value::<ContentMessage>(popup).is_err());
    }
}
