//! Single sign-on against a real OpenID provider (`twofill-test-oidc`:
//! oidc-provider on Node) and the real server process: the loopback flow's
//! code redeemed by the server, just-in-time users, group mapping, refresh,
//! leavers (removed from a group, disabled at the provider, disabled here),
//! device binding, expiry, step-up, key rotation, and crafted ID tokens fed
//! through the production validator by a tiny token endpoint of the test's
//! own while discovery keys come from the real provider.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use twofill_team_api::{
    OFFBOARDING_PATH, SEED_PATH, SESSION_HEADER, SSO_CONFIG_PATH, SSO_DEVICE_POLL_PATH,
    SSO_DEVICE_START_PATH, SSO_EXCHANGE_PATH, SSO_LOGOUT_PATH, SSO_REFRESH_PATH, WHOAMI_PATH,
};
use twofill_test_oidc::{
    Account, Config, Lifetimes, PUBLIC_CLIENT_ID, Pkce, Provider, random_token,
};

use crate::support::*;

const SCOPE: &str = "openid email groups offline_access";
const REDIRECT: &str = "http://127.0.0.1:47111/callback";
const ANA: &str = "ana@example.com";

struct Sso {
    idp: Provider,
    state: ServerState,
    server: Server,
}

/// A provider with ana (provider groups `idp-ops`, `idp-leads`) and root
/// (`twofill-admins`); a server whose `[sso]` points at it, with `extra`
/// lines in that section (after the defaults here).
fn sso(extra: &str, lifetimes: Option<Lifetimes>) -> Sso {
    sso_on(Backend::Sqlite, extra, lifetimes)
}

fn sso_on(backend: Backend, extra: &str, lifetimes: Option<Lifetimes>) -> Sso {
    let mut config = Config::default()
        .account(Account::new("ana", ANA, "pw", &["idp-ops", "idp-leads"]))
        .account(Account::new(
            "root",
            "root@example.com",
            "pw",
            &["twofill-admins"],
        ));
    if let Some(l) = lifetimes {
        config = config.lifetimes(l);
    }
    let idp = Provider::start(config);
    let state = ServerState::new(backend);
    write_sso(&state, idp.issuer(), extra);
    let server = state.serve();
    Sso { idp, state, server }
}

fn write_sso(state: &ServerState, issuer: &str, extra: &str) {
    let refetch = if extra.contains("jwks_refetch_seconds") {
        ""
    } else {
        "jwks_refetch_seconds = 0\n"
    };
    let path = state.state.join("server.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[sso]\nissuer = \"{issuer}\"\nclient_id = \"{PUBLIC_CLIENT_ID}\"\norg_name = \"Example Corp\"\n\
         scopes = [\"openid\", \"email\", \"groups\", \"offline_access\"]\nadmin_group = \"twofill-admins\"\n\
         required = true\nleeway_seconds = 0\n{refetch}{extra}\n\
         [sso.group_map]\nidp-ops = \"ops\"\nidp-leads = \"leads\"\n"
    ));
    std::fs::write(&path, text).unwrap();
}

/// A request carrying `ticket` in the session header.
fn with_ticket(client: &Client, path: &str, body: &Value, ticket: &str) -> Reply {
    let body = body.to_string();
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{SESSION_HEADER}: {ticket}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client.send(raw.as_bytes()).unwrap()
}

fn get_with_ticket(client: &Client, path: &str, ticket: &str) -> Reply {
    let raw = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{SESSION_HEADER}: {ticket}\r\n\r\n"
    );
    client.send(raw.as_bytes()).unwrap()
}

fn fill_with(client: &Client, ticket: &str) -> Reply {
    with_ticket(
        client,
        twofill_team_api::CODE_PATH,
        &json!({"origin": KASPERSKY_SITE, "purpose": "fill", "browser": "chromium"}),
        ticket,
    )
}

