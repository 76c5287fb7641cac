//! `cargo xtask demo`: the team, shown rather than asserted.
//!
//! Starts a team server (`twofill-server`, embedded SQLite store) in a
//! temporary directory; the admin enrolls the Kaspersky token from the QR
//! image the site shows (`tests/fixtures/site/kaspersky-token-qr.png`), its
//! first code checked, bound to `my.kaspersky.test`; invites bob, code-only.
//! Bob's own browser profile joins with the invite (its own device key and
//! certificate), opens the My-Kaspersky-style sign-in page, signs in, and
//! the extension fills the code from the server. Prints bob's filled code
//! next to oathtool's, tries bob's seed reveal (refused), and prints the
//! server's audit trail of both people.
//!
//! `cargo xtask demo --local`: the single-machine mode: a vault on this
//! machine, the host computing the code itself.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use serde_json::Value;
use twofill_e2e::team::{ADMIN, TeamServer, Teammate};
use twofill_e2e::{
    Session, SignInOutcome, fixtures_dir, oathtool_codes, repo_root, sign_in_and_wait_for_code,
};
use twofill_words::Access;

/// The seed inside the QR image.
const DEMO_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const SITE: &str = "my.kaspersky.test";
const SIGN_IN: &str = "/site/kaspersky-signin.html";

#[tokio::main]
async fn main() -> ExitCode {
    let local = std::env::args().skip(1).any(|a| a == "--local");
    let result = if local {
        local_demo().await
    } else {
        team_demo().await
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn team_demo() -> Result<bool> {
    let server = TeamServer::start(None)?;
    println!(
        "team server    : {} (embedded SQLite store in {})",
        server.url,
        server.state_dir().display()
    );
    let qr = fixtures_dir().join("site").join("kaspersky-token-qr.png");
    let token = server.enroll_qr(&qr, DEMO_SEED, &[&format!("http://{SITE}")])?;
    println!(
        "admin enrolled : Kaspersky (team@example.com) from {}, first code checked against oathtool's; token {token}, bound to {SITE}",
        qr.file_name().unwrap_or_default().to_string_lossy()
    );
    let bob = Teammate::join(&server, "bob").await?;
    server.grant(&token, "ops", "bob", Access::CodeOnly)?;
    println!(
        "bob joined     : device {} (own browser profile, own device key), code-only through group ops",
        bob.device
    );

    let url = bob.session.site.url(SITE, SIGN_IN);
    println!("bob opens      : {url}");
    let outcome =
        sign_in_and_wait_for_code(&bob.session.client, &url, Duration::from_secs(15)).await?;
    let matched = report_fill("bob", &bob.session, &outcome, "team-kaspersky-filled").await?;

    let reveal = bob.reveal_seed(&token)?;
    let refused = reveal["type"] == "error" && !reveal.to_string().contains(DEMO_SEED);
    println!(
        "  bob's seed reveal : {}",
        if refused {
            format!(
                "refused ({}: {})",
                reveal["error"]["code"].as_str().unwrap_or("?"),
                reveal["error"]["message"].as_str().unwrap_or("")
            )
        } else {
            format!("NOT REFUSED: {reveal}")
        }
    );

    println!();
    println!("audit trail on the server ({ADMIN} and bob):");
    for record in server.audit()? {
        println!("  {}", audit_line(&record));
    }
    bob.session.close().await?;
    Ok(matched && refused)
}

async fn local_demo() -> Result<bool> {
    let session = Session::start().await?;
    let id = session.enroll(
        "Kaspersky",
        DEMO_SEED,
        &[&format!("http://{SITE}")],
        Access::CodeOnly,
    )?;
    println!(
        "enrolled demo token {id} (Kaspersky: team@example.com), bound to {SITE}, code-only for you"
    );
    let url = session.site.url(SITE, SIGN_IN);
    println!("opening {url} in headless Chromium with the twofill extension");
    let outcome = sign_in_and_wait_for_code(&session.client, &url, Duration::from_secs(15)).await?;
    let matched = report_fill("you", &session, &outcome, "kaspersky-filled").await?;
    session.close().await?;
    Ok(matched)
}

/// Prints the filled code beside oathtool's (for the window the fill
/// landed in, and its neighbour should it have crossed a boundary) with a
/// screenshot; whether they match.
async fn report_fill(
    who: &str,
    session: &Session,
    outcome: &SignInOutcome,
    shot_name: &str,
) -> Result<bool> {
    let shots = repo_root().join("target").join("demo");
    std::fs::create_dir_all(&shots)?;
    let shot = shots.join(format!("{shot_name}.png"));
    std::fs::write(&shot, session.client.screenshot().await?)?;
    let reference = oathtool_codes(DEMO_SEED, outcome.started, outcome.finished)?;
    let matched = reference.contains(&outcome.value);
    let shown = if outcome.value.is_empty() {
        "(nothing)"
    } else {
        &outcome.value
    };
    println!();
    println!("  filled for {who:<7}: {shown}");
    println!("  oathtool --totp   : {}", reference.join(" / "));
    println!(
        "  result            : {}",
        if matched { "MATCH" } else { "MISMATCH" }
    );
    println!("  prompt → filled   : {} ms", outcome.latency.as_millis());
    println!("  screenshot        : {}", shot.display());
    if !matched {
        eprintln!("browser log:\n{}", session.diagnostics());
    }
    Ok(matched)
}

/// One ECS audit record as a line: time, who, what, outcome, where.
fn audit_line(r: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let site = text(&r["url"]["original"]);
    let reason = text(&r["event"]["reason"]);
    format!(
        "{:<24} {:<6} {:<16} {:<7} {}{}",
        text(&r["@timestamp"]),
        text(&r["user"]["name"]),
        text(&r["event"]["action"]),
        text(&r["event"]["outcome"]),
        site,
        if reason.is_empty() {
            String::new()
        } else {
            format!(" ({reason})")
        }
    )
}
