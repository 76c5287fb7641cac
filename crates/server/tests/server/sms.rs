//! SMS webhooks against the running server: a test client signs requests
//! exactly as Twilio (HMAC-SHA1 over URL + sorted parameters, base64),
//! Vonage (HMAC-SHA256 over `&key=value` sorted, hex) and capcom6's
//! android-sms-gateway (HMAC-SHA256 over body + timestamp, hex) do, computed
//! here with `ring`, independently of the server's `twofill-sms`. Genuine
//! ones are stored once; forged, unsigned and stale ones get 403, a record
//! and nothing stored; an unknown number gets 200 and is stored nowhere.

use base64::Engine;
use ring::hmac;
use twofill_vault::Requester;
use twofill_words::unix_now_secs;

use crate::support::*;

const INBOX: &str = "+4915112345678";
const PUBLIC_URL: &str = "https://sms.example.com";
const TWILIO_TOKEN: &str = "twilio-auth-token-0123456789";
const VONAGE_SECRET: &str = "vonage-signature-secret";
const GATEWAY_KEY: &str = "capcom6-signing-key";
const TEXT: &str = "Your My Kaspersky verification code: 482913. Do not share it.";

fn path(provider: &str) -> String {
    format!("{}{provider}", twofill_team_api::SMS_INBOUND_PATH_PREFIX)
}

/// `application/x-www-form-urlencoded`, as providers encode it.
fn form(params: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Twilio: base64(HMAC-SHA1(auth token, URL + each key and value, keys sorted)).
fn twilio_signature(url: &str, params: &[(&str, &str)], token: &str) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut signed = url.to_owned();
    for (k, v) in sorted {
        signed.push_str(k);
        signed.push_str(v);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, token.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, signed.as_bytes()))
}

fn post(client: &Client, path: &str, headers: &[(&str, String)], kind: &str, body: &str) -> Reply {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: sms.example.com\r\nConnection: close\r\n\
         Content-Type: {kind}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    client.send(raw.as_bytes()).unwrap()
}

fn twilio(client: &Client, sid: &str, to: &str, token: &str) -> Reply {
    let params = [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("Body", TEXT),
        ("From", "+4917612345678"),
        ("MessageSid", sid),
        ("NumMedia", "0"),
        ("To", to),
    ];
    let url = format!("{PUBLIC_URL}{}", path("twilio"));
    let signature = twilio_signature(&url, &params, token);
    post(
        client,
        &path("twilio"),
        &[("X-Twilio-Signature", signature)],
        "application/x-www-form-urlencoded",
        &form(&params),
    )
}

fn vonage(client: &Client, id: &str, text: &str) -> Reply {
    let now = unix_now_secs().to_string();
    let mut params = vec![
        ("msisdn", "4917612345678"),
        ("to", "4915112345678"),
        ("messageId", id),
        ("text", text),
        ("type", "text"),
        ("keyword", "YOUR"),
        ("message-timestamp", "2026-12-04 18:00:00"),
        ("timestamp", now.as_str()),
        ("nonce", "f0e1d2c3-b4a5"),
    ];
    let mut sorted = params.clone();
    sorted.sort();
    let signed: String = sorted
        .iter()
        .map(|(k, v)| format!("&{k}={}", v.replace(['&', '='], "_")))
        .collect();
    let key = hmac::Key::new(hmac::HMAC_SHA256, VONAGE_SECRET.as_bytes());
    let sig = hex(hmac::sign(&key, signed.as_bytes()).as_ref());
    params.push(("sig", &sig));
    post(
        client,
        &path("vonage"),
        &[],
        "application/x-www-form-urlencoded",
        &form(&params),
    )
}

fn gateway(client: &Client, id: &str, stamp: u64, key: &str) -> Reply {
    let body = serde_json::json!({
        "id": "evt-1",
        "webhookId": "wh-1",
        "event": "sms:received",
        "deviceId": "phone-1",
        "payload": {
            "messageId": id,
            "phoneNumber": "+4917612345678",
            "sender": "+4917612345678",
            "recipient": INBOX,
            "simNumber": 1,
            "message": TEXT,
            "receivedAt": "2026-12-04T18:00:00.000+00:00"
        }
    })
    .to_string();
    let stamp = stamp.to_string();
    let mac = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let signature = hex(hmac::sign(&mac, format!("{body}{stamp}").as_bytes()).as_ref());
    post(
        client,
        &path("android-sms-gateway"),
        &[("X-Signature", signature), ("X-Timestamp", stamp)],
        "application/json",
        &body,
    )
}

