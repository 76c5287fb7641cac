//! `cargo xtask setup`: what building and testing need, installed when
//! missing (the wasm target, wasm-bindgen-cli, Debian packages, geckodriver,
//! the JS linter (ESLint, from `xtask/js`), the OpenID provider the SSO tests
//! run (oidc-provider, from `tests/oidc`), cargo-fuzz).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::build::WASM_TARGET;
use crate::{cargo_command, fuzz, have, jslint, oidc, output, run};

/// Must equal the `wasm-bindgen` version pinned in crates/extension.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
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
    // A real PostgreSQL server for the vault's PostgreSQL store tests.
    ("postgresql-15", "/usr/lib/postgresql/15/bin/postgres"),
];
/// geckodriver drives Firefox in the tests. Debian does not package it, so
/// `setup` builds this version from crates.io (a debug build without debug
/// info: much less to compile than a release build, and a WebDriver proxy
/// needs no speed).
const GECKODRIVER_VERSION: &str = "0.37.1";
pub fn setup() -> Result<()> {
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
    let mut missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, path)| !Path::new(path).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    // The JS lint runs on Node.js; any node with npm on PATH will do.
    if !have("npm") {
        missing.extend(["nodejs", "npm"]);
    }
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
    jslint::setup(&crate::workspace_root())?;
    oidc::setup(&crate::workspace_root())?;
    crate::build::setup_build_js(&crate::workspace_root())?;
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
    run(cargo_command()
        .args([
            "install",
            "geckodriver",
            "--version",
            GECKODRIVER_VERSION,
            "--locked",
            "--debug",
        ])
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_PROFILE_DEV_INCREMENTAL", "false"))?;
    eprintln!(
        "xtask: geckodriver installed in {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
