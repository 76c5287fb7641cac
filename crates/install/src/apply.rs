//! Carrying out a plan on this machine: writing the manifests, registry
//! keys and the receipt ([`apply`]), and removing exactly what the receipt
//! records ([`remove`]).
//!
//! Target paths map under a staging `root` (`--root`, for packages and
//! tests). Files are written atomically, so a browser never reads half a
//! manifest. A directory is removed only if install created it, it is empty,
//! and it is not a shared system directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use crate::paths::{Browser, Hive, InstallScope, TargetOs, join, parent};
use crate::plan::{Plan, Target, add_browser, browser_list};
use crate::windows::{reg_exe, reg_exe_args, reg_key_exists};

// ---------------------------------------------------------------------------
// The receipt: what install wrote, so uninstall removes exactly that.

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Receipt {
    about: String,
    name: String,
    #[serde(default)]
    files: Vec<ReceiptFile>,
    #[serde(default)]
    registry: Vec<ReceiptKey>,
    /// Directories install created, parents first.
    #[serde(default)]
    created_dirs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReceiptFile {
    path: String,
    browsers: Vec<Browser>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReceiptKey {
    hive: Hive,
    key: String,
    browsers: Vec<Browser>,
}

impl Receipt {
    fn load(path: &Path) -> Result<Option<Receipt>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a twofill install receipt; move it away and try again",
                    path.display()
                )
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn is_empty(&self) -> bool {
        self.files.is_empty() && self.registry.is_empty()
    }
}

/// Maps a path on the target machine to this machine's file system.
pub(crate) fn local(root: Option<&Path>, target: &str) -> PathBuf {
    match root {
        Some(r) => r.join(target.trim_start_matches('/')),
        None => PathBuf::from(target),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    }
    let _ = (path, mode);
    Ok(())
}

/// Shared directories that twofill never records as its own, so uninstall
/// never removes them even when empty (they may be created in a fresh
/// staging root).
fn is_shared_dir(t: &Target, dir: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "/",
        "/etc",
        "/etc/opt",
        "/opt",
        "/usr",
        "/usr/lib",
        "/usr/lib64",
        "/var",
        "/var/lib",
        "/Library",
        "/Library/Application Support",
    ];
    const USER: &[&str] = &[
        "",
        ".config",
        ".local",
        ".local/share",
        "Library",
        "Library/Application Support",
    ];
    let dir = dir.trim_end_matches(t.os.sep());
    SYSTEM.contains(&dir)
        || dir.is_empty()
        || USER
            .iter()
            .any(|u| dir == join(t.os, &t.home, u).trim_end_matches(t.os.sep()))
        || dir == t.data_dir.trim_end_matches(t.os.sep())
        || (t.os == TargetOs::Windows && parent(t.os, dir).is_none())
}

/// Creates `dir` (a target path) and its missing parents, recording each
/// one created (except shared system directories).
fn ensure_dir(t: &Target, root: Option<&Path>, dir: &str, created: &mut Vec<String>) -> Result<()> {
    let os = t.os;
    let system = t.scope == InstallScope::System;
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if local(root, d).is_dir() {
            break;
        }
        missing.push(d.to_string());
        cur = parent(os, d);
    }
    for d in missing.into_iter().rev() {
        let p = local(root, &d);
        match std::fs::create_dir(&p) {
            Ok(()) => {
                if system {
                    set_mode(&p, 0o755)?;
                }
                if !created.contains(&d) && !is_shared_dir(t, &d) {
                    created.push(d);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot create {}{}",
                        p.display(),
                        if system {
                            " (machine-wide installs need root / an elevated prompt)"
                        } else {
                            ""
                        }
                    )
                });
            }
        }
    }
    Ok(())
}

/// Writes through a temporary file and a rename, so a browser never reads
/// half a manifest; world-readable, writable by the owner only.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        set_mode(&tmp, 0o644).map_err(std::io::Error::other)?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// One line of what install/uninstall did, per browser or per file.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub lines: Vec<String>,
}

