//! Personal tokens, `exclude_personal` and the organization policy, over
//! the wire and through the CLI, as a browser and people use them. Codes are
//! checked against `oathtool`.

use crate::support::*;
use serde_json::{Value, json};
use twofill_words::{Access, AuditAction};

const TEAM_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const BOB_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const BOB_KASPERSKY_SEED: &str = "KRUGS4ZANFZSAYJAORSXG5BAONSWKZAA";

/// Rate limit off, as in `Env::new`, plus `extra`.
fn config(env: &Env, extra: &str) {
    env.set_config(&format!("[rate_limit]\ncodes = 0\nburst = 0\n{extra}"));
}

/// `user` enrolls a personal token through the CLI; returns the output.
fn add_personal(
    env: &Env,
    user: &str,
    seed: &str,
    issuer: &str,
    site: &str,
) -> std::process::Output {
    let uri = format!("otpauth://totp/{issuer}:me@example.com?secret={seed}&issuer={issuer}");
    let code = oathtool(seed, unix_now());
    env.cli(
        user,
        &[
            "token",
            "add",
            "--personal",
            "--uri",
            &uri,
            "--site",
            site,
            "--confirm-code",
            &code,
            "--json",
        ],
    )
}

fn enroll_personal(env: &Env, user: &str, seed: &str, issuer: &str, site: &str) -> String {
    let out = add_personal(env, user, seed, issuer, site);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added[0]["personal"], true);
    added[0]["id"].as_str().unwrap().to_owned()
}

/// alice: admin. bob: `ops` (code-only on the team token T, bound to
/// my.kaspersky.com) and owner of the personal token P (bound to
/// github.com). carol: `leads` (full-seed on T). dave: known, no group.
struct Team {
    env: Env,
    t: String,
    p: String,
}

fn team() -> Team {
    let env = Env::new();
    let t = env.enroll("alice", TEAM_SEED, "Kaspersky", &["my.kaspersky.com"]);
    for args in [
        vec!["group", "add", "ops"],
        vec!["group", "add", "leads"],
        vec!["group", "add-member", "ops", "bob"],
        vec!["group", "add-member", "leads", "carol"],
        vec!["user", "add", "dave"],
        vec!["grant", "set", &t, "ops", Access::CodeOnly.as_str()],
        vec!["grant", "set", &t, "leads", Access::FullSeed.as_str()],
    ] {
        env.ok("alice", &args);
    }
    let p = enroll_personal(&env, "bob", BOB_SEED, "GitHub", "github.com");
    Team { env, t, p }
}

fn list(id: &str, origin: &str, exclude_personal: bool) -> Value {
    let mut r = json!({"v": 1, "id": id, "type": "list_tokens", "origin": origin});
    if exclude_personal {
        r["exclude_personal"] = json!(true);
    }
    r
}

fn copy(token: &str, exclude_personal: bool) -> Value {
    json!({"v": 1, "id": "c", "type": "get_code", "token": token, "purpose": "copy",
           "exclude_personal": exclude_personal})
}

fn fill(origin: &str, exclude_personal: bool) -> Value {
    json!({"v": 1, "id": "f", "type": "get_code", "origin": origin,
           "exclude_personal": exclude_personal})
}

fn reveal(token: &str) -> Value {
    json!({"v": 1, "id": "s", "type": "reveal_seed", "token": token})
}

fn ids(reply: &Value) -> Vec<String> {
    reply["tokens"]
        .as_array()
        .unwrap_or_else(|| panic!("not a token list: {reply}"))
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

fn error_code(reply: &Value) -> &str {
    assert!(reply.get("code").is_none(), "a code leaked: {reply}");
    assert!(reply.get("secret").is_none(), "a seed leaked: {reply}");
    reply["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {reply}"))
}

/// The newest audit record as ECS JSON.
fn last_record(env: &Env) -> Value {
    env.audit("alice").pop().unwrap()
}

fn assert_refusal_on_record(env: &Env, user: &str, action: &str, reason: &str) {
    let r = last_record(env);
    assert_eq!(r["user"]["name"], user, "{r}");
    assert_eq!(r["event"]["action"], action, "{r}");
    assert_eq!(r["event"]["outcome"], "failure", "{r}");
    let why = r["event"]["reason"].as_str().unwrap_or_default();
    assert!(why.starts_with(reason), "{why}");
}

