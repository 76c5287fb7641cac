//! `cargo xtask detect-eval [FILTER]`: runs the labelled detection corpus in
//! Chromium with the extension and offline against the two baselines, and
//! prints precision/recall overall and per class.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let filter = std::env::args().nth(1);
    match twofill_e2e::corpus::run_all(filter.as_deref()).await {
        Ok((session, outcomes)) => {
            println!("{}", twofill_e2e::corpus::report(&outcomes));
            let _ = session.close().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("detect-eval failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
