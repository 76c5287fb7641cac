//! The shared SMS inbox in real Chromium: extension → host → team server,
//! with the SMS posted to the server's Twilio webhook, signed here as
//! Twilio signs (base64 HMAC-SHA1 over the URL and the sorted parameters,
//! computed with `ring`, independently of the server's `twofill-sms`).
//! An SMS that arrives after the My-Kaspersky-style SMS prompt appeared is
//! filled, into one field and into six split boxes; the page says it waits,
//! then that it filled the code. Nothing is filled from a forged webhook,
//! from an SMS that came before the prompt (outside the grace), from an
//! origin-bound SMS for another origin, from the code already filled into
//! the previous prompt, or on a site no inbox is bound to; a prompt that
//! goes away, or a tab that leaves it, stops the wait.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use base64::Engine;
use fantoccini::{Client, Locator};
use ring::hmac;
use twofill_e2e::team::{TeamServer, Teammate};
use twofill_words::{AuditAction, SmsAccess};

const INBOX: &str = "+4915112345678";
const PUBLIC_URL: &str = "https://sms.example.test";
const TWILIO_TOKEN: &str = "twilio-auth-token-e2e-0123456789";
const ONE_FIELD: &str = "/site/kaspersky-sms.html";
const SPLIT_BOXES: &str = "/site/kaspersky-sms-boxes.html";
const WAITING: &str = "[data-twofill-notice=sms-waiting]";
const FILLED: &str = "[data-twofill-notice=sms-filled]";

fn inbound_path() -> String {
    format!("{}twilio", twofill_team_api::SMS_INBOUND_PATH_PREFIX)
}

/// `application/x-www-form-urlencoded`, as Twilio encodes it.
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

/// Posts `text` to the inbox as Twilio would, signed with `token`, and
/// checks the HTTP status is `expect`.
fn twilio_sms(server: &TeamServer, sid: &str, text: &str, token: &str, expect: u16) -> Result<()> {
    let params = [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("Body", text),
        ("From", "+4917612345678"),
        ("MessageSid", sid),
        ("NumMedia", "0"),
        ("To", INBOX),
    ];
    let url = format!("{PUBLIC_URL}{}", inbound_path());
    let signature = twilio_signature(&url, &params, token);
    let (status, reply) = server.post_webhook(
        &inbound_path(),
        &[("X-Twilio-Signature", signature)],
        "application/x-www-form-urlencoded",
        &form(&params),
    )?;
    ensure!(
        status == expect,
        "webhook {sid}: {status} {reply}, expected {expect}; server log:\n{}",
        server.log()
    );
    Ok(())
}

fn kaspersky_sms(code: &str) -> String {
    format!("Your My Kaspersky verification code: {code}. Do not share it.")
}

/// Signs in on the SMS fixture at `url` up to its code step.
async fn open_sms_prompt(client: &Client, url: &str) -> Result<()> {
    twofill_e2e::enter_sign_in(client, url).await?;
    twofill_e2e::submit_sign_in(client).await
}

/// The code step's value: the field's, or the split boxes' joined.
async fn code_on_page(client: &Client) -> Result<String> {
    let value = client
        .execute(
            "const one = document.getElementById('tfa-code');
             if (one) return one.value;
             return [...document.querySelectorAll('#step-code .box')].map((b) => b.value).join('');",
            vec![],
        )
        .await?;
    Ok(value.as_str().unwrap_or_default().to_owned())
}

async fn has(client: &Client, selector: &str) -> Result<bool> {
    Ok(!client.find_all(Locator::Css(selector)).await?.is_empty())
}

