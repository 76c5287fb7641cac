//! `cargo xtask detect-eval [--holdout | --blind2] [FILTER]`: runs a labelled detection
//! corpus in Chromium with the extension and offline against the two
//! baselines, and prints precision/recall overall and per class.
//!
//! Default: the tuning corpus (tests/fixtures/detection). `--holdout`: the
//! held-out corpus (tests/fixtures/detection-holdout), written independently
//! and never used to tune the detector — the honest number. `--blind2`: the
//! second blind set (tests/fixtures/detection-blind2), real services' sign-in
//! steps in 31 languages; measured once, never tuned on.

use std::process::ExitCode;

use twofill_e2e::corpus::{BLIND2, HOLDOUT, TUNING, report, run_all};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut corpus = TUNING;
    for (flag, named) in [("--holdout", HOLDOUT), ("--blind2", BLIND2)] {
        if let Some(i) = args.iter().position(|a| a == flag) {
            args.remove(i);
            corpus = named;
        }
    }
    let filter = args.first().cloned();
    match run_all(corpus, filter.as_deref()).await {
        Ok((session, outcomes)) => {
            println!("corpus: tests/fixtures/{corpus}\n");
            println!("{}", report(&outcomes));
            let _ = session.close().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("detect-eval failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
