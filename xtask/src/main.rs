//! `cargo xtask` — the project's build orchestration (rust-analyzer style).
//!
//! The README's two commands are `cargo xtask demo` and `cargo xtask test`;
//! both install what they need first (`setup`), so a fresh Debian machine
//! with a Rust toolchain is enough.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod fuzz;
mod package;

/// Must equal the `wasm-bindgen` version pinned in crates/extension.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Debian packages the build and the tests use.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    // The Firefox tests (ESR: it honours the policy that allows unsigned add-ons).
    ("firefox-esr", "/usr/bin/firefox-esr"),
    ("oathtool", "/usr/bin/oathtool"),
    // A real Secret Service for the OS-keyring tests.
    ("gnome-keyring", "/usr/bin/gnome-keyring-daemon"),
    ("dbus-daemon", "/usr/bin/dbus-run-session"),
    // A real syslog receiver (plain TCP and TLS) for the SIEM streaming tests.
    ("rsyslog", "/usr/sbin/rsyslogd"),
    ("rsyslog-openssl", "/var/lib/dpkg/info/rsyslog-openssl.list"),
];
/// geckodriver drives Firefox in the tests. Debian does not package it, so
/// `setup` builds this version from crates.io (a debug build without debug
/// info: much less to compile than a release build, and a WebDriver proxy
/// needs no speed).
const GECKODRIVER_VERSION: &str = "0.37.1";
/// Oldest binaryen whose `wasm-opt` keeps wasm-bindgen's externref table
/// intact (Debian 12 ships 108, which breaks it: "Table.set(): Argument 1
/// is invalid"). Older ones are skipped rather than used.
const MIN_WASM_OPT_VERSION: u32 = 116;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup   install what building and testing need (wasm target, wasm-bindgen-cli,
          chromium, chromium-driver, firefox-esr, geckodriver, oathtool, cargo-fuzz
          and a nightly toolchain)
  build   build the native host and the extension (into target/twofill-extension)
  package [--base-url URL] [--no-build]
          build, then write target/package/: twofill-<version>.crx (CRX3 signed with
          keys/dev-extension-key.pem), updates.xml and twofill-<version>.xpi; with
          --base-url (default http://localhost:8000) also updates.json, and the
          packaged manifests name their update URL; --no-build packages the
          existing target/twofill-extension
  demo    setup + build, then fill a code on the bundled sign-in page in headless
          Chromium, save a screenshot and compare with oathtool
  test    setup + build + package, then rustfmt check, clippy, the whole test
          suite (Chromium and Firefox) and 10 s of each fuzz target (fails on any crash)
  fuzz [--seconds N] [TARGET...]
          run each fuzz target (default: all) for N seconds (default 60); print
          executions, corpus size and crashes (inputs kept in fuzz/artifacts/)
  bench   print the host's latency/throughput/RSS table and the detection/fill
          timings in Chromium
  siem-bench [RECORDS [SECONDS RATE]]
          audit streaming: events/s delivered to a local syslog receiver and
          the commit-to-arrival lag while records are written
  detect-eval [FILTER]
          run the labelled detection corpus in Chromium and against the baselines;
          print precision/recall overall and per class
";

fn main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = workspace_root();
    env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("build") => build(&root).map(drop),
        Some("package") => {
            let options = package::parse_args(&args[1..])?;
            let built = if options.build {
                build(&root)?
            } else {
                Built::locate(&root)
            };
            let t0 = std::time::Instant::now();
            let packaged = package::package(
                &root,
                &built.extension_dir,
                &built.package_dir,
                options.base_url.as_deref(),
            )?;
            eprintln!(
                "xtask: packaged {} and {} in {:.1} s",
                packaged.crx.display(),
                packaged.xpi.display(),
                t0.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Some("demo") => {
            setup()?;
            let built = build(&root)?;
            run(cargo(&built)
                .args([
                    "run",
                    "--quiet",
                    "-p",
                    "twofill-e2e",
                    "--bin",
                    "twofill-demo",
                    "--",
                ])
                .args(&args[1..]))
        }
        Some("test") => {
            setup()?;
            let built = build(&root)?;
            // The Firefox tests install the XPI; policy tests use the CRX.
            package::package(&root, &built.extension_dir, &built.package_dir, None)?;
            run(cargo(&built).args(["fmt", "--all", "--", "--check"]))
                .context("code is not rustfmt-formatted; run `cargo fmt --all`")?;
            run(cargo(&built).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--quiet",
                "--",
                "-D",
                "warnings",
            ]))?;
            run(cargo(&built).args([
                "clippy",
                "-p",
                "twofill-extension",
                "--target",
                WASM_TARGET,
                "--quiet",
                "--",
                "-D",
                "warnings",
            ]))?;
            run(cargo(&built).args(["test", "--workspace"]).args(&args[1..]))?;
            keyring_tests()?;
            run(cargo(&built).args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))
                .context("the fuzz targets are not rustfmt-formatted")?;
            fuzz::fuzz(&root, fuzz::TEST_SECONDS, fuzz::TARGETS)
        }
        Some("fuzz") => fuzz::command(&root, &args[1..]),
        Some("detect-eval") => {
            let built = build(&root)?;
            run(cargo(&built)
                .args([
                    "run",
                    "--quiet",
                    "-p",
                    "twofill-e2e",
                    "--bin",
                    "twofill-detect-eval",
                    "--",
                ])
                .args(&args[1..]))
        }
        Some("bench") => {
            let cargo_bin = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            run(Command::new(&cargo_bin).args([
                "build",
                "--quiet",
                "--release",
                "-p",
                "twofill-host",
                "--bin",
                "twofill-host",
                "--example",
                "bench",
            ]))?;
            let release = root.join("target").join("release");
            run(Command::new(release.join("examples").join("bench"))
                .arg(release.join("twofill-host")))?;
            println!();
            let built = build(&root)?;
            run(cargo(&built).args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "twofill-e2e",
                "--bin",
                "twofill-detect-bench",
            ]))
        }
        Some("siem-bench") => {
            let cargo_bin = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            run(Command::new(&cargo_bin)
                .args([
                    "run",
                    "--quiet",
                    "--release",
                    "-p",
                    "twofill-siem",
                    "--example",
                    "siem_bench",
                    "--",
                ])
                .args(&args[1..]))
        }
        _ => {
            eprint!("{USAGE}");
            bail!("unknown or missing command")
        }
    }
}

