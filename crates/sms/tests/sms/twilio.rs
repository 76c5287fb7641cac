//! `X-Twilio-Signature` against Twilio's published vector and Python.

use twofill_sms::{IntakeError, Provider, Sender, twilio};

use crate::support::{NOW, form, python};

const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const TOKEN: &str = "12345";
/// Published in Twilio's webhook-security docs and SDK tests.
const VECTOR: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

fn vector_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
}

/// Twilio's algorithm in Python, as twilio-python's `compute_signature`:
/// argv = token, url, then name/value pairs.
const PY_SIGN: &str = r#"
import sys, hmac, hashlib, base64
token, url, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
params = {}
for k, v in zip(rest[::2], rest[1::2]):
    params.setdefault(k, []).append(v)
s = url
for name in sorted(set(params)):
    for value in sorted(set(params[name])):
        s += name + value
print(base64.b64encode(hmac.new(token.encode(), s.encode(), hashlib.sha1).digest()).decode())
"#;

fn py_sign(url: &str, params: &[(&str, &str)]) -> String {
    let mut args = vec![TOKEN, url];
    for (k, v) in params {
        args.push(k);
        args.push(v);
    }
    python(PY_SIGN, &args)
}

#[test]
fn the_published_vector_verifies() {
    let body = form(&vector_params());
    let params = twilio::verify_form(URL, body.as_bytes(), Some(VECTOR), TOKEN).unwrap();
    assert_eq!(params.len(), 5);
    // The Python reference agrees with the published vector, so it can be
    // trusted for the variants below.
    assert_eq!(py_sign(URL, &vector_params()), VECTOR);
}

#[test]
fn the_url_is_accepted_with_and_without_the_default_port() {
    let body = form(&vector_params());
    // Signed without a port, configured here with :443.
    let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    twilio::verify_form(with_port, body.as_bytes(), Some(VECTOR), TOKEN).unwrap();
    // Signed with :443, configured here without.
    let signed_with_port = py_sign(with_port, &vector_params());
    assert_ne!(signed_with_port, VECTOR);
    twilio::verify_form(URL, body.as_bytes(), Some(&signed_with_port), TOKEN).unwrap();
    // http and :80 likewise.
    let http = "http://mycompany.com/myapp.php?foo=1&bar=2";
    let signed = py_sign(
        "http://mycompany.com:80/myapp.php?foo=1&bar=2",
        &vector_params(),
    );
    twilio::verify_form(http, body.as_bytes(), Some(&signed), TOKEN).unwrap();
}

#[test]
fn a_non_default_port_is_kept_and_another_port_fails() {
    let body = form(&vector_params());
    let url = "https://mycompany.com:8443/myapp.php?foo=1&bar=2";
    let signed = py_sign(url, &vector_params());
    twilio::verify_form(url, body.as_bytes(), Some(&signed), TOKEN).unwrap();
    let other = "https://mycompany.com:9443/myapp.php?foo=1&bar=2";
    assert_eq!(
        twilio::verify_form(other, body.as_bytes(), Some(&signed), TOKEN).unwrap_err(),
        IntakeError::BadSignature {
            header: "X-Twilio-Signature header"
        }
    );
}

#[test]
fn a_changed_added_or_dropped_parameter_fails() {
    let mut changed = vector_params();
    changed[2] = ("Digits", "1235");
    let mut added = vector_params();
    added.push(("Body", "hello"));
    let dropped = &vector_params()[1..];
    for params in [changed.as_slice(), added.as_slice(), dropped] {
        let body = form(params);
        let err = twilio::verify_form(URL, body.as_bytes(), Some(VECTOR), TOKEN).unwrap_err();
        assert!(err.is_forgery(), "{params:?}: {err}");
    }
    // The URL is covered too.
    let body = form(&vector_params());
    let err = twilio::verify_form(
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        body.as_bytes(),
        Some(VECTOR),
        TOKEN,
    )
    .unwrap_err();
    assert_eq!(err.code(), "bad_signature");
}

#[test]
fn a_missing_wrong_or_truncated_signature_fails() {
    let body = form(&vector_params());
    let missing = twilio::verify_form(URL, body.as_bytes(), None, TOKEN).unwrap_err();
    assert_eq!(missing.code(), "missing_signature");
    assert!(missing.is_forgery());
    for bad in [
        "",
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ",
        "0/KCTR6DLpKmkAf8muzZqo1nDgA=",
        "x",
    ] {
        let err = twilio::verify_form(URL, body.as_bytes(), Some(bad), TOKEN).unwrap_err();
        assert_eq!(err.code(), "bad_signature", "{bad:?}");
    }
    let err = twilio::verify_form(URL, body.as_bytes(), Some(VECTOR), "12346").unwrap_err();
    assert_eq!(err.code(), "bad_signature");
}

