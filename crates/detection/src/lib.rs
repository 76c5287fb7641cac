//! Two-factor prompt detection.
//!
//! The content script is a thin JS shim (WASM cannot start in content scripts
//! on pages with a strict CSP), so it only *extracts* plain features of the
//! frame's inputs — attributes, label and nearby text, geometry — and this
//! crate, running in the extension's service worker, *decides*. Keeping the
//! decision here means it is unit-tested in Rust, identical in every browser,
//! and can be evaluated offline on features captured from real pages.
//!
//! How it decides:
//! 1. **Candidates**: visible, enabled, editable text-like inputs, plus
//!    *split groups* (4–8 narrow boxes side by side on one line, one
//!    character each) taken as one candidate.
//! 2. **Vetoes**: a candidate whose own attributes or label name it as
//!    something else — card number, CVV, postal code, phone, search,
//!    quantity, coupon, captcha, username, password, recovery code — is
//!    dropped, however code-like it looks. This is where peers' false
//!    positives come from (CVV and coupon fields named `code`).
//! 3. **Score**: `autocomplete=one-time-code`, OTP words in the field's
//!    names and label (many languages), numeric hints (inputmode, pattern,
//!    maxlength 4–8), the group shape, and prompt text around it.
//! 4. **Kind**: the field's own naming (`email_code`, "SMS code") or else
//!    the prompt text says where the code comes from. An authenticator app →
//!    [`PromptKind::Totp`]; SMS, e-mail (also: "sent to a•••@example.com",
//!    "sent to •••42" in any language) → those kinds (never filled with a
//!    TOTP); a recovery code, a device-pairing, OAuth, gift-card or
//!    invitation code, or a static PIN → no prompt at all. A field that takes
//!    "the app code *or* a backup code" is a TOTP prompt.

mod words;

use serde::{Deserialize, Serialize};

/// One input element as the content script saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FieldFeatures {
    /// Position in the scan; the fill plan refers to fields by it.
    pub index: u32,
    /// The `type` attribute, lower-cased; empty means text.
    #[serde(rename = "type")]
    pub input_type: String,
    pub id: String,
    pub name: String,
    pub autocomplete: String,
    pub placeholder: String,
    pub aria_label: String,
    /// Text of `<label>`s and `aria-labelledby` targets.
    pub label: String,
    pub class_name: String,
    /// Values of `data-*` attributes, space separated.
    pub data_attrs: String,
    pub inputmode: String,
    pub pattern: String,
    /// `maxLength`, or -1 when unset (as the DOM reports it).
    pub max_length: i32,
    pub read_only: bool,
    pub disabled: bool,
    pub visible: bool,
    /// Position and size in CSS pixels (viewport coordinates).
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// Inside an open shadow root.
    pub in_shadow: bool,
    /// Visible text of the prompt around the field (its form, dialog or
    /// section), links and buttons excluded.
    pub context: String,
    /// Text of links and buttons near the field ("Use a recovery code").
    pub actions: String,
}

/// What the content script sends for one scan of a frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PageScan {
    pub fields: Vec<FieldFeatures>,
    pub title: String,
    /// Main heading(s) of the frame (`h1`, `h2`, `[role=heading]`).
    pub headings: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptKind {
    /// A code from an authenticator app (TOTP): we fill these.
    Totp,
    /// A code sent by SMS: not fillable with a TOTP.
    Sms,
    /// A code sent by e-mail: not fillable with a TOTP.
    Email,
}

/// A detected prompt: the fields that take the code, in fill order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub kind: PromptKind,
    /// One index for a single input; one per box, left to right, for a
    /// split group.
    pub fields: Vec<u32>,
    pub score: i32,
}

/// Minimum score for a candidate to be taken as a code input.
pub const THRESHOLD: i32 = 5;

/// Finds the code prompt in a scan, if any.
pub fn detect(scan: &PageScan) -> Option<Prompt> {
    let fields: Vec<&FieldFeatures> = scan.fields.iter().filter(|f| editable(f)).collect();
    let mut candidates: Vec<Candidate> = split_groups(&fields);
    let grouped: Vec<u32> = candidates.iter().flat_map(|c| c.fields.clone()).collect();
    candidates.extend(
        fields
            .iter()
            .filter(|f| !grouped.contains(&f.index))
            .map(|f| Candidate {
                fields: vec![f.index],
                members: vec![(*f).clone()],
            }),
    );
    let page_text = words::fold(&format!("{} {}", scan.title, scan.headings));
    let best = candidates
        .into_iter()
        .filter_map(|c| {
            let s = score(&c, &page_text, second_secret(&c, &fields))?;
            Some((s, c))
        })
        .filter(|(s, _)| *s >= THRESHOLD)
        .max_by_key(|(s, c)| (*s, -(c.fields[0] as i64)))?;
    let (score, c) = best;
    let kind = kind(&c, &page_text);
    Some(Prompt {
        kind,
        fields: c.fields,
        score,
    })
}

