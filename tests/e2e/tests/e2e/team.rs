//! The team in real Chromium: extension → host → team server (mutual TLS)
//! → PostgreSQL. Two teammates, each on their own browser profile with
//! their own device certificate, get the shared Kaspersky code filled;
//! the code-only one never gets the seed; a look-alike origin gets nothing;
//! a revoked device gets nothing and its popup says why; the server's audit
//! log names both people.

use std::time::Duration;

use anyhow::{Context, Result};
use twofill_e2e::team::{TeamServer, Teammate};
use twofill_e2e::{EXTENSION_ID, oathtool_codes, sign_in_and_wait_for_code};
use twofill_words::{Access, AuditAction};

const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const SIGN_IN: &str = "/site/kaspersky-signin.html";

#[tokio::test]
async fn teammates_fill_codes_from_the_team_server_and_only_the_seed_holder_gets_the_seed()
-> Result<()> {
    // The synchronous postgres client runs its own runtime: not on this one.
    let database = tokio::task::spawn_blocking(twofill_test_postgres::fresh_database).await?;
    let server = TeamServer::start(Some(&database))?;
    let token = server.enroll("Kaspersky", SEED, &["http://my.kaspersky.test"])?;
    // Invites create the people; then the admin grants them.
    let alice = Teammate::join(&server, "alice").await?;
    let bob = Teammate::join(&server, "bob").await?;
    server.grant(&token, "leads", "alice", Access::FullSeed)?;
    server.grant(&token, "ops", "bob", Access::CodeOnly)?;

    for teammate in [&alice, &bob] {
        let session = &teammate.session;
        let url = session.site.url("my.kaspersky.test", SIGN_IN);
        let filled =
            sign_in_and_wait_for_code(&session.client, &url, Duration::from_secs(15)).await?;
        let expected = oathtool_codes(SEED, filled.started, filled.finished)?;
        assert!(
            expected.contains(&filled.value),
            "{} got {:?}, oathtool says {expected:?}; server log:\n{}\nbrowser:\n{}",
            teammate.name,
            filled.value,
            server.log(),
            session.diagnostics()
        );
    }

    // The seed: alice's full-seed grant reveals it, bob's code-only one
    // returns nothing but a refusal.
    let alice_seed = alice.reveal_seed(&token)?;
    assert_eq!(alice_seed["type"], "seed", "alice's reveal: {alice_seed}");
    assert!(alice_seed.to_string().contains(SEED), "{alice_seed}");
    let bob_seed = bob.reveal_seed(&token)?;
    assert_eq!(bob_seed["type"], "error", "bob's reveal: {bob_seed}");
    assert_eq!(bob_seed["error"]["code"], "not_permitted", "{bob_seed}");
    assert!(!bob_seed.to_string().contains(SEED), "{bob_seed}");

    // A look-alike host gets nothing, even for a teammate with a grant.
    let short = Duration::from_secs(5);
    let lookalike = bob.session.site.url("my.kaspersky.test.evil.test", SIGN_IN);
    let got = sign_in_and_wait_for_code(&bob.session.client, &lookalike, short).await?;
    assert_eq!(got.value, "", "a look-alike origin got a code");

    // Revoked: bob's next sign-in gets nothing, and his popup says why.
    server.server_cli(&["revoke", &bob.device, "--by", twofill_e2e::team::ADMIN])?;
    let url = bob.session.site.url("my.kaspersky.test", SIGN_IN);
    let after = sign_in_and_wait_for_code(&bob.session.client, &url, short).await?;
    assert_eq!(after.value, "", "a revoked device got a code");
    let state = bob
        .session
        .open_popup("origin=http://my.kaspersky.test")
        .await?;
    assert_eq!(state, "device-revoked", "{}", bob.session.diagnostics());
    bob.session.save_screenshot("popup-device-revoked").await?;
    // Alice's device is unaffected.
    let url = alice.session.site.url("my.kaspersky.test", SIGN_IN);
    let still =
        sign_in_and_wait_for_code(&alice.session.client, &url, Duration::from_secs(15)).await?;
    assert!(
        oathtool_codes(SEED, still.started, still.finished)?.contains(&still.value),
        "alice after bob's revocation: {:?}",
        still.value
    );

    // One audit log on the server, naming both people.
    let records = server.audit()?;
    let by = |user: &str, action: AuditAction, outcome: &str| {
        records
            .iter()
            .filter(|r| {
                r["user"]["name"] == user
                    && r["event"]["action"] == action.as_str()
                    && r["event"]["outcome"] == outcome
            })
            .count()
    };
    assert!(by("alice", AuditAction::CodeFill, "success") >= 2);
    // (A code about to expire is replaced by the next: one sign-in may
    // take two.)
    assert!(by("bob", AuditAction::CodeFill, "success") >= 1);
    assert!(
        by("bob", AuditAction::CodeFill, "failure") >= 1,
        "the look-alike refusal"
    );
    assert_eq!(by("bob", AuditAction::SeedReveal, "failure"), 1);
    assert_eq!(by("alice", AuditAction::SeedReveal, "success"), 1);
    assert!(by("bob", AuditAction::DeviceRefused, "failure") >= 1);
    assert_eq!(
        by(
            twofill_e2e::team::ADMIN,
            AuditAction::DeviceRevoke,
            "success"
        ),
        1
    );
    let fill = records
        .iter()
        .find(|r| {
            r["user"]["name"] == "bob" && r["event"]["action"] == AuditAction::CodeFill.as_str()
        })
        .expect("bob's fill");
    assert_eq!(fill["twofill"]["extension_id"], EXTENSION_ID);
    assert_eq!(fill["user_agent"]["name"], "chromium");

    alice.session.close().await?;
    bob.session.close().await
}

