//! `cargo xtask` — the project's build orchestration (rust-analyzer style).
//!
//! The README's two commands are `cargo xtask demo` and `cargo xtask test`;
//! both install what they need first (`setup`), so a fresh Debian machine
//! with a Rust toolchain is enough. Each command is one function below,
//! listed in [`COMMANDS`]; `tidy.rs` checks that the usage text names
//! exactly those.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod build;
mod fuzz;
mod jslint;
mod npm;
mod oidc;
mod package;
mod setup;
#[cfg(test)]
mod tidy;

use build::{Built, WASM_TARGET, build};
use setup::setup;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup   install what building and testing need (wasm target, wasm-bindgen-cli,
          chromium, chromium-driver, firefox-esr, geckodriver, oathtool, Node.js and
          ESLint (pinned in xtask/js), cargo-fuzz and a nightly toolchain)
  build   build the native host and the extension (into target/twofill-extension)
  package [--base-url URL] [--no-build]
          build, then write target/package/: twofill-<version>.crx (CRX3 signed with
          keys/dev-extension-key.pem), updates.xml and twofill-<version>.xpi; with
          --base-url (default http://localhost:8000) also updates.json, and the
          packaged manifests name their update URL; --no-build packages the
          existing target/twofill-extension
  demo [--local]
          setup + build, then start a team server (embedded SQLite), enroll the
          Kaspersky token from its QR image, invite a code-only teammate whose own
          browser profile joins and gets the code filled on the bundled sign-in page
          in headless Chromium; compare with oathtool, show the refused seed reveal
          and the server's audit trail; --local: the single-machine mode (a vault on
          this machine, no server)
  test    setup + build + package, then rustfmt check, the JS lint, clippy, the whole test
          suite (Chromium and Firefox) and 10 s of each fuzz target (fails on any crash)
  fuzz [--seconds N] [TARGET...]
          run each fuzz target (default: all) for N seconds (default 60); print
          executions, corpus size and crashes (inputs kept in fuzz/artifacts/)
  bench [fill]
          print the host's latency/throughput/RSS table, the team server's
          codes/s, latency and RSS table (SQLite and PostgreSQL), and the detection/fill
          timings in Chromium (prompt → filled, new path beside the old, warm and
          cold, local and through the server; sizes); `fill`: only the last
  siem-bench [RECORDS [SECONDS RATE]]
          audit streaming: events/s delivered to a local syslog receiver and
          the commit-to-arrival lag while records are written
  detect-eval [--holdout | --blind2] [FILTER]
          run the labelled detection corpus in Chromium and against the baselines;
          print precision/recall overall and per class; --holdout: the held-out
          set, --blind2: the second blind set (tests/fixtures/detection-blind2)
";

/// A command: its name on the command line and what runs it (with the
/// arguments after the name).
type CommandFn = fn(&Path, &[String]) -> Result<()>;

const COMMANDS: &[(&str, CommandFn)] = &[
    ("setup", |_, _| setup()),
    ("build", |root, _| build(root).map(drop)),
    ("package", package_command),
    ("demo", demo),
    ("test", test),
    ("fuzz", fuzz::command),
    ("bench", bench),
    ("siem-bench", siem_bench),
    ("detect-eval", detect_eval),
];

fn main() -> Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = workspace_root();
    env::set_current_dir(&root)?;
    let name = args.first().map(String::as_str);
    match COMMANDS.iter().find(|(n, _)| Some(*n) == name) {
        Some((_, command)) => command(&root, &args[1..]),
        None => {
            eprint!("{USAGE}");
            bail!("unknown or missing command")
        }
    }
}

