//! The labelled detection corpus in real Chromium with the extension: every
//! prompt gets the right code in the right inputs, and no look-alike, SMS,
//! e-mail, recovery or pairing prompt gets anything.
//!
//! `cargo xtask detect-eval` prints the full report (with the baselines).

use std::collections::BTreeMap;

use twofill_e2e::corpus::{BLIND2, HOLDOUT, TUNING, corpus_dir, load_labels, report, run_all};

/// Every corpus's labels and pages agree (no browser needed): each labelled
/// page exists, each page is labelled exactly once, a fill names its
/// targets, and each page's name can be the subdomain `run_page` serves it on.
#[test]
fn every_corpus_page_is_labelled_once() -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for corpus in [TUNING, HOLDOUT, BLIND2] {
        let mut labelled: BTreeMap<String, usize> = BTreeMap::new();
        for label in load_labels(corpus)? {
            if label.positive() && label.targets.is_empty() {
                problems.push(format!("{corpus}/{}: a fill without targets", label.file));
            }
            *labelled.entry(label.file).or_default() += 1;
        }
        for entry in std::fs::read_dir(corpus_dir(corpus))? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".html") && !labelled.contains_key(&name) {
                problems.push(format!("{corpus}/{name}: not labelled"));
            }
        }
        for (file, times) in &labelled {
            if times > &1 {
                problems.push(format!("{corpus}/{file}: labelled {times} times"));
            }
            if !corpus_dir(corpus).join(file).is_file() {
                problems.push(format!("{corpus}/{file}: labelled but missing"));
            }
            let stem = file.trim_end_matches(".html");
            let dns_label = !stem.is_empty()
                && stem.len() <= 63
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !stem.starts_with('-')
                && !stem.ends_with('-');
            if !dns_label {
                problems.push(format!(
                    "{corpus}/{file}: its name is not a DNS label (lower-case letters, digits, '-')"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the detection corpora's labels and pages disagree:\n{}",
        problems.join("\n")
    );
    Ok(())
}

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
