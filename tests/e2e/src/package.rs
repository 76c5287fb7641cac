//! The installable packages `cargo xtask package` writes (`cargo xtask
//! test` packages before the tests and passes the directory in
//! `TWOFILL_PACKAGE_DIR`; the default is `target/package`).

use std::path::PathBuf;

use anyhow::{Context, Result, ensure};

use crate::repo_root;

/// `TWOFILL_PACKAGE_DIR`, else `target/package`.
pub fn package_dir() -> PathBuf {
    std::env::var_os("TWOFILL_PACKAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target").join("package"))
}

/// The packaged extension, for one version.
#[derive(Debug, Clone)]
pub struct Package {
    pub dir: PathBuf,
    /// The extension's version (from `extension/manifest.json`).
    pub version: String,
    /// `twofill-<version>.crx`, CRX3 signed with the development key (id
    /// [`crate::EXTENSION_ID`]).
    pub crx: PathBuf,
    /// `twofill-<version>.xpi`, the Firefox package.
    pub xpi: PathBuf,
    /// `updates.xml`, the gupdate manifest next to the CRX.
    pub updates_xml: PathBuf,
}

impl Package {
    /// Finds the packages for the version in `extension/manifest.json`;
    /// an error that says to run `cargo xtask package` when one is missing.
    pub fn locate() -> Result<Package> {
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(repo_root().join("extension").join("manifest.json"))
                .context("cannot read extension/manifest.json")?,
        )?;
        let version = manifest["version"]
            .as_str()
            .context("extension/manifest.json has no version")?
            .to_owned();
        let dir = package_dir();
        let package = Package {
            crx: dir.join(format!("twofill-{version}.crx")),
            xpi: dir.join(format!("twofill-{version}.xpi")),
            updates_xml: dir.join("updates.xml"),
            dir,
            version,
        };
        for path in [&package.crx, &package.xpi, &package.updates_xml] {
            ensure!(
                path.exists(),
                "{} is missing; run `cargo xtask package` (`cargo xtask test` packages before the tests)",
                path.display()
            );
        }
        Ok(package)
    }
}
