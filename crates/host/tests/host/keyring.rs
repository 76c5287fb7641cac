//! The default key protection with a real OS keyring (Secret Service).
//!
//! Needs an unlocked Secret Service on the session bus, so it is ignored in
//! plain `cargo test`; `cargo xtask test` runs it (with `--ignored`) inside
//! `dbus-run-session` with a throw-away, unlocked gnome-keyring.

use crate::support::*;
use serde_json::Value;
use twofill_words::Access;

#[test]
#[ignore = "needs an unlocked Secret Service; `cargo xtask test` runs it under dbus-run-session"]
fn new_vault_keeps_its_key_in_the_os_keyring() {
    let mut env = Env::new();
    env.keyring = true;
    let seed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let id = env.enroll("alice", seed, "K", &["k.example"]);
    assert!(
        !env.vault.with_file_name("vault.key").exists(),
        "with a usable keyring no key file is written"
    );
    env.ok("alice", &["group", "add", "g"]);
    env.ok("alice", &["group", "add-member", "g", "bob"]);
    env.ok(
        "alice",
        &["grant", "set", &id, "g", Access::CodeOnly.as_str()],
    );
    // The browser-launched host finds the key in the keyring too.
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    let reply = host.ask(get_code("k", "https://k.example"));
    assert_eq!(reply["type"], "code", "{reply}");
    let from = reply["valid_from"].as_u64().unwrap();
    assert_eq!(reply["code"].as_str().unwrap(), oathtool(seed, from));
    host.finish();
    // A process that would default to a key file still opens it: the vault
    // names its protection.
    env.keyring = false;
    let list: Value = serde_json::from_str(&env.ok("alice", &["token", "list", "--json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}
