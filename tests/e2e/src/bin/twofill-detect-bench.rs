//! Part of `cargo xtask bench`: detection and fill timings in real Chromium.
//!
//! - prompt inserted → code filled, for both ways the extension can work,
//!   measured in the same run so their ratio means something: the *new*
//!   path (a mutation that adds a code input is looked at at once; one
//!   long-lived host process on a `connectNative` port) and the *old* one
//!   (every look waits out the 120 ms debounce; a new host process per
//!   message), a copy of the built extension with the
//!   `twofill_bench_old_path` manifest key. Each is measured warm, cold
//!   (the first fill after the browser was restarted on its profile) and
//!   cold after the service worker was stopped (WASM instantiated again, no host port), with the
//!   local vault and through a team server (`twofill-server` on its
//!   embedded store, the host a thin client over mutual TLS);
//! - sizes: the service-worker WASM (raw and gzip) and the content script
//!   as shipped;
//! - main-thread cost of the content script's work (features.js): the
//!   quick scan run on mutations, and the full scan with prompt text run
//!   only when the inputs changed — on a login page and on a 5,000-element
//!   page with no prompt — and the detector's own cost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use twofill_detection::{PageScan, detect};
use twofill_e2e::team::{TeamServer, Teammate};
use twofill_e2e::{Artifacts, NO_RATE_LIMIT, Session, SessionOptions, repo_root};
use twofill_words::Access;

const SEED: &str = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BAJJ2W24DTEBXXMZLS";
/// Warm fills per path and place; cold ones per kind.
const WARM: usize = 20;
const COLD: usize = 3;

/// Each fill is on its own subdomain (a new origin, as a new page would
/// be); the rate limit is lifted for the bench ([`NO_RATE_LIMIT`]).
static SITE: AtomicUsize = AtomicUsize::new(0);

async fn fill_latency(session: &Session) -> anyhow::Result<f64> {
    let n = SITE.fetch_add(1, Ordering::Relaxed);
    let host = format!("b{n}.my.kaspersky.test");
    let url = session.site.url(&host, "/site/bench-prompt.html");
    session.client.goto(&url).await?;
    // Let the content script do its idle scan first.
    let settle: u64 = std::env::var("SETTLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    tokio::time::sleep(Duration::from_millis(settle)).await;
    session
        .client
        .execute("window.__insertPrompt()", vec![])
        .await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = session
            .client
            .execute(
                "return window.__filledAt === null ? null : window.__filledAt - window.__insertedAt",
                vec![],
            )
            .await?;
        if let Some(ms) = v.as_f64() {
            return Ok(ms);
        }
        anyhow::ensure!(Instant::now() < deadline, "the code was never filled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Way {
    Old,
    New,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Old => "old (debounce + one-shot)",
            Way::New => "new (at once + port)",
        }
    }
}

#[derive(Default)]
struct Fills {
    warm: Vec<f64>,
    cold_start: Vec<f64>,
    cold_worker: Vec<f64>,
}

/// The first fill of a browser restarted on its profile (the extension
/// installed, its worker not running); in the first browser also the warm
/// fills and the fills right after the service worker was stopped. The
/// very first fill of a new profile (the extension being installed) is
/// not counted as either.
async fn measure(session: &mut Session, fills: &mut Fills, first: bool) -> anyhow::Result<()> {
    fill_latency(session).await?;
    session.restart_browser().await?;
    fills.cold_start.push(fill_latency(session).await?);
    if first {
        for _ in 0..WARM {
            fills.warm.push(fill_latency(session).await?);
        }
        for _ in 0..COLD {
            session.stop_service_workers().await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            fills.cold_worker.push(fill_latency(session).await?);
        }
    }
    Ok(())
}