/// The OS-keyring tests, against a real gnome-keyring on a private session
/// bus with a throw-away home, so no real keyring is touched.
fn keyring_tests() -> Result<()> {
    let home = env::temp_dir().join(format!("twofill-keyring-{}", std::process::id()));
    std::fs::create_dir_all(&home)?;
    let cargo_bin = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let script = format!(
        "echo -n test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
         '{cargo_bin}' test --quiet -p twofill-seal keyring && \
         '{cargo_bin}' test --quiet -p twofill-host --test keyring -- --ignored"
    );
    let mut session = Command::new("dbus-run-session");
    session
        .args(["--", "sh", "-c", &script])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("HOME", &home)
        .env("TWOFILL_SEAL_TEST_KEYRING", "1");
    // The toolchain is found through HOME unless these say otherwise.
    if let Some(real_home) = env::var_os("HOME") {
        let real_home = PathBuf::from(real_home);
        if env::var_os("RUSTUP_HOME").is_none() {
            session.env("RUSTUP_HOME", real_home.join(".rustup"));
        }
        if env::var_os("CARGO_HOME").is_none() {
            session.env("CARGO_HOME", real_home.join(".cargo"));
        }
    }
    let result = run(&mut session).context("the OS keyring tests failed");
    let _ = std::fs::remove_dir_all(&home);
    result
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_owned()
}

/// Paths of the build outputs the tests and the demo use.
struct Built {
    extension_dir: PathBuf,
    host_bin: PathBuf,
    /// Where `cargo xtask package` writes (`target/package`).
    package_dir: PathBuf,
}

impl Built {
    /// The outputs of an earlier `build`.
    fn locate(root: &Path) -> Built {
        let target = root.join("target");
        Built {
            extension_dir: target.join("twofill-extension"),
            host_bin: target.join("debug").join("twofill-host"),
            package_dir: target.join("package"),
        }
    }
}

