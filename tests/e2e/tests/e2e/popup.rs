//! The toolbar popup in real Chromium: the listed tokens and their order,
//! live codes against oathtool's, search, copy (clipboard, audit record,
//! clearing), seed reveal for full-seed grants only, and every state. Each
//! state leaves a screenshot in `target/screenshots/popup-*.png`.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::Locator;
use serde_json::Value;
use twofill_e2e::{HostSetup, Session, oathtool_codes, sign_in_and_wait_for_code, unix_now};
use twofill_words::{Access, AuditAction};

const SEED_BOUND: &str = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BAJJ2W24DTEBXXMZLS";
const SEED_FULL: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const SEED_OTHER: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

const ENTER: &str = "\u{e007}";

fn audit(session: &Session) -> Result<Vec<Value>> {
    Ok(session
        .host_cli(&["audit", "export"])?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?)
}

/// The popup's items as the user sees them.
async fn items(session: &Session) -> Result<Vec<Value>> {
    let v = session
        .client
        .execute(
            "return [...document.querySelectorAll('#tokens li.token')].map(li => ({
                 token: li.dataset.token, access: li.dataset.access,
                 code: li.dataset.code || null, shown: li.querySelector('.code').textContent,
                 issuer: li.querySelector('.issuer').textContent,
                 bound: li.classList.contains('bound'), hidden: li.hidden,
                 reveal: !!li.querySelector('button.reveal'),
                 label: li.getAttribute('aria-label') }));",
            vec![],
        )
        .await?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

