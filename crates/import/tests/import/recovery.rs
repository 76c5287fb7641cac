//! Recovery codes from what admins have: a paste, or a file shaped like
//! the ones GitHub, Google and Kaspersky-style services let you download
//! (`tests/fixtures/recovery/`, written for these tests in those layouts).

use twofill_import::{RecoveryInputError, recovery_codes};

use crate::support::fixture_path;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(&format!("recovery/{name}"))).unwrap()
}

#[test]
fn a_paste_one_per_line_with_empty_lines() {
    let got = recovery_codes(b"\n  abcd-1234 \n\nefgh-5678\r\n\n").unwrap();
    assert_eq!(got.codes, ["abcd-1234", "efgh-5678"]);
    assert_eq!(got.text_lines, 0);
}

#[test]
fn githubs_file_gives_its_sixteen_codes() {
    let got = recovery_codes(&read("github-recovery-codes.txt")).unwrap();
    assert_eq!(got.codes.len(), 16);
    assert_eq!(got.codes[0], "a1b2c-3d4e5");
    // A code without a digit still counts: equal dash-separated groups.
    assert_eq!(got.codes[15], "abcde-fabcd");
}

#[test]
fn googles_file_gives_ten_codes_in_number_order_without_its_notes() {
    let got = recovery_codes(&read("google-backup-codes.txt")).unwrap();
    // Two columns per line (1 and 6, 2 and 7, ...), kept in the file's
    // numbering; the space inside each code dropped.
    assert_eq!(
        got.codes,
        [
            "48210937", "15986623", "90425581", "22764409", "55193368", "77312046", "33079914",
            "66501872", "81437795", "04872251"
        ]
    );
    // Title, note, account, three bullets.
    assert_eq!(got.text_lines, 6);
}

#[test]
fn a_numbered_list_with_a_header_and_crlf() {
    let got = recovery_codes(&read("kaspersky-backup-codes.txt")).unwrap();
    assert_eq!(got.codes.len(), 8);
    assert_eq!(got.codes[0], "KX7P-29QM");
    assert_eq!(got.codes[7], "6DJY-E4TP");
    assert_eq!(got.text_lines, 3);
}

#[test]
fn duplicates_are_refused_naming_both_lines() {
    let err = recovery_codes(b"abcd-1111\nabcd-2222\n\nabcd-1111\n").unwrap_err();
    assert_eq!(
        err,
        RecoveryInputError::Duplicate {
            code_number: 3,
            line: 4,
            first_number: 1,
            first_line: 1
        }
    );
    assert!(err.to_string().contains("nothing was saved"), "{err}");
}

#[test]
fn files_of_the_wrong_kind_are_refused_with_what_they_are() {
    let png = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/site/kaspersky-token-qr.png"),
    )
    .unwrap();
    assert_eq!(
        recovery_codes(&png).unwrap_err(),
        RecoveryInputError::NotText {
            what: "a PNG image"
        }
    );
    assert_eq!(
        recovery_codes(b"%PDF-1.7\n...").unwrap_err(),
        RecoveryInputError::NotText {
            what: "a PDF document"
        }
    );
    assert_eq!(
        recovery_codes(b"abcd-1234\n\x00\x01\x02").unwrap_err(),
        RecoveryInputError::NotText {
            what: "binary data"
        }
    );
    assert_eq!(
        recovery_codes(br#"{"codes": ["abcd-1234", "efgh-5678"]}"#).unwrap_err(),
        RecoveryInputError::Json
    );
    assert_eq!(
        recovery_codes(b"\xc3\x28 not utf-8").unwrap_err(),
        RecoveryInputError::NotText {
            what: "not UTF-8 text"
        }
    );
    let err = recovery_codes(b"Dear admin,\nplease find the codes attached.\n").unwrap_err();
    assert_eq!(err, RecoveryInputError::NoCodes { text_lines: 2 });
    assert!(
        err.to_string().starts_with("no recovery codes found"),
        "{err}"
    );
}

#[test]
fn empty_and_oversized_inputs_are_refused() {
    assert_eq!(recovery_codes(b"").unwrap_err(), RecoveryInputError::Empty);
    assert_eq!(
        recovery_codes(b" \n\n\t\n").unwrap_err(),
        RecoveryInputError::Empty
    );
    let big = vec![b'a'; twofill_import::MAX_RECOVERY_INPUT_BYTES + 1];
    assert!(matches!(
        recovery_codes(&big).unwrap_err(),
        RecoveryInputError::TooLarge { .. }
    ));
}
