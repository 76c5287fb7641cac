//! `cargo xtask detect-eval [--holdout] [FILTER]`: runs a labelled detection
//! corpus in Chromium with the extension and offline against the two
//! baselines, and prints precision/recall overall and per class.
//!
//! Default: the tuning corpus (tests/fixtures/detection). `--holdout`: the
//! held-out corpus (tests/fixtures/detection-holdout), written independently
//! and never used to tune the detector — the honest number.

use std::process::ExitCode;

use twofill_e2e::corpus::{HOLDOUT, TUNING, report, run_all};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let corpus = match args.iter().position(|a| a == "--holdout") {
        Some(i) => {
            args.remove(i);
            HOLDOUT
        }
        None => TUNING,
    };
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
