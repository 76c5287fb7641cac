//! `wait_for_sms` in team server mode: the browser-launched host forwards
//! the wait to the server with the origin the browser reported, and hands
//! back the code of an SMS that arrived after the prompt, on a bound site,
//! to a user with a grant; nothing older, nothing for another site. A
//! local vault has no inboxes and says so.

use serde_json::{Value, json};
use twofill_vault::{FoundCode, NewSms};
use twofill_words::unix_now_ms;

use crate::team_server::{KASPERSKY, Laptop, TeamServer};

const INBOX: &str = "+4915112345678";

fn wait(since_ms: i64, origin: &str) -> Value {
    json!({
        "v": 1, "id": "w", "type": "wait_for_sms",
        "origin": origin, "since_ms": since_ms, "timeout_ms": 300,
    })
}

#[test]
fn a_joined_host_gets_the_code_of_an_sms_that_arrived_after_the_prompt() {
    let server = TeamServer::start_configured(
        "[sms]\npublic_url = \"https://sms.example.com\"\n[sms.twilio]\nauth_token = \"twilio-auth-token\"\n",
    );
    server.kaspersky_for_bob();
    server.ok(&["sms", "inbox", "add", INBOX]);
    server.ok(&["sms", "inbox", "bind", INBOX, "my.kaspersky.com"]);
    server.ok(&["sms", "inbox", "grant", INBOX, "ops", "code-only"]);
    let laptop = Laptop::new();
    laptop.join(&server, &server.invite("bob"));

    let prompt = unix_now_ms();
    let mut host = laptop.launch();
    let nothing = host.ask(wait(prompt, KASPERSKY));
    assert_eq!(nothing["type"], "sms_code", "{nothing}");
    assert_eq!(nothing["code"], Value::Null);
    host.finish();

    // The intake stores it (its webhook is the server's own test).
    let text = "Your My Kaspersky verification code: 482913.";
    server
        .vault()
        .receive_sms(&NewSms {
            provider: "twilio",
            message_id: "SM0001",
            to: INBOX,
            from: "Kaspersky",
            text,
            received_at_ms: unix_now_ms(),
            code: Some(FoundCode {
                code: "482913",
                rule: "fallback",
                bound_origin: None,
                embedded_origin: None,
            }),
        })
        .unwrap();
    let mut host = laptop.launch();
    let got = host.ask(wait(prompt, KASPERSKY));
    assert_eq!(got["type"], "sms_code", "{got}");
    assert_eq!(got["code"]["code"], "482913");
    assert_eq!(got["code"]["inbox"], INBOX);
    assert!(!got.to_string().contains("verification"), "{got}");
    // A later prompt does not get it; another site gets nothing.
    assert_eq!(
        host.ask(wait(unix_now_ms() + 1, KASPERSKY))["code"],
        Value::Null
    );
    let other = host.ask(wait(prompt, "https://evil.example"));
    assert_eq!(other["error"]["code"], "no_token_for_origin", "{other}");
    host.finish();
    let fills: Vec<String> = server
        .vault()
        .audit_records(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|r| r.event.action.is_sms_code())
        .map(|r| {
            format!(
                "{} {} {}",
                r.event.user,
                r.event.success,
                r.event.origin.unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        fills,
        [
            format!("bob true {KASPERSKY}"),
            "bob false https://evil.example".to_owned()
        ]
    );
}
