//! The OpenID provider the SSO tests run (`crates/test-oidc`): the npm package oidc-provider, pinned in
//! `tests/oidc/package.json` and its lock file, installed into `target/oidc-provider`, where the harness
//! copies `tests/oidc/provider.mjs` so that its import resolves.

use std::path::Path;

use anyhow::Result;

const SOURCE_DIR: &str = "tests/oidc";
const FILES: [&str; 2] = ["package.json", "package-lock.json"];

pub fn setup(root: &Path) -> Result<()> {
    crate::npm::ci(
        root,
        SOURCE_DIR,
        &FILES,
        &root.join("target").join("oidc-provider"),
        "node_modules/oidc-provider/package.json",
        "the OpenID provider for the SSO tests (oidc-provider)",
    )
}
