//! Part of `cargo xtask bench`: detection and fill timings in real Chromium.
//!
//! - prompt inserted → code filled, first fill of a browser session (cold:
//!   service worker start, WASM instantiation, host process) and later
//!   fills (warm; the host is still a new process per message, as
//!   `sendNativeMessage` does);
//! - the same two through a team server (`twofill-server` on its embedded
//!   store, the host a thin client over mutual TLS), beside the local ones;
//! - content-script size;
//! - main-thread cost of the content script's work (features.js): the
//!   quick scan run after every debounced mutation, and the full scan with
//!   prompt text run only when the inputs changed — on a login page and on a
//!   5,000-element page with no prompt — and the detector's own cost.

use std::time::{Duration, Instant};

use serde_json::Value;
use twofill_detection::{PageScan, detect};
use twofill_e2e::team::{TeamServer, Teammate};
use twofill_e2e::{Session, repo_root};
use twofill_words::Access;

const SEED: &str = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BAJJ2W24DTEBXXMZLS";

/// `n` picks a subdomain, so the host's per-origin rate limit (5 fills in
/// 10 s by default) does not throttle the loop.
async fn fill_latency(session: &Session, n: usize) -> anyhow::Result<f64> {
    let host = format!("b{n}.my.kaspersky.test");
    let url = session.site.url(&host, "/site/bench-prompt.html");
    session.client.goto(&url).await?;
    // Let the content script do its idle scan first.
    tokio::time::sleep(Duration::from_millis(400)).await;
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for session_no in 0..3 {
        let session = Session::start().await?;
        session.enroll(
            "Kaspersky",
            SEED,
            &["http://my.kaspersky.test"],
            Access::CodeOnly,
        )?;
        cold.push(fill_latency(&session, 100 + session_no).await?);
        if session_no == 0 {
            for i in 0..20 {
                warm.push(fill_latency(&session, i).await?);
            }
        }
        session.close().await?;
    }

    // The same fills through the team server: each teammate is a new
    // browser profile with its own device.
    let server = TeamServer::start(None)?;
    let token = server.enroll("Kaspersky", SEED, &["http://my.kaspersky.test"])?;
    let mut team_cold = Vec::new();
    let mut team_warm = Vec::new();
    for n in 0..3 {
        let name = format!("teammate{n}");
        let teammate = Teammate::join(&server, &name).await?;
        server.grant(&token, "ops", &name, Access::CodeOnly)?;
        team_cold.push(fill_latency(&teammate.session, 200 + n).await?);
        if n == 0 {
            for i in 0..20 {
                team_warm.push(fill_latency(&teammate.session, 300 + i).await?);
            }
        }
        teammate.session.close().await?;
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

    let size = |f: &str| {
        std::fs::metadata(repo_root().join("extension").join(f))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let cs_bytes = size("messages.js") + size("features.js") + size("content.js");
    let wasm = std::fs::metadata(
        repo_root().join("target/twofill-extension/pkg/twofill_extension_bg.wasm"),
    )
    .map(|m| m.len())
    .unwrap_or(0);

    println!("twofill detection and fill benchmark (headless Chromium)\n");
    println!("| measurement | p50 | p95 | n |\n|---|---|---|---|");
    println!(
        "| prompt inserted → code filled, first fill of a session (cold) | {:.0} ms | {:.0} ms | {} |",
        pct(&mut cold.clone(), 0.5),
        pct(&mut cold.clone(), 0.95),
        cold.len()
    );
    println!(
        "| prompt inserted → code filled, later fills (warm) | {:.0} ms | {:.0} ms | {} |",
        pct(&mut warm.clone(), 0.5),
        pct(&mut warm.clone(), 0.95),
        warm.len()
    );
    for (what, v) in [("cold", &team_cold), ("warm", &team_warm)] {
        println!(
            "| … through the team server (mutual TLS, SQLite store), {what} | {:.0} ms | {:.0} ms | {} |",
            pct(&mut v.clone(), 0.5),
            pct(&mut v.clone(), 0.95),
            v.len()
        );
    }
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
        "| content script (messages.js + features.js + content.js), unminified | {cs_bytes} bytes |"
    );
    println!("| service-worker WASM module | {wasm} bytes |");
    println!(
        "\nThe warm latency includes the 120 ms mutation debounce and a new host process per message."
    );
    Ok(())
}
