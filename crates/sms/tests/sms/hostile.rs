//! Bad input: too big, not UTF-8, garbage. Typed errors, no panics, and
//! the size cap comes before any work on the body.

use twofill_sms::android_gateway::{self, GatewayConfig};
use twofill_sms::sms_forwarder::{self, ForwarderConfig};
use twofill_sms::vonage::{self, SignatureMethod, VonageConfig};
use twofill_sms::{IntakeError, MAX_BODY_BYTES, extract, twilio};

use crate::support::NOW;

const URL: &str = "https://sms.example.com/v1/sms/inbound/twilio";

fn every_parser(body: &[u8]) -> Vec<Result<(), IntakeError>> {
    let forwarder = ForwarderConfig {
        allow_unsigned_body: true,
        ..ForwarderConfig::new("s", "+14155550123".parse().unwrap())
    };
    let vonage = VonageConfig::new("s", SignatureMethod::HmacSha256);
    vec![
        twilio::inbound_sms(URL, body, Some("sig"), "token", NOW).map(drop),
        twilio::verify_json(URL, body, Some("sig"), "token"),
        vonage::inbound_form(body, &vonage, NOW).map(drop),
        vonage::inbound_json(body, &vonage, NOW).map(drop),
        android_gateway::inbound(body, Some("00"), Some("1"), &GatewayConfig::new("k"), NOW)
            .map(drop),
        sms_forwarder::inbound(body, &forwarder, NOW).map(drop),
    ]
}

#[test]
fn oversized_bodies_are_refused_by_size_first() {
    let big = vec![b'a'; MAX_BODY_BYTES + 1];
    for result in every_parser(&big) {
        assert_eq!(
            result.unwrap_err(),
            IntakeError::TooLarge {
                len: MAX_BODY_BYTES + 1,
                max: MAX_BODY_BYTES
            }
        );
    }
    // At the cap it is read (and then fails on its signature).
    let at_cap = vec![b'a'; MAX_BODY_BYTES];
    for result in every_parser(&at_cap) {
        assert_ne!(result.unwrap_err().code(), "too_large");
    }
}

#[test]
fn invalid_utf8_is_a_typed_error() {
    let body = b"Body=\xff\xfe&From=%2B1";
    for (i, result) in every_parser(body).into_iter().enumerate() {
        let err = result.unwrap_err();
        // The JSON variant of Twilio hashes bytes, so its refusal is the signature's.
        if i == 1 {
            assert!(err.is_forgery(), "{err}");
        } else {
            assert_eq!(err, IntakeError::NotUtf8 { at: 5 });
        }
    }
}

#[test]
fn garbage_never_panics_and_every_error_says_something() {
    let samples: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"&&&===%%%".to_vec(),
        b"%ZZ%".to_vec(),
        b"{".to_vec(),
        b"{\"event\":\"sms:received\",\"payload\":[]}".to_vec(),
        "[".repeat(10_000).into_bytes(),
        b"sig=&sig=".to_vec(),
        "\u{0}\u{202e}".as_bytes().to_vec(),
    ];
    for body in samples {
        for result in every_parser(&body) {
            let err = result.unwrap_err();
            assert!(!err.to_string().is_empty());
        }
    }
    for url in [
        "",
        "ftp://x/",
        "https://",
        "https://[::1/",
        "https://h:port/",
        "mycompany.com",
    ] {
        let err = twilio::verify_form(url, b"a=b", Some("x"), "t").unwrap_err();
        assert!(
            !err.is_forgery() || err.code() == "bad_signature",
            "{url}: {err}"
        );
    }
    for text in [
        "@",
        "@ #",
        "@a #b @",
        "\n\n\n",
        "#@#@",
        &"code 1".repeat(2000),
    ] {
        let _ = extract(text);
    }
}

/// The fuzz target's seeds, mutated at random (a fixed seed, so a failure
/// reproduces): a quick stand-in for `cargo xtask fuzz sms_intake` in the
/// ordinary test run.
#[test]
fn mutated_seeds_never_panic() {
    let seeds: [&[u8]; 4] = [
        include_bytes!("../../../../fuzz/corpus/sms_intake/twilio_vector"),
        include_bytes!("../../../../fuzz/corpus/sms_intake/origin_bound"),
        include_bytes!("../../../../fuzz/corpus/sms_intake/android_gateway"),
        include_bytes!("../../../../fuzz/corpus/sms_intake/vonage"),
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const INTERESTING: &[u8] = b"@#% \n\r&=+:.-/0123456789\xff\xc3";
    for seed in seeds {
        let mut data = seed.to_vec();
        for _ in 0..3000 {
            let at = (next() as usize) % (data.len() + 1);
            match next() % 4 {
                0 if at < data.len() => {
                    data[at] = INTERESTING[(next() as usize) % INTERESTING.len()]
                }
                1 => data.insert(at, INTERESTING[(next() as usize) % INTERESTING.len()]),
                2 if at < data.len() => {
                    data.remove(at);
                }
                _ => data = seed.to_vec(),
            }
            assert!(every_parser(&data).iter().all(Result::is_err));
            if let Ok(text) = std::str::from_utf8(&data) {
                if let Some(found) = extract(text) {
                    assert!(
                        found.code.bytes().all(|b| b.is_ascii_alphanumeric()),
                        "{text:?}"
                    );
                    assert!((1..=32).contains(&found.code.len()), "{text:?}");
                }
                let _ = twofill_sms::E164::parse(text);
            }
        }
    }
}
