//! The labelled detection corpus in real Chromium with the extension: every
//! prompt gets the right code in the right inputs, and no look-alike, SMS,
//! e-mail, recovery or pairing prompt gets anything.
//!
//! `cargo xtask detect-eval` prints the full report (with the baselines).

use twofill_e2e::corpus::{TUNING, report, run_all};

#[tokio::test]
async fn corpus_in_chromium() -> anyhow::Result<()> {
    let (session, outcomes) = run_all(TUNING, None).await?;
    let summary = report(&outcomes);
    println!("{summary}");
    assert!(
        outcomes.len() >= 50,
        "the corpus has only {} pages",
        outcomes.len()
    );
    let false_fills: Vec<_> = outcomes
        .iter()
        .filter(|o| !o.label.positive() && o.browser_filled)
        .map(|o| format!("{}: {}", o.label.file, o.browser_detail))
        .collect();
    assert!(
        false_fills.is_empty(),
        "filled where it must not:\n{}\n\n{summary}",
        false_fills.join("\n")
    );
    let misses: Vec<_> = outcomes
        .iter()
        .filter(|o| o.label.positive() && !o.browser_correct)
        .map(|o| format!("{}: {}", o.label.file, o.browser_detail))
        .collect();
    assert!(
        misses.is_empty(),
        "prompts not filled correctly:\n{}\n\n{summary}",
        misses.join("\n")
    );
    session.close().await
}
