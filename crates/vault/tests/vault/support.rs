//! What the vault's tests share: a vault in a fresh directory, committed
//! fixtures, tokens.

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

/// A copy of a committed vault fixture (`tests/fixtures/<name>/vault.sqlite3`
/// and its `vault.key`) in a fresh directory: opening migrates it, so tests
/// never open the committed file itself.
pub fn fixture_copy(name: &str) -> TempVault {
    let tv = TempVault::new();
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name);
    std::fs::create_dir_all(tv.path.parent().unwrap()).unwrap();
    std::fs::copy(from.join("vault.sqlite3"), &tv.path).unwrap();
    std::fs::copy(from.join("vault.key"), &tv.key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tv.key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    tv
}