fn package_command(root: &Path, args: &[String]) -> Result<()> {
    let options = package::parse_args(args)?;
    let built = if options.build {
        build(root)?
    } else {
        Built::locate(root)
    };
    let t0 = std::time::Instant::now();
    let packaged = package::package(
        root,
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

fn demo(root: &Path, args: &[String]) -> Result<()> {
    setup()?;
    run_e2e_binary(&build(root)?, "twofill-demo", args)
}

/// Runs one of the e2e crate's programs on fresh build outputs.
fn run_e2e_binary(built: &Built, bin: &str, args: &[String]) -> Result<()> {
    run(cargo(built)
        .args(["run", "--quiet", "-p", "twofill-e2e", "--bin", bin, "--"])
        .args(args))
}

fn test(root: &Path, args: &[String]) -> Result<()> {
    setup()?;
    let built = build(root)?;
    // The Firefox tests install the XPI; policy tests use the CRX.
    package::package(root, &built.extension_dir, &built.package_dir, None)?;
    run(cargo(&built).args(["fmt", "--all", "--", "--check"]))
        .context("code is not rustfmt-formatted; run `cargo fmt --all`")?;
    jslint::check(root)?;
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
    run(cargo(&built).args(["test", "--workspace"]).args(args))?;
    keyring_tests()?;
    run(cargo(&built).args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))
        .context("the fuzz targets are not rustfmt-formatted")?;
    fuzz::fuzz(root, fuzz::TEST_SECONDS, fuzz::TARGETS)
}

fn detect_eval(root: &Path, args: &[String]) -> Result<()> {
    run_e2e_binary(&build(root)?, "twofill-detect-eval", args)
}

fn bench(root: &Path, args: &[String]) -> Result<()> {
    let fill_only = args.iter().any(|a| a == "fill");
    run(cargo_command().args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "twofill-host",
        "--bin",
        "twofill-host",
        "-p",
        "twofill-server",
        "--bin",
        "twofill-server",
    ]))?;
    let release = root.join("target").join("release");
    if !fill_only {
        run(cargo_command().args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "twofill-host",
            "--example",
            "bench",
        ]))?;
        run(Command::new(release.join("examples").join("bench")).arg(release.join("twofill-host")))?;
        println!();
        server_bench(&release)?;
        println!();
    }
    // The fills run the release host and server, as installed.
    let built = Built {
        host_bin: release.join("twofill-host"),
        server_bin: release.join("twofill-server"),
        ..build(root)?
    };
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

/// The team server's table: the real `twofill-server` on SQLite and on
/// PostgreSQL (a cluster the example starts itself).
fn server_bench(release: &Path) -> Result<()> {
    run(cargo_command().args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "twofill-server",
        "--bin",
        "twofill-server",
        "--example",
        "bench",
    ]))?;
    // Cargo names a package's examples by file, so both packages' `bench`
    // land at the same path: run the server's right after building it.
    run(Command::new(release.join("examples").join("bench")).arg(release.join("twofill-server")))
}

fn siem_bench(_: &Path, args: &[String]) -> Result<()> {
    run(cargo_command()
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
        .args(args))
}

/// The OS-keyring tests, against a real gnome-keyring on a private session
/// bus with a throw-away home, so no real keyring is touched.
fn keyring_tests() -> Result<()> {
    let home = env::temp_dir().join(format!("twofill-keyring-{}", std::process::id()));
    std::fs::create_dir_all(&home)?;
    let cargo_bin = cargo_program();
    let script = format!(
        "echo -n test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
         '{cargo_bin}' test --quiet -p twofill-seal keyring && \
         '{cargo_bin}' test --quiet -p twofill-host --test host keyring -- --ignored"
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

/// The cargo that runs xtask (so `+toolchain` and paths carry over).
fn cargo_program() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn cargo_command() -> Command {
    Command::new(cargo_program())
}

/// Cargo with the paths of the build outputs the tests and the demo read.
fn cargo(built: &Built) -> Command {
    let mut c = cargo_command();
    c.env("TWOFILL_EXTENSION_DIR", &built.extension_dir)
        .env("TWOFILL_HOST_BIN", &built.host_bin)
        .env("TWOFILL_SERVER_BIN", &built.server_bin)
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