#[test]
fn only_the_owner_gets_a_personal_token_and_it_is_marked() {
    let Team { env, t, p } = team();

    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    let reply = host.ask(list("l", "https://github.com", false));
    let tokens = reply["tokens"].as_array().unwrap();
    assert_eq!(
        ids(&reply),
        [p.as_str(), t.as_str()],
        "bound one first: {reply}"
    );
    assert_eq!(tokens[0]["personal"], true);
    assert_eq!(tokens[0]["access"], Access::FullSeed.as_str());
    assert_eq!(tokens[0]["bound_here"], true);
    assert_eq!(tokens[1]["personal"], false);
    assert_eq!(tokens[1]["access"], Access::CodeOnly.as_str());
    assert!(!reply.to_string().contains(BOB_SEED));

    let reply = host.ask(fill("https://github.com", false));
    assert_eq!(reply["type"], "code", "{reply}");
    assert_eq!(reply["token"]["id"], p.as_str());
    let from = reply["valid_from"].as_u64().unwrap();
    assert_eq!(reply["code"].as_str().unwrap(), oathtool(BOB_SEED, from));
    assert_eq!(host.ask(copy(&p, false))["type"], "code");
    let reply = host.ask(reveal(&p));
    assert_eq!(reply["type"], "seed", "{reply}");
    assert_eq!(reply["secret"], BOB_SEED);
    assert!(host.finish().success());

    // Nobody else: not the admin, not a full-seed holder, not a stranger.
    for user in ["alice", "carol", "dave", "mallory"] {
        let mut host = env.launch(user, &EXTENSION_ORIGIN);
        let reply = host.ask(list("l", "https://github.com", false));
        assert!(!ids(&reply).contains(&p), "{user}: {reply}");
        assert_eq!(
            error_code(&host.ask(fill("https://github.com", false))),
            "no_token_for_origin",
            "{user}"
        );
        let reply = host.ask(copy(&p, false));
        assert_eq!(error_code(&reply), "not_permitted", "{user}");
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap()
                .contains("personal token"),
            "{reply}"
        );
        assert_eq!(error_code(&host.ask(reveal(&p))), "not_permitted", "{user}");
        assert!(host.finish().success());
    }
    assert_refusal_on_record(
        &env,
        "mallory",
        AuditAction::SeedReveal.as_str(),
        "not_owner: ",
    );
}

#[test]
fn exclude_personal_hides_personal_tokens_and_never_fills_one() {
    let Team { env, t, p } = team();
    // bob also has a personal token for the team token's site.
    let mine = enroll_personal(
        &env,
        "bob",
        BOB_KASPERSKY_SEED,
        "Kaspersky",
        "kaspersky.com",
    );
    let kaspersky = "https://my.kaspersky.com";
    let mut host = env.launch("bob", &EXTENSION_ORIGIN);

    let all = ids(&host.ask(list("l", kaspersky, false)));
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.contains(&p) && all.contains(&mine));
    let reply = host.ask(list("l", kaspersky, true));
    assert_eq!(ids(&reply), [t.as_str()], "{reply}");
    assert_eq!(reply["tokens"][0]["personal"], false);

    // Without it both fit; with it the team token is the one.
    assert_eq!(
        error_code(&host.ask(fill(kaspersky, false))),
        "ambiguous_token"
    );
    let reply = host.ask(fill(kaspersky, true));
    assert_eq!(reply["type"], "code", "{reply}");
    assert_eq!(reply["token"]["id"], t.as_str());
    let from = reply["valid_from"].as_u64().unwrap();
    assert_eq!(reply["code"].as_str().unwrap(), oathtool(TEAM_SEED, from));

    // Naming a personal token does not get around it.
    let named = json!({"v": 1, "id": "n", "type": "get_code", "origin": kaspersky,
                       "token": mine, "exclude_personal": true});
    assert_eq!(error_code(&host.ask(named)), "no_token_for_origin");
    assert_eq!(
        error_code(&host.ask(fill("https://github.com", true))),
        "no_token_for_origin"
    );
    assert_eq!(error_code(&host.ask(copy(&p, true))), "no_such_token");
    assert!(host.finish().success());
    assert_refusal_on_record(
        &env,
        "bob",
        AuditAction::CodeCopy.as_str(),
        "no_such_token: ",
    );
    let v = env.ok("alice", &["audit", "verify"]);
    assert!(v.contains("audit log OK"), "{v}");
}