#[test]
fn repeated_parameters_sign_each_distinct_value_sorted() {
    let params = [
        ("To", "+18005551212"),
        ("MediaUrl", "https://b.example/2"),
        ("MediaUrl", "https://a.example/1"),
        ("MediaUrl", "https://a.example/1"),
    ];
    let signed = py_sign(URL, &params);
    let body = form(&params);
    twilio::verify_form(URL, body.as_bytes(), Some(&signed), TOKEN).unwrap();
}

#[test]
fn an_inbound_sms_is_read_after_its_signature() {
    let url = "https://sms.example.com/v1/sms/inbound/twilio";
    let params = [
        ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", "+14155550100"),
        ("To", "+1 (800) 555-1212"),
        ("Body", "Your code: 482913\n\n@my.kaspersky.com #482913"),
        ("NumMedia", "0"),
    ];
    let body = form(&params);
    let signed = py_sign(url, &params);
    let sms = twilio::inbound_sms(url, body.as_bytes(), Some(&signed), TOKEN, NOW).unwrap();
    assert_eq!(sms.provider, Provider::Twilio);
    assert_eq!(sms.message_id, "SM0123456789abcdef0123456789abcdef");
    assert_eq!(sms.to.as_str(), "+18005551212");
    assert_eq!(sms.from, Sender::Number("+14155550100".parse().unwrap()));
    assert_eq!(sms.text, "Your code: 482913\n\n@my.kaspersky.com #482913");
    assert_eq!(sms.received_at, NOW);

    // Missing fields are named, after a valid signature.
    let no_body = &params[..4];
    let signed = py_sign(url, no_body);
    let err =
        twilio::inbound_sms(url, form(no_body).as_bytes(), Some(&signed), TOKEN, NOW).unwrap_err();
    assert_eq!(err, IntakeError::MissingField("Body"));
    // A forged one says nothing about its fields.
    let err =
        twilio::inbound_sms(url, form(no_body).as_bytes(), Some(VECTOR), TOKEN, NOW).unwrap_err();
    assert_eq!(err.code(), "bad_signature");
}

#[test]
fn a_json_body_is_covered_by_body_sha256() {
    let body = br#"{"event":"message.received","text":"code 1234"}"#;
    let hash = python(
        "import sys, hashlib; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())",
        &[std::str::from_utf8(body).unwrap()],
    );
    let url = format!("https://sms.example.com/hook?bodySHA256={hash}");
    let signed = py_sign(&url, &[]);
    twilio::verify_json(&url, body, Some(&signed), TOKEN).unwrap();
    // Another body with the same URL and signature fails.
    let err =
        twilio::verify_json(&url, br#"{"text":"code 9999"}"#, Some(&signed), TOKEN).unwrap_err();
    assert_eq!(err.code(), "bad_signature");
    // No bodySHA256: nothing covers the body.
    let bare = "https://sms.example.com/hook";
    let err = twilio::verify_json(bare, body, Some(&py_sign(bare, &[])), TOKEN).unwrap_err();
    assert_eq!(
        err,
        IntakeError::MissingSignature {
            header: "bodySHA256 query parameter"
        }
    );
}

#[test]
fn credentials_in_the_url_stay_signed_and_the_port_goes_after_them() {
    let url = "https://twilio:s3cret@sms.example.com/v1/sms/inbound/twilio";
    let signed = py_sign(
        "https://twilio:s3cret@sms.example.com:443/v1/sms/inbound/twilio",
        &vector_params(),
    );
    let body = form(&vector_params());
    twilio::verify_form(url, body.as_bytes(), Some(&signed), TOKEN).unwrap();
    let without_credentials = "https://sms.example.com/v1/sms/inbound/twilio";
    let err = twilio::verify_form(without_credentials, body.as_bytes(), Some(&signed), TOKEN)
        .unwrap_err();
    assert_eq!(err.code(), "bad_signature");
}

#[test]
fn provider_names_round_trip() {
    for provider in Provider::ALL {
        assert_eq!(Provider::parse(provider.as_str()), Some(provider));
    }
    assert_eq!(Provider::parse("Twilio"), None);
}