fn cargo(built: &Built) -> Command {
    let mut c = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.env("TWOFILL_EXTENSION_DIR", &built.extension_dir)
        .env("TWOFILL_HOST_BIN", &built.host_bin)
        .env("TWOFILL_PACKAGE_DIR", &built.package_dir);
    c
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn setup() -> Result<()> {
    // wasm target
    let targets = output(Command::new("rustup").args(["target", "list", "--installed"]));
    match targets {
        Some(t) if t.lines().any(|l| l.trim() == WASM_TARGET) => {}
        Some(_) => run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?,
        None => {
            eprintln!("xtask: rustup not found; make sure the {WASM_TARGET} target is installed")
        }
    }

    // wasm-bindgen CLI, matched to the crate version
    let version = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if !version.contains(WASM_BINDGEN_VERSION) {
        eprintln!(
            "xtask: installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (takes a few minutes once)"
        );
        // Not --locked: the registry mirror lacks a pinned transitive version.
        run(Command::new("cargo").args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN_VERSION,
        ]))?;
    }

    // Debian packages
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, path)| !Path::new(path).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    if !missing.is_empty() {
        eprintln!("xtask: installing {}", missing.join(" "));
        let root = output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0");
        let apt = |args: &[&str]| {
            let mut c = if root {
                Command::new("apt-get")
            } else if have("sudo") {
                let mut c = Command::new("sudo");
                c.arg("apt-get");
                c
            } else {
                return Err(anyhow::anyhow!(
                    "need root to install {}: run `sudo apt-get install {}`",
                    missing.join(" "),
                    missing.join(" ")
                ));
            };
            c.env("DEBIAN_FRONTEND", "noninteractive").args(args);
            run(&mut c)
        };
        apt(&["update", "-qq"])?;
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(&missing);
        apt(&args)?;
    }
    setup_geckodriver()?;
    fuzz::setup()
}

/// Where `cargo install` puts binaries.
fn cargo_bin_dir() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin"))
}

fn setup_geckodriver() -> Result<()> {
    // "geckodriver 0.37.1" or "geckodriver 0.37.1 (<commit> <date>)".
    let is_pinned = |v: String| {
        let mut words = v.lines().next().unwrap_or_default().split_whitespace();
        words.next() == Some("geckodriver") && words.next() == Some(GECKODRIVER_VERSION)
    };
    let mut candidates = vec![PathBuf::from("geckodriver")];
    candidates.extend(cargo_bin_dir().map(|d| d.join("geckodriver")));
    if candidates
        .iter()
        .any(|g| output(Command::new(g).arg("--version")).is_some_and(is_pinned))
    {
        return Ok(());
    }
    eprintln!("xtask: installing geckodriver {GECKODRIVER_VERSION} (a few minutes, once)");
    let t0 = std::time::Instant::now();
    run(
        Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "install",
                "geckodriver",
                "--version",
                GECKODRIVER_VERSION,
                "--locked",
                "--debug",
            ])
            .env("CARGO_PROFILE_DEV_DEBUG", "0")
            .env("CARGO_PROFILE_DEV_INCREMENTAL", "false"),
    )?;
    eprintln!(
        "xtask: geckodriver installed in {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `wasm-opt` only shrinks the module; a too-old one breaks it, so it is
/// used only when recent enough.
fn usable_wasm_opt() -> bool {
    let Some(version) = output(Command::new("wasm-opt").arg("--version")) else {
        return false;
    };
    // "wasm-opt version 116 (version_116)"
    let number = version
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.parse::<u32>().ok());
    match number {
        Some(n) if n >= MIN_WASM_OPT_VERSION => true,
        _ => {
            eprintln!(
                "xtask: skipping {} (needs binaryen >= {MIN_WASM_OPT_VERSION}); the extension works unoptimised",
                version.trim()
            );
            false
        }
    }
}

fn build(root: &Path) -> Result<Built> {
    let cargo_bin = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(&cargo_bin).args(["build", "--quiet", "-p", "twofill-host"]))?;
    run(Command::new(&cargo_bin).args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "twofill-extension",
        "--target",
        WASM_TARGET,
    ]))?;
    let target = root.join("target");
    let out = target.join("twofill-extension");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(out.join("pkg"))?;
    for entry in std::fs::read_dir(root.join("extension"))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), out.join(entry.file_name()))?;
        }
    }
    let wasm = target
        .join(WASM_TARGET)
        .join("release")
        .join("twofill_extension.wasm");
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--remove-name-section",
            "--remove-producers-section",
            "--out-dir",
        ])
        .arg(out.join("pkg"))
        .arg(&wasm))?;
    let bg = out.join("pkg").join("twofill_extension_bg.wasm");
    if usable_wasm_opt() {
        run(Command::new("wasm-opt")
            .args([
                "-Oz",
                "--enable-reference-types",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "-o",
            ])
            .arg(&bg)
            .arg(&bg))?;
    }
    Ok(Built {
        extension_dir: out,
        ..Built::locate(root)
    })
}
