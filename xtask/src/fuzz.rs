//! `cargo xtask fuzz` and the short fuzz runs of `cargo xtask test`: the
//! cargo-fuzz targets in `fuzz/` (see `fuzz/Cargo.toml` and SECURITY.md).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{output, run};

/// The cargo-fuzz targets in `fuzz/`.
pub const TARGETS: &[&str] = &[
    "frame_decode",
    "request_decode",
    "otpauth_uri",
    "migration_uri",
    "detection_features",
    "team_api_decode",
    "recovery_input",
    "sms_intake",
];

/// Seconds each target runs in `cargo xtask test` (seven targets: about two
/// minutes in all). `cargo xtask fuzz` runs longer.
pub const TEST_SECONDS: u64 = 10;

/// Seconds per target for `cargo xtask fuzz` without `--seconds`.
const DEFAULT_SECONDS: u64 = 60;

/// cargo-fuzz version `setup` installs when there is none.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// `cargo xtask fuzz [--seconds N] [TARGET...]`.
pub fn command(root: &Path, args: &[String]) -> Result<()> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = rest
                    .next()
                    .and_then(|n| n.parse().ok())
                    .context("--seconds needs a whole number")?;
            }
            t if TARGETS.contains(&t) => targets.push(t),
            other => bail!(
                "unknown fuzz argument `{other}`; targets: {}",
                TARGETS.join(", ")
            ),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    setup()?;
    fuzz(root, seconds, &targets)
}

/// cargo-fuzz, and a nightly toolchain for it (libFuzzer instrumentation and
/// AddressSanitizer need unstable flags and the sanitizer runtimes only
/// nightly ships). Without a nightly that can be installed, fuzzing falls
/// back to the default toolchain without a sanitizer ([`Fuzzer`]).
pub fn setup() -> Result<()> {
    if let Some(list) = output(Command::new("rustup").args(["toolchain", "list"]))
        && !list.lines().any(|l| l.starts_with("nightly"))
    {
        eprintln!("xtask: installing the nightly toolchain for cargo-fuzz");
        let installed = run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]));
        if let Err(e) = installed {
            eprintln!(
                "xtask: no nightly toolchain ({e:#}); fuzzing will use the default toolchain without AddressSanitizer"
            );
        }
    }
    if output(Command::new("cargo").args(["fuzz", "--version"])).is_none() {
        eprintln!("xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION} (takes a minute once)");
        run(Command::new("cargo").args([
            "install",
            "cargo-fuzz",
            "--version",
            CARGO_FUZZ_VERSION,
        ]))?;
    }
    Ok(())
}

/// How to run cargo-fuzz here: with nightly (and AddressSanitizer) when it
/// is installed; else with the default toolchain allowed unstable flags
/// (`RUSTC_BOOTSTRAP`) and no sanitizer — stable can instrument for
/// libFuzzer but ships no sanitizer runtime.
struct Fuzzer {
    nightly: bool,
}

impl Fuzzer {
    fn detect() -> Fuzzer {
        let nightly = output(Command::new("rustup").args(["toolchain", "list"]))
            .is_some_and(|l| l.lines().any(|l| l.starts_with("nightly")));
        Fuzzer { nightly }
    }

    /// `cargo fuzz <sub>`: release build with debug assertions and overflow
    /// checks (cargo-fuzz's default, spelled out).
    fn command(&self, root: &Path, sub: &str) -> Command {
        let mut c = if self.nightly {
            let mut c = Command::new("rustup");
            c.args(["run", "nightly", "cargo"]);
            c
        } else {
            let mut c = Command::new("cargo");
            c.env("RUSTC_BOOTSTRAP", "1");
            c
        };
        c.current_dir(root.join("fuzz"))
            .args(["fuzz", sub, "--debug-assertions"]);
        if !self.nightly {
            c.args(["--sanitizer", "none"]);
        }
        c
    }

    fn describe(&self) -> &'static str {
        if self.nightly {
            "nightly, AddressSanitizer, debug assertions"
        } else {
            "no nightly toolchain: no sanitizer, debug assertions"
        }
    }
}

/// What one fuzz run did.
struct Outcome {
    target: String,
    executions: u64,
    corpus: u64,
    crash: Option<String>,
}