/// The server state with `[sms]` for three providers (and the
/// text-unsigned forwarder configured but not allowed), INBOX bound to
/// the Kaspersky site, code-only for `ops` (bob) and full for `leads`
/// (carol).
fn sms_state(backend: Backend, per_minute: i64) -> ServerState {
    let state = ServerState::new(backend);
    let path = state.state.join("server.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(&format!(
        r#"
[sms]
public_url = "{PUBLIC_URL}"
webhooks_per_minute = {per_minute}

[sms.twilio]
auth_token = "{TWILIO_TOKEN}"

[sms.vonage]
signature_secret = "{VONAGE_SECRET}"
method = "sha256"

[sms.android_sms_gateway]
signing_key = "{GATEWAY_KEY}"

[sms.sms_forwarder]
secret = "forwarder-secret"
own_number = "{INBOX}"
"#
    ));
    std::fs::write(&path, config).unwrap();
    state.cli_ok(&["sms", "inbox", "add", INBOX]);
    state.cli_ok(&["sms", "inbox", "bind", INBOX, "my.kaspersky.com"]);
    state.cli_ok(&["sms", "inbox", "grant", INBOX, "ops", "code-only"]);
    state.cli_ok(&["sms", "inbox", "grant", INBOX, "leads", "full"]);
    state
}

fn stored_texts(state: &ServerState) -> Vec<String> {
    let mut vault = state.vault();
    vault
        .sms_messages(&Requester::cli("carol"), INBOX, 50)
        .unwrap()
        .into_iter()
        .map(|m| m.text.unwrap())
        .collect()
}

fn refusals(state: &ServerState, after: i64) -> Vec<String> {
    audit_since(&state.vault(), after)
        .into_iter()
        .filter(|(_, action, ok, _)| action == "sms.refused" && !ok)
        .map(|(user, _, _, reason)| format!("{user}: {}", reason.unwrap_or_default()))
        .collect()
}

fn each_provider_signed_as_it_signs_is_stored_once_and_forgeries_store_nothing(backend: Backend) {
    let state = sms_state(backend, 0);
    let server = state.serve();
    let client = server.anonymous();
    let before = state.vault().audit_head_seq().unwrap();

    let reply = twilio(&client, "SM0001", INBOX, TWILIO_TOKEN);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("<Response></Response>"));
    // Twilio retries with the same MessageSid: stored once.
    assert_eq!(twilio(&client, "SM0001", INBOX, TWILIO_TOKEN).status, 200);
    let reply = vonage(&client, "0A000001", TEXT);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = gateway(&client, "gw-1", unix_now_secs(), GATEWAY_KEY);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(stored_texts(&state).len(), 3);
    assert!(refusals(&state, before).is_empty());

    // Forged (another token), stale (an hour old) and unsigned: 403 each,
    // nothing stored, each on record.
    let after_genuine = state.vault().audit_head_seq().unwrap();
    let forged = twilio(&client, "SM0002", INBOX, "not-the-auth-token");
    assert_eq!(forged.status, 403, "{}", forged.text());
    let stale = gateway(&client, "gw-2", unix_now_secs() - 3600, GATEWAY_KEY);
    assert_eq!(stale.status, 403, "{}", stale.text());
    let wrong_key = gateway(&client, "gw-3", unix_now_secs(), "another-key-entirely");
    assert_eq!(wrong_key.status, 403);
    let unsigned = post(
        &client,
        &path("twilio"),
        &[],
        "application/x-www-form-urlencoded",
        &form(&[("MessageSid", "SM0003"), ("To", INBOX), ("Body", TEXT)]),
    );
    assert_eq!(unsigned.status, 403);
    // The forwarder's signature does not cover the text: refused unless
    // allowed, even when it is right.
    let stamp_ms = (unix_now_secs() * 1000).to_string();
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"forwarder-secret");
    let sign = base64::engine::general_purpose::STANDARD.encode(hmac::sign(
        &key,
        format!("{stamp_ms}\nforwarder-secret").as_bytes(),
    ));
    let forwarder = post(
        &client,
        &path("sms-forwarder"),
        &[],
        "application/x-www-form-urlencoded",
        &form(&[
            ("from", "+4917612345678"),
            ("content", TEXT),
            ("timestamp", &stamp_ms),
            ("sign", &sign),
        ]),
    );
    assert_eq!(forwarder.status, 403, "{}", forwarder.text());
    assert_eq!(stored_texts(&state).len(), 3);
    let refused = refusals(&state, after_genuine);
    assert_eq!(refused.len(), 5, "{refused:#?}");
    assert!(refused[0].starts_with("provider:twilio: from 127.0.0.1: bad_signature"));
    assert!(refused[1].contains("stale"), "{}", refused[1]);
    assert!(refused[3].contains("missing_signature"), "{}", refused[3]);
    assert!(
        refused[4].starts_with("provider:sms-forwarder: from 127.0.0.1: unsigned_body_refused"),
        "{}",
        refused[4]
    );

    // A number that is no inbox: 200 (the provider stops retrying), stored
    // nowhere, recorded as unroutable.
    let after_forged = state.vault().audit_head_seq().unwrap();
    assert_eq!(
        twilio(&client, "SM0004", "+4915199999999", TWILIO_TOKEN).status,
        200
    );
    let refused = refusals(&state, after_forged);
    assert_eq!(refused.len(), 1);
    assert!(refused[0].contains("unroutable"), "{}", refused[0]);
    assert_eq!(stored_texts(&state).len(), 3);

    // Code-only sees the code, full the text too.
    let mut vault = state.vault();
    let bob = vault
        .sms_messages(&Requester::cli("bob"), INBOX, 10)
        .unwrap();
    assert!(
        bob.iter()
            .all(|m| m.code.as_deref() == Some("482913") && m.text.is_none())
    );
    assert!(state.cli_ok(&["audit", "verify"]).contains("audit log OK"));
}

