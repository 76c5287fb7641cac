//! Single sign-on in real Chromium against a real OpenID provider
//! (`oidc-provider` on Node, started by `twofill-test-oidc`): the team
//! server requires a sign-in, so a joined laptop gets nothing until
//! `twofill-host login --no-browser` prints the provider's address,
//! Chromium (WebDriver) fills the provider's login form, and the loopback
//! redirect completes; then the teammate's page is filled with the code
//! oathtool computes. The device flow is approved in Chromium at the
//! verification URI. A leaver disabled at the provider gets no code once
//! the ticket's short refresh time has passed, and the page says "Signed
//! out"; the popup offers "Sign in to <org>", and its button signs in
//! through the system browser; a seed needs a recent sign-in ("Sign in
//! again"). The timings are printed for the closing note.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use fantoccini::{Client, Locator};
use twofill_e2e::team::{LoginRun, TeamServer, Teammate};
use twofill_e2e::{oathtool_codes, sign_in_and_wait_for_code};
use twofill_test_oidc::{Account, Config, LOGIN_FIELD, PASSWORD_FIELD, Provider, SUBMIT_SELECTOR};
use twofill_words::Access;

const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const SIGN_IN: &str = "/site/kaspersky-signin.html";
const SITE: &str = "my.kaspersky.test";
const ORG: &str = "Example Corp";
/// A ticket lives this long; then the host refreshes at the provider,
/// which is where a leaver is noticed.
const REFRESH_SECONDS: u64 = 6;
const PASSWORD: &str = "correct horse battery staple";

/// The server's `[sso]` for `provider`: sign-in required, the provider's
/// `twofill-ops` and `twofill-leads` groups are twofill's `ops` and
/// `leads`; `extra` adds keys to `[sso]`.
fn sso_section(provider: &Provider, extra: &str) -> String {
    format!(
        "[sso]\nissuer = \"{}\"\nclient_id = \"{}\"\norg_name = \"{ORG}\"\nrequired = true\n\
         scopes = [\"openid\", \"email\", \"groups\", \"offline_access\"]\n\
         refresh_seconds = {REFRESH_SECONDS}\n{extra}\n[sso.group_map]\n\"twofill-ops\" = \"ops\"\n\
         \"twofill-leads\" = \"leads\"\n",
        provider.issuer(),
        provider.client_id()
    )
}

/// Fills the provider's login form in the browser at its current page.
async fn fill_provider_login(client: &Client, login: &str) -> Result<()> {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(&format!("input[name={LOGIN_FIELD}]")))
        .await
        .context("the provider's login form did not appear")?
        .send_keys(login)
        .await?;
    client
        .find(Locator::Css(&format!("input[name={PASSWORD_FIELD}]")))
        .await?
        .send_keys(PASSWORD)
        .await?;
    client
        .find(Locator::Css(SUBMIT_SELECTOR))
        .await?
        .click()
        .await?;
    Ok(())
}

