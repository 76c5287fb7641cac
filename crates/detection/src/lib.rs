//! Two-factor prompt detection.
//!
//! The content script is a thin JS shim (WASM cannot start in content scripts
//! on pages with a strict CSP), so it only *extracts* plain features of the
//! page's inputs — attributes, label and nearby text, geometry — and this
//! crate, running in the extension's service worker, *decides*. Keeping the
//! decision here means it is unit-tested in Rust and identical in every
//! browser.
//!
//! The output names the fields to fill and the kind of code the page wants:
//! only [`PromptKind::Totp`] prompts get an authenticator code.

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
    pub width: f64,
    pub height: f64,
    /// Visible text around the field (its form, dialog or section).
    pub context: String,
}

/// What the content script sends for one scan of a frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PageScan {
    pub fields: Vec<FieldFeatures>,
    pub title: String,
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
    pub fields: Vec<u32>,
}

/// Minimum score for a field to be taken as a code input.
const THRESHOLD: i32 = 4;

/// Finds the code prompt in a scan, if any.
pub fn detect(scan: &PageScan) -> Option<Prompt> {
    let best = scan
        .fields
        .iter()
        .filter(|f| fillable(f))
        .map(|f| (score(f), f))
        .filter(|(s, _)| *s >= THRESHOLD)
        .max_by_key(|(s, f)| (*s, -(f.index as i64)))?;
    let field = best.1;
    Some(Prompt {
        kind: prompt_kind(field, &scan.title),
        fields: vec![field.index],
    })
}

fn fillable(f: &FieldFeatures) -> bool {
    f.visible
        && !f.read_only
        && !f.disabled
        && matches!(
            f.input_type.as_str(),
            "" | "text" | "tel" | "number" | "password"
        )
}

/// Attribute text: what the page's author named the field.
fn attributes(f: &FieldFeatures) -> String {
    [
        &f.id,
        &f.name,
        &f.placeholder,
        &f.aria_label,
        &f.label,
        &f.data_attrs,
    ]
    .iter()
    .map(|s| s.to_lowercase())
    .collect::<Vec<_>>()
    .join(" ")
}

const OTP_ATTR: &[&str] = &[
    "otp",
    "totp",
    "one-time",
    "onetime",
    "one_time",
    "2fa",
    "mfa",
    "two-factor",
    "twofactor",
    "2-step",
    "two-step",
    "verification code",
    "verificationcode",
    "verification_code",
    "auth code",
    "authcode",
    "authenticator",
    "passcode",
];

/// Words that mark look-alike fields we must never fill.
const NEGATIVE: &[&str] = &[
    "cvv", "cvc", "card", "zip", "postal", "coupon", "promo", "voucher", "search", "captcha",
    "recovery", "backup", "phone", "quantity", "email", "username",
];

const CONTEXT_TOTP: &[&str] = &[
    "authenticator",
    "authentication app",
    "two-step",
    "2-step",
    "two-factor",
    "2fa",
    "verification code",
    "security code",
    "one-time",
];

fn contains_any(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| haystack.contains(n))
}

fn score(f: &FieldFeatures) -> i32 {
    let attrs = attributes(f);
    let context = f.context.to_lowercase();
    let autocomplete = f.autocomplete.to_lowercase();
    if contains_any(&attrs, NEGATIVE)
        || autocomplete.starts_with("cc-")
        || matches!(
            autocomplete.as_str(),
            "postal-code" | "tel" | "email" | "username" | "current-password" | "new-password"
        )
    {
        return i32::MIN;
    }
    let mut s = 0;
    if autocomplete
        .split_whitespace()
        .any(|t| t == "one-time-code")
    {
        s += 6;
    }
    if contains_any(&attrs, OTP_ATTR)
        || attrs
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == "code")
    {
        s += 3;
    }
    if (6..=8).contains(&f.max_length) {
        s += 1;
    }
    if f.inputmode == "numeric" || f.input_type == "tel" || f.input_type == "number" {
        s += 1;
    }
    if contains_any(&context, CONTEXT_TOTP) {
        s += 2;
    }
    if f.input_type == "password" && s < 6 {
        // A password-typed field needs strong evidence; it usually is a password.
        s -= 3;
    }
    s
}