/// The built extension with the manifest key that selects the old path.
fn old_path_extension(built: &Path, into: &Path) -> anyhow::Result<PathBuf> {
    let dir = into.join("twofill-extension-old-path");
    let status = Command::new("cp").arg("-r").arg(built).arg(&dir).status()?;
    anyhow::ensure!(status.success(), "cannot copy the extension");
    let manifest = dir.join("manifest.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest)?)?;
    m["twofill_bench_old_path"] = Value::Bool(true);
    std::fs::write(&manifest, serde_json::to_vec_pretty(&m)?)?;
    Ok(dir)
}

fn options(way: Way, old: &Path) -> SessionOptions {
    SessionOptions {
        extension_dir: (way == Way::Old).then(|| old.to_owned()),
        ..SessionOptions::default()
    }
}

async fn scan_cost(
    session: &Session,
    path: &str,
    runs: usize,
) -> anyhow::Result<(Vec<f64>, Vec<f64>, PageScan, u64)> {
    let url = session.site.url("shop.test", path);
    session.client.goto(&url).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let features = std::fs::read_to_string(repo_root().join("extension/features.js"))?;
    session.client.execute(&features, vec![]).await?;
    let out = session
        .client
        .execute(
            "const n = arguments[0]; const t = [];
             let page;
             const q = [];
             for (let i = 0; i < n; i++) { const s = performance.now(); __twofillFeatures.quickScan(); q.push(performance.now() - s); }
             for (let i = 0; i < n; i++) { const s = performance.now(); page = __twofillFeatures.scan().page; t.push(performance.now() - s); }
             return { times: t, quick: q, page, elements: document.querySelectorAll('*').length };",
            vec![Value::from(runs)],
        )
        .await?;
    let times = out["times"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let quick = out["quick"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let page: PageScan = serde_json::from_value(out["page"].clone())?;
    Ok((times, quick, page, out["elements"].as_u64().unwrap_or(0)))
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn gzip_len(path: &Path) -> u64 {
    Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map(|o| o.stdout.len() as u64)
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let built = Artifacts::locate()?.extension_dir;
    let scratch = tempfile::tempdir()?;
    let old = old_path_extension(&built, scratch.path())?;
    let ways = [Way::Old, Way::New];
    let mut local: [Fills; 2] = Default::default();
    // Old and new take turns, so a busy moment of the machine hits both.
    for session_no in 0..COLD {
        for (w, way) in ways.iter().enumerate() {
            if std::env::var("ONLY").is_ok_and(|o| o == "new") && *way == Way::Old {
                continue;
            }
            let mut session = Session::start_with_options(options(*way, &old)).await?;
            session.lift_rate_limit()?;
            session.enroll(
                "Kaspersky",
                SEED,
                &["http://my.kaspersky.test"],
                Access::CodeOnly,
            )?;
            measure(&mut session, &mut local[w], session_no == 0).await?;
            session.close().await?;
        }
    }

    // The same fills through the team server: each teammate is a new
    // browser profile with its own device.
    let server = TeamServer::start_with(None, NO_RATE_LIMIT)?;
    let token = server.enroll("Kaspersky", SEED, &["http://my.kaspersky.test"])?;
    let mut team: [Fills; 2] = Default::default();
    for session_no in 0..COLD {
        for (w, way) in ways.iter().enumerate() {
            let name = format!("teammate{session_no}{w}");
            let mut teammate =
                Teammate::join_with_options(&server, &name, options(*way, &old)).await?;
            server.grant(&token, "ops", &name, Access::CodeOnly)?;
            measure(&mut teammate.session, &mut team[w], session_no == 0).await?;
            teammate.session.close().await?;
        }
    }
    drop(server);

    let session = Session::start().await?;
    let (mut login, mut login_quick, _, login_elements) =
        scan_cost(&session, "/site/kaspersky-signin.html", 50).await?;
    let (mut big, mut big_quick, big_scan, big_elements) =
        scan_cost(&session, "/site/big-page.html", 20).await?;
    session.close().await?;

    let t = Instant::now();
    let n = 2000;
    let mut found = 0;
    for _ in 0..n {
        found += usize::from(detect(std::hint::black_box(&big_scan)).is_some());
    }
    let detect_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    assert_eq!(found, 0, "the 5,000-element page has no prompt");

    let shipped = |f: &str| built.join(f);
    let size = |f: &str| std::fs::metadata(shipped(f)).map(|m| m.len()).unwrap_or(0);
    let content_script: Vec<String> = {
        let m: Value = serde_json::from_str(&std::fs::read_to_string(shipped("manifest.json"))?)?;
        m["content_scripts"][0]["js"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect()
    };
    let cs_bytes: u64 = content_script.iter().map(|f| size(f)).sum();
    let wasm = shipped("pkg/twofill_worker_bg.wasm");
    let wasm_bytes = size("pkg/twofill_worker_bg.wasm");

    println!("twofill detection and fill benchmark (headless Chromium)\n");
    println!("prompt inserted → code filled, in page time:\n");
    println!("| where | when | path | p50 | p95 | max | n |\n|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    for (place, fills) in [("local vault", &local), ("team server", &team)] {
        for (when, pick) in [
            (
                "warm",
                (|f: &Fills| f.warm.clone()) as fn(&Fills) -> Vec<f64>,
            ),
            ("cold: browser restarted", |f: &Fills| f.cold_start.clone()),
            ("cold: worker stopped", |f: &Fills| f.cold_worker.clone()),
        ] {
            let mut p50s = [0.0; 2];
            for (w, way) in ways.iter().enumerate() {
                let mut v = pick(&fills[w]);
                p50s[w] = pct(&mut v, 0.5);
                println!(
                    "| {place} | {when} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
                    way.name(),
                    p50s[w],
                    pct(&mut v, 0.95),
                    pct(&mut v, 1.0),
                    v.len()
                );
            }
            ratios.push(format!(
                "{place}, {when}: {:.1}×",
                p50s[0] / p50s[1].max(0.1)
            ));
        }
    }
    println!("\nold p50 / new p50: {}\n", ratios.join("; "));
    println!("| measurement | p50 | p95 | n |\n|---|---|---|---|");
    for (what, v) in [
        (
            format!("mutation check (quick scan), login page ({login_elements} elements)"),
            &mut login_quick,
        ),
        (
            format!("full scan with prompt text, login page ({login_elements} elements)"),
            &mut login,
        ),
        (
            format!("mutation check (quick scan), {big_elements}-element page, no prompt"),
            &mut big_quick,
        ),
        (
            format!("full scan with prompt text, {big_elements}-element page, no prompt"),
            &mut big,
        ),
    ] {
        println!(
            "| {what} — main thread | {:.2} ms | {:.2} ms | {} |",
            pct(v, 0.5),
            pct(v, 0.95),
            v.len()
        );
    }
    println!("\n| measurement | value |\n|---|---|");
    println!(
        "| detector on that page's scan ({} inputs), native | {detect_us:.1} µs |",
        big_scan.fields.len()
    );
    println!(
        "| content script as shipped ({}) | {cs_bytes} bytes |",
        content_script.join(" + ")
    );
    println!(
        "| service-worker WASM module | {wasm_bytes} bytes, {} gzip -9 |",
        gzip_len(&wasm)
    );
    println!(
        "| popup WASM module | {} bytes, {} gzip -9 |",
        size("pkg/twofill_popup_bg.wasm"),
        gzip_len(&shipped("pkg/twofill_popup_bg.wasm"))
    );
    Ok(())
}
