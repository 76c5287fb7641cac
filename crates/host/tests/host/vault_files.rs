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

/// The tests name their users through an environment variable, as a
/// deployment with an identity agent would; whoever starts the host sets
/// it. On a vault that belongs to another account such a name still gets
/// its codes, but no admin change, seed or recovery code (each refusal on
/// record). Needs root, to give the vault to another account.
#[cfg(unix)]
#[test]
fn a_name_from_an_environment_variable_gets_codes_but_no_admin_change_or_seed() {
    use std::os::unix::fs::chown;
    let env = Env::new();
    let id = bob_code_only(&env, SEED);
    env.ok("alice", &["grant", "set", &id, "ops", "full-seed"]);
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: giving the vault to another account needs root");
        return;
    }
    chown(&env.vault, Some(65534), None).unwrap();
    for (user, args) in [
        ("mallory", vec!["user", "add", "mallory", "--admin"]),
        ("alice", vec!["grant", "set", &id, "ops", "code-only"]),
        ("bob", vec!["token", "reveal", &id]),
    ] {
        let out = env.cli(user, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{user} {args:?}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains(SEED));
        assert!(stderr.contains("cannot verify that you are"), "{stderr}");
    }
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    let code = host.ask(get_code("c", "https://my.kaspersky.com"));
    assert_eq!(code["type"], "code", "{code}");
    let seed = host.ask(serde_json::json!({"v": 1, "id": "s", "type": "reveal_seed", "token": id}));
    assert_eq!(seed["type"], "error", "{seed}");
    assert!(!seed.to_string().contains(SEED));
    host.finish();
    // Back with its owner, the records are there.
    chown(&env.vault, Some(0), None).unwrap();
    let refused = env
        .audit("alice")
        .iter()
        .filter(|r| {
            r["event"]["reason"]
                .as_str()
                .is_some_and(|s| s.starts_with("unverified_identity"))
        })
        .count();
    assert_eq!(refused, 4);
}