impl Report {
    fn line(&mut self, s: impl Into<String>) {
        self.lines.push(s.into());
    }
}

/// Writes the plan's manifests (and, on Windows, its registry keys) and the
/// receipt. `root` is a staging prefix (Linux/macOS only).
pub(crate) fn apply(plan: &Plan, root: Option<&Path>) -> Result<Report> {
    let os = plan.target.os;
    let system = plan.target.scope == InstallScope::System;
    ensure!(
        os == TargetOs::current(),
        "cannot install for {} on {}",
        os.id(),
        TargetOs::current().id()
    );
    if let Some(r) = root {
        std::fs::create_dir_all(r).with_context(|| format!("cannot create {}", r.display()))?;
    }
    let receipt_path = local(root, &plan.receipt);
    let mut receipt = Receipt::load(&receipt_path)?.unwrap_or_else(|| Receipt {
        about: "what `twofill-host install` wrote; `twofill-host uninstall` removes exactly this"
            .into(),
        name: plan.target.name.clone(),
        ..Receipt::default()
    });
    let mut report = Report::default();
    for f in &plan.files {
        let dir = parent(os, &f.path).context("manifest path has no folder")?;
        ensure_dir(&plan.target, root, dir, &mut receipt.created_dirs)?;
        write_atomic(&local(root, &f.path), f.content.as_bytes())?;
        match receipt.files.iter_mut().find(|r| r.path == f.path) {
            Some(r) => f
                .browsers
                .iter()
                .for_each(|&b| add_browser(&mut r.browsers, b)),
            None => receipt.files.push(ReceiptFile {
                path: f.path.clone(),
                browsers: f.browsers.clone(),
            }),
        }
        for &b in &f.browsers {
            report.line(format!("{:<9} wrote {}", b.id(), f.path));
        }
    }
    for k in &plan.keys {
        ensure!(
            reg_exe(&reg_exe_args(k, true))?,
            "reg.exe could not set {}\\{}{}",
            k.hive.short(),
            k.key,
            if system {
                " (machine-wide installs need an elevated prompt)"
            } else {
                ""
            }
        );
        match receipt
            .registry
            .iter_mut()
            .find(|r| r.hive == k.hive && r.key == k.key)
        {
            Some(r) => k
                .browsers
                .iter()
                .for_each(|&b| add_browser(&mut r.browsers, b)),
            None => receipt.registry.push(ReceiptKey {
                hive: k.hive,
                key: k.key.clone(),
                browsers: k.browsers.clone(),
            }),
        }
        for &b in &k.browsers {
            report.line(format!(
                "{:<9} set {}\\{} = {}",
                b.id(),
                k.hive.short(),
                k.key,
                k.manifest
            ));
        }
    }
    let receipt_dir = parent(os, &plan.receipt).context("receipt path has no folder")?;
    ensure_dir(&plan.target, root, receipt_dir, &mut receipt.created_dirs)?;
    write_atomic(
        &receipt_path,
        serde_json::to_string_pretty(&receipt)?.as_bytes(),
    )?;
    Ok(report)
}

