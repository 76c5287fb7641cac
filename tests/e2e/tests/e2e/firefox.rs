//! The same extension in real Firefox ESR (through geckodriver): the
//! packaged XPI installed as a temporary add-on and by enterprise policy,
//! the real host found through `~/.mozilla/native-messaging-hosts`, codes
//! checked against oathtool's. Policy tests write the machine-wide
//! `/etc/firefox/policies/policies.json` (restored afterwards) and run one
//! at a time.

use std::time::Duration;

use anyhow::{Context, Result};
use fantoccini::Locator;
use serde_json::{Value, json};
use twofill_e2e::firefox::{
    AddonInstall, AddonState, FirefoxOptions, FirefoxSession, GECKO_ID, force_install_policies,
};
use twofill_e2e::package::Package;
use twofill_e2e::{oathtool_codes, sign_in_and_wait_for_code, sign_in_expecting_code, unix_now};
use twofill_words::Access;

/// 160-bit seed; any value works, the reference is computed by oathtool.
const SEED: &str = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BAJJ2W24DTEBXXMZLS";
const SIGNIN: &str = "/site/kaspersky-signin.html";

fn successes_on(records: &[Value], domain: &str) -> usize {
    records
        .iter()
        .filter(|r| r["event"]["outcome"] == "success" && r["url"]["domain"] == domain)
        .count()
}

/// Signs in on the bound fixture and checks the filled code is oathtool's;
/// returns how long the fill took.
async fn fills_oathtools_code(session: &FirefoxSession) -> Result<Duration> {
    let url = session.site.url("my.kaspersky.test", SIGNIN);
    let filled =
        sign_in_expecting_code(&session.client, &url, SEED, || session.diagnostics()).await?;
    Ok(filled.latency)
}

/// MV3 host permissions are opt-in in Firefox; the content scripts'
/// hosts must have been granted at install.
fn assert_sites_granted(addon: &AddonState) {
    for origin in ["http://*/*", "https://*/*"] {
        assert!(
            addon.origins.iter().any(|o| o == origin),
            "{origin} not granted: {:?}",
            addon.origins
        );
    }
}

#[tokio::test]
async fn temporary_addon_fills_the_bound_site_and_nothing_elsewhere() -> Result<()> {
    let session = FirefoxSession::start().await?;
    let addon = session
        .addon()
        .await?
        .context("the add-on is not installed")?;
    assert!(addon.active && addon.temporary, "{addon:?}");
    assert_eq!(addon.version, session.package.version);
    // MV3 host permissions are opt-in in Firefox; the content scripts'
    // hosts are granted at install (extensions.originControls.grantByDefault).
    assert_sites_granted(&addon);

    let id = session.host().enroll(
        "Kaspersky",
        SEED,
        &["http://my.kaspersky.test"],
        Access::CodeOnly,
    )?;
    let latency = fills_oathtools_code(&session).await?;

    // The very same prompt on a site the token is not bound to, given far
    // longer than the fill above needed.
    let wait = (latency * 5).max(Duration::from_secs(3));
    let url = session.site.url("evil.test", SIGNIN);
    let refused = sign_in_and_wait_for_code(&session.client, &url, wait).await?;
    assert_eq!(
        refused.value, "",
        "a code was filled on a site the token is not bound to"
    );

    // On record: the fill, with Firefox's view of who asked; for evil.test
    // a refusal and no code.
    let fills = session.host().fill_records()?;
    let origin = format!("http://my.kaspersky.test:{}", session.site.port());
    let ok = fills
        .iter()
        .find(|r| r["event"]["outcome"] == "success")
        .context("no successful fill on record")?;
    assert_eq!(ok["url"]["original"], origin.as_str());
    assert_eq!(ok["twofill"]["token"]["id"], id.as_str());
    assert_eq!(ok["twofill"]["extension_id"], GECKO_ID);
    assert_eq!(ok["user_agent"]["name"], "firefox");
    assert_eq!(successes_on(&fills, "evil.test"), 0, "{fills:#?}");
    assert!(
        fills
            .iter()
            .any(|r| r["event"]["outcome"] == "failure" && r["url"]["domain"] == "evil.test"),
        "the refusal on evil.test is not on record"
    );

    session.close().await
}

