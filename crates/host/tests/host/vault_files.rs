//! The vault's files on disk as a careless admin or an attacker leaves
//! them: a vanished vault beside its key file is reported, never silently
//! replaced by a new one whose first caller becomes admin; files others
//! can read are pointed out.

use crate::support::*;

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

#[test]
fn a_key_file_without_its_vault_is_reported_and_no_vault_is_made() {
    let env = Env::new();
    env.enroll("alice", SEED, "Kaspersky", &["my.kaspersky.com"]);
    let name = env
        .vault
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(env.vault.with_file_name(format!("{name}{suffix}")));
    }
    // mallory asks first: on a re-created vault she would become its admin.
    let out = env.cli("mallory", &["user", "add", "mallory", "--admin"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("does not exist but its key file") && stderr.contains("restore it"),
        "{stderr}"
    );
    assert!(!env.vault.exists(), "no new vault may be created");
}

#[cfg(unix)]
#[test]
fn a_vault_others_can_read_is_pointed_out() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.enroll("alice", SEED, "Kaspersky", &["my.kaspersky.com"]);
    let quiet = env.cli("alice", &["token", "list"]);
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("warning"));
    std::fs::set_permissions(&env.vault, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.cli("alice", &["token", "list"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("can be read by other users (mode 0644)") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}
