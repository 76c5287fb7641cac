//! `cargo xtask demo`: the walking skeleton, shown rather than asserted.
//!
//! Enrolls a demo token in a throwaway vault, opens the bundled
//! My-Kaspersky-style sign-in page in headless Chromium with the extension,
//! signs in, waits for the code to be filled, saves a screenshot and prints
//! the filled code next to the one `oathtool` computes independently.

use std::process::ExitCode;
use std::time::Duration;

use twofill_e2e::{Session, oathtool_codes, repo_root, sign_in_and_wait_for_code};
use twofill_words::Access;

const DEMO_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

#[tokio::main]
async fn main() -> ExitCode {
    match demo().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn demo() -> anyhow::Result<bool> {
    let session = Session::start().await?;
    let id = session.enroll(
        "Kaspersky",
        DEMO_SEED,
        &["http://my.kaspersky.test"],
        Access::CodeOnly,
    )?;
    println!(
        "enrolled demo token {id} (Kaspersky: team@example.com), bound to my.kaspersky.test, code-only for you"
    );

    let url = session
        .site
        .url("my.kaspersky.test", "/site/kaspersky-signin.html");
    println!("opening {url} in headless Chromium with the twofill extension");
    let outcome = sign_in_and_wait_for_code(&session.client, &url, Duration::from_secs(15)).await?;

    let shots = repo_root().join("target").join("demo");
    std::fs::create_dir_all(&shots)?;
    let shot = shots.join("kaspersky-filled.png");
    std::fs::write(&shot, session.client.screenshot().await?)?;

    // oathtool's code for the window the fill landed in (and its neighbour,
    // should the fill have crossed a 30 s boundary).
    let reference = oathtool_codes(DEMO_SEED, outcome.started, outcome.finished)?;
    let matched = reference.contains(&outcome.value);
    println!();
    println!("  filled by twofill : {}", show(&outcome.value));
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
    session.close().await?;
    Ok(matched)
}

fn show(value: &str) -> &str {
    if value.is_empty() { "(nothing)" } else { value }
}