/// Removes what install wrote for the plan's browsers.
pub(crate) fn remove(plan: &Plan, root: Option<&Path>) -> Result<Report> {
    let os = plan.target.os;
    ensure!(
        os == TargetOs::current(),
        "cannot uninstall for {} on {}",
        os.id(),
        TargetOs::current().id()
    );
    // Where every browser would be registered, to know who shares a file or key.
    let everyone = crate::plan::plan(&plan.target, &Browser::ALL)?;
    let receipt_path = local(root, &plan.receipt);
    let mut receipt = Receipt::load(&receipt_path)?;
    let mut report = Report::default();

    for f in &plan.files {
        let path = local(root, &f.path);
        let recorded = receipt
            .as_mut()
            .and_then(|r| r.files.iter_mut().find(|e| e.path == f.path));
        let recorded_here = recorded.is_some();
        let (remove, others): (bool, Vec<Browser>) = match recorded {
            Some(entry) => {
                entry.browsers.retain(|b| !f.browsers.contains(b));
                (entry.browsers.is_empty(), entry.browsers.clone())
            }
            None => {
                let others: Vec<Browser> = everyone
                    .file(&f.path)
                    .map(|all| {
                        all.browsers
                            .iter()
                            .copied()
                            .filter(|b| !f.browsers.contains(b))
                            .collect()
                    })
                    .unwrap_or_default();
                (others.is_empty(), others)
            }
        };
        if let Some(r) = receipt.as_mut() {
            r.files.retain(|e| !e.browsers.is_empty());
        }
        let who = browser_list(&f.browsers);
        if !remove {
            if path.exists() {
                report.line(format!(
                    "{who:<9} kept {}: {} still read{} it{}",
                    f.path,
                    browser_list(&others),
                    if others.len() == 1 { "s" } else { "" },
                    if recorded_here {
                        String::new()
                    } else {
                        format!(" (add --browser {} to remove it)", others[0].id())
                    }
                ));
            } else {
                report.line(format!("{who:<9} not there: {}", f.path));
            }
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => report.line(format!("{who:<9} removed {}", f.path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.line(format!("{who:<9} not there: {}", f.path))
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot remove {}", path.display()));
            }
        }
    }

    for k in &plan.keys {
        let recorded = receipt.as_mut().and_then(|r| {
            r.registry
                .iter_mut()
                .find(|e| e.hive == k.hive && e.key == k.key)
        });
        let (remove, others): (bool, Vec<Browser>) = match recorded {
            Some(entry) => {
                entry.browsers.retain(|b| !k.browsers.contains(b));
                (entry.browsers.is_empty(), entry.browsers.clone())
            }
            None => {
                let others: Vec<Browser> = everyone
                    .keys
                    .iter()
                    .find(|e| e.hive == k.hive && e.key == k.key)
                    .map(|all| {
                        all.browsers
                            .iter()
                            .copied()
                            .filter(|b| !k.browsers.contains(b))
                            .collect()
                    })
                    .unwrap_or_default();
                (others.is_empty(), others)
            }
        };
        if let Some(r) = receipt.as_mut() {
            r.registry.retain(|e| !e.browsers.is_empty());
        }
        let who = browser_list(&k.browsers);
        let name = format!("{}\\{}", k.hive.short(), k.key);
        if !reg_key_exists(k)? {
            report.line(format!("{who:<9} not there: {name}"));
        } else if !remove {
            report.line(format!(
                "{who:<9} kept {name}: {} still read it",
                browser_list(&others)
            ));
        } else {
            ensure!(
                reg_exe(&reg_exe_args(k, false))?,
                "reg.exe could not delete {name}"
            );
            report.line(format!("{who:<9} removed {name}"));
        }
    }

    if let Some(mut r) = receipt {
        if r.is_empty() {
            match std::fs::remove_file(&receipt_path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot remove {}", receipt_path.display()));
                }
            }
        }
        // Directories install created, deepest first, if nothing else is in them.
        let mut kept = Vec::new();
        for d in r.created_dirs.iter().rev() {
            let p = local(root, d);
            if !p.is_dir() || is_shared_dir(&plan.target, d) {
                continue;
            }
            let empty = std::fs::read_dir(&p)
                .map(|mut it| it.next().is_none())
                .unwrap_or(false);
            if empty && std::fs::remove_dir(&p).is_ok() {
                report.line(format!(
                    "          removed the empty directory {d} (install created it)"
                ));
            } else {
                kept.push(d.clone());
            }
        }
        kept.reverse();
        r.created_dirs = kept;
        if !r.is_empty() {
            write_atomic(&receipt_path, serde_json::to_string_pretty(&r)?.as_bytes())?;
        }
    }
    Ok(report)
}
