//! Enterprise policy in a real Chromium: a policy file in the machine-wide
//! policy directory, exactly as IT deploys it on Linux. The tests in this
//! file take turns (see `twofill_e2e::policy`), because the browser reads
//! policy for the whole machine, and each removes its file when done.
//!
//! - `3rdparty` values reach the extension (`storage.managed`) and change
//!   what it does, live, without restarting the browser;
//! - `NativeMessagingBlocklist`/`Allowlist` and `NativeMessagingUserLevelHosts`
//!   behave as documented, the latter with the host installed machine-wide
//!   by `twofill-host install --system`;
//! - `ExtensionInstallForcelist` installs the packaged CRX from an update
//!   manifest on 127.0.0.1, with no `--load-extension`, and it fills codes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use fantoccini::Locator;
use serde_json::{Value, json};
use twofill_e2e::package::Package;
use twofill_e2e::policy::{ChromiumPolicy, for_extension};
use twofill_e2e::{
    EXTENSION_ID, HostSetup, Session, SessionOptions, SiteServer, oathtool_codes,
    sign_in_and_wait_for_code, sign_in_expecting_code, unix_now,
};
use twofill_words::{Access, AuditAction, HOST_NAME};

const SEED: &str = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BAJJ2W24DTEBXXMZLS";
const SEED_PERSONAL: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const SIGNIN: &str = "/site/kaspersky-signin.html";
/// Chromium reloads a changed policy file after a settle delay of a few
/// seconds; the extension then sees `storage.onChanged`.
const POLICY_ARRIVES: Duration = Duration::from_secs(40);
/// How long a fill may take before we call it "not filled" (fills take
/// ~0.2 s; see `cargo xtask bench`).
const NO_FILL_WAIT: Duration = Duration::from_secs(4);

fn code_records(session: &Session, action: &str) -> Result<Vec<Value>> {
    Ok(session
        .audit()?
        .into_iter()
        .filter(|r| r["event"]["action"] == action)
        .collect())
}

/// A browser session with a token for the sign-in fixture on
/// `my.kaspersky.test`, granted with `access`.
struct BoundSite {
    session: Session,
    token: String,
    /// `http://my.kaspersky.test:<port>`, for the popup.
    origin: String,
    /// The sign-in page.
    url: String,
}

async fn bound_site(options: SessionOptions, access: Access) -> Result<BoundSite> {
    let session = Session::start_with_options(options).await?;
    let token = session.enroll("Kaspersky", SEED, &["http://my.kaspersky.test"], access)?;
    Ok(BoundSite {
        origin: session.site.url("my.kaspersky.test", ""),
        url: session.site.url("my.kaspersky.test", SIGNIN),
        session,
        token,
    })
}

/// Asserts a sign-in got a code, and that it is oathtool's.
async fn assert_filled(session: &Session, url: &str, seed: &str) -> Result<()> {
    sign_in_expecting_code(&session.client, url, seed, || session.diagnostics()).await?;
    Ok(())
}

async fn assert_not_filled(session: &Session, url: &str, why: &str) -> Result<()> {
    let out = sign_in_and_wait_for_code(&session.client, url, NO_FILL_WAIT).await?;
    ensure!(
        out.value.is_empty(),
        "a code was filled at {url} although {why}"
    );
    Ok(())
}

/// Opens the popup about `origin` and returns its state and its
/// "managed by" section's text.
async fn popup(session: &Session, origin: &str) -> Result<(String, String)> {
    let state = session.open_popup(&format!("origin={origin}")).await?;
    let managed = session
        .client
        .execute(
            "const m = document.getElementById('managed'); return m.hidden ? '' : m.innerText;",
            vec![],
        )
        .await?;
    Ok((state, managed.as_str().unwrap_or_default().to_owned()))
}

