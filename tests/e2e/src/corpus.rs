//! The labelled detection corpus (`tests/fixtures/detection`), run two ways:
//!
//! - **in Chromium with the extension**: the page is served under a bound
//!   origin and we look at which inputs end up holding a code;
//! - **offline on the same features**: `features.js` (the content script's
//!   own extractor) is injected into the page and its scan is fed to our
//!   detector and to the two baselines (`autocomplete=one-time-code` only,
//!   and a peer-style keyword list).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use fantoccini::{Client, Locator};
use serde::Deserialize;
use serde_json::{Value, json};
use twofill_detection::{PageScan, PromptKind, baseline, detect};

use crate::{Session, oathtool_codes, repo_root, unix_now};
use twofill_words::Access;

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub file: String,
    pub class: String,
    pub expect: String,
    pub kind: String,
    pub targets: Vec<String>,
    pub frame: Option<String>,
    pub shadow_host: Option<String>,
    #[serde(default)]
    pub appears_after_ms: u64,
    #[serde(default)]
    pub lang: String,
    #[serde(default)]
    pub note: String,
    /// `{"length": 5, "charset": "steam"}` where the code is not 6 digits.
    #[serde(default)]
    pub code: Option<Value>,
}

impl Label {
    pub fn positive(&self) -> bool {
        self.expect == "fill"
    }

    /// The page needs a Steam token (5 characters, Steam's alphabet).
    pub fn steam(&self) -> bool {
        self.code.as_ref().is_some_and(|c| c["charset"] == "steam")
    }

    /// The page needs an 8-digit TOTP.
    pub fn eight_digits(&self) -> bool {
        !self.steam() && self.code.as_ref().is_some_and(|c| c["length"] == 8)
    }
}

/// The tuning corpus (`detection`), the held-out one (`detection-holdout`,
/// written independently and never used to tune the detector) and the
/// second blind set (`detection-blind2`, written from public facts of real
/// sign-in flows in 31 languages by someone who never read the detector).
pub const TUNING: &str = "detection";
pub const HOLDOUT: &str = "detection-holdout";
pub const BLIND2: &str = "detection-blind2";

pub fn corpus_dir(corpus: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(corpus)
}