fn prompt_kind(f: &FieldFeatures, title: &str) -> PromptKind {
    let text = format!("{} {} {}", attributes(f), f.context, title).to_lowercase();
    let app = contains_any(&text, &["authenticator", "authentication app", "totp"]);
    let sms = contains_any(&text, &["sms", "text message", "texted"]);
    let email = contains_any(&text, &["email", "e-mail"]) && text.contains("sent");
    match (app, sms, email) {
        (true, _, _) => PromptKind::Totp,
        (false, true, _) => PromptKind::Sms,
        (false, false, true) => PromptKind::Email,
        _ => PromptKind::Totp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(index: u32) -> FieldFeatures {
        FieldFeatures {
            index,
            input_type: "text".into(),
            max_length: -1,
            visible: true,
            width: 200.0,
            height: 30.0,
            ..Default::default()
        }
    }

    fn scan(fields: Vec<FieldFeatures>) -> PageScan {
        PageScan {
            fields,
            title: String::new(),
        }
    }

    #[test]
    fn kaspersky_style_prompt_is_totp() {
        let email = FieldFeatures {
            name: "email".into(),
            input_type: "email".into(),
            ..field(0)
        };
        let code = FieldFeatures {
            name: "code".into(),
            inputmode: "numeric".into(),
            max_length: 6,
            context: "Two-step verification. Enter the code from the authenticator app.".into(),
            ..field(1)
        };
        let p = detect(&scan(vec![email, code])).unwrap();
        assert_eq!(p.kind, PromptKind::Totp);
        assert_eq!(p.fields, vec![1]);
    }

    #[test]
    fn one_time_code_autocomplete_wins() {
        let f = FieldFeatures {
            autocomplete: "one-time-code".into(),
            ..field(0)
        };
        assert_eq!(detect(&scan(vec![f])).unwrap().fields, vec![0]);
    }

    #[test]
    fn sms_prompt_is_classified_sms() {
        let f = FieldFeatures {
            autocomplete: "one-time-code".into(),
            context: "We sent a code by SMS to +49 ••• 12".into(),
            ..field(0)
        };
        assert_eq!(detect(&scan(vec![f])).unwrap().kind, PromptKind::Sms);
    }

    #[test]
    fn lookalikes_are_not_prompts() {
        for (name, autocomplete) in [
            ("cvv", ""),
            ("card-code", ""),
            ("zip_code", ""),
            ("promo_code", ""),
            ("recovery_code", ""),
            ("x", "cc-csc"),
            ("x", "postal-code"),
        ] {
            let f = FieldFeatures {
                name: name.into(),
                autocomplete: autocomplete.into(),
                max_length: 6,
                context: "Enter your verification code".into(),
                ..field(0)
            };
            assert!(detect(&scan(vec![f])).is_none(), "{name}/{autocomplete}");
        }
    }

    #[test]
    fn hidden_disabled_and_readonly_fields_are_skipped() {
        let base = FieldFeatures {
            autocomplete: "one-time-code".into(),
            ..field(0)
        };
        for f in [
            FieldFeatures {
                visible: false,
                ..base.clone()
            },
            FieldFeatures {
                disabled: true,
                ..base.clone()
            },
            FieldFeatures {
                read_only: true,
                ..base.clone()
            },
            FieldFeatures {
                input_type: "hidden".into(),
                ..base.clone()
            },
        ] {
            assert!(detect(&scan(vec![f])).is_none());
        }
    }

    #[test]
    fn features_deserialise_from_content_script_json() {
        let json = r#"{"fields":[{"index":3,"type":"text","name":"otp","maxLength":6,"visible":true,"unknownFutureFeature":1}],"title":"Sign in"}"#;
        let s: PageScan = serde_json::from_str(json).unwrap();
        assert_eq!(s.fields[0].max_length, 6);
        assert_eq!(detect(&s).unwrap().fields, vec![3]);
    }
}
