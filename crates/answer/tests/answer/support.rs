//! A team vault with one code-only and one full-seed token, and the
//! independent code to compare with (oathtool).

use std::process::Command;

use twofill_otp::Token;
use twofill_seal::Protection;
use twofill_vault::{Access, AuditRecord, Requester, Vault};

pub const KASPERSKY_SEED: &str = "JBSWY3DPEHPK3PXP";
pub const GITLAB_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
pub const KASPERSKY_SITE: &str = "https://kaspersky.example";
pub const GITLAB_SITE: &str = "https://gitlab.example";

pub struct Team {
    _dir: tempfile::TempDir,
    pub vault: Vault,
    /// Code-only for bob through `ops`.
    pub kaspersky: String,
    /// Full-seed for bob through `ops`.
    pub gitlab: String,
}

/// Alice (the first admin) enrolls two tokens and grants them to bob.
pub fn team() -> Team {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = Vault::open(
        &dir.path().join("vault.sqlite3"),
        &Protection::KeyFile(dir.path().join("vault.key")),
    )
    .unwrap();
    let kaspersky = vault
        .add_token(
            "alice",
            &token("Kaspersky", KASPERSKY_SEED),
            &[KASPERSKY_SITE.parse().unwrap()],
        )
        .unwrap();
    let gitlab = vault
        .add_token(
            "alice",
            &token("GitLab", GITLAB_SEED),
            &[GITLAB_SITE.parse().unwrap()],
        )
        .unwrap();
    vault.add_group("alice", "ops").unwrap();
    vault.add_member("alice", "ops", "bob").unwrap();
    vault
        .set_grant("alice", &kaspersky, "ops", Access::CodeOnly)
        .unwrap();
    vault
        .set_grant("alice", &gitlab, "ops", Access::FullSeed)
        .unwrap();
    Team {
        _dir: dir,
        vault,
        kaspersky,
        gitlab,
    }
}

pub fn token(issuer: &str, seed: &str) -> Token {
    Token::from_uri(&format!(
        "otpauth://totp/{issuer}:team@example.com?secret={seed}&issuer={issuer}"
    ))
    .unwrap()
}

/// Bob in Chromium, as the host would name him.
pub fn bob() -> Requester {
    Requester {
        user: "bob".into(),
        browser: Some("chromium".into()),
        extension_id: Some("aaaabbbbccccddddeeeeffffgggghhhh".into()),
    }
}

pub fn oathtool(seed: &str, unix: u64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", seed, "--now", &format!("@{unix}")])
        .output()
        .expect("oathtool must be installed (apt-get install oathtool)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The newest audit record.
pub fn last_record(vault: &Vault) -> AuditRecord {
    let head = vault.audit_head_seq().unwrap();
    vault.audit_records(head - 1, 1).unwrap().pop().unwrap()
}
