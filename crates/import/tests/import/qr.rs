//! QR code images made by independent encoders (`gen_qr.py`: qrencode,
//! segno, Pillow), decoded and compared with the links they encode.

use std::path::{Path, PathBuf};

use crate::support::*;
use serde_json::Value;
use twofill_import::{ImportError, Imported, from_image_file, from_text};
use twofill_otp::Token;

fn image(name: &str) -> PathBuf {
    fixture_path("qr").join(name)
}

fn manifest_texts(name: &str) -> Vec<String> {
    let manifest = load_json("qr/qr.json");
    let entry = &manifest["images"][name];
    assert!(!entry.is_null(), "{name} is not in qr.json");
    entry["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

fn ok_tokens(i: &Imported) -> Vec<Token> {
    i.tokens
        .iter()
        .filter_map(|t| t.as_ref().ok().cloned())
        .collect()
}

/// The image decodes to what `from_text` makes of the links the generator
/// encoded into it.
fn assert_image_matches_manifest(name: &str) -> Imported {
    let texts = manifest_texts(name);
    assert!(!texts.is_empty());
    let got = from_image_file(&image(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut want = Vec::new();
    let mut batches = Vec::new();
    for t in &texts {
        let i = from_text(t).unwrap();
        want.extend(ok_tokens(&i));
        batches.extend(i.batches);
    }
    assert_eq!(ok_tokens(&got), want, "{name}");
    assert_eq!(got.batches, batches, "{name}");
    got
}

#[test]
fn plain_otpauth_png() {
    let got = assert_image_matches_manifest("otpauth.png");
    assert_eq!(got.tokens.len(), 1);
    let t = got.tokens[0].as_ref().unwrap();
    assert_eq!(t.issuer.as_deref(), Some("ACME Co"));
    assert_eq!(t.account, "alice@example.com");
    assert_eq!(t.secret.as_bytes(), b"12345678901234567890");
}

#[test]
fn migration_png() {
    let got = assert_image_matches_manifest("migration.png");
    // The QR code holds the mixed_percent case of migration.json.
    let case = migration_case("mixed_percent");
    assert_eq!(got.batches, expected_batch(&case));
    assert_eq!(got.batches[0].to_string(), "QR code 2 of 3");
    let entries = case["entries"].as_array().unwrap();
    assert_eq!(got.tokens.len(), entries.len());
    for (i, (t, want)) in got.tokens.iter().zip(entries).enumerate() {
        match (t, want.get("ok")) {
            (Ok(t), Some(ok)) => assert_token(t, ok, &format!("entry {i}")),
            (Err(e), None) => assert_entry_error(e, want, &format!("entry {i}")),
            _ => panic!("entry {i}: {t:?} vs {want}"),
        }
    }
}

#[test]
fn jpeg() {
    let got = assert_image_matches_manifest("otpauth.jpg");
    let t = got.tokens[0].as_ref().unwrap();
    assert_eq!(t.digits, 8);
    assert_eq!(t.algorithm, twofill_otp::Algorithm::Sha256);
}

#[test]
fn off_centre_in_a_screenshot() {
    let got = assert_image_matches_manifest("screenshot.png");
    assert_eq!(
        got.tokens[0].as_ref().unwrap().account,
        "peter@initech.example"
    );
}

#[test]
fn dark_mode_screenshot() {
    assert_image_matches_manifest("dark_mode.png");
}

#[test]
fn no_qr_code() {
    let err = from_image_file(&image("no_qr.png")).unwrap_err();
    assert!(matches!(err, ImportError::NoQrCode { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("no QR code found in"), "{msg}");
    assert!(msg.contains("no_qr.png"), "{msg}");
    assert!(msg.contains("higher-resolution screenshot"), "{msg}");
}

#[test]
fn qr_code_that_is_not_a_setup_code() {
    let err = from_image_file(&image("not_otpauth.png")).unwrap_err();
    let ImportError::NotOtpauth { what } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(what, "a link \"https://example.com/welcome\"");
    let msg = err.to_string();
    assert!(msg.contains("is not a 2FA setup link"), "{msg}");
    assert!(!msg.contains("SECRET") && !format!("{err:?}").contains("SECRET"));
}

#[test]
fn one_usable_code_among_two() {
    let texts = manifest_texts("two_codes.png");
    let got = from_image_file(&image("two_codes.png")).unwrap();
    assert_eq!(got.tokens.len(), 2);
    // Reading order: the setup code on the left first.
    assert_eq!(
        got.tokens[0].as_ref().unwrap(),
        &Token::from_uri(&texts[0]).unwrap()
    );
    let err = got.tokens[1].as_ref().unwrap_err();
    let ImportError::InQrCode {
        index: 2,
        count: 2,
        source,
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(matches!(**source, ImportError::NotOtpauth { .. }));
    let msg = err.to_string();
    assert!(msg.starts_with("QR code 2 of 2 in the image: "), "{msg}");
    assert!(!msg.contains("SECRET"), "{msg}");
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twofill-import-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn unreadable_and_non_image_files() {
    let missing = Path::new("/nonexistent/twofill/shot.png");
    let err = from_image_file(missing).unwrap_err();
    assert!(matches!(err, ImportError::ReadFile { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/twofill/shot.png: ")
    );

    let err = from_image_file(&fixture_path("qr")).unwrap_err();
    assert!(matches!(err, ImportError::ReadFile { .. }), "{err:?}");

    let text = temp_file("notes.png", b"otpauth://totp/x?secret=GEZDGNBVGY3TQOJQ");
    let err = from_image_file(&text).unwrap_err();
    assert!(
        matches!(err, ImportError::NotAnImage { format: None, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("is not a PNG or JPEG image;"));
    assert!(!err.to_string().contains("GEZDGNBV"));

    let gif = temp_file("anim.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;");
    let err = from_image_file(&gif).unwrap_err();
    assert!(err.to_string().contains("(it is a GIF image)"), "{err}");

    let mut heic = b"\0\0\0\x18ftypheic".to_vec();
    heic.extend([0; 16]);
    let err = from_image_file(&temp_file("photo.jpg", &heic)).unwrap_err();
    assert!(err.to_string().contains("(it is a HEIC image)"), "{err}");

    let png = std::fs::read(image("otpauth.png")).unwrap();
    let err = from_image_file(&temp_file("cut.png", &png[..png.len() / 2])).unwrap_err();
    assert!(
        matches!(err, ImportError::DamagedImage { format: "PNG", .. }),
        "{err:?}"
    );

    let err = from_image_file(&image("huge_dimensions.png")).unwrap_err();
    assert!(matches!(err, ImportError::ImageTooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("50000x50000"), "{err}");

    // Format is recognised from content, not from the name.
    let jpeg = std::fs::read(image("otpauth.jpg")).unwrap();
    let renamed = temp_file("actually-a-jpeg.png", &jpeg);
    assert_eq!(
        ok_tokens(&from_image_file(&renamed).unwrap()),
        ok_tokens(&from_image_file(&image("otpauth.jpg")).unwrap())
    );
}

#[test]
fn every_manifest_image_is_tested() {
    let manifest = load_json("qr/qr.json");
    let Value::Object(images) = &manifest["images"] else {
        panic!("bad manifest")
    };
    let tested = [
        "otpauth.png",
        "migration.png",
        "otpauth.jpg",
        "screenshot.png",
        "dark_mode.png",
        "no_qr.png",
        "not_otpauth.png",
        "two_codes.png",
        "huge_dimensions.png",
    ];
    for name in images.keys() {
        assert!(tested.contains(&name.as_str()), "{name} has no test");
        assert!(image(name).exists(), "{name} is missing");
    }
}
