//! Chromium enterprise policy for tests: a real policy file in the real
//! machine-wide directory (`/etc/chromium/policies/managed`), the way IT
//! deploys it on Linux. The browser has no per-profile or command-line way
//! to set policy (`--policy` is ignored in stable builds), so these tests
//! touch the machine: they take a process-wide lock, write only their own
//! file, and remove it (and any directory they created) when dropped, even
//! when the test fails. Every other Chromium session of the process holds
//! the same lock shared, so no browser runs under a policy that another
//! test wrote (all e2e tests share one test binary, and threads).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::{EXTENSION_ID, SessionOptions};

/// Where Chromium (Debian's build) reads mandatory policy on Linux.
pub const CHROMIUM_POLICY_DIR: &str = "/etc/chromium/policies/managed";
const FILE_NAME: &str = "twofill-e2e.json";

/// Policy is machine-global: a policy test holds this exclusively, every
/// other Chromium session shared.
static MACHINE_POLICY: RwLock<()> = RwLock::const_new(());

/// How long a session waits for the policy tests ahead of it (five of
/// them take about 90 s in all).
const POLICY_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Held by a Chromium session started without a policy of its own: while it
/// lives, no policy test writes the machine's policy.
pub(crate) async fn no_policy_hold() -> Result<RwLockReadGuard<'static, ()>> {
    tokio::time::timeout(POLICY_WAIT, MACHINE_POLICY.read())
        .await
        .context(
            "waited 10 minutes for the Chromium policy tests to finish; a test that holds a \
             ChromiumPolicy must start its session with `policy.session_options()`",
        )
}

/// A policy file that exists while this value lives.
pub struct ChromiumPolicy {
    path: PathBuf,
    created: Vec<PathBuf>,
    _lock: RwLockWriteGuard<'static, ()>,
}

impl ChromiumPolicy {
    /// Waits for the machine's policy to be ours, then writes `policy`.
    pub async fn install(policy: &Value) -> Result<ChromiumPolicy> {
        let lock = MACHINE_POLICY.write().await;
        let dir = Path::new(CHROMIUM_POLICY_DIR);
        let mut created = Vec::new();
        for d in dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
            if !d.exists() {
                std::fs::create_dir(d).with_context(|| {
                    format!(
                        "cannot create {} (policy tests must run as root, like `cargo xtask test` in CI)",
                        d.display()
                    )
                })?;
                created.push(d.to_owned());
            }
        }
        let guard = ChromiumPolicy {
            path: dir.join(FILE_NAME),
            created,
            _lock: lock,
        };
        guard.update(policy)?;
        Ok(guard)
    }

    /// Options for a session that runs under this policy (it must not wait
    /// for the lock this policy holds).
    pub fn session_options(&self) -> SessionOptions {
        SessionOptions {
            under_test_policy: true,
            ..SessionOptions::default()
        }
    }

    /// Replaces the policy; a running Chromium picks it up by itself (it
    /// watches the directory and reloads a few seconds after a change).
    pub fn update(&self, policy: &Value) -> Result<()> {
        // Written next to the directory and renamed in, so the browser never
        // reads half a file.
        let tmp = self
            .path
            .parent()
            .and_then(Path::parent)
            .expect("policy dir has a parent")
            .join(".twofill-e2e.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(policy)?)?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }
}

impl Drop for ChromiumPolicy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        for d in self.created.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// `{"3rdparty": {"extensions": {<our id>: values}}}`: the values our
/// extension reads from `chrome.storage.managed`.
pub fn for_extension(values: Value) -> Value {
    json!({ "3rdparty": { "extensions": { EXTENSION_ID: values } } })
}
