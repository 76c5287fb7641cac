//! The SMS inbox's intake from arbitrary bytes: the Twilio, Vonage and
//! android-sms-gateway parsers (with arbitrary signatures, timestamps and
//! URLs), phone numbers and code extraction.
//!
//! Properties:
//! - never panics (huge or invalid bodies, bad percent-encoding, deep JSON,
//!   odd URLs and hosts);
//! - a random signature is never accepted;
//! - an extracted code is 1–32 ASCII letters or digits, and an origin it is
//!   bound to is `https://` and a host;
//! - a number that parses prints as E.164 and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofill_sms::android_gateway::{self, GatewayConfig};
use twofill_sms::vonage::{self, SignatureMethod, VonageConfig};
use twofill_sms::{E164, extract, twilio};

const NOW: u64 = 1_796_299_200;

fuzz_target!(|data: &[u8]| {
    // The first line is a URL / signature / timestamp, the rest the body.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (head, body) = data.split_at(split);
    let head = String::from_utf8_lossy(head);
    let mut parts = head.splitn(3, ' ');
    let url = parts.next().unwrap_or_default();
    let signature = parts.next();
    let timestamp = parts.next();

    assert!(twilio::inbound_sms(url, body, signature, "token", NOW).is_err());
    assert!(twilio::verify_json(url, body, signature, "token").is_err());
    let config = VonageConfig::new("secret", SignatureMethod::HmacSha256);
    assert!(vonage::inbound_form(body, &config, NOW).is_err());
    assert!(vonage::inbound_json(body, &config, NOW).is_err());
    let gateway = GatewayConfig::new("key");
    assert!(android_gateway::inbound(body, signature, timestamp, &gateway, NOW).is_err());

    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(found) = extract(text) {
            assert!(!found.code.is_empty() && found.code.len() <= 32);
            assert!(found.code.bytes().all(|b| b.is_ascii_alphanumeric()));
            for origin in [&found.bound_origin, &found.embedded_origin]
                .into_iter()
                .flatten()
            {
                let host = origin.strip_prefix("https://").expect("https origins");
                assert!(!host.is_empty() && !host.contains(['/', ' ', '@', '#']));
            }
        }
        if let Ok(number) = E164::parse(text) {
            assert!(number.as_str().starts_with('+'));
            assert_eq!(E164::parse(number.as_str()).unwrap(), number);
        }
    }
});
