//! Enrollment through the CLI from each input an admin may have in hand:
//! a Google Authenticator export and a QR code screenshot. Fixtures come
//! from the import crate (made with Google's protobuf runtime, qrencode and
//! segno); confirmation codes come from oathtool.

use std::path::PathBuf;
use std::process::Command;

use crate::support::*;
use serde_json::Value;
use twofill_words::Access;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../import/tests/fixtures")
}

fn oathtool_with(seed: &str, algorithm: &str, digits: u64, unix: u64) -> String {
    run_oathtool(&[
        &format!("--totp={algorithm}"),
        "-d",
        &digits.to_string(),
        "-b",
        seed,
        "--now",
        &format!("@{unix}"),
    ])
}

/// oathtool's RFC 4226 code (HMAC-SHA1) for `counter`.
fn oathtool_hotp(seed: &str, digits: u64, counter: u64) -> String {
    run_oathtool(&[
        "--hotp",
        "-d",
        &digits.to_string(),
        "-b",
        seed,
        "-c",
        &counter.to_string(),
    ])
}

fn run_oathtool(args: &[&str]) -> String {
    let out = Command::new("oathtool")
        .args(args)
        .output()
        .expect("oathtool must be installed");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn google_authenticator_export_enrolls_every_usable_account() {
    let env = Env::new();
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("migration.json")).unwrap())
            .unwrap();
    let case = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mixed_percent")
        .unwrap();
    // Time-based and counter-based (HOTP, imported with its counter)
    // accounts are usable; the MD5 one is skipped.
    let usable: Vec<&Value> = case["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.get("ok"))
        .collect();
    assert!(usable.len() >= 3, "fixture changed: {case}");
    assert!(
        usable.iter().any(|o| o["kind"] == "hotp"),
        "fixture changed: {case}"
    );
    let now = unix_now();
    let codes: Vec<String> = usable
        .iter()
        .map(|o| {
            let seed = o["secret_base32"].as_str().unwrap();
            let digits = o["digits"].as_u64().unwrap();
            match o["kind"].as_str().unwrap() {
                "hotp" => {
                    assert_eq!(o["algorithm"], "SHA1", "oathtool --hotp is SHA-1 only");
                    oathtool_hotp(seed, digits, o["counter"].as_u64().unwrap())
                }
                _ => oathtool_with(
                    seed,
                    &o["algorithm"].as_str().unwrap().to_lowercase(),
                    digits,
                    now,
                ),
            }
        })
        .collect();
    let uri = case["uri"].as_str().unwrap();
    let mut args = vec![
        "token",
        "add",
        "--uri",
        uri,
        "--site",
        "example.com",
        "--json",
    ];
    for c in &codes {
        args.extend(["--confirm-code", c]);
    }
    let out = env.cli("alice", &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("QR code 2 of 3"), "{stderr}");
    assert!(
        stderr.contains("skipped"),
        "the MD5 entry must be reported: {stderr}"
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added.as_array().unwrap().len(), usable.len());

    // The seeds that went in are the seeds in the export.
    env.ok("alice", &["group", "add", "admins"]);
    env.ok("alice", &["group", "add-member", "admins", "alice"]);
    for (entry, want) in added.as_array().unwrap().iter().zip(&usable) {
        let id = entry["id"].as_str().unwrap();
        env.ok(
            "alice",
            &["grant", "set", id, "admins", Access::FullSeed.as_str()],
        );
        let shown: Value =
            serde_json::from_str(&env.ok("alice", &["token", "reveal", id, "--json"])).unwrap();
        assert_eq!(shown["secret"], want["secret_base32"]);
        assert_eq!(entry["account"], want["account"]);
        if want["kind"] == "hotp" {
            // No code was issued yet, so the vault's counter is the export's.
            let uri = shown["uri"].as_str().unwrap();
            let counter = format!("counter={}", want["counter"]);
            assert!(
                uri.starts_with("otpauth://hotp/") && uri.contains(&counter),
                "{uri}"
            );
        }
    }
}

#[test]
fn qr_screenshot_enrolls_the_token_in_it() {
    let env = Env::new();
    let seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // what screenshot.png encodes (qr.json)
    let image = fixtures().join("qr/screenshot.png");
    let code = oathtool(seed, unix_now());
    let out = env.ok(
        "alice",
        &[
            "token",
            "add",
            "--qr",
            image.to_str().unwrap(),
            "--site",
            "initech.example",
            "--confirm-code",
            &code,
            "--json",
        ],
    );
    let added: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(added[0]["issuer"], "Initech");
    assert_eq!(added[0]["account"], "peter@initech.example");
    // An image without a QR code: a clear error, nothing saved.
    let out = env.cli(
        "alice",
        &[
            "token",
            "add",
            "--qr",
            fixtures().join("qr/no_qr.png").to_str().unwrap(),
            "--site",
            "x.example",
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .to_lowercase()
            .contains("qr")
    );
    let list: Value = serde_json::from_str(&env.ok("alice", &["token", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn passphrase_protected_vault() {
    let env = Env::new();
    std::fs::write(
        &env.config,
        "user = { env = \"TWOFILL_TEST_USER\" }\nkey = \"passphrase\"\n",
    )
    .unwrap();
    let seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let uri = format!("otpauth://totp/K:a@example.com?secret={seed}");
    let code = oathtool(seed, unix_now());
    let add = |pass: Option<&str>| {
        let mut c = env.command("alice");
        if let Some(p) = pass {
            c.env("TWOFILL_PASSPHRASE", p);
        }
        c.args([
            "token",
            "add",
            "--uri",
            &uri,
            "--site",
            "k.example",
            "--confirm-code",
            &code,
        ])
        .output()
        .unwrap()
    };
    assert!(add(Some("correct horse")).status.success());
    // Wrong passphrase: refused, clearly, and the vault is unchanged.
    let out = add(Some("wrong horse"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .to_lowercase()
            .contains("passphrase"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No passphrase and no terminal: told how to provide one.
    let out = add(None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TWOFILL_PASSPHRASE"));
    // No key file was created for a passphrase vault.
    assert!(!env.vault.with_file_name("vault.key").exists());
}
