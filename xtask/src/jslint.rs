//! The JS lint: ESLint (its recommended rules, browser and WebExtension
//! globals) over the extension's scripts, the e2e sign-in pages and the SSO
//! tests' OpenID provider program.
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
const LINTED: [&str; 3] = ["extension", "tests/fixtures/site", "tests/oidc"];

fn tools_dir(root: &Path) -> PathBuf {
    root.join("target").join("js-tools")
}

fn eslint(root: &Path) -> PathBuf {
    tools_dir(root).join("node_modules/eslint/bin/eslint.js")
}

fn copy_sources(root: &Path) -> Result<()> {
    crate::npm::copy(root, SOURCE_DIR, &FILES, &tools_dir(root))
}

/// Installs the pinned lint tools into `target/js-tools` (`npm ci`; skipped
/// when the installed lock file already equals the committed one).
pub fn setup(root: &Path) -> Result<()> {
    crate::npm::ci(
        root,
        SOURCE_DIR,
        &FILES,
        &tools_dir(root),
        "node_modules/eslint/bin/eslint.js",
        "the JS lint tools",
    )
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