/// Finds a field that asks for a recovery (backup) code, when the frame
/// has no authenticator-code prompt: a text field whose own naming says
/// recovery or backup code, or a code field (or an unnamed one) in a prompt
/// that asks for one. Never filled on its own: the extension only offers
/// a single-use recovery code there, on a click.
pub fn detect_recovery(scan: &PageScan) -> Option<u32> {
    if detect(scan).is_some_and(|p| p.kind == PromptKind::Totp) {
        return None;
    }
    let page_text = words::fold(&format!("{} {}", scan.title, scan.headings));
    scan.fields
        .iter()
        .filter(|f| editable(f) && f.input_type != "password")
        .find(|f| {
            let c = Candidate {
                fields: vec![f.index],
                members: vec![(*f).clone()],
            };
            let own = c.own_text();
            let around = format!("{} {page_text}", c.context());
            let named =
                words::any(&own, words::RECOVERY_FIELD) || words::any(&own, words::RECOVERY_PROMPT);
            let unnamed = own.trim().is_empty()
                || words::any(&own, words::CODE_WORD)
                || words::any(&own, words::OTP_FIELD);
            let prompted = unnamed && words::any(&around, words::RECOVERY_PROMPT);
            let something_else = words::any(&own, words::FIELD_VETO);
            (named || prompted) && !something_else
        })
        .map(|f| f.index)
}

fn editable(f: &FieldFeatures) -> bool {
    f.visible
        && !f.read_only
        && !f.disabled
        && matches!(
            f.input_type.as_str(),
            "" | "text" | "tel" | "number" | "password"
        )
}

struct Candidate {
    fields: Vec<u32>,
    members: Vec<FieldFeatures>,
}

impl Candidate {
    fn is_group(&self) -> bool {
        self.members.len() > 1
    }

    fn first(&self) -> &FieldFeatures {
        &self.members[0]
    }

    /// What the author named the field(s): attributes and label (not
    /// classes, which are about looks: `card`, `form-control`).
    fn own_text(&self) -> String {
        let mut out = String::new();
        for f in self.members.iter().take(2) {
            for s in [
                &f.id,
                &f.name,
                &f.placeholder,
                &f.aria_label,
                &f.label,
                &f.data_attrs,
                &f.autocomplete,
            ] {
                out.push_str(&words::fold(s));
                out.push(' ');
            }
        }
        out
    }

    fn context(&self) -> String {
        words::fold(&self.first().context)
    }
}

/// 4–8 narrow boxes in a row, one character each, same size, same line.
fn split_groups(fields: &[&FieldFeatures]) -> Vec<Candidate> {
    let boxy = |f: &FieldFeatures| {
        f.width > 0.0
            && f.width <= 90.0
            && f.width <= f.height * 2.2
            && (f.max_length == 1 || f.max_length == 2 || (f.max_length == -1 && f.width <= 70.0))
            && f.input_type != "password"
    };
    let mut groups = Vec::new();
    let mut run: Vec<&FieldFeatures> = Vec::new();
    // Right-to-left layouts (Arabic) put the first box, in the DOM, on the
    // right: a run may go either way, as long as it keeps one direction.
    // The fill order is the DOM order, which is the reading order of the
    // code in both (the page moves focus to the next box in the DOM).
    let mut leftwards = false;
    let flush = |run: &mut Vec<&FieldFeatures>, groups: &mut Vec<Candidate>| {
        if (4..=8).contains(&run.len()) {
            groups.push(Candidate {
                fields: run.iter().map(|f| f.index).collect(),
                members: run.iter().map(|f| (*f).clone()).collect(),
            });
        }
        run.clear();
    };
    for f in fields {
        if !boxy(f) {
            flush(&mut run, &mut groups);
            continue;
        }
        if let Some(prev) = run.last() {
            let same_line = (f.y - prev.y).abs() <= 6.0;
            let same_size =
                (f.width - prev.width).abs() <= 6.0 && (f.height - prev.height).abs() <= 6.0;
            if run.len() == 1 {
                leftwards = f.x < prev.x;
            }
            let gap = if leftwards {
                prev.x - (f.x + f.width)
            } else {
                f.x - (prev.x + prev.width)
            };
            let onwards = if leftwards {
                f.x < prev.x
            } else {
                f.x > prev.x
            };
            let next_to = onwards && gap <= prev.width * 1.5 + 16.0;
            if !(same_line && same_size && next_to) {
                flush(&mut run, &mut groups);
            }
        }
        run.push(f);
    }
    flush(&mut run, &mut groups);
    groups
}

