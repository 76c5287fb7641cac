#![allow(dead_code)]

use std::path::{Path, PathBuf};

use twofill_otp::Token;
use twofill_seal::Protection;
use twofill_vault::Vault;

pub struct TempVault {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub key_file: PathBuf,
}

impl TempVault {
    pub fn new() -> TempVault {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault").join("vault.sqlite3");
        let key_file = dir.path().join("vault").join("vault.key");
        TempVault {
            dir,
            path,
            key_file,
        }
    }

    pub fn protection(&self) -> Protection {
        Protection::KeyFile(self.key_file.clone())
    }

    pub fn open(&self) -> Vault {
        Vault::open(&self.path, &self.protection()).unwrap()
    }
}

pub fn token(issuer: &str, seed: &str) -> Token {
    Token::from_uri(&format!(
        "otpauth://totp/{issuer}:team@example.com?secret={seed}&issuer={issuer}"
    ))
    .unwrap()
}

pub fn file_contains(path: &Path, needle: &[u8]) -> bool {
    let hay = std::fs::read(path).unwrap_or_default();
    hay.windows(needle.len()).any(|w| w == needle)
}
