//! Damaged and foreign input: clear errors, no panics, no leaked secrets.

use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use twofill_import::{ImportError, MAX_TEXT_LEN, ProtoError, from_text};

fn link(payload: &[u8]) -> String {
    format!(
        "otpauth-migration://offline?data={}",
        STANDARD.encode(payload)
    )
}

fn mixed_payload() -> Vec<u8> {
    hex_decode(
        migration_case("mixed_percent")["payload_hex"]
            .as_str()
            .unwrap(),
    )
}

fn proto_error(text: &str) -> ProtoError {
    match from_text(text) {
        Err(ImportError::MigrationProtobuf(e)) => e,
        other => panic!("expected a protobuf error, got {other:?}"),
    }
}

#[test]
fn truncated_payloads() {
    let payload = mixed_payload();
    // The payload ends with batch_id = -12345: a 10-byte varint.
    let e = proto_error(&link(&payload[..payload.len() - 1]));
    assert!(matches!(e, ProtoError::Truncated { .. }), "{e:?}");
    // Cut inside the first account: its length prefix overflows.
    let e = proto_error(&link(&payload[..30]));
    assert_eq!(
        e,
        ProtoError::LengthOverflow {
            offset: 1,
            len: u64::from(payload[1]),
            available: 28
        }
    );
    let msg = from_text(&link(&payload[..30])).unwrap_err().to_string();
    assert!(
        msg.starts_with("the Google Authenticator export is damaged"),
        "{msg}"
    );
    assert!(msg.contains("export the accounts from Google Authenticator again"));

    // Every prefix: an error or (cut between fields) fewer accounts; never a panic.
    for n in 0..payload.len() {
        match from_text(&link(&payload[..n])) {
            Ok(i) => assert!(i.tokens.len() <= 6),
            Err(
                ImportError::MigrationProtobuf(_)
                | ImportError::MigrationEmpty
                | ImportError::MigrationNoData,
            ) => {}
            Err(e) => panic!("prefix {n}: unexpected {e:?}"),
        }
    }
}

#[test]
fn bad_varints_and_lengths() {
    // Field 3 (batch_size) with an 11-byte varint.
    let mut p = vec![0x18];
    p.extend([0xff; 10]);
    p.push(0x01);
    assert_eq!(proto_error(&link(&p)), ProtoError::BadVarint { offset: 1 });
    // A varint overflowing 64 bits in its 10th byte.
    let mut p = vec![0x18];
    p.extend([0xff; 9]);
    p.push(0x7f);
    assert_eq!(proto_error(&link(&p)), ProtoError::BadVarint { offset: 1 });
    // An account claiming 127 bytes with 1 left.
    assert_eq!(
        proto_error(&link(&[0x0a, 0x7f, 0x00])),
        ProtoError::LengthOverflow {
            offset: 1,
            len: 127,
            available: 1
        }
    );
    // Damage inside an account: its secret overflows the account.
    assert_eq!(
        proto_error(&link(&[0x0a, 0x03, 0x0a, 0x05, 0x00])),
        ProtoError::LengthOverflow {
            offset: 3,
            len: 5,
            available: 1
        }
    );
    // Deprecated group wire type, field number 0.
    assert!(matches!(
        proto_error(&link(&[0x0b, 0x0c])),
        ProtoError::BadWireType { wire_type: 3, .. }
    ));
    assert_eq!(
        proto_error(&link(&[0x00])),
        ProtoError::BadFieldNumber { offset: 0 }
    );
    // Well-formed but empty.
    assert!(matches!(
        from_text(&link(&[])),
        Err(ImportError::MigrationNoData)
    ));
    assert!(matches!(
        from_text(&link(&[0x10, 0x01])),
        Err(ImportError::MigrationEmpty)
    ));
}