async fn wait_for_codes(session: &Session, n: usize) -> Result<Vec<Value>> {
    for _ in 0..100 {
        let list = items(session).await?;
        if list.len() == n && list.iter().all(|i| i["code"].is_string()) {
            return Ok(list);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!(
        "codes never appeared: {:?}\n{}",
        items(session).await?,
        session.diagnostics()
    )
}

async fn read_clipboard(session: &Session) -> Result<String> {
    session.grant_permission("clipboard-read").await?;
    let v = session
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             navigator.clipboard.readText().then(done, (e) => done('ERR: ' + e));",
            vec![],
        )
        .await?;
    let text = v.as_str().context("clipboard read returned no string")?;
    ensure!(
        !text.starts_with("ERR: "),
        "cannot read the clipboard: {text}"
    );
    Ok(text.to_owned())
}

async fn status(session: &Session) -> Result<String> {
    let v = session
        .client
        .execute(
            "return document.getElementById('status').textContent;",
            vec![],
        )
        .await?;
    Ok(v.as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn lists_codes_copies_and_reveals() -> Result<()> {
    let session = Session::start().await?;
    let port = session.site.port();
    let other = session.enroll(
        "Slack",
        SEED_OTHER,
        &["http://slack.test"],
        Access::CodeOnly,
    )?;
    let full = session.enroll(
        "GitHub",
        SEED_FULL,
        &["http://github.test"],
        Access::FullSeed,
    )?;
    let bound = session.enroll(
        "Kaspersky",
        SEED_BOUND,
        &["http://my.kaspersky.test"],
        Access::CodeOnly,
    )?;
    let origin = format!("http://my.kaspersky.test:{port}");

    let t0 = unix_now();
    let state = session
        .open_popup(&format!("origin={origin}&theme=light&clear_after=3"))
        .await?;
    assert_eq!(state, "list", "{}", session.diagnostics());
    let list = wait_for_codes(&session, 3).await?;
    let t1 = unix_now();

    // The site's token first; all three listed, with their grants.
    assert_eq!(list[0]["token"], bound.as_str(), "{list:?}");
    assert_eq!(list[0]["issuer"], "Kaspersky");
    assert_eq!(list[0]["bound"], true);
    let mut ids: Vec<&str> = list.iter().filter_map(|i| i["token"].as_str()).collect();
    ids.sort();
    let mut want = vec![bound.as_str(), full.as_str(), other.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert!(list[1..].iter().all(|i| i["bound"] == false));

    // The codes are oathtool's (the window may roll over while we look).
    for (id, seed) in [
        (&bound, SEED_BOUND),
        (&full, SEED_FULL),
        (&other, SEED_OTHER),
    ] {
        let item = list.iter().find(|i| i["token"] == id.as_str()).unwrap();
        let expected = oathtool_codes(seed, t0, t1 + 1)?;
        let code = item["code"].as_str().unwrap();
        assert!(
            expected.iter().any(|c| c == code),
            "{}: shown {code}, oathtool says one of {expected:?}",
            item["issuer"]
        );
        assert_eq!(
            item["shown"].as_str().unwrap().replace(' ', ""),
            code,
            "the visible code differs from the one fetched"
        );
    }
    // Seeds only behind an explicit action, and only for full-seed grants.
    for item in &list {
        assert_eq!(
            item["reveal"],
            item["access"] == Access::FullSeed.as_str(),
            "{item:?}"
        );
    }
    session.save_screenshot("popup-list-light").await?;

    // Search filters by issuer, account or site.
    let search = session.client.find(Locator::Css("#search")).await?;
    search.send_keys("github").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let visible: Vec<Value> = items(&session)
        .await?
        .into_iter()
        .filter(|i| i["hidden"] == false)
        .collect();
    assert_eq!(visible.len(), 1, "{visible:?}");
    assert_eq!(visible[0]["token"], full.as_str());
    search.clear().await?;
    search.send_keys("slack.test").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let visible: Vec<Value> = items(&session)
        .await?
        .into_iter()
        .filter(|i| i["hidden"] == false)
        .collect();
    assert_eq!(visible.len(), 1, "{visible:?}");
    assert_eq!(visible[0]["token"], other.as_str());
    search.clear().await?;
    // `clear()` does not fire `input`; an empty query shows everything again.
    search.send_keys(" ").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(items(&session).await?.iter().all(|i| i["hidden"] == false));

    // Keyboard: ArrowDown from the search box focuses the first item, Enter copies.
    let copy_from = unix_now();
    search.send_keys("\u{e015}").await?; // ArrowDown
    let focused = session
        .client
        .execute(
            "return document.activeElement.dataset.token || null;",
            vec![],
        )
        .await?;
    assert_eq!(
        focused,
        bound.as_str(),
        "ArrowDown did not focus the first item"
    );
    session
        .client
        .find(Locator::Css(&format!("li[data-token='{bound}']")))
        .await?
        .send_keys(ENTER)
        .await?;
    let mut said = String::new();
    for _ in 0..50 {
        said = status(&session).await?;
        if said.starts_with("Copied") || said.starts_with("Could not") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        said.starts_with("Copied the code for Kaspersky"),
        "status: {said:?}"
    );
    let copied = read_clipboard(&session).await?;
    let expected = oathtool_codes(SEED_BOUND, copy_from, unix_now() + 1)?;
    assert!(
        expected.contains(&copied),
        "clipboard holds {copied:?}, oathtool says one of {expected:?}"
    );

    // The copy is on record, as a copy (not a fill), for this token.
    let records = audit(&session)?;
    let copy = records
        .iter()
        .find(|r| {
            r["event"]["action"] == AuditAction::CodeCopy.as_str()
                && r["event"]["outcome"] == "success"
        })
        .context("no code.copy record")?;
    assert_eq!(copy["twofill"]["token"]["id"], bound.as_str());
    assert!(
        records
            .iter()
            .any(|r| r["event"]["action"] == AuditAction::CodeView.as_str()
                && r["twofill"]["token"]["id"] == other.as_str()),
        "the shown codes are not on record as views"
    );
    assert!(
        !records
            .iter()
            .any(|r| r["event"]["action"] == AuditAction::CodeFill.as_str()),
        "the popup must not ask for fills"
    );

    // The service worker clears the clipboard after the delay (3 s here).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = read_clipboard(&session).await?;
    assert_eq!(after, "", "the clipboard was not cleared");

    // Reveal: the full-seed token's seed, then its QR code, both on record.
    session
        .client
        .find(Locator::Css(&format!(
            "li[data-token='{full}'] button.reveal"
        )))
        .await?
        .click()
        .await?;
    let secret = session
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!("li[data-token='{full}'] .secret")))
        .await?
        .text()
        .await?;
    assert_eq!(secret, SEED_FULL);
    session
        .client
        .find(Locator::Css(&format!("li[data-token='{full}'] button.qr")))
        .await?
        .click()
        .await?;
    session
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!(
            "li[data-token='{full}'] svg.qr path"
        )))
        .await?;
    session.save_screenshot("popup-seed-qr").await?;
    let records = audit(&session)?;
    for action in [
        AuditAction::SeedReveal.as_str(),
        AuditAction::SeedQr.as_str(),
    ] {
        let r = records
            .iter()
            .find(|r| r["event"]["action"] == action)
            .with_context(|| format!("no {action} record"))?;
        assert_eq!(r["event"]["outcome"], "success");
        assert_eq!(r["twofill"]["token"]["id"], full.as_str());
    }
    assert!(
        !records.iter().any(|r| r["event"]["action"]
            .as_str()
            .unwrap_or("")
            .starts_with("seed.")
            && r["twofill"]["token"]["id"] != full.as_str()),
        "a seed of a code-only token was asked for"
    );

    // Dark theme, same list.
    assert_eq!(
        session
            .open_popup(&format!("origin={origin}&theme=dark"))
            .await?,
        "list"
    );
    wait_for_codes(&session, 3).await?;
    session.save_screenshot("popup-list-dark").await?;

    session.close().await
}