fn bad_input_is_refused_before_anything_is_believed(backend: Backend) {
    let state = sms_state(backend, 3);
    let server = state.serve();
    let client = server.anonymous();
    // Over the body cap: 413 before parsing.
    let huge = "a".repeat(twofill_sms::MAX_BODY_BYTES + 1);
    let reply = post(
        &client,
        &path("twilio"),
        &[],
        "application/x-www-form-urlencoded",
        &huge,
    );
    assert_eq!(reply.status, 413);
    // No provider of that name: 404, not counted.
    assert_eq!(
        post(&client, &path("nope"), &[], "text/plain", "x").status,
        404
    );
    // Vonage without its `sig`: unsigned.
    let reply = post(
        &client,
        &path("vonage"),
        &[],
        "application/x-www-form-urlencoded",
        &form(&[
            ("msisdn", "4917612345678"),
            ("to", "4915112345678"),
            ("text", TEXT),
        ]),
    );
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(twilio(&client, "SM0008", INBOX, TWILIO_TOKEN).status, 200);
    // A flood from one address: the fourth in the minute gets 429, even
    // signed, and is not stored.
    let reply = twilio(&client, "SM0009", INBOX, TWILIO_TOKEN);
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert_eq!(reply.header("retry-after"), Some("60"));
    assert_eq!(stored_texts(&state).len(), 1);
}

fn wait(client: &Client, origin: &str, since_ms: i64, timeout_ms: u64) -> Reply {
    client.post(
        twofill_team_api::SMS_WAIT_PATH,
        &serde_json::json!({
            "origin": origin,
            "since_ms": since_ms,
            "timeout_ms": timeout_ms,
            "browser": "chromium",
        }),
    )
}

/// A wait held open on `client` while `during` runs; its reply.
fn wait_while(client: &Client, since_ms: i64, timeout_ms: u64, during: impl FnOnce()) -> Reply {
    std::thread::scope(|s| {
        let waiter = s.spawn(|| wait(client, KASPERSKY_SITE, since_ms, timeout_ms));
        // The wait is open (it subscribes before its first look) well before this.
        std::thread::sleep(std::time::Duration::from_millis(500));
        during();
        waiter.join().unwrap()
    })
}

