//! The JS lint: ESLint (its recommended rules, browser and WebExtension
//! globals) over the extension's scripts and the e2e sign-in pages.
//!
//! The tools are pinned in `xtask/js/package.json` and its lock file, and
//! installed with `npm ci` into `target/js-tools` (never into the source
//! tree). The config `xtask/js/eslint.config.js` is copied next to them so
//! that its imports resolve there; it is run from the repository root, whose
//! paths its patterns name.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Committed: what is installed and how ESLint is configured.
const SOURCE_DIR: &str = "xtask/js";
const FILES: [&str; 3] = ["package.json", "package-lock.json", "eslint.config.js"];
/// What is linted, relative to the repository root.
const LINTED: [&str; 2] = ["extension", "tests/fixtures/site"];

fn tools_dir(root: &Path) -> PathBuf {
    root.join("target").join("js-tools")
}

fn eslint(root: &Path) -> PathBuf {
    tools_dir(root).join("node_modules/eslint/bin/eslint.js")
}

fn copy_sources(root: &Path) -> Result<()> {
    let tools = tools_dir(root);
    std::fs::create_dir_all(&tools).with_context(|| format!("creating {}", tools.display()))?;
    for file in FILES {
        let from = root.join(SOURCE_DIR).join(file);
        std::fs::copy(&from, tools.join(file))
            .with_context(|| format!("copying {} to {}", from.display(), tools.display()))?;
    }
    Ok(())
}

/// Installs the pinned lint tools into `target/js-tools` (`npm ci`; skipped
/// when the installed lock file already equals the committed one).
pub fn setup(root: &Path) -> Result<()> {
    let tools = tools_dir(root);
    let committed = std::fs::read(root.join(SOURCE_DIR).join("package-lock.json"))
        .context("reading xtask/js/package-lock.json")?;
    let installed = std::fs::read(tools.join("node_modules/.package-lock.json")).ok();
    let same = installed.is_some_and(|i| lock_packages(&i) == lock_packages(&committed));
    if same && eslint(root).exists() {
        return Ok(());
    }
    copy_sources(root)?;
    eprintln!(
        "xtask: installing the JS lint tools into {}",
        tools.display()
    );
    let status = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&tools)
        .status()
        .context(
            "running npm (install Node.js 20 or later with npm: `apt-get install nodejs npm`)",
        )?;
    if !status.success() {
        bail!(
            "`npm ci --prefix {}` failed ({status}); check the network, or delete that directory and run `cargo xtask setup` again",
            tools.display()
        );
    }
    Ok(())
}

/// The `packages` table of a lock file: what is installed, whatever the
/// file's other fields (npm writes `node_modules/.package-lock.json`
/// without the root package).
fn lock_packages(lock: &[u8]) -> Option<serde_json::Value> {
    let mut packages = serde_json::from_slice::<serde_json::Value>(lock)
        .ok()?
        .get("packages")?
        .clone();
    packages.as_object_mut()?.remove("");
    Some(packages)
}

/// Lints the extension's JS and the fixture pages' scripts; fails with
/// ESLint's findings and how to fix them.
pub fn check(root: &Path) -> Result<()> {
    let eslint = eslint(root);
    if !eslint.exists() {
        bail!(
            "ESLint is not installed in {}; run `cargo xtask setup`",
            tools_dir(root).display()
        );
    }
    // The config may have changed since setup; its imports resolve in target/js-tools.
    copy_sources(root)?;
    let status = Command::new("node")
        .arg(&eslint)
        .arg("--config")
        .arg(tools_dir(root).join("eslint.config.js"))
        .arg("--max-warnings=0")
        .args(LINTED)
        .current_dir(root)
        .status()
        .context("running node (install Node.js 20 or later)")?;
    if !status.success() {
        bail!(
            "the JS lint failed (ESLint's findings above); fix them, or run `node {} --config {} --fix {}` for the ones it can fix itself",
            eslint.display(),
            tools_dir(root).join("eslint.config.js").display(),
            LINTED.join(" ")
        );
    }
    Ok(())
}