pub fn load_labels(corpus: &str) -> Result<Vec<Label>> {
    #[derive(Deserialize)]
    struct File {
        pages: Vec<Label>,
    }
    let path = corpus_dir(corpus).join("labels.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    Ok(serde_json::from_str::<File>(&text)?.pages)
}

/// The host name the corpus token is bound to.
pub const CORPUS_HOST: &str = "corpus.test";

/// What happened to one page.
#[derive(Debug, Clone)]
pub struct PageOutcome {
    pub label: Label,
    /// In Chromium: the right inputs hold a right code, and nothing else.
    pub browser_correct: bool,
    /// In Chromium: something was filled (right or wrong).
    pub browser_filled: bool,
    /// What got filled, for the report (selector-ish description → value).
    pub browser_detail: String,
    /// Offline: did each method pick exactly the target inputs?
    pub ours_correct: bool,
    pub ours_predicted: bool,
    pub ours_kind: String,
    pub autocomplete_correct: bool,
    pub autocomplete_predicted: bool,
    pub peer_correct: bool,
    pub peer_predicted: bool,
    /// Time from navigation to the code being in place (positives).
    pub fill_ms: Option<u128>,
}

/// Resolves the label's targets and reads every input's value, across
/// open shadow roots and same-origin frames.
const READ_STATE: &str = r#"
const [targets, frameSel, hostSel] = arguments;
function deep(root, out) {
  for (const el of root.querySelectorAll("*")) {
    // Changed by someone (not the page's own initial value), and visible:
    // a hidden aggregator the page syncs itself is not our doing.
    if (el.tagName === "INPUT" && el.value && el.value !== el.defaultValue
        && !["hidden","checkbox","radio","submit","button"].includes(el.type)) {
      const r = el.getBoundingClientRect();
      if (r.width >= 4 && r.height >= 4) out.push(el);
    }
    if (el.shadowRoot) deep(el.shadowRoot, out);
    if (el.tagName === "IFRAME") { try { if (el.contentDocument) deep(el.contentDocument, out); } catch (e) {} }
  }
  return out;
}
let scope = document;
if (frameSel) { const f = document.querySelector(frameSel); scope = f && f.contentDocument; }
if (scope && hostSel) { const h = scope.querySelector(hostSel); scope = h && h.shadowRoot; }
const els = targets.map(t => scope ? scope.querySelector(t) : null);
const filled = deep(document, []);
return {
  resolved: els.every(e => !!e),
  values: els.map(e => e ? e.value : null),
  others: filled.filter(e => !els.includes(e)).map(e => (e.id || e.name || e.className || e.type) + "=" + e.value),
};
"#;

/// Injected after features.js: the scan plus the indices of the targets.
const SCAN_WITH_TARGETS: &str = r#"
const [targets, hostSel] = arguments;
const s = globalThis.__twofillFeatures.scan();
let scope = document;
if (hostSel) { const h = document.querySelector(hostSel); scope = h && h.shadowRoot; }
const idx = targets.map(t => { const e = scope ? scope.querySelector(t) : null; return e ? s.inputs.indexOf(e) : -1; });
return { page: s.page, targets: idx };
"#;

pub async fn run_page(
    session: &Session,
    corpus: &str,
    label: &Label,
    seed: &str,
) -> Result<PageOutcome> {
    let client = &session.client;
    // Each page on its own subdomain of the bound host (separate origins,
    // as on the web). Pages that need another kind of token are served
    // under the host that token is bound to.
    let base = if label.steam() {
        STEAM_HOST
    } else if label.eight_digits() {
        EIGHT_HOST
    } else {
        CORPUS_HOST
    };
    let host = format!("{}.{base}", label.file.trim_end_matches(".html"));
    let url = session
        .site
        .url(&host, &format!("/{corpus}/{}", label.file));
    let t0 = Instant::now();
    let started = unix_now();
    client.goto(&url).await?;
    // Positives: stop as soon as the code is in place. Negatives: give the
    // extension the full window to make a mistake.
    // A code with < 3 s left is replaced by the next one (up to ~3.2 s of
    // waiting), so both windows allow for that.
    let deadline =
        Duration::from_millis(label.appears_after_ms + if label.positive() { 7000 } else { 4500 });
    let mut state;
    let mut fill_ms = None;
    loop {
        state = client
            .execute(
                READ_STATE,
                vec![
                    json!(label.targets),
                    json!(label.frame),
                    json!(label.shadow_host),
                ],
            )
            .await?;
        let values: Vec<String> = state["values"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let complete = !values.is_empty() && values.iter().all(|v| !v.is_empty());
        if label.positive() && complete {
            fill_ms = Some(t0.elapsed().as_millis());
            // Let a split widget finish its own focus juggling.
            tokio::time::sleep(Duration::from_millis(150)).await;
            state = client
                .execute(
                    READ_STATE,
                    vec![
                        json!(label.targets),
                        json!(label.frame),
                        json!(label.shadow_host),
                    ],
                )
                .await?;
            break;
        }
        if t0.elapsed() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let values: Vec<String> = state["values"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let others: Vec<String> = state["others"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let joined: String = values.concat();
    let codes = if label.steam() {
        steam_codes(started, unix_now())
    } else if label.eight_digits() {
        oathtool_codes_with(seed, 8, started, unix_now())?
    } else {
        oathtool_codes(seed, started, unix_now())?
    };
    let browser_filled = !joined.is_empty() || !others.is_empty();
    let browser_correct = if label.positive() {
        codes.contains(&joined) && others.is_empty()
    } else {
        !browser_filled
    };
    let browser_detail = if browser_filled {
        format!("targets {values:?}, others {others:?}")
    } else {
        "nothing filled".into()
    };

    // Offline: the same features the content script sends.
    let (scan, expected) = offline_scan(client, label).await?;
    if std::env::var_os("TWOFILL_EVAL_DUMP").is_some() {
        eprintln!("{}: {}", label.file, serde_json::to_string_pretty(&scan)?);
    }
    let expected: Vec<u32> = if label.positive() {
        expected
    } else {
        Vec::new()
    };
    let ours = detect(&scan);
    let ours_fill = ours
        .as_ref()
        .filter(|p| p.kind == PromptKind::Totp)
        .map(|p| p.fields.clone())
        .unwrap_or_default();
    let ours_kind = match &ours {
        Some(p) => format!("{:?}", p.kind).to_lowercase(),
        None => "none".into(),
    };
    let ac = baseline::autocomplete_only(&scan).unwrap_or_default();
    let peer = baseline::peer_keywords(&scan).unwrap_or_default();
    Ok(PageOutcome {
        label: label.clone(),
        browser_correct,
        browser_filled,
        browser_detail,
        ours_correct: ours_fill == expected,
        ours_predicted: !ours_fill.is_empty(),
        ours_kind,
        autocomplete_correct: ac == expected,
        autocomplete_predicted: !ac.is_empty(),
        peer_correct: peer == expected,
        peer_predicted: !peer.is_empty(),
        fill_ms,
    })
}

async fn offline_scan(client: &Client, label: &Label) -> Result<(PageScan, Vec<u32>)> {
    let features = std::fs::read_to_string(repo_root().join("extension/features.js"))?;
    let mut in_frame = false;
    if let Some(frame) = &label.frame {
        let el = client.find(Locator::Css(frame)).await?;
        el.enter_frame().await?;
        in_frame = true;
    }
    client.execute(&features, vec![]).await?;
    let out = client
        .execute(
            SCAN_WITH_TARGETS,
            vec![json!(label.targets), json!(label.shadow_host)],
        )
        .await?;
    if in_frame {
        client.enter_parent_frame().await?;
    }
    let scan: PageScan = serde_json::from_value(out["page"].clone())?;
    let targets = out["targets"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_i64)
                .filter(|i| *i >= 0)
                .map(|i| i as u32)
                .collect()
        })
        .unwrap_or_default();
    Ok((scan, targets))
}

/// Precision and recall over pages: a page counts as a true positive when
/// the method filled exactly the target inputs; as a false positive when it
/// filled anything else (a wrong field, or anything on a negative page).
#[derive(Debug, Default, Clone, Copy)]
pub struct Score {
    pub tp: u32,
    pub fp: u32,
    pub fn_: u32,
    pub tn: u32,
}

impl Score {
    pub fn add(&mut self, positive: bool, predicted: bool, correct: bool) {
        match (positive, predicted, correct) {
            (true, _, true) => self.tp += 1,
            (true, true, false) => {
                self.fp += 1;
                self.fn_ += 1
            }
            (true, false, false) => self.fn_ += 1,
            (false, true, _) => self.fp += 1,
            (false, false, _) => self.tn += 1,
        }
    }
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        1.0
    } else {
        f64::from(a) / f64::from(b)
    }
}

/// Pages handled correctly per value of one label field (class, language):
/// a markdown table, one row per value.
fn breakdown(outcomes: &[PageOutcome], field: &str, key: fn(&Label) -> &String) -> String {
    let mut groups: BTreeMap<&str, Vec<&PageOutcome>> = BTreeMap::new();
    for o in outcomes {
        groups.entry(key(&o.label).as_str()).or_default().push(o);
    }
    let mut out = format!("\nPer {field} (pages handled correctly):\n\n");
    out += &format!(
        "| {field} | pages | Chromium | detector | autocomplete-only | peer keywords | kind right |\n|---|---|---|---|---|---|---|\n"
    );
    for (value, os) in &groups {
        let count = |f: &dyn Fn(&PageOutcome) -> bool| os.iter().filter(|o| f(o)).count();
        out += &format!(
            "| {value} | {} | {} | {} | {} | {} | {} |\n",
            os.len(),
            count(&|o| o.browser_correct),
            count(&|o| o.ours_correct),
            count(&|o| o.autocomplete_correct),
            count(&|o| o.peer_correct),
            count(&|o| o.ours_kind == o.label.kind
                || (o.label.kind == "none" && o.ours_kind == "none")),
        );
    }
    out
}

/// Prints the summary, per-class and per-language tables (markdown).
pub fn report(outcomes: &[PageOutcome]) -> String {
    let mut out = String::new();
    let mut methods = [
        ("twofill in Chromium (end to end)", Score::default()),
        (
            "twofill detector (offline, same features)",
            Score::default(),
        ),
        (
            "baseline: autocomplete=one-time-code only",
            Score::default(),
        ),
        ("baseline: peer-style keyword list", Score::default()),
    ];
    for o in outcomes {
        let p = o.label.positive();
        methods[0].1.add(p, o.browser_filled, o.browser_correct);
        methods[1].1.add(p, o.ours_predicted, o.ours_correct);
        methods[2]
            .1
            .add(p, o.autocomplete_predicted, o.autocomplete_correct);
        methods[3].1.add(p, o.peer_predicted, o.peer_correct);
    }
    let pos = outcomes.iter().filter(|o| o.label.positive()).count();
    out += &format!(
        "{} pages ({} prompts to fill, {} look-alikes and non-TOTP prompts)\n\n",
        outcomes.len(),
        pos,
        outcomes.len() - pos
    );
    out += "| method | precision | recall | TP | FP | FN |\n|---|---|---|---|---|---|\n";
    for (name, s) in &methods {
        out += &format!(
            "| {name} | {:.3} | {:.3} | {} | {} | {} |\n",
            s.precision(),
            s.recall(),
            s.tp,
            s.fp,
            s.fn_
        );
    }
    out += &breakdown(outcomes, "class", |l| &l.class);
    out += &breakdown(outcomes, "language", |l| &l.lang);
    let misses: Vec<&PageOutcome> = outcomes.iter().filter(|o| !o.browser_correct).collect();
    if !misses.is_empty() {
        out += "\nWrong in Chromium:\n\n";
        for o in misses {
            out += &format!(
                "- {} ({}, expect {}): {}; detector kind {}\n",
                o.label.file, o.label.class, o.label.expect, o.browser_detail, o.ours_kind
            );
        }
    }
    let mut times: Vec<u128> = outcomes.iter().filter_map(|o| o.fill_ms).collect();
    times.sort();
    if !times.is_empty() {
        out += &format!(
            "\nnavigation → code filled (includes each page's own delay): p50 {} ms, p95 {} ms\n",
            times[times.len() / 2],
            times[(times.len() * 95 / 100).min(times.len() - 1)]
        );
    }
    out
}

/// Seed of the corpus token.
pub const CORPUS_SEED: &str = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BAJJ2W24DTEBXXMZLS";

/// Pages that need a Steam token live under this host, bound to one.
pub const STEAM_HOST: &str = "steam.test";
/// Pages that need an 8-digit TOTP live under this host, bound to one.
pub const EIGHT_HOST: &str = "eight.test";
pub const STEAM_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn steam_token() -> twofill_otp::Token {
    twofill_otp::Token::from_uri(&format!(
        "otpauth://totp/Steam:team?secret={STEAM_SEED}&issuer=Steam"
    ))
    .expect("valid Steam URI")
}

/// Steam codes for the windows touching `[from, to]`. oathtool has no Steam
/// mode; the otp crate's Steam codes are checked against an independent
/// HMAC reference in its own tests.
fn steam_codes(from: u64, to: u64) -> Vec<String> {
    let t = steam_token();
    let mut at = from - from % 30;
    let mut out = Vec::new();
    while at <= to {
        out.push(t.code_at(at));
        at += 30;
    }
    out
}

fn oathtool_codes_with(seed: &str, digits: u32, from: u64, to: u64) -> Result<Vec<String>> {
    let mut at = from - from % 30;
    let mut out = Vec::new();
    while at <= to {
        let o = std::process::Command::new("oathtool")
            .args([
                "--totp",
                "-d",
                &digits.to_string(),
                "-b",
                seed,
                "--now",
                &format!("@{at}"),
            ])
            .output()?;
        anyhow::ensure!(o.status.success(), "oathtool failed");
        out.push(String::from_utf8(o.stdout)?.trim().to_owned());
        at += 30;
    }
    Ok(out)
}

/// Starts a session with a token bound to the corpus host and runs every page.
pub async fn run_all(corpus: &str, filter: Option<&str>) -> Result<(Session, Vec<PageOutcome>)> {
    let session = Session::start().await?;
    // One token fills every page within minutes.
    session.lift_rate_limit()?;
    session.enroll(
        "Corpus",
        CORPUS_SEED,
        &[&format!("http://{CORPUS_HOST}")],
        Access::CodeOnly,
    )?;
    let steam = steam_token();
    session.enroll_uri(
        &steam.to_uri(),
        &steam.code_at(unix_now()),
        &[&format!("http://{STEAM_HOST}")],
        Access::CodeOnly,
    )?;
    let eight = format!("otpauth://totp/Eight:team?secret={CORPUS_SEED}&digits=8");
    let code = oathtool_codes_with(CORPUS_SEED, 8, unix_now(), unix_now())?.remove(0);
    session.enroll_uri(
        &eight,
        &code,
        &[&format!("http://{EIGHT_HOST}")],
        Access::CodeOnly,
    )?;
    let labels = load_labels(corpus)?;
    // The browser has only just started: its first page may be loaded
    // before the extension's content scripts are registered, which no
    // person at a sign-in page ever sees. One fill before the measured run
    // (its outcome not counted) makes every page meet a running extension,
    // and keeps browser start-up out of the timings.
    if let Some(first) = labels.iter().find(|l| l.positive()) {
        run_page(&session, corpus, first, CORPUS_SEED)
            .await
            .with_context(|| format!("warm-up on {}", first.file))?;
    }
    let mut outcomes = Vec::new();
    for label in labels {
        if filter.is_some_and(|f| !label.file.contains(f) && label.class != f) {
            continue;
        }
        let o = run_page(&session, corpus, &label, CORPUS_SEED)
            .await
            .with_context(|| label.file.clone())?;
        outcomes.push(o);
    }
    Ok((session, outcomes))
}