fn a_waiting_device_gets_the_code_that_arrives_and_nothing_else(backend: Backend) {
    let state = sms_state(backend, 0);
    let server = state.serve();
    let webhooks = server.anonymous();
    let (bob, _) = server.device(&state, "bob");
    let (dave, _) = server.device(&state, "dave");

    // An SMS from before the prompt is not offered.
    assert_eq!(twilio(&webhooks, "SM0100", INBOX, TWILIO_TOKEN).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let prompt = twofill_words::unix_now_ms();
    let reply = wait(&bob, KASPERSKY_SITE, prompt, 300);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["code"], serde_json::Value::Null);

    // A forged one arriving during the wait fills nothing.
    let reply = wait_while(&bob, prompt, 1500, || {
        assert_eq!(twilio(&webhooks, "SM0101", INBOX, "forged").status, 403);
    });
    assert_eq!(reply.json()["code"], serde_json::Value::Null);

    // The genuine one wakes the wait with its code.
    // Shorter than a waiter's own recheck: only the announcement can wake it.
    let reply = wait_while(&bob, prompt, 8_000, || {
        assert_eq!(twilio(&webhooks, "SM0102", INBOX, TWILIO_TOKEN).status, 200);
    });
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["code"]["code"], "482913");
    assert_eq!(reply.json()["code"]["inbox"], INBOX);
    // Asked again, it is there at once.
    assert_eq!(
        wait(&bob, KASPERSKY_SITE, prompt, 0).json()["code"]["code"],
        "482913"
    );

    // An unbound site gets nothing; a user without a grant is refused.
    assert_eq!(
        wait(&bob, "https://evil.example", prompt, 0).code(),
        "no_token_for_origin"
    );
    assert_eq!(
        wait(&dave, KASPERSKY_SITE, prompt, 0).code(),
        "not_permitted"
    );
    // The popup's view: bob (code-only) sees the code, carol (full) the text.
    let (carol, _) = server.device(&state, "carol");
    let view = bob.post(
        twofill_team_api::SMS_INBOXES_PATH,
        &serde_json::json!({"messages": 5}),
    );
    assert_eq!(view.status, 200, "{}", view.text());
    let inbox = &view.json()["inboxes"][0];
    assert_eq!(inbox["number"], INBOX);
    assert_eq!(inbox["level"], "code-only");
    assert_eq!(inbox["messages"][0]["code"], "482913");
    assert!(inbox["messages"][0].get("text").is_none(), "{inbox}");
    assert!(!view.text().contains("Do not share"), "{}", view.text());
    let view = carol.post(twofill_team_api::SMS_INBOXES_PATH, &serde_json::json!({}));
    assert_eq!(view.json()["inboxes"][0]["messages"][0]["text"], TEXT);
    let view = dave.post(twofill_team_api::SMS_INBOXES_PATH, &serde_json::json!({}));
    assert_eq!(view.json()["inboxes"], serde_json::json!([]));

    let fills: Vec<_> = audit_since(&state.vault(), 0)
        .into_iter()
        .filter(|(_, action, _, _)| action == "sms.code.fill")
        .map(|(user, _, ok, _)| (user, ok))
        .collect();
    assert_eq!(
        fills,
        [
            ("bob".to_owned(), true),
            ("bob".to_owned(), true),
            ("bob".to_owned(), false),
            ("dave".to_owned(), false)
        ]
    );
}

crate::on_both_stores!(
    each_provider_signed_as_it_signs_is_stored_once_and_forgeries_store_nothing,
    bad_input_is_refused_before_anything_is_believed,
    a_waiting_device_gets_the_code_that_arrives_and_nothing_else,
);

/// Two replicas on one PostgreSQL: the webhook reaches one, the device
/// waits on the other, and LISTEN/NOTIFY wakes it (its wait is shorter
/// than a waiter's own recheck, so nothing else could).
#[test]
fn an_sms_received_by_one_replica_reaches_a_device_waiting_on_the_other() {
    let state = sms_state(Backend::Postgres, 0);
    let first = state.serve();
    let second = state.serve();
    let (bob_first, _) = first.device(&state, "bob");
    let bob_second = second.client_for(&bob_first);
    let prompt = twofill_words::unix_now_ms();
    let reply = wait_while(&bob_second, prompt, 8_000, || {
        assert_eq!(
            twilio(&first.anonymous(), "SM0200", INBOX, TWILIO_TOKEN).status,
            200
        );
    });
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["code"]["code"], "482913", "{}", reply.text());
}

#[test]
fn the_cli_lists_inboxes_and_refuses_numbers_it_cannot_read() {
    let state = sms_state(Backend::Sqlite, 0);
    let list = state.cli_ok(&["sms", "inbox", "list"]);
    assert!(list.contains(INBOX), "{list}");
    assert!(list.contains("https://my.kaspersky.com"), "{list}");
    assert!(
        list.contains("leads=full") && list.contains("ops=code-only"),
        "{list}"
    );
    let out = state.cli(&["sms", "inbox", "add", "not a number"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a number"), "{err}");
    let out = state.cli(&["sms", "inbox", "grant", INBOX, "ops", "full-seed"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`code-only` or `full`"));
    assert!(
        state
            .cli_ok(&["sms", "inbox", "purge", INBOX])
            .contains("0 messages purged")
    );
}