/// Waits up to `wait` for `selector` to be on the page.
async fn wait_for(client: &Client, selector: &str, wait: Duration) -> Result<bool> {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if has(client, selector).await? {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(false)
}

/// Waits up to `wait` for `selector` to be gone from the page.
async fn wait_for_none(client: &Client, selector: &str, wait: Duration) -> Result<bool> {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if !has(client, selector).await? {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(false)
}

/// How many SMS codes the server handed out for a fill (on record).
fn sms_fills(server: &TeamServer) -> Result<usize> {
    Ok(server
        .audit()?
        .iter()
        .filter(|r| {
            r["event"]["action"] == AuditAction::SmsCodeFill.as_str()
                && r["event"]["outcome"] == "success"
        })
        .count())
}

/// Waits up to `wait` for the code step to hold a value; "" if it never did.
async fn wait_for_code(client: &Client, wait: Duration) -> Result<String> {
    let deadline = Instant::now() + wait;
    loop {
        let value = code_on_page(client).await?;
        if !value.is_empty() || Instant::now() >= deadline {
            return Ok(value);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_sms_that_arrives_after_the_prompt_is_filled_and_nothing_else_is() -> Result<()> {
    let server = TeamServer::start_with(
        None,
        &format!(
            "[sms]\npublic_url = \"{PUBLIC_URL}\"\n\n[sms.twilio]\nauth_token = \"{TWILIO_TOKEN}\"\n"
        ),
    )?;
    let alice = Teammate::join(&server, "alice").await?;
    server.sms_inbox(
        INBOX,
        "http://my.kaspersky.test",
        "ops",
        "alice",
        SmsAccess::CodeOnly,
    )?;
    let client = &alice.session.client;
    let diagnostics = || {
        format!(
            "server log:\n{}\nbrowser:\n{}",
            server.log(),
            alice.session.diagnostics()
        )
    };

    // An SMS from before the prompt, by more than the 10 s grace.
    twilio_sms(
        &server,
        "SM0000000000000000000000000000before",
        &kaspersky_sms("111111"),
        TWILIO_TOKEN,
        200,
    )?;
    tokio::time::sleep(Duration::from_secs(12)).await;

    open_sms_prompt(
        client,
        &alice.session.site.url("my.kaspersky.test", ONE_FIELD),
    )
    .await?;
    ensure!(
        wait_for(client, WAITING, Duration::from_secs(10)).await?,
        "no \"Waiting for the SMS…\" notice (the page holds {:?}); {}",
        code_on_page(client).await?,
        diagnostics()
    );
    // A forged webhook is refused and fills nothing; an SMS bound to
    // another origin is stored but not offered here.
    twilio_sms(
        &server,
        "SM0000000000000000000000000000forged",
        &kaspersky_sms("222222"),
        "not-the-token",
        403,
    )?;
    let other_origin = "Your code is 333333.\n\n@other.test #333333";
    twilio_sms(
        &server,
        "SM0000000000000000000000000000other",
        other_origin,
        TWILIO_TOKEN,
        200,
    )?;
    let early = wait_for_code(client, Duration::from_secs(4)).await?;
    assert_eq!(
        early,
        "",
        "filled before the SMS for this prompt came; {}",
        diagnostics()
    );
    assert!(
        has(client, WAITING).await?,
        "stopped waiting; {}",
        diagnostics()
    );

    twilio_sms(
        &server,
        "SM0000000000000000000000000000onefield",
        &kaspersky_sms("482913"),
        TWILIO_TOKEN,
        200,
    )?;
    let filled = wait_for_code(client, Duration::from_secs(10)).await?;
    assert_eq!(filled, "482913", "{}", diagnostics());
    assert!(wait_for(client, FILLED, Duration::from_secs(2)).await?);
    assert!(!has(client, WAITING).await?, "still says it waits");

    // Split boxes: the code just filled (seconds ago, inside the grace) is
    // not offered to this next prompt; the next SMS is, one digit a box.
    open_sms_prompt(
        client,
        &alice.session.site.url("my.kaspersky.test", SPLIT_BOXES),
    )
    .await?;
    ensure!(
        wait_for(client, WAITING, Duration::from_secs(10)).await?,
        "no waiting notice on the split boxes (they hold {:?}); {}",
        code_on_page(client).await?,
        diagnostics()
    );
    let reused = wait_for_code(client, Duration::from_secs(2)).await?;
    assert_eq!(reused, "", "the previous prompt's code was filled again");
    twilio_sms(
        &server,
        "SM0000000000000000000000000000boxes",
        &kaspersky_sms("764251"),
        TWILIO_TOKEN,
        200,
    )?;
    let boxes = wait_for_code(client, Duration::from_secs(10)).await?;
    assert_eq!(boxes, "764251", "{}", diagnostics());

    // The prompt goes away while it waits: the notice goes and the worker
    // stops asking, so a later SMS is handed to nobody. (An ask already
    // held by the server when the prompt went runs out first: the test
    // waits longer than one ask before the SMS comes.)
    let fills_before = sms_fills(&server)?;
    open_sms_prompt(
        client,
        &alice.session.site.url("my.kaspersky.test", ONE_FIELD),
    )
    .await?;
    ensure!(
        wait_for(client, WAITING, Duration::from_secs(10)).await?,
        "no waiting notice; {}",
        diagnostics()
    );
    client
        .execute(
            "document.getElementById('step-code').hidden = true;",
            vec![],
        )
        .await?;
    ensure!(
        wait_for_none(client, WAITING, Duration::from_secs(5)).await?,
        "still waiting after the prompt went away"
    );
    let one_ask = Duration::from_millis(twofill_protocol::MAX_SMS_WAIT_PER_ASK_MS);
    tokio::time::sleep(one_ask + Duration::from_secs(1)).await;
    twilio_sms(
        &server,
        "SM0000000000000000000000000000hidden",
        &kaspersky_sms("905118"),
        TWILIO_TOKEN,
        200,
    )?;
    tokio::time::sleep(one_ask + Duration::from_secs(1)).await;
    assert_eq!(
        sms_fills(&server)?,
        fills_before,
        "a code was handed out for a prompt that went away"
    );
    // Leaving the page while it waits stops it too. (The next prompt comes
    // more than the grace after that SMS, which it must not get either.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    open_sms_prompt(
        client,
        &alice.session.site.url("my.kaspersky.test", ONE_FIELD),
    )
    .await?;
    ensure!(
        wait_for(client, WAITING, Duration::from_secs(10)).await?,
        "no waiting notice; {}",
        diagnostics()
    );
    client
        .goto(
            &alice
                .session
                .site
                .url("my.kaspersky.test", "/site/signin.css"),
        )
        .await?;
    tokio::time::sleep(one_ask + Duration::from_secs(1)).await;
    twilio_sms(
        &server,
        "SM0000000000000000000000000000gone",
        &kaspersky_sms("318842"),
        TWILIO_TOKEN,
        200,
    )?;
    tokio::time::sleep(one_ask + Duration::from_secs(1)).await;
    assert_eq!(
        sms_fills(&server)?,
        fills_before,
        "a code was handed out after the tab left the prompt"
    );

    // A site no inbox is bound to: no waiting, and nothing filled when an
    // SMS comes.
    open_sms_prompt(client, &alice.session.site.url("evil.test", ONE_FIELD)).await?;
    let waited = wait_for(client, WAITING, Duration::from_secs(4)).await?;
    twilio_sms(
        &server,
        "SM0000000000000000000000000000unbound",
        &kaspersky_sms("590317"),
        TWILIO_TOKEN,
        200,
    )?;
    let unbound = wait_for_code(client, Duration::from_secs(4)).await?;
    assert!(!waited, "an unbound site waited for an SMS");
    assert_eq!(unbound, "", "an unbound site got an SMS code");
    Ok(())
}