/// Reopens the popup until `done(state, managed text)` holds: a policy
/// change takes a few seconds to reach the browser.
async fn wait_for_popup(
    session: &Session,
    origin: &str,
    what: &str,
    done: impl Fn(&str, &str) -> bool,
) -> Result<(String, String)> {
    let deadline = Instant::now() + POLICY_ARRIVES;
    loop {
        let (state, managed) = popup(session, origin).await?;
        if done(&state, &managed) {
            return Ok((state, managed));
        }
        if Instant::now() > deadline {
            bail!(
                "waited {POLICY_ARRIVES:?} for the popup to show {what}; it shows state {state:?}, managed {managed:?}\n{}",
                session.diagnostics()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn third_party_values_reach_the_extension_and_apply_live() -> Result<()> {
    let policy = ChromiumPolicy::install(&for_extension(json!({
        "AutofillMode": "off",
        "OrganizationName": "ACME Corp",
        "AuditNotice": "Every code you use is recorded by ACME Security.",
        "ExpectedAuditSinks": ["soc-splunk"],
    })))
    .await?;
    let BoundSite {
        session,
        origin,
        url,
        ..
    } = bound_site(policy.session_options(), Access::CodeOnly).await?;

    // The popup says who manages it, with the organization's notice, and
    // warns that this host does not stream to the audit sink IT expects.
    let (state, managed) = wait_for_popup(&session, &origin, "the managed line", |_, m| {
        m.contains("Managed by ACME Corp")
    })
    .await?;
    assert_eq!(state, "list");
    session.save_screenshot("popup-managed").await?;
    assert!(managed.contains("recorded by ACME Security"), "{managed}");
    assert!(managed.contains("turned off"), "{managed}");
    assert!(
        managed.contains("does not stream audit records to soc-splunk"),
        "{managed}"
    );

    // AutofillMode off: the bound site gets nothing, and no code was asked for.
    assert_not_filled(&session, &url, "AutofillMode is off").await?;
    assert_eq!(
        code_records(&session, AuditAction::CodeFill.as_str())?,
        Vec::<Value>::new()
    );

    // Switched to "click" while the prompt is on screen: the page offers a
    // button (no code asked for yet), and a real click fills the code.
    policy.update(&for_extension(json!({
        "AutofillMode": "click",
        "OrganizationName": "ACME Corp",
    })))?;
    let deadline = Instant::now() + POLICY_ARRIVES;
    let offer = loop {
        if let Ok(el) = session
            .client
            .find(Locator::Css("[data-twofill-offer]"))
            .await
        {
            break el;
        }
        ensure!(
            Instant::now() < deadline,
            "no 'Fill code' offer appeared after the policy changed to click\n{}",
            session.diagnostics()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        code_records(&session, AuditAction::CodeFill.as_str())?,
        Vec::<Value>::new()
    );
    let value = || async {
        session
            .client
            .execute("return document.getElementById('tfa-code').value;", vec![])
            .await
    };
    assert_eq!(value().await?, "", "filled before the click");
    let started = unix_now();
    offer.click().await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let filled = loop {
        let v = value().await?;
        if v.as_str().is_some_and(|s| !s.is_empty()) || Instant::now() > deadline {
            break v.as_str().unwrap_or_default().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let expected = oathtool_codes(SEED, started, unix_now())?;
    assert!(
        expected.contains(&filled),
        "filled {filled:?} after the click, oathtool says one of {expected:?}"
    );
    // One record, or two when the first code was about to expire and the
    // extension waited for the next one.
    let after_click = code_records(&session, AuditAction::CodeFill.as_str())?;
    assert!(
        (1..=2).contains(&after_click.len())
            && after_click
                .iter()
                .all(|r| r["event"]["outcome"] == "success"),
        "{after_click:#?}"
    );

    // Automatic again, but the site is blocked (BlockedSites covers
    // subdomains): nothing filled, nothing asked.
    policy.update(&for_extension(json!({
        "AutofillMode": "auto",
        "BlockedSites": ["kaspersky.test"],
        "OrganizationName": "ACME step 3",
    })))?;
    wait_for_popup(&session, &origin, "the new policy", |_, m| {
        m.contains("ACME step 3")
    })
    .await?;
    assert_not_filled(&session, &url, "the site is blocked").await?;
    assert_eq!(
        code_records(&session, AuditAction::CodeFill.as_str())?.len(),
        after_click.len()
    );

    // An allow-list that names the site: filled automatically.
    policy.update(&for_extension(json!({
        "AllowedSites": ["http://my.kaspersky.test"],
        "OrganizationName": "ACME step 4",
    })))?;
    wait_for_popup(&session, &origin, "the new policy", |_, m| {
        m.contains("ACME step 4")
    })
    .await?;
    assert_filled(&session, &url, SEED).await?;

    // An allow-list that does not name it: nothing.
    policy.update(&for_extension(json!({
        "AllowedSites": ["intranet.example"],
        "OrganizationName": "ACME step 5",
    })))?;
    wait_for_popup(&session, &origin, "the new policy", |_, m| {
        m.contains("ACME step 5")
    })
    .await?;
    assert_not_filled(&session, &url, "the site is not on the allow-list").await?;
    session.close().await
}

#[tokio::test]
async fn seeds_personal_tokens_and_host_name_follow_policy() -> Result<()> {
    let restrictive = for_extension(json!({
        "ShowSeeds": false,
        "AllowPersonalTokens": false,
        "NativeHostName": "com.acme.twofill",
    }));
    let policy = ChromiumPolicy::install(&restrictive).await?;
    // The host is registered only under the organization's name, so every
    // code below proves the extension used the policy's host name.
    let BoundSite {
        session,
        token: team,
        origin,
        url,
    } = bound_site(
        SessionOptions {
            host_name: Some("com.acme.twofill".into()),
            ..policy.session_options()
        },
        Access::FullSeed,
    )
    .await?;
    let now = unix_now();
    let personal_code = oathtool_codes(SEED_PERSONAL, now, now)?.remove(0);
    session.host_cli(&[
        "token",
        "add",
        "--personal",
        "--uri",
        &format!("otpauth://totp/Personal:me@example.com?secret={SEED_PERSONAL}&issuer=Personal"),
        "--confirm-code",
        &personal_code,
        "--site",
        "http://personal.test:*",
    ])?;

    // The popup lists the team token only, and offers no seed although the
    // grant is full-seed.
    let (state, managed) = popup(&session, &origin).await?;
    assert_eq!(state, "list", "{}", session.diagnostics());
    assert!(
        managed.contains("Managed by your organization"),
        "{managed}"
    );
    let items = session
        .client
        .execute(
            "return [...document.querySelectorAll('#tokens li.token')].map(li => ({
                 token: li.dataset.token, access: li.dataset.access,
                 reveal: !!li.querySelector('button.reveal') }));",
            vec![],
        )
        .await?;
    assert_eq!(
        items,
        json!([{ "token": team, "access": Access::FullSeed, "reveal": false }])
    );

    // Fills go through com.acme.twofill; the personal token is left alone.
    assert_filled(&session, &url, SEED).await?;
    let personal_url = session.site.url("personal.test", SIGNIN);
    assert_not_filled(&session, &personal_url, "personal tokens are not allowed").await?;

    // Control: with personal tokens allowed again, the same page is filled
    // from the personal token (so the refusal above was the policy's doing),
    // and the seed button is back.
    policy.update(&for_extension(json!({
        "NativeHostName": "com.acme.twofill",
        "OrganizationName": "personal allowed",
    })))?;
    let (_, _) = wait_for_popup(&session, &origin, "the new policy", |_, m| {
        m.contains("personal allowed")
    })
    .await?;
    let reveal = session
        .client
        .execute(
            "return !!document.querySelector('#tokens li.token button.reveal');",
            vec![],
        )
        .await?;
    assert_eq!(reveal, json!(true), "the seed button did not come back");
    assert_filled(&session, &personal_url, SEED_PERSONAL).await?;
    session.close().await
}

#[tokio::test]
async fn native_messaging_blocklist_and_allowlist() -> Result<()> {
    let policy = ChromiumPolicy::install(&json!({ "NativeMessagingBlocklist": ["*"] })).await?;
    let BoundSite {
        session,
        origin,
        url,
        ..
    } = bound_site(policy.session_options(), Access::CodeOnly).await?;

    // Blocked: the browser refuses to start the host, and the popup says
    // the administrator disabled it.
    let (state, _) = popup(&session, &origin).await?;
    assert_eq!(state, "refused");
    let text = session
        .client
        .find(Locator::Css("#state"))
        .await?
        .text()
        .await?;
    assert!(text.contains("administrator"), "{text}");
    assert_not_filled(&session, &url, "native messaging is blocked").await?;
    assert_eq!(
        code_records(&session, AuditAction::CodeFill.as_str())?,
        Vec::<Value>::new()
    );

    // Block everything but allow our host by name: codes again.
    policy.update(&json!({
        "NativeMessagingBlocklist": ["*"],
        "NativeMessagingAllowlist": [HOST_NAME],
    }))?;
    wait_for_popup(&session, &origin, "the token list", |s, _| s == "list").await?;
    assert_filled(&session, &url, SEED).await?;
    session.close().await
}

/// Removes the machine-wide host registration when dropped.
struct SystemHost<'a>(&'a Session);

impl Drop for SystemHost<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .host_cli(&["uninstall", "--system", "--browser", "chromium"]);
    }
}

#[tokio::test]
async fn user_level_hosts_off_needs_the_system_install() -> Result<()> {
    let policy =
        ChromiumPolicy::install(&json!({ "NativeMessagingUserLevelHosts": false })).await?;
    // Registered in the profile only (user level): the browser ignores it.
    let BoundSite {
        session,
        origin,
        url,
        ..
    } = bound_site(policy.session_options(), Access::CodeOnly).await?;
    let (state, _) = popup(&session, &origin).await?;
    assert_eq!(state, "not-installed");

    // Registered machine-wide, as IT would: found.
    let system_manifest =
        Path::new("/etc/chromium/native-messaging-hosts").join(format!("{HOST_NAME}.json"));
    ensure!(
        !system_manifest.exists(),
        "{} already exists; this test would overwrite a real installation",
        system_manifest.display()
    );
    let installed = SystemHost(&session);
    session.host_cli(&["install", "--system", "--browser", "chromium"])?;
    ensure!(
        system_manifest.exists(),
        "install --system wrote no manifest"
    );
    let (state, _) = popup(&session, &origin).await?;
    assert_eq!(state, "list", "{}", session.diagnostics());
    assert_filled(&session, &url, SEED).await?;

    drop(installed);
    assert!(
        !system_manifest.exists(),
        "uninstall --system left the manifest"
    );
    session.close().await
}

#[tokio::test]
async fn force_installed_from_a_self_hosted_crx_fills_codes() -> Result<()> {
    // An update server on 127.0.0.1, like an intranet web server: the CRX
    // and a gupdate manifest pointing at it.
    let package = Package::locate()?;
    let version = &package.version;
    let served = tempfile::tempdir()?;
    std::fs::copy(&package.crx, served.path().join("twofill.crx"))?;
    let server = SiteServer::start(served.path())?;
    std::fs::write(
        served.path().join("updates.xml"),
        format!(
            "<?xml version='1.0' encoding='UTF-8'?>\n\
             <gupdate xmlns='http://www.google.com/update2/response' protocol='2.0'>\n\
             <app appid='{EXTENSION_ID}'>\n\
             <updatecheck codebase='http://127.0.0.1:{port}/twofill.crx' version='{version}'/>\n\
             </app>\n</gupdate>\n",
            port = server.port()
        ),
    )?;
    let policy = ChromiumPolicy::install(&json!({
        "ExtensionInstallForcelist": [
            format!("{EXTENSION_ID};http://127.0.0.1:{}/updates.xml", server.port())
        ],
    }))
    .await?;

    let BoundSite { session, url, .. } = bound_site(
        SessionOptions {
            host: HostSetup::Installed,
            load_extension: false,
            ..policy.session_options()
        },
        Access::CodeOnly,
    )
    .await?;

    // Wait for the browser to fetch and install it (about a second here).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        session.client.goto("chrome://extensions-internals").await?;
        let text = session
            .client
            .find(Locator::Css("body"))
            .await?
            .text()
            .await?;
        if text.contains(EXTENSION_ID) {
            ensure!(
                text.contains("EXTERNAL_POLICY_DOWNLOAD"),
                "installed, but not from policy:\n{text}"
            );
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the browser did not install the extension from policy within 60 s\n{}",
            session.diagnostics()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_filled(&session, &url, SEED).await?;
    drop(server);
    session.close().await
}
