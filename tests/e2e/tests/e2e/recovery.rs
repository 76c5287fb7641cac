//! Recovery codes in a real Chromium: on a recovery-code prompt of a bound
//! site, a full-seed holder is offered "Use a recovery code (single-use)";
//! nothing is taken or filled until a trusted (WebDriver) click, then the
//! field holds one of the attached codes, used on record, and the next
//! click gives another. A code-only user is offered nothing.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use fantoccini::Locator;
use fantoccini::elements::Element;
use serde_json::Value;
use twofill_e2e::Session;
use twofill_words::{Access, AuditAction};

const SEED: &str = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BAJJ2W24DTEBXXMZLS";
const PAGE: &str = "/site/recovery-signin.html";
const CODES: &[&str] = &["kx7p-29qm", "4trw-8zln", "m2hc-v6jd", "9bqe-t3ya"];
/// Long past the ~0.2 s an offer or fill takes.
const QUIET: Duration = Duration::from_secs(4);

fn takes(session: &Session) -> Result<Vec<Value>> {
    Ok(session
        .audit()?
        .into_iter()
        .filter(|r| r["event"]["action"] == AuditAction::RecoveryTake.as_str())
        .collect())
}

async fn value(session: &Session) -> Result<String> {
    Ok(session
        .client
        .execute(
            "return document.getElementById('recovery-code').value;",
            vec![],
        )
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

async fn wait_for_offer(session: &Session, within: Duration) -> Result<Option<Element>> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(el) = session
            .client
            .find(Locator::Css("[data-twofill-recovery]"))
            .await
        {
            return Ok(Some(el));
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the offer and returns what was filled.
async fn click_and_read(session: &Session, offer: Element) -> Result<String> {
    offer.click().await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = value(session).await?;
        if !v.is_empty() || Instant::now() > deadline {
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn attach(session: &Session, id: &str) -> Result<()> {
    let file = tempfile::NamedTempFile::new()?;
    let listing: String = CODES
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}. {c}\n", i + 1))
        .collect();
    std::fs::write(file.path(), format!("Backup codes\n\n{listing}"))?;
    session.host_cli(&[
        "token",
        "recovery",
        "set",
        id,
        "--file",
        file.path().to_str().unwrap(),
    ])?;
    Ok(())
}

#[tokio::test]
async fn a_recovery_prompt_offers_one_code_and_fills_it_only_after_a_trusted_click() -> Result<()> {
    let session = Session::start().await?;
    let id = session.enroll(
        "Kaspersky",
        SEED,
        &["http://my.kaspersky.test"],
        Access::FullSeed,
    )?;
    attach(&session, &id)?;
    let url = session.site.url("my.kaspersky.test", PAGE);
    session.client.goto(&url).await?;

    let Some(offer) = wait_for_offer(&session, Duration::from_secs(15)).await? else {
        anyhow::bail!("no recovery-code offer appeared\n{}", session.diagnostics());
    };
    // Offered, not filled, not taken: give it time to misbehave.
    tokio::time::sleep(QUIET).await;
    ensure!(value(&session).await?.is_empty(), "filled before the click");
    ensure!(
        takes(&session)?.is_empty(),
        "a code was taken before the click"
    );

    let first = click_and_read(&session, offer).await?;
    ensure!(
        CODES.contains(&first.as_str()),
        "filled {first:?}, not an attached code\n{}",
        session.diagnostics()
    );
    let records = takes(&session)?;
    ensure!(records.len() == 1, "{records:#?}");
    ensure!(records[0]["event"]["outcome"] == "success");
    ensure!(
        !records[0].to_string().contains(&first),
        "the audit record names the slot, never the code"
    );

    // The code is used: the same prompt again offers, and gives, another.
    session.client.goto(&url).await?;
    let offer = wait_for_offer(&session, Duration::from_secs(15))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no second offer\n{}", session.diagnostics()))?;
    let second = click_and_read(&session, offer).await?;
    ensure!(
        CODES.contains(&second.as_str()) && second != first,
        "second fill {second:?} after {first:?}"
    );
    let status: Value =
        serde_json::from_str(&session.host_cli(&["token", "show", &id, "--json"])?)?;
    ensure!(
        status["recovery_codes"]["remaining"] == CODES.len() - 2,
        "{status}"
    );
    session.close().await
}

#[tokio::test]
async fn a_code_only_user_is_offered_no_recovery_code() -> Result<()> {
    let session = Session::start().await?;
    let id = session.enroll(
        "Kaspersky",
        SEED,
        &["http://my.kaspersky.test"],
        Access::CodeOnly,
    )?;
    attach(&session, &id)?;
    session
        .client
        .goto(&session.site.url("my.kaspersky.test", PAGE))
        .await?;
    ensure!(
        wait_for_offer(&session, QUIET * 2).await?.is_none(),
        "a code-only user was offered a recovery code"
    );
    ensure!(value(&session).await?.is_empty());
    ensure!(takes(&session)?.is_empty());
    session.close().await
}

/// The popup's recovery action: only on full-seed entries, a warning first
/// (nothing taken), then one code on a second click, shown once.
#[tokio::test]
async fn the_popup_takes_a_recovery_code_behind_a_single_use_warning() -> Result<()> {
    let session = Session::start().await?;
    let full = session.enroll(
        "Kaspersky",
        SEED,
        &["http://my.kaspersky.test"],
        Access::FullSeed,
    )?;
    let code_only = session.enroll(
        "Slack",
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        &["http://slack.test"],
        Access::CodeOnly,
    )?;
    attach(&session, &full)?;
    attach(&session, &code_only)?;
    let origin = session.site.url("my.kaspersky.test", "");
    let query = format!("origin={}", origin.trim_end_matches('/'));
    let state = session.open_popup(&query).await?;
    ensure!(state == "list", "{state}\n{}", session.diagnostics());
    let buttons = |id: &str| format!("li[data-token='{id}'] button.recovery");
    ensure!(
        session
            .client
            .find(Locator::Css(&buttons(&code_only)))
            .await
            .is_err(),
        "a code-only entry offers recovery codes"
    );
    session
        .client
        .find(Locator::Css(&buttons(&full)))
        .await?
        .click()
        .await?;
    let warning = session
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!(
            "li[data-token='{full}'] .recovery-warning"
        )))
        .await?
        .text()
        .await?;
    ensure!(
        warning.contains("single-use") && warning.contains("4 left"),
        "{warning}"
    );
    ensure!(takes(&session)?.is_empty(), "taken before the second click");
    session.save_screenshot("popup-recovery-warning").await?;
    session
        .client
        .find(Locator::Css(&format!(
            "li[data-token='{full}'] button.take"
        )))
        .await?
        .click()
        .await?;
    let code = session
        .client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&format!("li[data-token='{full}'] .secret")))
        .await?
        .text()
        .await?;
    ensure!(CODES.contains(&code.as_str()), "showed {code:?}");
    let records = takes(&session)?;
    ensure!(
        records.len() == 1 && records[0]["event"]["outcome"] == "success",
        "{records:#?}"
    );
    // Shown once: a popup opened again does not have it.
    session.open_popup(&query).await?;
    let text = session
        .client
        .execute("return document.body.innerText;", vec![])
        .await?;
    ensure!(!text.as_str().unwrap_or_default().contains(&code), "{text}");
    session.close().await
}