/// Waits until the browser shows the host's loopback page, which says the
/// sign-in is done. Navigating elsewhere before it would cut the
/// provider's redirect chain short (and a script run meanwhile would read
/// the provider's page, not the next one).
async fn wait_for_callback_page(client: &Client) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = match client.find(Locator::Css("p")).await {
            Ok(p) => p.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if page.contains("You can close this tab") {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the loopback page never showed (at {}): {page}",
            client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks through the provider's device pages after the code was entered
/// (a confirmation, on the same address) until its login form shows, then
/// fills that. Each page is told apart by its title.
async fn confirm_then_login(client: &Client, entered_title: &str, login: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut clicked = entered_title.to_owned();
    loop {
        if client
            .find(Locator::Css(&format!("input[name={LOGIN_FIELD}]")))
            .await
            .is_ok()
        {
            return fill_provider_login(client, login).await;
        }
        let title = client.title().await?;
        if title != clicked
            && let Ok(button) = client.find(Locator::Css("button[type=submit]")).await
        {
            button.click().await?;
            clicked = title;
        }
        ensure!(
            Instant::now() < deadline,
            "the provider's device pages never led to its login form (last: {clicked:?}): {}",
            client.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The browser sign-in: `login --no-browser`, Chromium at the address it
/// printed, the provider's form; the report and the wall time.
async fn browser_login(teammate: &Teammate, login: &str) -> Result<(serde_json::Value, Duration)> {
    let started = Instant::now();
    let run: LoginRun = teammate.start_login(&[])?;
    let client = &teammate.session.client;
    client.goto(&run.url).await?;
    fill_provider_login(client, login).await?;
    let report = run.finish(Duration::from_secs(30))?;
    wait_for_callback_page(client).await?;
    Ok((report, started.elapsed()))
}

/// Whether the page shows the content script's signed-out notice.
async fn signed_out_notice(client: &Client, wait: Duration) -> Result<bool> {
    let deadline = Instant::now() + wait;
    loop {
        let found = client
            .execute(
                "return document.querySelector('[data-twofill-notice=\"signed-out\"]') !== null;",
                vec![],
            )
            .await?;
        if found.as_bool() == Some(true) {
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sign_in_in_chromium_fills_codes_and_a_leaver_loses_them_at_the_next_refresh() -> Result<()>
{
    let provider = Provider::start(Config::default().account(Account::new(
        "ana",
        "ana@example.com",
        PASSWORD,
        &["twofill-ops"],
    )));
    let server = TeamServer::start_with(None, &sso_section(&provider, ""))?;
    let token = server.enroll("Kaspersky", SEED, &["http://my.kaspersky.test"])?;
    // `ops` is filled by the provider's groups, not by the admin.
    let admin = server.admin();
    admin.run(&["group", "add", "ops"])?;
    admin.run(&["grant", "set", &token, "ops", Access::CodeOnly.as_str()])?;
    let ana = Teammate::join(&server, "ana@example.com").await?;
    let session = &ana.session;
    let url = session.site.url(SITE, SIGN_IN);
    let short = Duration::from_secs(6);

    // Joined but not signed in: the organization requires SSO, so the
    // device certificate alone gets nothing, and the page says why.
    let before = sign_in_and_wait_for_code(&session.client, &url, short).await?;
    assert_eq!(before.value, "", "a device without a sign-in got a code");
    assert!(
        signed_out_notice(&session.client, short).await?,
        "no signed-out notice on the page; browser:\n{}",
        session.diagnostics()
    );
    let state = session.open_popup(&format!("origin=http://{SITE}")).await?;
    assert_eq!(state, "signed-out", "{}", session.diagnostics());
    let button = session
        .client
        .find(Locator::Css("#state [data-part=sign-in]"))
        .await?
        .text()
        .await?;
    assert_eq!(button, format!("Sign in to {ORG}"));
    session.save_screenshot("popup-signed-out").await?;

    // The loopback flow in Chromium.
    let (report, login_time) = browser_login(&ana, "ana").await?;
    assert_eq!(report["user"], "ana@example.com", "{report}");
    assert_eq!(report["groups"], serde_json::json!(["ops"]), "{report}");
    println!("timing: browser sign-in (login started → session stored): {login_time:?}");

    let filled = sign_in_and_wait_for_code(&session.client, &url, Duration::from_secs(15)).await?;
    let expected = oathtool_codes(SEED, filled.started, filled.finished)?;
    assert!(
        expected.contains(&filled.value),
        "signed in: filled {:?}, oathtool says {expected:?}; server log:\n{}\nbrowser:\n{}",
        filled.value,
        server.log(),
        session.diagnostics()
    );
    let whoami: serde_json::Value =
        serde_json::from_str(&session.teammate_cli().run(&["whoami", "--json"])?)?;
    assert_eq!(whoami["session"]["user"], "ana@example.com", "{whoami}");

    // The leaver: disabled at the provider. The ticket still runs for at
    // most REFRESH_SECONDS; the refresh after it is refused, so the fill
    // stops and the page says signed out.
    let disabled_at = Instant::now();
    provider.disable("ana");
    let lost_after = loop {
        let got = sign_in_and_wait_for_code(&session.client, &url, short).await?;
        if got.value.is_empty() {
            break disabled_at.elapsed();
        }
        assert!(
            disabled_at.elapsed() < Duration::from_secs(REFRESH_SECONDS + 30),
            "a disabled account still gets codes after {:?}",
            disabled_at.elapsed()
        );
    };
    println!(
        "timing: leaver disabled at the provider gets no code after {lost_after:?} (ticket lifetime {REFRESH_SECONDS} s)"
    );
    assert!(
        signed_out_notice(&session.client, short).await?,
        "no signed-out notice after the refusal; browser:\n{}",
        session.diagnostics()
    );
    let state = session.open_popup(&format!("origin=http://{SITE}")).await?;
    assert_eq!(state, "signed-out", "{}", session.diagnostics());
    Ok(())
}

#[tokio::test]
async fn the_device_flow_is_approved_in_chromium_and_then_codes_are_filled() -> Result<()> {
    let provider = Provider::start(Config::default().account(Account::new(
        "ben",
        "ben@example.com",
        PASSWORD,
        &["twofill-ops"],
    )));
    let server = TeamServer::start_with(None, &sso_section(&provider, ""))?;
    let token = server.enroll("Kaspersky", SEED, &["http://my.kaspersky.test"])?;
    let admin = server.admin();
    admin.run(&["group", "add", "ops"])?;
    admin.run(&["grant", "set", &token, "ops", Access::CodeOnly.as_str()])?;
    let ben = Teammate::join(&server, "ben@example.com").await?;
    let session = &ben.session;

    let started = Instant::now();
    let run = ben.start_login(&["--device"])?;
    let code = run
        .user_code
        .clone()
        .context("the device flow printed no code")?;
    // Another device's browser (here: the same Chromium) at the
    // verification URI, with the code typed in.
    let client = &session.client;
    client.goto(&run.url).await?;
    let code_field = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("input[name=user_code]"))
        .await?;
    code_field.send_keys(&code).await?;
    let entered = client.title().await?;
    client
        .find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    // The provider asks to confirm the device, then for the login.
    confirm_then_login(client, &entered, "ben").await?;
    let report = run.finish(Duration::from_secs(60))?;
    assert_eq!(report["user"], "ben@example.com", "{report}");
    assert_eq!(report["flow"], "device", "{report}");
    println!(
        "timing: device sign-in (login started → session stored): {:?}",
        started.elapsed()
    );

    let url = session.site.url(SITE, SIGN_IN);
    let filled = sign_in_and_wait_for_code(&session.client, &url, Duration::from_secs(15)).await?;
    let expected = oathtool_codes(SEED, filled.started, filled.finished)?;
    assert!(
        expected.contains(&filled.value),
        "filled {:?}, oathtool says {expected:?}; server log:\n{}",
        filled.value,
        server.log()
    );
    Ok(())
}

#[tokio::test]
async fn signed_in_from_the_popup_a_seed_needs_a_recent_sign_in_and_the_popup_offers_it_again()
-> Result<()> {
    let fresh_for = 8;
    let provider = Provider::start(Config::default().account(Account::new(
        "cy",
        "cy@example.com",
        PASSWORD,
        &["twofill-leads"],
    )));
    let server = TeamServer::start_with(
        None,
        &sso_section(&provider, &format!("reveal_fresh_seconds = {fresh_for}")),
    )?;
    let token = server.enroll("Kaspersky", SEED, &["http://my.kaspersky.test"])?;
    let admin = server.admin();
    admin.run(&["group", "add", "leads"])?;
    admin.run(&["grant", "set", &token, "leads", Access::FullSeed.as_str()])?;
    let cy = Teammate::join(&server, "cy@example.com").await?;
    let session = &cy.session;
    // Signed in from the popup: its button has the host start `login`,
    // which opens the provider in the system browser (recorded by the
    // session's $BROWSER; Chromium goes there as the person would).
    let state = session.open_popup(&format!("origin=http://{SITE}")).await?;
    assert_eq!(state, "signed-out", "{}", session.diagnostics());
    session
        .client
        .find(Locator::Css("#state [data-part=sign-in]"))
        .await?
        .click()
        .await?;
    let sign_in = session
        .opened_in_system_browser(Duration::from_secs(15))
        .await?;
    let popup_state = session
        .client
        .execute("return document.body.dataset.state;", vec![])
        .await?;
    assert_eq!(popup_state, "signing-in");
    assert!(sign_in.starts_with(provider.issuer()), "{sign_in}");
    session.client.goto(&sign_in).await?;
    fill_provider_login(&session.client, "cy").await?;
    wait_for_callback_page(&session.client).await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    let state = loop {
        // The detached `login` stores the session; then the popup lists.
        let state = session.open_popup(&format!("origin=http://{SITE}")).await?;
        if state == "list" || Instant::now() > deadline {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(state, "list");
    let seed_now = cy.reveal_seed(&token)?;
    assert_eq!(seed_now["type"], "seed", "just signed in: {seed_now}");

    // Past reveal_fresh_seconds: the list and codes still, the seed not.
    tokio::time::sleep(Duration::from_secs(fresh_for + 1)).await;
    assert_eq!(cy.reveal_seed(&token)?["error"]["code"], "sign_in_again");
    let state = session.open_popup(&format!("origin=http://{SITE}")).await?;
    assert_eq!(state, "list", "{}", session.diagnostics());
    session
        .client
        .find(Locator::Css("[data-part=reveal]"))
        .await?
        .click()
        .await?;
    let offer = session
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(".seed-sign-in-again [data-part=sign-in]"))
        .await
        .with_context(|| format!("no \"Sign in again\"; browser:\n{}", session.diagnostics()))?;
    assert_eq!(offer.text().await?, "Sign in again");
    let shown = session.client.source().await?;
    assert!(!shown.contains(SEED), "the seed reached the popup");
    session.save_screenshot("popup-sign-in-again").await?;
    Ok(())
}
