//! Shared helpers for the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use twofill_import::{Batch, ImportError, Imported};
use twofill_otp::{Algorithm, Kind, Token};

pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn load_json(rel: &str) -> Value {
    let path = fixture_path(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The cases of `fixtures/migration.json` (made by `gen_migration.py`).
pub fn migration_cases() -> Vec<Value> {
    load_json("migration.json")["cases"]
        .as_array()
        .unwrap()
        .clone()
}

pub fn migration_case(name: &str) -> Value {
    migration_cases()
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name} in migration.json"))
}

pub fn hex_decode(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn expected_batch(case: &Value) -> Vec<Batch> {
    match &case["batch"] {
        Value::Null => Vec::new(),
        b => vec![Batch {
            index: b["index"].as_u64().unwrap() as u32,
            size: b["size"].as_u64().unwrap() as u32,
            id: b["id"].as_i64().unwrap() as i32,
        }],
    }
}

/// Assert that `token` is what the fixture entry `want` (an `"ok"` object) says.
pub fn assert_token(token: &Token, want: &Value, ctx: &str) {
    assert_eq!(
        token.secret.as_bytes(),
        hex_decode(want["secret_hex"].as_str().unwrap()),
        "{ctx}: secret"
    );
    assert_eq!(
        token.secret.to_base32(),
        want["secret_base32"].as_str().unwrap(),
        "{ctx}: secret (base32)"
    );
    assert_eq!(
        token.issuer.as_deref(),
        want["issuer"].as_str(),
        "{ctx}: issuer"
    );
    assert_eq!(
        token.account,
        want["account"].as_str().unwrap(),
        "{ctx}: account"
    );
    let algorithm = match want["algorithm"].as_str().unwrap() {
        "SHA1" => Algorithm::Sha1,
        "SHA256" => Algorithm::Sha256,
        "SHA512" => Algorithm::Sha512,
        other => panic!("{ctx}: fixture algorithm {other}"),
    };
    assert_eq!(token.algorithm, algorithm, "{ctx}: algorithm");
    assert_eq!(
        u64::from(token.digits),
        want["digits"].as_u64().unwrap(),
        "{ctx}: digits"
    );
    let kind = match want["kind"].as_str().unwrap() {
        "totp" => Kind::Totp,
        "steam" => Kind::Steam,
        "hotp" => Kind::Hotp {
            counter: want["counter"]
                .as_u64()
                .expect("a hotp entry has its counter"),
        },
        other => panic!("{ctx}: fixture kind {other}"),
    };
    assert_eq!(token.kind, kind, "{ctx}: kind");
    assert_eq!(token.period, 30, "{ctx}: period");
    token.validate().unwrap();
}

/// Assert that a per-entry error is of the fixture's `"error"` kind and
/// names the entry.
pub fn assert_entry_error(err: &ImportError, want: &Value, ctx: &str) {
    let label = want["label"].as_str().unwrap();
    let got_label = match (want["error"].as_str().unwrap(), err) {
        ("md5", ImportError::Md5 { label }) => label,
        ("invalid", ImportError::InvalidEntry { label, .. }) => label,
        ("unknown", ImportError::UnknownValue { label, .. }) => label,
        (kind, e) => panic!("{ctx}: expected a {kind} error, got {e:?}"),
    };
    assert_eq!(got_label, label, "{ctx}");
    assert!(err.to_string().contains(label), "{ctx}: {err}");
}

/// Everything an [`Imported`] or error prints, for leak checks.
pub fn printed(result: &Result<Imported, ImportError>) -> String {
    let mut s = format!("{result:?}");
    match result {
        Ok(i) => {
            for t in &i.tokens {
                if let Err(e) = t {
                    s.push_str(&e.to_string());
                }
            }
        }
        Err(e) => s.push_str(&e.to_string()),
    }
    s
}

/// The code `oathtool` (OATH Toolkit, an independent C implementation)
/// computes for a hex key at `unix_secs`.
pub fn oathtool(hex_key: &str, algorithm: Algorithm, digits: u32, unix_secs: u64) -> String {
    run_oathtool(&[
        format!("--totp={}", oathtool_mode(algorithm)),
        format!("--digits={digits}"),
        "--time-step-size=30s".into(),
        format!("--now=@{unix_secs}"),
        hex_key.into(),
    ])
}

/// The HOTP code `oathtool` computes for a hex key at `counter`. Its
/// `--hotp` is SHA1 only; for SHA256/512 it is asked for the TOTP code of
/// time step `counter` (RFC 6238 is RFC 4226 over the step number).
pub fn oathtool_hotp(hex_key: &str, algorithm: Algorithm, digits: u32, counter: u64) -> String {
    if algorithm != Algorithm::Sha1 {
        return oathtool(hex_key, algorithm, digits, counter * 30);
    }
    run_oathtool(&[
        "--hotp".into(),
        format!("--digits={digits}"),
        format!("--counter={counter}"),
        hex_key.into(),
    ])
}

fn oathtool_mode(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Sha1 => "sha1",
        Algorithm::Sha256 => "sha256",
        Algorithm::Sha512 => "sha512",
    }
}

fn run_oathtool(args: &[String]) -> String {
    let out = Command::new("oathtool")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run oathtool ({e}); the reference-code tests need it: \
                 apt-get install oathtool"
            )
        });
    assert!(
        out.status.success(),
        "oathtool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
