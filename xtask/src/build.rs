//! `cargo xtask build`: the native host and the team server (debug) and the extension (release
//! wasm32 → wasm-bindgen → wasm-opt when a good one is installed),
//! assembled into `target/twofill-extension`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::{cargo_command, output, run};

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Oldest binaryen whose `wasm-opt` keeps wasm-bindgen's externref table
/// intact (Debian 12 ships 108, which breaks it: "Table.set(): Argument 1
/// is invalid"). Older ones are skipped rather than used.
const MIN_WASM_OPT_VERSION: u32 = 116;

/// Paths of the build outputs the tests and the demo use.
pub struct Built {
    pub extension_dir: PathBuf,
    pub host_bin: PathBuf,
    /// The team server (`twofill-server`), for the team tests and the demo.
    pub server_bin: PathBuf,
    /// Where `cargo xtask package` writes (`target/package`).
    pub package_dir: PathBuf,
}

impl Built {
    /// The outputs of an earlier `build`.
    pub fn locate(root: &Path) -> Built {
        let target = root.join("target");
        Built {
            extension_dir: target.join("twofill-extension"),
            host_bin: target.join("debug").join("twofill-host"),
            server_bin: target.join("debug").join("twofill-server"),
            package_dir: target.join("package"),
        }
    }
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

pub fn build(root: &Path) -> Result<Built> {
    run(cargo_command().args([
        "build",
        "--quiet",
        "-p",
        "twofill-host",
        "-p",
        "twofill-server",
    ]))?;
    run(cargo_command().args([
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