/// Is `c` the second secret of a portal sign-in form (user + password +
/// token, the token field `type=password` too, as VPN portals have it)?
/// Only a password field that follows another password field and whose
/// naming says second password, token or code.
fn second_secret(c: &Candidate, fields: &[&FieldFeatures]) -> bool {
    let f = c.first();
    !c.is_group()
        && f.input_type == "password"
        && fields
            .iter()
            .any(|p| p.index < f.index && p.input_type == "password")
        && words::any(&c.own_text(), words::SECOND_SECRET)
}

/// Does a field's naming offer a one-time code *or* a recovery code
/// ("Authentication code or backup code")? Then the recovery words in it
/// do not make it a recovery-only field.
fn offers_app_code(own: &str, around: &str) -> bool {
    words::any(own, words::OR)
        && (words::any(own, words::OTP_FIELD)
            || words::any(own, words::AUTHENTICATOR)
            || words::any(around, words::AUTHENTICATOR))
}

/// The field's own naming says the code comes by SMS or e-mail
/// (`email_code`, "SMS code"): such a field never takes a TOTP.
fn own_channel(own: &str) -> Option<PromptKind> {
    let code_named = words::any(own, words::OTP_FIELD) || words::any(own, words::CODE_WORD);
    if !code_named {
        None
    } else if words::any(own, words::SMS_FIELD) {
        Some(PromptKind::Sms)
    } else if words::any(own, words::EMAIL_FIELD) {
        Some(PromptKind::Email)
    } else {
        None
    }
}

/// `None` when a veto applies; otherwise the evidence that this is a code
/// input.
fn score(c: &Candidate, page_text: &str, second_secret: bool) -> Option<i32> {
    let own = c.own_text();
    let ctx = c.context();
    let f = c.first();
    let around = format!("{ctx} {page_text}");
    let one_time_code = c
        .members
        .iter()
        .any(|m| m.autocomplete.to_lowercase().contains("one-time-code"));

    // Vetoes on the field's own naming.
    let otp_named = words::any(&own, words::OTP_FIELD);
    let code_named = otp_named || words::any(&own, words::CODE_WORD);
    let channel = own_channel(&own);
    // The e-mail *address* field; an "E-mail code" field is a code field.
    let address = words::any(&own, words::EMAIL_FIELD) && channel.is_none();
    let password = words::any(&own, words::PASSWORD_FIELD) && !otp_named && !second_secret;
    // Asked only when a recovery word is there (the "or" words are short).
    let app_or_recovery = || offers_app_code(&own, &around);
    let recovery_only = words::any(&own, words::RECOVERY_FIELD) && !app_or_recovery();
    if !one_time_code
        && (words::any(&own, words::FIELD_VETO)
            || recovery_only
            || password
            || address
            || (!code_named && words::any(&own, words::FIELD_VETO_WEAK)))
    {
        return None;
    }
    let classes = words::fold(&c.first().class_name);
    let class_named = words::any(&classes, words::OTP_FIELD);
    if f.input_type == "password" && !one_time_code && !otp_named && !second_secret {
        return None; // an ordinary password field
    }
    if matches!(
        f.autocomplete.to_lowercase().as_str(),
        "username" | "email" | "current-password" | "new-password" | "tel" | "cc-number" | "cc-csc"
    ) {
        return None;
    }

    let mut s = 0;
    if one_time_code {
        s += 8;
    }
    if otp_named {
        s += 4;
    } else if class_named {
        s += 3;
    } else if code_named || second_secret {
        s += 2;
    }
    if c.is_group() {
        // TOTPs are 6 or 8 digits (Steam: 5); 4 boxes are usually a PIN.
        s += match c.members.len() {
            6 | 8 => 5,
            5 | 7 => 3,
            _ => 1,
        };
    } else {
        // Portals take long input for a one-time password (token PIN +
        // code, spaces): up to 50 is a code field's length, not a veto.
        match f.max_length {
            6 | 8 => s += 2,
            4..=10 => s += 1,
            _ => {}
        }
        if f.width > 0.0 && f.width < 40.0 {
            s -= 2; // a lone tiny box is not a code field
        }
    }
    if matches!(f.inputmode.as_str(), "numeric" | "tel" | "decimal") {
        s += 1;
    }
    if f.pattern.contains("0-9") || f.pattern.contains("\\d") {
        s += 1;
    }
    if matches!(f.input_type.as_str(), "tel" | "number") {
        s += 1;
    }
    if channel.is_some() {
        s -= 1; // beside an authenticator field, that one is the prompt
    }
    // A code-shaped field is not enough ("error code", "redeem your code",
    // "enter the code shown on your TV"): something must say this is a
    // sign-in verification step.
    let two_factor = words::any(&around, words::TWO_FACTOR);
    let authenticator_around = words::any(&around, words::AUTHENTICATOR);
    let evidence = one_time_code
        || otp_named
        || class_named
        || two_factor
        || authenticator_around
        // "We texted you a code": a verification step too (classified, not filled).
        || words::any(&around, words::SMS)
        || words::any(&around, words::EMAIL);
    if !evidence {
        return None;
    }
    if two_factor {
        s += 3;
    }
    if words::any(&around, words::CODE_WORD) {
        s += 2;
    }
    if authenticator_around {
        s += 2;
    }
    if words::any(&around, words::REMEMBER_DEVICE) {
        s += 1;
    }
    // Prompt-level vetoes: the text says this code is something else.
    let all = format!("{own} {around}");
    let authenticator = authenticator_around || words::any(&own, words::AUTHENTICATOR);
    if !one_time_code
        && ((words::any(&all, words::PROMPT_VETO) && !authenticator)
            || (words::any(&all, words::RECOVERY_PROMPT) && !authenticator && !app_or_recovery()))
    {
        return None;
    }
    Some(s)
}