#[tokio::test]
async fn shows_each_state() -> Result<()> {
    // Vault empty, then a damaged vault (host error).
    let session = Session::start().await?;
    let state = session.open_popup("origin=http://example.test").await?;
    assert_eq!(state, "empty", "{}", session.diagnostics());
    session.save_screenshot("popup-empty").await?;

    // The popup keeps its host running while it is open, with the vault
    // open; damage the file once that host is gone, as a disk would
    // between two uses (a running SQLite would write its pages back).
    session.client.goto("about:blank").await?;
    session.wait_for_no_host().await?;
    std::fs::create_dir_all(session.vault.parent().unwrap())?;
    std::fs::write(
        &session.vault,
        b"this is not a twofill vault, just bytes".repeat(200),
    )?;
    let state = session.open_popup("origin=http://example.test").await?;
    assert_eq!(state, "host-error");
    let text = state_text(&session).await?;
    assert!(text.contains("vault_unavailable"), "{text}");
    session.save_screenshot("popup-host-error").await?;
    session.close().await?;

    // No host manifest: install help.
    let session = Session::start_with(HostSetup::NotInstalled).await?;
    let state = session.open_popup("origin=http://example.test").await?;
    assert_eq!(state, "not-installed");
    let text = state_text(&session).await?;
    assert!(text.contains("twofill-host install"), "{text}");
    session.save_screenshot("popup-not-installed").await?;
    session.close().await?;

    // The host's manifest admits another extension only: refused by policy.
    let session = Session::start_with(HostSetup::ForOtherExtension).await?;
    let state = session.open_popup("origin=http://example.test").await?;
    assert_eq!(state, "refused");
    session.save_screenshot("popup-refused").await?;
    session.close().await
}

/// The text of the popup's state panel (the message shown instead of a list).
async fn state_text(session: &Session) -> Result<String> {
    Ok(session
        .client
        .find(Locator::Css("#state"))
        .await?
        .text()
        .await?)
}

#[tokio::test]
async fn fills_the_chosen_token_on_the_page() -> Result<()> {
    // Two tokens for the same site: the automatic fill cannot choose
    // (ambiguous), the user picks one in the popup.
    let session = Session::start().await?;
    let first = session.enroll(
        "Kaspersky",
        SEED_BOUND,
        &["http://my.kaspersky.test"],
        Access::CodeOnly,
    )?;
    let second = session.enroll(
        "Kaspersky2",
        SEED_OTHER,
        &["http://my.kaspersky.test"],
        Access::CodeOnly,
    )?;
    let url = session
        .site
        .url("my.kaspersky.test", "/site/kaspersky-signin.html");
    let auto = sign_in_and_wait_for_code(&session.client, &url, Duration::from_secs(3)).await?;
    assert_eq!(auto.value, "", "filled although two tokens fit");
    let site_tab = session.client.window().await?;

    // The popup, in a second tab, aimed at the sign-in tab.
    let popup_tab = session.client.new_window(true).await?;
    session.client.switch_to_window(popup_tab.handle).await?;
    session.open_popup("").await?;
    let tab_id = session
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             Promise.all([chrome.tabs.query({}), chrome.tabs.getCurrent()])
               .then(([all, me]) => done(all.find((t) => t.id !== me.id).id));",
            vec![],
        )
        .await?;
    let origin = format!("http://my.kaspersky.test:{}", session.site.port());
    let state = session
        .open_popup(&format!("origin={origin}&tab={tab_id}"))
        .await?;
    assert_eq!(state, "list");
    wait_for_codes(&session, 2).await?;
    let from = unix_now();
    session
        .client
        .find(Locator::Css(&format!(
            "li[data-token='{second}'] button.fill"
        )))
        .await?
        .click()
        .await?;

    session.client.switch_to_window(site_tab).await?;
    let mut value = String::new();
    for _ in 0..50 {
        value = session
            .client
            .execute("return document.getElementById('tfa-code').value;", vec![])
            .await?
            .as_str()
            .unwrap_or("")
            .to_owned();
        if !value.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expected = oathtool_codes(SEED_OTHER, from, unix_now() + 1)?;
    assert!(
        expected.contains(&value),
        "filled {value:?}, oathtool says one of {expected:?} for the chosen token; {}",
        session.diagnostics()
    );
    let records = audit(&session)?;
    let fill = records
        .iter()
        .find(|r| {
            r["event"]["action"] == AuditAction::CodeFill.as_str()
                && r["event"]["outcome"] == "success"
        })
        .context("no successful code.fill record")?;
    assert_eq!(fill["twofill"]["token"]["id"], second.as_str());
    // The origin on record is the browser's, for the page's frame.
    assert_eq!(fill["url"]["original"], origin.as_str());
    assert_ne!(first, second);
    session.close().await
}