/// A HOTP token from the team server: the popup shows "Next code" instead
/// of a countdown, and each click is the next counter's code (oathtool's).
#[tokio::test]
async fn the_popup_gives_the_next_hotp_code_from_the_server() -> Result<()> {
    use fantoccini::Locator;

    const HOTP_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    const COUNTER: u64 = 5;
    let hotp = |counter: u64| -> Result<String> {
        let out = std::process::Command::new("oathtool")
            .args(["--hotp", "-c", &counter.to_string(), "-b", HOTP_SEED])
            .output()?;
        anyhow::ensure!(out.status.success(), "oathtool --hotp failed");
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    };
    let server = TeamServer::start(None)?;
    let uri = format!(
        "otpauth://hotp/Legacy:team@example.com?secret={HOTP_SEED}&issuer=Legacy&counter={COUNTER}"
    );
    let token = server.enroll_uri(&uri, &hotp(COUNTER)?, &["http://legacy.test"])?;
    let bob = Teammate::join(&server, "bob").await?;
    server.grant(&token, "ops", "bob", Access::CodeOnly)?;

    let state = bob.session.open_popup("origin=http://legacy.test").await?;
    assert_eq!(state, "list", "{}", bob.session.diagnostics());
    let item = format!("li[data-token='{token}']");
    let client = &bob.session.client;
    assert!(
        client
            .find_all(Locator::Css(&format!("{item} .ring")))
            .await?
            .is_empty(),
        "a HOTP token has no countdown"
    );
    let mut seen = Vec::new();
    for _ in 0..2 {
        let before = client
            .find(Locator::Css(&format!("{item} .code")))
            .await?
            .text()
            .await?;
        client
            .find(Locator::Css(&format!("{item} button.next")))
            .await?
            .click()
            .await?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let code = loop {
            let text = client
                .find(Locator::Css(&format!("{item} .code")))
                .await?
                .text()
                .await?;
            if text != before && text.chars().filter(char::is_ascii_digit).count() == 6 {
                break text
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>();
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "no code after Next ({text:?}); server audit: {:#?}",
                server.audit()?.iter().rev().take(3).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        seen.push(code);
    }
    bob.session.save_screenshot("popup-hotp-next").await?;
    // The enrollment's confirmation used counter 5's code; whichever
    // counter the server gave first, the two are consecutive.
    let first = (COUNTER..COUNTER + 3)
        .find(|c| hotp(*c).is_ok_and(|code| code == seen[0]))
        .with_context(|| format!("{:?} is no code of counters {COUNTER}..", seen[0]))?;
    assert_eq!(
        seen[1],
        hotp(first + 1)?,
        "the second click is the next counter"
    );
    bob.session.close().await
}
