//! pppscn/SmsForwarder: refused unless allowed, and then still checked.

use twofill_sms::sms_forwarder::{self, ForwarderConfig, ForwarderKind};
use twofill_sms::{E164, IntakeError, Provider};

use crate::support::{NOW, form, python};

const SECRET: &str = "SEC-forwarder-secret";

/// SmsForwarder's `sign` in Python (DingTalk style).
fn py_sign(timestamp_ms: &str) -> String {
    python(
        "import sys, hmac, hashlib, base64; print(base64.b64encode(hmac.new(sys.argv[1].encode(), (sys.argv[2] + '\\n' + sys.argv[1]).encode(), hashlib.sha256).digest()).decode())",
        &[SECRET, timestamp_ms],
    )
}

fn own() -> E164 {
    "+14155550123".parse().unwrap()
}

fn body(content: &str, ts_ms: &str) -> String {
    let sign = py_sign(ts_ms);
    form(&[
        ("from", "+14155550100"),
        ("content", content),
        ("timestamp", ts_ms),
        ("sign", &sign),
    ])
}

#[test]
fn refused_by_default_because_the_signature_does_not_cover_the_text() {
    assert!(!ForwarderKind::SmsForwarder.signature_covers_body());
    assert!(ForwarderKind::AndroidSmsGateway.signature_covers_body());
    let ts = (NOW * 1000).to_string();
    let config = ForwarderConfig::new(SECRET, own());
    let err = sms_forwarder::inbound(body("code 1234", &ts).as_bytes(), &config, NOW).unwrap_err();
    assert_eq!(err, IntakeError::UnsignedBodyRefused);
    assert!(err.is_forgery());
    assert!(err.to_string().contains("allow_unsigned_body = true"));
}

#[test]
fn when_allowed_the_sign_and_its_time_are_still_checked() {
    let config = ForwarderConfig {
        allow_unsigned_body: true,
        ..ForwarderConfig::new(SECRET, own())
    };
    let ts = (NOW * 1000 + 250).to_string();
    let sms =
        sms_forwarder::inbound(body("Your code is 5521", &ts).as_bytes(), &config, NOW).unwrap();
    assert_eq!(sms.provider, Provider::SmsForwarder);
    assert_eq!(sms.to, own());
    assert_eq!(sms.text, "Your code is 5521");
    // A retry is the same message id; another text is another id.
    let again =
        sms_forwarder::inbound(body("Your code is 5521", &ts).as_bytes(), &config, NOW).unwrap();
    assert_eq!(again.message_id, sms.message_id);
    let other =
        sms_forwarder::inbound(body("Your code is 5522", &ts).as_bytes(), &config, NOW).unwrap();
    assert_ne!(other.message_id, sms.message_id);

    let wrong = body("x", &ts).replace("sign=", "sign=A");
    assert_eq!(
        sms_forwarder::inbound(wrong.as_bytes(), &config, NOW)
            .unwrap_err()
            .code(),
        "bad_signature"
    );
    let stale = ((NOW - 400) * 1000).to_string();
    assert_eq!(
        sms_forwarder::inbound(body("x", &stale).as_bytes(), &config, NOW)
            .unwrap_err()
            .code(),
        "stale"
    );
    let unsigned = form(&[
        ("from", "+14155550100"),
        ("content", "x"),
        ("timestamp", &ts),
    ]);
    assert_eq!(
        sms_forwarder::inbound(unsigned.as_bytes(), &config, NOW)
            .unwrap_err()
            .code(),
        "missing_signature"
    );
}