#[test]
fn bad_base64() {
    let cases = [
        ("abc!defg", "'!' at position 3"),
        ("ab=cdefg", "'=' at position 2"),
        ("abcde", "5 characters"),
        ("ab%00cd", "byte 0x00 at position 2"),
    ];
    for (data, needle) in cases {
        let err = from_text(&format!("otpauth-migration://offline?data={data}")).unwrap_err();
        assert!(
            matches!(err, ImportError::MigrationBase64 { .. }),
            "{data}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(needle), "{data}: {msg}");
        assert!(msg.contains("not valid base64"), "{msg}");
    }
}

#[test]
fn missing_and_duplicate_data() {
    for text in [
        "otpauth-migration://offline",
        "otpauth-migration://offline?",
        "otpauth-migration://offline?data=",
        "otpauth-migration://offline?data=%20%0A",
        "otpauth-migration://offline?dat=CgA",
    ] {
        assert!(
            matches!(from_text(text), Err(ImportError::MigrationNoData)),
            "{text}"
        );
    }
    assert!(matches!(
        from_text("otpauth-migration://offline?data=CgA&data=CgA"),
        Err(ImportError::MigrationDuplicateData)
    ));
}

#[test]
fn foreign_text() {
    let err = from_text("https://example.com/enroll?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ImportError::NotOtpauth { .. }));
    assert!(msg.contains("https://example.com/enroll"), "{msg}");
    assert!(!msg.contains("GEZDGNBV") && !format!("{err:?}").contains("GEZDGNBV"));
    assert!(msg.contains("otpauth://"), "{msg}");

    // A secret-looking run in plain text is masked.
    let err = from_text("my key is 3132333435363738393031323334353637383930 ok").unwrap_err();
    assert!(!err.to_string().contains("31323334"), "{err}");

    assert!(matches!(
        from_text("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"),
        Err(ImportError::BareSecret)
    ));
    assert!(matches!(from_text(" \n\t"), Err(ImportError::Empty)));
    assert!(matches!(
        from_text("otpauth-migrate://offline?data=CgA"),
        Err(ImportError::NotOtpauth { .. })
    ));
    let huge = format!("otpauth://totp/x?secret={}", "A".repeat(MAX_TEXT_LEN));
    assert!(matches!(
        from_text(&huge),
        Err(ImportError::TooLong {
            max: MAX_TEXT_LEN,
            ..
        })
    ));
    // Just under the limit: handed on (and rejected by twofill-otp's own cap).
    let long = format!("otpauth://totp/x?secret={}", "A".repeat(8000));
    assert!(matches!(
        from_text(&long),
        Err(ImportError::Otpauth(
            twofill_otp::OtpError::UriTooLong { .. }
        ))
    ));
}

/// Deterministic xorshift64*, so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random bytes, and random damage to a real export (bit flips, cuts,
/// insertions, deletions), through the whole text pipeline: whatever comes
/// out, nothing panics and nothing printed contains a seed.
#[test]
fn fuzzed_payloads_never_panic() {
    let payload = mixed_payload();
    let seeds: Vec<String> = migration_case("mixed_percent")["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.get("ok"))
        .flat_map(|ok| {
            [
                ok["secret_hex"].as_str().unwrap().to_owned(),
                ok["secret_base32"].as_str().unwrap().to_owned(),
            ]
        })
        .collect();
    let mut rng = Rng(0x07e5_72fa_c0de);
    let (mut ok, mut err) = (0, 0);
    for case in 0..6_000 {
        let bytes: Vec<u8> = if case % 3 == 0 {
            (0..rng.below(96)).map(|_| rng.next() as u8).collect()
        } else {
            let mut p = payload.clone();
            for _ in 0..=rng.below(4) {
                match rng.below(4) {
                    0 => {
                        let i = rng.below(p.len().max(1)).min(p.len().saturating_sub(1));
                        if let Some(b) = p.get_mut(i) {
                            *b ^= 1 << rng.below(8);
                        }
                    }
                    1 => p.truncate(rng.below(p.len() + 1)),
                    2 => {
                        let i = rng.below(p.len() + 1);
                        p.insert(i, rng.next() as u8);
                    }
                    _ => {
                        if !p.is_empty() {
                            let i = rng.below(p.len());
                            p.remove(i);
                        }
                    }
                }
            }
            p
        };
        let result = from_text(&link(&bytes));
        let printed = printed(&result);
        for s in &seeds {
            assert!(!printed.contains(s.as_str()), "case {case}: seed printed");
        }
        match result {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
    }
    // Both outcomes occur, so the loop exercises decoding, not only rejection.
    assert!(ok > 100 && err > 100, "ok {ok}, err {err}");

    // Random text after the scheme exercises the link parsing.
    for _ in 0..3_000 {
        let tail: String = (0..rng.below(40))
            .map(|_| b"?&=%data+/_-AZaz09# \n"[rng.below(21)] as char)
            .collect();
        let _ = from_text(&format!("otpauth-migration://{tail}"));
        let _ = from_text(&format!("otpauth-migration://offline?data={tail}"));
    }
}