/// Runs each target for `seconds`, from its committed seeds
/// (`fuzz/corpus/<target>`, read only) plus the corpus earlier runs grew
/// (`target/fuzz-corpus/<target>`), then prints a table. Fails if any
/// target crashed; the crashing input is kept in `fuzz/artifacts/<target>/`.
pub fn fuzz(root: &Path, seconds: u64, targets: &[&str]) -> Result<()> {
    let fuzzer = Fuzzer::detect();
    run(&mut fuzzer.command(root, "build"))
        .context("cannot build the fuzz targets (is cargo-fuzz installed? `cargo xtask setup`)")?;
    let mut outcomes = Vec::new();
    for target in targets {
        let grown = root.join("target").join("fuzz-corpus").join(target);
        std::fs::create_dir_all(&grown)?;
        eprintln!("xtask: fuzzing {target} for {seconds} s");
        let out = fuzzer
            .command(root, "run")
            .arg(target)
            .arg(&grown)
            .arg(Path::new("corpus").join(target))
            .args([
                "--".to_owned(),
                format!("-max_total_time={seconds}"),
                "-timeout=10".to_owned(),
                "-rss_limit_mb=2048".to_owned(),
                "-print_final_stats=1".to_owned(),
            ])
            .output()
            .context("cannot start cargo fuzz")?;
        let log = String::from_utf8_lossy(&out.stderr);
        let crash = (!out.status.success()).then(|| {
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("{}", lines[lines.len().saturating_sub(60)..].join("\n"));
            log.lines()
                .find_map(|l| l.split("Test unit written to ").nth(1))
                .map(|p| p.trim().to_owned())
                .unwrap_or_else(|| format!("exit status {}", out.status))
        });
        outcomes.push(Outcome {
            target: target.to_string(),
            executions: executions(&log),
            corpus: corpus_size(&log),
            crash,
        });
    }
    println!();
    println!("fuzzing, {seconds} s per target ({})", fuzzer.describe());
    println!("| target | executions | corpus | crashes |");
    println!("|---|---|---|---|");
    for o in &outcomes {
        let crashes = match &o.crash {
            None => "0".to_owned(),
            Some(at) => format!("1 ({at})"),
        };
        println!(
            "| {} | {} | {} | {crashes} |",
            o.target, o.executions, o.corpus
        );
    }
    let crashed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.crash.is_some())
        .map(|o| o.target.as_str())
        .collect();
    if !crashed.is_empty() {
        bail!(
            "fuzz target(s) crashed: {}; reproduce in fuzz/ with `cargo +nightly fuzz run <target> <artifact>`",
            crashed.join(", ")
        );
    }
    Ok(())
}

/// libFuzzer's final `stat::number_of_executed_units:`, or the last
/// `#N` status line when it died before printing stats.
fn executions(log: &str) -> u64 {
    let stat = log
        .lines()
        .filter_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .filter_map(|v| v.trim().parse().ok())
        .next_back();
    stat.unwrap_or_else(|| {
        log.lines()
            .filter_map(|l| l.strip_prefix('#')?.split_whitespace().next()?.parse().ok())
            .next_back()
            .unwrap_or(0)
    })
}

/// Inputs in the corpus at the end: the last `corp: N/…` status field.
fn corpus_size(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.split("corp: ").nth(1))
        .filter_map(|v| v.split('/').next()?.parse().ok())
        .next_back()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_statistics() {
        let log = "\
INFO: seed corpus: files: 7 min: 2b max: 518b total: 600b rss: 30Mb
#8\tINITED cov: 40 ft: 60 corp: 7/600b exec/s: 0 rss: 31Mb
#4611525\tREDUCE cov: 70 ft: 311 corp: 42/3175b lim: 4096 exec/s: 22386 rss: 212Mb
Done 4700000 runs in 21 second(s)
stat::number_of_executed_units: 4700001
stat::average_exec_per_sec:     24015
";
        assert_eq!(executions(log), 4_700_001);
        assert_eq!(corpus_size(log), 42);
        let died = "#8\tINITED cov: 40 ft: 60 corp: 7/600b\n#1024\tNEW cov: 41 corp: 8/700b\n==1== ERROR: libFuzzer: deadly signal\n";
        assert_eq!(executions(died), 1024);
        assert_eq!(corpus_size(died), 8);
    }
}
