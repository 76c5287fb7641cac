//! Prompt detection (`twofill_detection::detect`) on what a hostile page can
//! make the content script report.
//!
//! Two input forms:
//! - the input is JSON, deserialised into a `PageScan` the way the service
//!   worker receives it (most inputs fail to parse; the parse itself is
//!   under test too);
//! - input starting with byte 1: the rest drives `arbitrary`, which fills
//!   every field of every
//!   input with values of the right type — strings drawn from the words the
//!   detector looks for, mixed with arbitrary text. The field names and types
//!   come from serialising `FieldFeatures::default()`, so the target follows
//!   the struct as it changes.
//!
//! Properties: never panics; deterministic; a prompt names at least one
//! field, and only fields that are in the scan.
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use twofill_detection::{FieldFeatures, PageScan, detect};

const WORDS: &[&str] = &[
    "otp",
    "one-time-code",
    "code",
    "verification code",
    "2fa",
    "mfa",
    "totp",
    "authenticator",
    "authentication app",
    "sms",
    "text message",
    "email",
    "e-mail",
    "password",
    "username",
    "search",
    "captcha",
    "phone",
    "tel",
    "number",
    "text",
    "pin",
    "security code",
    "enter the code",
    "digit",
    "[0-9]*",
    "\\d{6}",
    "numeric",
    "current-password",
    "new-password",
    "cc-csc",
    "coupon",
    "zip",
    "Код подтверждения",
    "验证码",
    "",
    " ",
    "\u{0}",
    "İ",
    "ß",
];

fn text(u: &mut Unstructured) -> Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 => String::new(),
        1 => u.arbitrary::<String>()?,
        _ => {
            let n = u.int_in_range(1..=3)?;
            let mut s = String::new();
            for _ in 0..n {
                s.push_str(u.choose(WORDS)?);
                s.push(' ');
            }
            s
        }
    })
}

fn value_like(template: &Value, u: &mut Unstructured) -> Result<Value> {
    Ok(match template {
        Value::Bool(_) => Value::Bool(u.arbitrary()?),
        Value::Number(n) if n.is_f64() => {
            let f: f64 = match u.int_in_range(0..=2)? {
                0 => u.int_in_range(-10..=2000)? as f64,
                1 => u.arbitrary()?,
                _ => *u.choose(&[0.0, -0.0, 1e308, -1e308, 0.5, 36.0, 44.0])?,
            };
            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        Value::Number(n) if n.is_i64() && n.as_i64().is_some_and(|i| i < 0) => {
            Value::from(u.int_in_range(-5i64..=20)?)
        }
        Value::Number(_) => Value::from(u.int_in_range(0u64..=40)?),
        Value::String(_) => Value::String(text(u)?),
        _ => Value::Null,
    })
}

fn structured(data: &[u8]) -> Result<Value> {
    let mut u = Unstructured::new(data);
    let template = serde_json::to_value(FieldFeatures::default()).expect("plain struct");
    let Value::Object(template) = template else {
        return Ok(Value::Null);
    };
    let n = u.int_in_range(0..=24)?;
    let mut fields = Vec::with_capacity(n);
    for i in 0..n {
        let mut field = Map::new();
        for (key, kind) in &template {
            if u.ratio(1, 8)? {
                continue; // missing fields take their defaults
            }
            field.insert(key.clone(), value_like(kind, &mut u)?);
        }
        if u.ratio(3, 4)? {
            field.insert("index".into(), Value::from(i as u64));
        }
        fields.push(Value::Object(field));
    }
    let mut scan = Map::new();
    scan.insert("fields".into(), Value::Array(fields));
    scan.insert("title".into(), Value::String(text(&mut u)?));
    Ok(Value::Object(scan))
}

fn check(scan: &PageScan) {
    let prompt = detect(scan);
    assert_eq!(
        format!("{prompt:?}"),
        format!("{:?}", detect(scan)),
        "detection must be deterministic"
    );
    if let Some(p) = prompt {
        assert!(!p.fields.is_empty(), "a prompt without fields: {p:?}");
        for i in &p.fields {
            assert!(
                scan.fields.iter().any(|f| f.index == *i),
                "prompt names field {i}, which is not in the scan"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let value = if let Some(rest) = data.strip_prefix(&[1]) {
        match structured(rest) {
            Ok(v) => v,
            Err(_) => return,
        }
    } else {
        match serde_json::from_slice::<Value>(data) {
            Ok(v) => v,
            Err(_) => return,
        }
    };
    if let Ok(scan) = serde_json::from_value::<PageScan>(value) {
        check(&scan);
    }
});