/// The popup (WASM in a Firefox extension page) lists the code; a copy
/// lands on the clipboard and the background page clears it after the
/// delay. Firefox has no offscreen documents: this is background.js's
/// Firefox path.
#[tokio::test]
async fn popup_copies_and_the_background_page_clears_the_clipboard() -> Result<()> {
    let session = FirefoxSession::start().await?;
    let id = session.host().enroll(
        "Kaspersky",
        SEED,
        &["http://my.kaspersky.test"],
        Access::CodeOnly,
    )?;
    let origin = format!("http://my.kaspersky.test:{}", session.site.port());
    let state = session
        .open_popup(&format!("origin={origin}&clear_after=2"))
        .await?;
    assert_eq!(state, "list", "{}", session.diagnostics());

    let from = unix_now();
    session
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!(
            "li[data-token='{id}'][data-code] button.copy"
        )))
        .await?
        .click()
        .await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let copied = loop {
        let text = session.clipboard_text().await?;
        if !text.is_empty() || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let expected = oathtool_codes(SEED, from, unix_now() + 1)?;
    assert!(
        expected.contains(&copied),
        "clipboard holds {copied:?}, oathtool says one of {expected:?}; log:\n{}",
        session.diagnostics()
    );

    // Cleared by the background page's alarm (2 s), not by the popup.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if session.clipboard_text().await?.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the clipboard was not cleared; log:\n{}",
            session.diagnostics()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    session.close().await
}

async fn policy_session(managed: Value) -> Result<FirefoxSession> {
    let package = Package::locate()?;
    FirefoxSession::start_with(FirefoxOptions {
        install: AddonInstall::None,
        policies: Some(force_install_policies(&package.xpi, managed)?),
    })
    .await
}

#[tokio::test]
async fn installed_by_policy_fills_codes() -> Result<()> {
    let session = policy_session(json!({
        "AutofillMode": "auto",
        "OrganizationName": "Example Corp",
    }))
    .await?;
    // Nobody installed it but the policy.
    let addon = session.wait_for_addon(Duration::from_secs(30)).await?;
    assert!(!addon.temporary, "{addon:?}");
    assert_eq!(addon.source.as_deref(), Some("enterprise-policy"));
    assert_eq!(addon.version, session.package.version);
    assert_sites_granted(&addon);

    session.host().enroll(
        "Kaspersky",
        SEED,
        &["http://my.kaspersky.test"],
        Access::CodeOnly,
    )?;
    fills_oathtools_code(&session).await?;

    // The 3rdparty values reach storage.managed: the popup names the
    // organization.
    let origin = format!("http://my.kaspersky.test:{}", session.site.port());
    session.open_popup(&format!("origin={origin}")).await?;
    let managed = session
        .client
        .execute(
            "return document.getElementById('managed')?.textContent ?? '';",
            vec![],
        )
        .await?;
    assert!(
        managed.as_str().unwrap_or("").contains("Example Corp"),
        "popup's managed line: {managed:?}"
    );
    session.close().await
}

#[tokio::test]
async fn policy_autofill_off_fills_nothing() -> Result<()> {
    let session = policy_session(json!({ "AutofillMode": "off" })).await?;
    session.wait_for_addon(Duration::from_secs(30)).await?;
    session.host().enroll(
        "Kaspersky",
        SEED,
        &["http://my.kaspersky.test"],
        Access::CodeOnly,
    )?;
    // The bound site, where the other tests fill within a second or two.
    let url = session.site.url("my.kaspersky.test", SIGNIN);
    let outcome = sign_in_and_wait_for_code(&session.client, &url, Duration::from_secs(6)).await?;
    assert_eq!(outcome.value, "", "filled although AutofillMode is off");
    let fills = session.host().fill_records()?;
    assert!(
        fills.is_empty(),
        "the host was asked for a code: {fills:#?}"
    );
    session.close().await
}
