//! Pinned npm packages installed outside the source tree: a committed `package.json` and lock file are
//! copied into a directory under `target/` and `npm ci` runs there (skipped when what is installed already
//! matches the lock file). Used for the JS lint tools and for the OpenID provider the SSO tests run.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Copies `files` from `source` (relative to the repository root) into `dest`.
pub fn copy(root: &Path, source: &str, files: &[&str], dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    for file in files {
        let from = root.join(source).join(file);
        std::fs::copy(&from, dest.join(file))
            .with_context(|| format!("copying {} to {}", from.display(), dest.display()))?;
    }
    Ok(())
}

/// Installs `source`'s pinned packages into `dest` with `npm ci`, after copying `files` (which must include
/// package.json and package-lock.json) there. Skipped when `dest`'s installed lock matches the committed one
/// and `installed` (a path relative to `dest`) exists. `what` names the packages in messages.
pub fn ci(
    root: &Path,
    source: &str,
    files: &[&str],
    dest: &Path,
    installed: &str,
    what: &str,
) -> Result<()> {
    let lock = format!("{source}/package-lock.json");
    let committed = std::fs::read(root.join(&lock)).with_context(|| format!("reading {lock}"))?;
    let current = std::fs::read(dest.join("node_modules/.package-lock.json")).ok();
    let same = current.is_some_and(|i| lock_packages(&i) == lock_packages(&committed));
    if same && dest.join(installed).exists() {
        return Ok(());
    }
    copy(root, source, files, dest)?;
    eprintln!("xtask: installing {what} into {}", dest.display());
    let status = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(dest)
        .status()
        .context(
            "running npm (install Node.js 20 or later with npm: `apt-get install nodejs npm`)",
        )?;
    if !status.success() {
        bail!(
            "`npm ci --prefix {}` failed ({status}); check the network, or delete that directory and run `cargo xtask setup` again",
            dest.display()
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
