//! capcom6/android-sms-gateway webhooks, signed by Python.

use twofill_sms::android_gateway::{self, GatewayConfig, GatewayEvent};
use twofill_sms::{IntakeError, Provider, Sender};

use crate::support::{NOW, python};

const KEY: &str = "gateway-signing-key";

/// The app's `PayloadSigningPlugin` in Python: hex HMAC-SHA256(key, body + timestamp).
fn py_sign(body: &str, timestamp: &str) -> String {
    python(
        "import sys, hmac, hashlib; print(hmac.new(sys.argv[1].encode(), (sys.argv[2] + sys.argv[3]).encode(), hashlib.sha256).hexdigest())",
        &[KEY, body, timestamp],
    )
}

fn received(message: &str, recipient: Option<&str>) -> String {
    serde_json::json!({
        "id": "Ey6ECgOkVVFjz3CL48B8C",
        "webhookId": "LreFUt-Z3sSq0JufY9uWB",
        "event": "sms:received",
        "deviceId": "0000bd8c1fc0b4b6",
        "payload": {
            "messageId": "abc123",
            "phoneNumber": "+4915112345678",
            "sender": "+4915112345678",
            "recipient": recipient,
            "simNumber": 1,
            "message": message,
            "receivedAt": "2026-12-03T12:59:58.000+01:00"
        }
    })
    .to_string()
}

fn verify(
    body: &str,
    sig: Option<&str>,
    ts: Option<&str>,
    config: &GatewayConfig,
) -> Result<GatewayEvent, IntakeError> {
    android_gateway::inbound(body.as_bytes(), sig, ts, config, NOW)
}

#[test]
fn a_signed_fresh_sms_received_event_is_read() {
    let body = received(
        "Ihr Bestätigungscode lautet: 739104",
        Some("+49 151 98765432"),
    );
    let ts = NOW.to_string();
    let sig = py_sign(&body, &ts);
    let GatewayEvent::Sms(sms) =
        verify(&body, Some(&sig), Some(&ts), &GatewayConfig::new(KEY)).unwrap()
    else {
        panic!("an SMS")
    };
    assert_eq!(sms.provider, Provider::AndroidSmsGateway);
    assert_eq!(sms.message_id, "abc123");
    assert_eq!(sms.to.as_str(), "+4915198765432");
    assert_eq!(sms.from, Sender::Number("+4915112345678".parse().unwrap()));
    assert_eq!(sms.text, "Ihr Bestätigungscode lautet: 739104");
    assert_eq!(sms.provider_timestamp, Some(NOW));
}

#[test]
fn the_signature_covers_body_and_timestamp() {
    let body = received("Code 739104", Some("+4915198765432"));
    let ts = NOW.to_string();
    let sig = py_sign(&body, &ts);
    let config = GatewayConfig::new(KEY);
    let forged = body.replace("739104", "000000");
    assert_eq!(
        verify(&forged, Some(&sig), Some(&ts), &config)
            .unwrap_err()
            .code(),
        "bad_signature"
    );
    let other_ts = (NOW - 1).to_string();
    assert_eq!(
        verify(&body, Some(&sig), Some(&other_ts), &config)
            .unwrap_err()
            .code(),
        "bad_signature"
    );
    let other_key = GatewayConfig::new("another key");
    assert_eq!(
        verify(&body, Some(&sig), Some(&ts), &other_key)
            .unwrap_err()
            .code(),
        "bad_signature"
    );
    assert_eq!(
        verify(&body, None, Some(&ts), &config).unwrap_err().code(),
        "missing_signature"
    );
    assert_eq!(
        verify(&body, Some(&sig), None, &config).unwrap_err().code(),
        "missing_signature"
    );
    assert_eq!(
        verify(&body, Some("zz"), Some(&ts), &config)
            .unwrap_err()
            .code(),
        "bad_signature"
    );
    // Upper-case hex of the right MAC is the same MAC.
    verify(&body, Some(&sig.to_uppercase()), Some(&ts), &config).unwrap();
}

#[test]
fn a_stale_signed_request_is_refused_and_the_window_is_configurable() {
    let body = received("Code 739104", Some("+4915198765432"));
    let config = GatewayConfig::new(KEY);
    for ts in [NOW - 301, NOW + 301] {
        let ts = ts.to_string();
        let sig = py_sign(&body, &ts);
        let err = verify(&body, Some(&sig), Some(&ts), &config).unwrap_err();
        assert_eq!(
            err,
            IntakeError::Stale {
                skew: 301,
                window: 300
            }
        );
        assert!(err.is_forgery());
    }
    let ts = (NOW - 120).to_string();
    let sig = py_sign(&body, &ts);
    verify(&body, Some(&sig), Some(&ts), &config).unwrap();
    let tight = GatewayConfig {
        freshness_secs: 60,
        ..GatewayConfig::new(KEY)
    };
    assert_eq!(
        verify(&body, Some(&sig), Some(&ts), &tight)
            .unwrap_err()
            .code(),
        "stale"
    );
}

#[test]
fn other_events_are_ignored_with_a_reason() {
    let body = serde_json::json!({
        "id": "x", "webhookId": "y", "event": "system:ping", "deviceId": "z", "payload": {"health": "pass"}
    })
    .to_string();
    let ts = NOW.to_string();
    let sig = py_sign(&body, &ts);
    let event = verify(&body, Some(&sig), Some(&ts), &GatewayConfig::new(KEY)).unwrap();
    assert!(
        matches!(event, GatewayEvent::Ignored { ref event, .. } if event == "system:ping"),
        "{event:?}"
    );
}

#[test]
fn a_null_recipient_needs_the_configured_own_number() {
    let body = received("Code 739104", None);
    let ts = NOW.to_string();
    let sig = py_sign(&body, &ts);
    let err = verify(&body, Some(&sig), Some(&ts), &GatewayConfig::new(KEY)).unwrap_err();
    assert_eq!(err.code(), "invalid_field");
    assert!(err.to_string().contains("own_number"), "{err}");
    let config = GatewayConfig {
        own_number: Some("+4915198765432".parse().unwrap()),
        ..GatewayConfig::new(KEY)
    };
    let GatewayEvent::Sms(sms) = verify(&body, Some(&sig), Some(&ts), &config).unwrap() else {
        panic!()
    };
    assert_eq!(sms.to.as_str(), "+4915198765432");
}

#[test]
fn missing_payload_fields_are_named() {
    let body = serde_json::json!({"event": "sms:received", "payload": {"messageId": "m1", "sender": "+4915112345678", "recipient": "+4915198765432"}}).to_string();
    let ts = NOW.to_string();
    let sig = py_sign(&body, &ts);
    let err = verify(&body, Some(&sig), Some(&ts), &GatewayConfig::new(KEY)).unwrap_err();
    assert_eq!(err, IntakeError::MissingField("payload.message"));
}