#[test]
fn a_policy_without_personal_tokens_refuses_add_list_and_codes_on_record() {
    let Team { env, t, p } = team();
    config(&env, "[policy]\nallow_personal_tokens = false\n");

    let out = add_personal(&env, "carol", BOB_KASPERSKY_SEED, "Mine", "example.com");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("policy does not allow personal tokens"),
        "{stderr}"
    );
    assert_refusal_on_record(
        &env,
        "carol",
        AuditAction::TokenAdd.as_str(),
        "not_permitted_by_policy: ",
    );

    let mut host = env.launch("bob", &EXTENSION_ORIGIN);
    let hello = host.ask(json!({"v": 1, "id": "h", "type": "hello"}));
    assert_eq!(hello["policy"]["allow_personal_tokens"], false, "{hello}");
    assert_eq!(hello["policy"]["allow_seed_reveal"], true);
    assert_eq!(
        ids(&host.ask(list("l", "https://github.com", false))),
        [t.as_str()]
    );
    let reply = host.ask(fill("https://github.com", false));
    assert_eq!(error_code(&reply), "not_permitted");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("policy does not allow personal tokens"),
        "{reply}"
    );
    let record = last_record(&env);
    assert_eq!(record["event"]["action"], AuditAction::CodeFill.as_str());
    assert_eq!(record["event"]["outcome"], "failure");
    assert_eq!(error_code(&host.ask(copy(&p, false))), "not_permitted");
    assert_refusal_on_record(
        &env,
        "bob",
        AuditAction::CodeCopy.as_str(),
        "not_permitted_by_policy: ",
    );
    assert_eq!(error_code(&host.ask(reveal(&p))), "not_permitted");
    // Team tokens are not affected.
    assert_eq!(
        host.ask(fill("https://my.kaspersky.com", false))["type"],
        "code"
    );
    assert!(host.finish().success());

    // The CLI too: not listed for bob, no code.
    let listed: Value = serde_json::from_str(&env.ok("bob", &["token", "list", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert!(!env.cli("bob", &["token", "code", &p]).status.success());
}

#[test]
fn a_policy_without_seed_reveal_refuses_full_seed_holders_on_record() {
    let Team { env, t, p } = team();
    let mut host = env.launch("carol", &EXTENSION_ORIGIN);
    assert_eq!(
        host.ask(reveal(&t))["type"],
        "seed",
        "allowed before the policy"
    );
    assert!(host.finish().success());

    config(&env, "[policy]\nallow_seed_reveal = false\n");
    for (user, id) in [("carol", &t), ("bob", &p)] {
        let mut host = env.launch(user, &EXTENSION_ORIGIN);
        for purpose in ["reveal", "qr", "export"] {
            let reply = host.ask(json!({"v": 1, "id": "s", "type": "reveal_seed",
                                        "token": id, "purpose": purpose}));
            assert_eq!(error_code(&reply), "not_permitted", "{user} {purpose}");
            assert!(
                reply["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("does not allow revealing seeds"),
                "{reply}"
            );
            assert_refusal_on_record(
                &env,
                user,
                &format!("seed.{purpose}"),
                "not_permitted_by_policy: ",
            );
        }
        // Codes still flow.
        assert_eq!(host.ask(copy(id, false))["type"], "code", "{user}");
        assert!(host.finish().success());
    }
    let out = env.cli("carol", &["token", "reveal", &t]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(TEAM_SEED));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not allow revealing seeds"));
    assert_refusal_on_record(
        &env,
        "carol",
        AuditAction::SeedExport.as_str(),
        "not_permitted_by_policy: ",
    );
}

#[test]
fn hello_reports_the_config_in_force() {
    let env = Env::new();
    env.enroll("alice", TEAM_SEED, "Kaspersky", &["my.kaspersky.com"]);
    let hello = json!({"v": 1, "id": "h", "type": "hello"});

    let mut host = env.launch("alice", &EXTENSION_ORIGIN);
    let reply = host.ask(hello.clone());
    assert_eq!(reply["type"], "hello", "{reply}");
    assert_eq!(reply["user"], "alice");
    assert_eq!(reply["managed"], false, "tests run without a system config");
    assert_eq!(reply["audit_sinks"], json!([]));
    assert_eq!(
        reply["policy"],
        json!({"allow_personal_tokens": true, "allow_seed_reveal": true})
    );
    assert!(host.finish().success());

    let jsonl = env.dir.path().join("audit.jsonl");
    config(
        &env,
        &format!(
            "[policy]\nallow_seed_reveal = false\n\
             [siem]\nkick = false\n\
             [[siem.sink]]\nkind = \"file\"\nname = \"jsonl\"\npath = {jsonl:?}\n\
             [[siem.sink]]\nkind = \"hec\"\nurl = \"https://splunk.example:8088/services/collector/event\"\ntoken = \"t\"\n"
        ),
    );
    let mut host = env.launch("alice", &EXTENSION_ORIGIN);
    let reply = host.ask(hello);
    assert_eq!(reply["managed"], false);
    assert_eq!(reply["audit_sinks"], json!(["jsonl", "hec"]), "{reply}");
    assert_eq!(
        reply["policy"],
        json!({"allow_personal_tokens": true, "allow_seed_reveal": false})
    );
    assert!(host.finish().success());

    let who: Value = serde_json::from_str(&env.ok("alice", &["whoami", "--json"])).unwrap();
    assert_eq!(who["policy"]["allow_seed_reveal"], false, "{who}");
    assert_eq!(who["audit_sinks"], json!(["jsonl", "hec"]));
}

#[test]
fn cli_personal_tokens_listed_for_admins_used_by_owners_granted_to_nobody() {
    let Team { env, t, p } = team();

    // bob's list: his grant and his own token.
    let rows: Value = serde_json::from_str(&env.ok("bob", &["token", "list", "--json"])).unwrap();
    let mine = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == p.as_str())
        .expect("listed for its owner");
    assert_eq!(mine["personal"], true);
    assert_eq!(mine["owner"], "bob");
    assert_eq!(mine["access"], Access::FullSeed.as_str());

    // The admin sees every token, personal ones marked with the owner…
    let rows: Value = serde_json::from_str(&env.ok("alice", &["token", "list", "--json"])).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let personal = rows.iter().find(|r| r["id"] == p.as_str()).unwrap();
    assert_eq!(
        (&personal["personal"], &personal["owner"]),
        (&json!(true), &json!("bob"))
    );
    let shared = rows.iter().find(|r| r["id"] == t.as_str()).unwrap();
    assert_eq!(
        (&shared["personal"], &shared["owner"]),
        (&json!(false), &json!(null))
    );
    let text = env.ok("alice", &["token", "list"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with(&p) && l.ends_with("personal (bob)")),
        "{text}"
    );
    // …but gets no code and cannot grant it.
    let out = env.cli("alice", &["token", "code", &p]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("personal token"));
    let out = env.cli(
        "alice",
        &["grant", "set", &p, "ops", Access::CodeOnly.as_str()],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be granted to groups"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_refusal_on_record(
        &env,
        "alice",
        AuditAction::GrantSet.as_str(),
        "personal_token: ",
    );

    // The owner gets codes from the CLI too.
    let code: Value =
        serde_json::from_str(&env.ok("bob", &["token", "code", &p, "--json"])).unwrap();
    let from = code["valid_from"].as_u64().unwrap();
    assert_eq!(code["code"].as_str().unwrap(), oathtool(BOB_SEED, from));

    // Unknown people cannot enroll personal tokens.
    let out = add_personal(&env, "mallory", BOB_SEED, "Evil", "evil.example");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a user of this vault"));
    assert_refusal_on_record(
        &env,
        "mallory",
        AuditAction::TokenAdd.as_str(),
        "unknown_user: ",
    );

    // Only the owner (or an admin) removes it.
    assert!(!env.cli("carol", &["token", "remove", &p]).status.success());
    env.ok("bob", &["token", "remove", &p]);
    let r = last_record(&env);
    assert_eq!(r["event"]["action"], AuditAction::TokenRemove.as_str());
    assert_eq!(r["user"]["name"], "bob");
    assert_eq!(r["event"]["outcome"], "success");
    let rows: Value = serde_json::from_str(&env.ok("alice", &["token", "list", "--json"])).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let v = env.ok("alice", &["audit", "verify"]);
    assert!(v.contains("audit log OK"), "{v}");
}
