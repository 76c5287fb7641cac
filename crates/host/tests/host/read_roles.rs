//! Who may read what through the admin command line: the audit log and the
//! users and groups are an admin's; a token's details are for admins and
//! the people who may use it. A refused read prints nothing.

use crate::support::*;

const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

#[test]
fn the_audit_log_and_directory_are_an_admins_and_a_token_its_users() {
    let env = Env::new();
    let id = bob_code_only(&env, SEED);
    let admin_only: [&[&str]; 5] = [
        &["audit", "export"],
        &["audit", "tail"],
        &["audit", "verify"],
        &["user", "list"],
        &["group", "list"],
    ];
    let token_show: &[&str] = &["token", "show", &id, "--json"];
    for args in admin_only.iter().chain([&token_show]) {
        env.ok("alice", args);
    }
    env.ok("bob", token_show);
    for (user, args) in admin_only
        .iter()
        .map(|a| ("bob", *a))
        .chain(admin_only.iter().map(|a| ("carol", *a)))
        .chain([("carol", token_show)])
    {
        let out = env.cli(user, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{user} {args:?}");
        assert!(out.stdout.is_empty(), "{user} {args:?} printed something");
        assert!(stderr.contains("may not read"), "{user} {args:?}: {stderr}");
    }
}