/// What kind of code the prompt asks for. The field's own naming decides
/// first (an `email_code` field is an e-mail prompt whatever the page says
/// elsewhere); then an authenticator named around it (a prompt that takes
/// "the app code or the SMS code" takes a TOTP); then the channel the text
/// says the code was sent by. Split boxes for an e-mailed code are an
/// e-mail prompt even beside an authenticator mention: such widgets serve
/// the one channel that sent the code.
fn kind(c: &Candidate, page_text: &str) -> PromptKind {
    let own = c.own_text();
    if let Some(channel) = own_channel(&own) {
        return channel;
    }
    if words::any(&own, words::AUTHENTICATOR) {
        return PromptKind::Totp;
    }
    let around = format!("{} {page_text}", c.context());
    let sent = words::any(&around, words::SENT);
    let emailed = words::any(&around, words::EMAIL)
        || (sent && (words::has_email_address(&around) || words::any(&around, words::EMAIL_FIELD)));
    let texted = words::any(&around, words::SMS) || (sent && words::has_masked_phone(&around));
    if emailed && c.is_group() && !texted {
        return PromptKind::Email;
    }
    if words::any(&around, words::AUTHENTICATOR) {
        return PromptKind::Totp;
    }
    if texted {
        return PromptKind::Sms;
    }
    if emailed {
        return PromptKind::Email;
    }
    PromptKind::Totp
}

/// The two baselines the evaluation compares against, on the same features.
pub mod baseline {
    use super::*;

    /// Only `autocomplete="one-time-code"` (what browsers themselves honour).
    pub fn autocomplete_only(scan: &PageScan) -> Option<Vec<u32>> {
        let hits: Vec<u32> = scan
            .fields
            .iter()
            .filter(|f| editable(f) && f.autocomplete.to_lowercase().contains("one-time-code"))
            .map(|f| f.index)
            .collect();
        (!hits.is_empty()).then_some(hits)
    }

    /// A keyword list over id/name/placeholder in the style of the peers
    /// (KeePassXC-Browser / Authenticator): English keywords, a short
    /// exclusion list, first match wins, 6 single-character boxes as a group.
    pub fn peer_keywords(scan: &PageScan) -> Option<Vec<u32>> {
        const KEYWORDS: &[&str] = &[
            "2fa",
            "auth",
            "challenge",
            "code",
            "mfa",
            "otp",
            "token",
            "twofa",
            "two-factor",
            "twofactor",
            "verification",
            "totp",
        ];
        const EXCLUDE: &[&str] = &[
            "email", "password", "username", "user", "bank", "coupon", "postal", "zip",
        ];
        let fields: Vec<&FieldFeatures> = scan
            .fields
            .iter()
            .filter(|f| {
                f.visible
                    && !f.read_only
                    && matches!(f.input_type.as_str(), "" | "text" | "tel" | "number")
            })
            .collect();
        let boxes: Vec<u32> = fields
            .iter()
            .filter(|f| f.max_length == 1 && f.width < 100.0)
            .map(|f| f.index)
            .collect();
        if boxes.len() == 6 {
            return Some(boxes);
        }
        fields
            .iter()
            .find(|f| {
                if f.autocomplete.contains("one-time-code") {
                    return true;
                }
                let t = format!("{} {} {}", f.id, f.name, f.placeholder).to_lowercase();
                KEYWORDS.iter().any(|k| t.contains(k))
                    && !EXCLUDE.iter().any(|k| t.contains(k))
                    && (f.max_length == -1 || (6..=10).contains(&f.max_length))
                    && f.width >= 60.0
            })
            .map(|f| vec![f.index])
    }
}

#[cfg(test)]
mod tests;