/// What the host does after the browser came back to its loopback
/// listener: hand the code, verifier and nonce to the server.
fn sign_in(f: &Sso, device: &Client, account: &str) -> Reply {
    let pkce = Pkce::new();
    let nonce = random_token();
    let code = f
        .idp
        .authorization_code(
            PUBLIC_CLIENT_ID,
            account,
            "pw",
            REDIRECT,
            &pkce.challenge,
            &nonce,
            SCOPE,
        )
        .unwrap();
    device.post(
        SSO_EXCHANGE_PATH,
        &json!({"code": code, "code_verifier": pkce.verifier, "redirect_uri": REDIRECT, "nonce": nonce}),
    )
}

fn signed_in(f: &Sso, device: &Client, account: &str) -> Value {
    let reply = sign_in(f, device, account);
    assert_eq!(
        reply.status,
        200,
        "{}\n{}",
        reply.text(),
        f.server.log_text()
    );
    reply.json()
}

fn error_code(reply: &Reply) -> String {
    reply.json()["error"]["code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn refused_reasons(state: &ServerState) -> Vec<String> {
    audit_since(&state.vault(), 0)
        .into_iter()
        .filter(|(_, action, ok, _)| action == "sso.refused" && !ok)
        .map(|(_, _, _, reason)| reason.unwrap_or_default())
        .collect()
}

crate::on_both_stores!(
    a_sign_in_creates_the_user_maps_groups_and_its_ticket_opens_codes_on_this_device_only
);

fn a_sign_in_creates_the_user_maps_groups_and_its_ticket_opens_codes_on_this_device_only(
    backend: Backend,
) {
    let f = sso_on(backend, "", None);
    let (ana, _) = f.server.device(&f.state, ANA);
    // SSO required: the device certificate alone gets nothing.
    let bare = ana.fill(KASPERSKY_SITE);
    assert_eq!(
        (bare.status, error_code(&bare)),
        (401, "signed_out".into()),
        "{}",
        bare.text()
    );
    assert_eq!(bare.json()["error"]["org"], "Example Corp");
    let config = ana.get(SSO_CONFIG_PATH).json();
    assert_eq!(config["org_name"], "Example Corp");
    assert_eq!(config["client_id"], PUBLIC_CLIENT_ID);
    assert_eq!(config["device_flow"], true);
    assert!(
        config["authorization_endpoint"]
            .as_str()
            .unwrap()
            .starts_with(f.idp.issuer())
    );

    let started = Instant::now();
    let session = signed_in(&f, &ana, "ana");
    eprintln!(
        "timing: loopback-equivalent exchange took {:?}",
        started.elapsed()
    );
    assert_eq!(session["user"], ANA);
    assert_eq!(session["groups"], json!(["leads", "ops"]));
    assert_eq!(session["admin"], false);
    assert!(session["refresh_token"].is_string());
    let ticket = session["ticket"].as_str().unwrap();

    let code = fill_with(&ana, ticket);
    assert_eq!(code.status, 200, "{}", code.text());
    let code = code.json();
    assert_eq!(
        code["code"].as_str().unwrap(),
        oathtool(KASPERSKY_SEED, code["valid_from"].as_u64().unwrap())
    );
    let me = with_ticket(&ana, WHOAMI_PATH, &json!({}), ticket).json();
    assert_eq!(me["session"]["user"], ANA);
    assert_eq!(me["session"]["groups"], json!(["leads", "ops"]));

    // The mapping is on record, one record per membership added.
    let records = audit_since(&f.state.vault(), 0);
    let mapped: Vec<_> = records
        .iter()
        .filter(|r| r.1 == "sso.group_mapped")
        .collect();
    assert_eq!(mapped.len(), 2, "{records:?}");
    assert!(records.iter().any(|r| r.1 == "sso.login" && r.2));

    // ana's ticket on bob's device: signed out, on record.
    let (bob, _) = f.server.device(&f.state, "bob");
    let stolen = fill_with(&bob, ticket);
    assert_eq!(
        (stolen.status, error_code(&stolen)),
        (401, "signed_out".into())
    );
    // bob's device signing in as ana: refused, the message names the device's user.
    let wrong = sign_in(&f, &bob, "ana");
    assert_eq!(
        (wrong.status, error_code(&wrong)),
        (403, "sso_refused".into())
    );
    assert!(
        wrong.text().contains("enrolled for bob"),
        "{}",
        wrong.text()
    );

    // The admin group makes an admin.
    let (root, _) = f.server.device(&f.state, "root@example.com");
    assert_eq!(signed_in(&f, &root, "root")["admin"], true);

    // Logout ends the session server-side.
    let out = with_ticket(&ana, SSO_LOGOUT_PATH, &json!({}), ticket);
    assert_eq!(out.json()["ended"], true);
    assert_eq!(error_code(&fill_with(&ana, ticket)), "signed_out");
}

#[test]
fn an_sso_invite_gives_the_device_to_whoever_signs_in_first() {
    let f = sso("", None);
    let out = f.state.cli_ok(&["invite", "--sso", "--ttl", "1h"]);
    let invite = out.lines().next().unwrap().trim();
    let (device, joined) = f
        .server
        .join(invite)
        .unwrap_or_else(|r| panic!("{}", r.text()));
    assert!(
        joined["user"]
            .as_str()
            .unwrap()
            .starts_with(twofill_vault::SSO_PENDING_USER_PREFIX)
    );
    let session = signed_in(&f, &device, "ana");
    assert_eq!(session["user"], ANA);
    assert_eq!(
        fill_with(&device, session["ticket"].as_str().unwrap()).status,
        200
    );
    let mine = f.state.vault().devices(Some(ANA)).unwrap();
    assert_eq!(mine.len(), 1);
    // Now it is ana's: someone else's sign-in on it is refused.
    let other = sign_in(&f, &device, "root");
    assert_eq!(
        (other.status, error_code(&other)),
        (403, "sso_refused".into())
    );
    assert!(
        other.text().contains(&format!("enrolled for {ANA}")),
        "{}",
        other.text()
    );
}

#[test]
fn a_refresh_rereads_groups_and_a_leaver_loses_the_token() {
    let f = sso("refresh_seconds = 2", None);
    let (ana, _) = f.server.device(&f.state, ANA);
    let first = signed_in(&f, &ana, "ana");
    let old_ticket = first["ticket"].as_str().unwrap();
    assert_eq!(fill_with(&ana, old_ticket).status, 200);

    // Removed from the provider's ops and leads groups.
    f.idp.set_groups("ana", &[]);
    let refreshed = ana.post(
        SSO_REFRESH_PATH,
        &json!({"refresh_token": first["refresh_token"]}),
    );
    assert_eq!(refreshed.status, 200, "{}", refreshed.text());
    let refreshed = refreshed.json();
    assert_eq!(refreshed["groups"], json!([]));
    assert_ne!(refreshed["ticket"], first["ticket"]);
    assert_ne!(
        refreshed["refresh_token"], first["refresh_token"],
        "rotated"
    );
    assert_eq!(refreshed["session_max_at_ms"], first["session_max_at_ms"]);
    let ticket = refreshed["ticket"].as_str().unwrap();
    assert_eq!(error_code(&fill_with(&ana, old_ticket)), "signed_out");
    let no_code = fill_with(&ana, ticket);
    assert_eq!(no_code.status, 403, "{}", no_code.text());
    assert!(no_code.json().get("code").is_none());
    let records = audit_since(&f.state.vault(), 0);
    assert!(records.iter().any(|r| {
        r.1 == "sso.group_mapped"
            && r.3
                .as_deref()
                .unwrap_or("")
                .contains("removed from group ops")
    }));
    assert!(records.iter().any(|r| r.1 == "sso.refresh" && r.2));

    // Disabled at the provider: the refresh is refused, and the ticket
    // runs out by itself within refresh_seconds.
    f.idp.set_groups("ana", &["idp-ops"]);
    let again = ana
        .post(
            SSO_REFRESH_PATH,
            &json!({"refresh_token": refreshed["refresh_token"]}),
        )
        .json();
    let ticket = again["ticket"].as_str().unwrap().to_owned();
    assert_eq!(fill_with(&ana, &ticket).status, 200);
    let disabled_at = Instant::now();
    f.idp.disable("ana");
    let refused = ana.post(
        SSO_REFRESH_PATH,
        &json!({"refresh_token": again["refresh_token"]}),
    );
    assert_eq!(
        (refused.status, error_code(&refused)),
        (403, "sso_refused".into()),
        "{}",
        refused.text()
    );
    assert!(
        refused_reasons(&f.state)
            .iter()
            .any(|r| r.contains("provider_invalid_grant")),
        "{:?}",
        refused_reasons(&f.state)
    );
    loop {
        // whoami, not fills: the fill rate limit is not what is tested here.
        let reply = with_ticket(&ana, WHOAMI_PATH, &json!({}), &ticket);
        if reply.status != 200 {
            assert_eq!(error_code(&reply), "session_expired", "{}", reply.text());
            break;
        }
        assert!(
            disabled_at.elapsed() < Duration::from_secs(5),
            "the ticket outlived refresh_seconds"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let no_code = fill_with(&ana, &ticket);
    assert_eq!(
        error_code(&no_code),
        "session_expired",
        "{}",
        no_code.text()
    );
    eprintln!(
        "timing: a leaver disabled at the provider got no code after {:?}",
        disabled_at.elapsed()
    );
}

#[test]
fn a_stolen_refresh_token_gets_nothing_on_another_device() {
    let f = sso("", None);
    let (ana, _) = f.server.device(&f.state, ANA);
    let stolen = signed_in(&f, &ana, "ana")["refresh_token"].clone();
    // A device with no session of its own: refused before the provider is asked.
    let (bob, _) = f.server.device(&f.state, "bob");
    let reply = bob.post(SSO_REFRESH_PATH, &json!({"refresh_token": stolen}));
    assert_eq!(
        (reply.status, error_code(&reply)),
        (401, "signed_out".into()),
        "{}",
        reply.text()
    );
    // A signed-in device of someone else: the provider's answer is ana's, not theirs.
    let (root, _) = f.server.device(&f.state, "root@example.com");
    signed_in(&f, &root, "root");
    let reply = root.post(SSO_REFRESH_PATH, &json!({"refresh_token": stolen}));
    assert_eq!(
        (reply.status, error_code(&reply)),
        (403, "sso_refused".into()),
        "{}",
        reply.text()
    );
    assert!(
        refused_reasons(&f.state)
            .last()
            .unwrap()
            .contains("wrong_user")
    );
}

#[test]
fn user_disable_on_the_server_is_immediate() {
    let f = sso("", None);
    let (ana, _) = f.server.device(&f.state, ANA);
    let ticket = signed_in(&f, &ana, "ana")["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(fill_with(&ana, &ticket).status, 200);
    let out = f.state.cli_ok(&["user", "disable", ANA]);
    assert!(out.contains("1 session(s) ended"), "{out}");
    let refused = fill_with(&ana, &ticket);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.text().contains("disabled"), "{}", refused.text());
    // A new sign-in is refused too, on record.
    assert_eq!(sign_in(&f, &ana, "ana").status, 403);
    assert!(
        audit_since(&f.state.vault(), 0)
            .iter()
            .any(|r| r.1 == "user.disabled" && r.2)
    );
    f.state.cli_ok(&["user", "enable", ANA]);
    let ticket = signed_in(&f, &ana, "ana")["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(fill_with(&ana, &ticket).status, 200);
    // The offboarding report: a code-only token, nothing to rotate.
    let report: Value =
        serde_json::from_str(&f.state.cli_ok(&["offboarding", ANA, "--json"])).unwrap();
    assert_eq!(report["rotate"], json!([]));
    assert_eq!(report["code_only"][0]["id"], f.state.token_id.as_str());
}

#[test]
fn an_old_ticket_is_session_expired_and_a_seed_needs_a_fresh_sign_in() {
    let f = sso("refresh_seconds = 30\nreveal_fresh_seconds = 2", None);
    let (ana, _) = f.server.device(&f.state, ANA);
    let ticket = signed_in(&f, &ana, "ana")["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let reveal = json!({"token": f.state.token_id, "purpose": "reveal"});
    let seed = with_ticket(&ana, SEED_PATH, &reveal, &ticket);
    assert_eq!(seed.status, 200, "{}", seed.text());
    std::thread::sleep(Duration::from_millis(3100));
    let stale = with_ticket(&ana, SEED_PATH, &reveal, &ticket);
    assert_eq!(
        (stale.status, error_code(&stale)),
        (401, "sign_in_again".into()),
        "{}",
        stale.text()
    );
    // Codes still work: only the reveal needs the fresh sign-in.
    assert_eq!(fill_with(&ana, &ticket).status, 200);
    // The offboarding report now lists the token to rotate.
    let report: Value =
        serde_json::from_str(&f.state.cli_ok(&["offboarding", ANA, "--json"])).unwrap();
    assert_eq!(report["rotate"][0]["id"], f.state.token_id.as_str());
    // The same report over the admin API, for an admin signed in through the admin group.
    let (root, _) = f.server.device(&f.state, "root@example.com");
    let root_ticket = signed_in(&f, &root, "root")["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("{OFFBOARDING_PATH}?user={ANA}");
    let api = get_with_ticket(&root, &path, &root_ticket);
    assert_eq!(api.status, 200, "{}", api.text());
    assert_eq!(api.json()["rotate"], report["rotate"]);
    // Not for a non-admin.
    assert_eq!(get_with_ticket(&ana, &path, &ticket).status, 403);

    let g = sso("refresh_seconds = 1", None);
    let (ana, _) = g.server.device(&g.state, ANA);
    let ticket = signed_in(&g, &ana, "ana")["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    std::thread::sleep(Duration::from_millis(1200));
    let expired = fill_with(&ana, &ticket);
    assert_eq!(
        (expired.status, error_code(&expired)),
        (401, "session_expired".into())
    );
}

#[test]
fn the_device_flow_signs_in_after_approval() {
    let f = sso("", None);
    let (ana, _) = f.server.device(&f.state, ANA);
    let started = ana.post(SSO_DEVICE_START_PATH, &json!({}));
    assert_eq!(started.status, 200, "{}", started.text());
    let started = started.json();
    let poll = json!({"device_code": started["device_code"]});
    let pending = ana.post(SSO_DEVICE_POLL_PATH, &poll);
    assert_eq!(error_code(&pending), "sso_pending", "{}", pending.text());
    let t = Instant::now();
    f.idp
        .approve_device(started["user_code"].as_str().unwrap(), "ana", "pw")
        .unwrap();
    let session = loop {
        let reply = ana.post(SSO_DEVICE_POLL_PATH, &poll);
        match error_code(&reply).as_str() {
            "" => break reply.json(),
            "sso_pending" | "sso_slow_down" => std::thread::sleep(Duration::from_millis(
                1000 * started["interval_s"].as_u64().unwrap_or(1),
            )),
            other => panic!("{other}: {}", reply.text()),
        }
    };
    eprintln!("timing: device flow approval to session {:?}", t.elapsed());
    assert_eq!(session["user"], ANA);
    assert_eq!(
        fill_with(&ana, session["ticket"].as_str().unwrap()).status,
        200
    );
}

#[test]
fn a_key_rotation_at_the_provider_is_followed_without_a_restart() {
    let f = sso("", None);
    let (ana, _) = f.server.device(&f.state, ANA);
    signed_in(&f, &ana, "ana");
    let before = f.idp.jwks_kids();
    let after = f.idp.rotate_keys();
    assert!(after.iter().all(|k| !before.contains(k)));
    signed_in(&f, &ana, "ana");
}

#[test]
fn unknown_key_ids_refetch_the_key_set_at_most_once_per_interval() {
    // With a long interval, a rotated key is not fetched again at once (so
    // made-up key ids cannot hammer the provider): the sign-in is refused
    // as an unknown key, on record. The test above is the same with 0 s.
    let f = sso("jwks_refetch_seconds = 3600", None);
    let (ana, _) = f.server.device(&f.state, ANA);
    signed_in(&f, &ana, "ana");
    f.idp.rotate_keys();
    let reply = sign_in(&f, &ana, "ana");
    assert_eq!(
        (reply.status, error_code(&reply)),
        (403, "sso_refused".into()),
        "{}",
        reply.text()
    );
    assert!(
        refused_reasons(&f.state)
            .last()
            .unwrap()
            .contains("unknown_key")
    );
}

/// A token endpoint of the test's own: answers every token request with
/// the next crafted ID token. Discovery is the real provider's document
/// with only `token_endpoint` pointing here, so the keys (`jwks_uri`) and
/// the issuer stay the provider's.
struct FakeTokenEndpoint {
    url: String,
    next: Arc<Mutex<String>>,
}

fn fake_token_endpoint(idp: &Provider) -> FakeTokenEndpoint {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut discovery = idp.discovery();
    discovery["token_endpoint"] = json!(format!("{url}/token"));
    let next = Arc::new(Mutex::new(String::new()));
    let answer = Arc::clone(&next);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let reply = if line.contains("openid-configuration") {
                discovery.to_string()
            } else {
                json!({"id_token": *answer.lock().unwrap(), "token_type": "Bearer"}).to_string()
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    FakeTokenEndpoint { url, next }
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

fn parts(token: &str) -> (Value, Value, String) {
    let p: Vec<&str> = token.split('.').collect();
    let json = |s: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (json(p[0]), json(p[1]), p[2].to_owned())
}

fn encode(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    )
}

#[test]
fn crafted_id_tokens_are_refused_each_with_its_reason_on_record() {
    let idp = Provider::start(
        Config::default()
            .account(Account::new("ana", ANA, "pw", &["idp-ops"]))
            .client(twofill_test_oidc::Client::public("other-app"))
            .lifetimes(Lifetimes {
                id_token: Duration::from_secs(1),
                access_token: Duration::from_secs(60),
                refresh_token: Duration::from_secs(600),
            }),
    );
    let fake = fake_token_endpoint(&idp);
    let state = ServerState::new(Backend::Sqlite);
    write_sso(
        &state,
        idp.issuer(),
        &format!(
            "discovery_url = \"{}/.well-known/openid-configuration\"",
            fake.url
        ),
    );
    let server = state.serve();
    let (ana, _) = server.device(&state, ANA);

    let real = |client: &str, nonce: &str| {
        let pkce = Pkce::new();
        idp.sign_in_with(client, "ana", "pw", REDIRECT, &pkce, nonce, SCOPE)
            .unwrap()
            .id_token
            .unwrap()
    };
    let nonce = random_token();
    let good = real(PUBLIC_CLIENT_ID, &nonce);
    let (header, payload, signature) = parts(&good);

    // Our own ES256 key, under a key id the provider never published.
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let mine = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
    let input = encode(&json!({"alg": "ES256", "kid": "attacker-1"}), &payload, "");
    let input = input.trim_end_matches('.');
    let own_key = format!(
        "{input}.{}",
        b64(mine.sign(&rng, input.as_bytes()).unwrap().as_ref())
    );

    // HS256 keyed with the provider's public RSA modulus.
    let jwks = idp.jwks();
    let rsa = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA")
        .unwrap();
    let hs_input = encode(&json!({"alg": "HS256", "kid": rsa["kid"]}), &payload, "");
    let hs_input = hs_input.trim_end_matches('.');
    let hmac_key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        rsa["n"].as_str().unwrap().as_bytes(),
    );
    let hs = format!(
        "{hs_input}.{}",
        b64(ring::hmac::sign(&hmac_key, hs_input.as_bytes()).as_ref())
    );

    let mut none_header = header.clone();
    none_header["alg"] = json!("none");
    let mut changed = payload.clone();
    changed["email"] = json!("root@example.com");
    let other_audience = real("other-app", &nonce);

    let cases: Vec<(&str, String, &str)> = vec![
        ("own key", own_key, "unknown_key"),
        (
            "alg none",
            encode(&none_header, &payload, ""),
            "alg_not_allowed",
        ),
        ("HS256 with the public key", hs, "alg_not_allowed"),
        (
            "tampered payload",
            encode(&header, &changed, &signature),
            "bad_signature",
        ),
        ("another client's token", other_audience, "wrong_audience"),
        (
            "another issuer, signed with the provider's own key",
            idp.sign_claims("RS256", &json!({}), &{
                let mut p = payload.clone();
                p["iss"] = json!("https://idp.evil.example");
                p
            }),
            "wrong_issuer",
        ),
    ];
    let exchange = |nonce: &str| {
        ana.post(
            SSO_EXCHANGE_PATH,
            &json!({"code": "c", "code_verifier": "v", "redirect_uri": REDIRECT, "nonce": nonce}),
        )
    };
    for (what, token, reason) in &cases {
        *fake.next.lock().unwrap() = token.clone();
        let reply = exchange(&nonce);
        assert_eq!(
            (reply.status, error_code(&reply)),
            (403, "sso_refused".into()),
            "{what}: {}",
            reply.text()
        );
        assert!(reply.text().contains(reason), "{what}: {}", reply.text());
        let last = refused_reasons(&state).pop().unwrap_or_default();
        assert!(last.contains(reason), "{what}: on record as {last:?}");
    }
    // The genuine token with another sign-in's nonce.
    *fake.next.lock().unwrap() = good.clone();
    let replayed = exchange("another-nonce");
    assert!(
        replayed.text().contains("nonce_mismatch"),
        "{}",
        replayed.text()
    );
    // The genuine token is accepted (the fake endpoint is not the problem)…
    let accepted = exchange(&nonce);
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    // …until it expires (1 s lifetime, no leeway configured).
    std::thread::sleep(Duration::from_millis(2100));
    let expired = exchange(&nonce);
    assert!(expired.text().contains("expired"), "{}", expired.text());
    assert!(refused_reasons(&state).last().unwrap().contains("expired"));
    // Nothing of the tokens is in the replies or the record.
    let log: String = refused_reasons(&state).join("\n");
    assert!(!log.contains(&signature[..20]));
}

#[test]
fn an_algorithm_off_the_allow_list_is_refused() {
    // The provider signs RS256; a server that allows only ES256 refuses it.
    let f = sso("algorithms = [\"ES256\"]", None);
    let (ana, _) = f.server.device(&f.state, ANA);
    let reply = sign_in(&f, &ana, "ana");
    assert_eq!(
        (reply.status, error_code(&reply)),
        (403, "sso_refused".into()),
        "{}",
        reply.text()
    );
    assert!(
        refused_reasons(&f.state)
            .last()
            .unwrap()
            .contains("alg_not_allowed")
    );
}

#[test]
fn a_bad_sso_section_stops_serve_naming_the_key() {
    let state = ServerState::new(Backend::Sqlite);
    write_sso(&state, "http://idp.example.com", "");
    let out = state.cli(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[sso] issuer"), "{err}");
}

#[test]
fn user_disable_refuses_devices_without_single_sign_on_too() {
    let state = ServerState::new(Backend::Sqlite);
    let server = state.serve();
    let (bob, _) = server.device(&state, "bob");
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
    state.cli_ok(&["user", "disable", "bob"]);
    let refused = bob.fill(KASPERSKY_SITE);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.json().get("code").is_none());
    state.cli_ok(&["user", "enable", "bob"]);
    assert_eq!(bob.fill(KASPERSKY_SITE).status, 200);
}
