//! `cargo xtask build`: the native host and the team server (debug) and the extension (release
//! wasm32 → wasm-bindgen → wasm-opt when a good one is installed),
//! assembled into `target/twofill-extension`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::{cargo_command, output, run};

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The Cargo profile the extension's WASM is built with (the workspace
/// `Cargo.toml` says why).
const WASM_PROFILE: &str = "wasm";
/// The extension's two WASM modules, each built alone from
/// `crates/extension` with one feature: (feature, module name in `pkg/`).
pub const WASM_MODULES: [(&str, &str); 2] =
    [("worker", "twofill_worker"), ("popup", "twofill_popup")];
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

/// The pinned build tools (`xtask/build-js/package.json` and its lock
/// file: npm `binaryen` for `wasm-opt`, `terser` for the content script),
/// installed into `target/build-js` by `cargo xtask setup` or the first
/// build.
const BUILD_JS_SOURCE: &str = "xtask/build-js";
const BUILD_JS_FILES: [&str; 2] = ["package.json", "package-lock.json"];
const WASM_OPT_BIN: &str = "node_modules/.bin/wasm-opt";
const TERSER_BIN: &str = "node_modules/.bin/terser";

fn build_js_dir(root: &Path) -> PathBuf {
    root.join("target").join("build-js")
}

/// Installs the pinned build tools (`npm ci`; skipped when installed).
pub fn setup_build_js(root: &Path) -> Result<()> {
    crate::npm::ci(
        root,
        BUILD_JS_SOURCE,
        &BUILD_JS_FILES,
        &build_js_dir(root),
        TERSER_BIN,
        "the extension's build tools (npm binaryen, terser)",
    )
}

/// The pinned `wasm-opt`, else one on PATH if recent enough; `None`
/// leaves the module unoptimised (it works, only larger).
fn wasm_opt(root: &Path, tools: &Result<()>) -> Option<PathBuf> {
    if tools.is_ok() {
        return Some(build_js_dir(root).join(WASM_OPT_BIN));
    }
    usable_wasm_opt().then(|| PathBuf::from("wasm-opt"))
}

/// Minifies the content script's files in `out` (every page loads them in
/// every frame); the sources in `extension/` stay as written.
fn minify_content_script(root: &Path, out: &Path) -> Result<()> {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json"))?)?;
    let files = manifest["content_scripts"][0]["js"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str());
    for file in files {
        let path = out.join(file);
        run(Command::new(build_js_dir(root).join(TERSER_BIN))
            .arg(&path)
            .args(["--ecma", "2022", "--compress", "--mangle", "-o"])
            .arg(&path))?;
    }
    Ok(())
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
    let tools = setup_build_js(root);
    if let Err(e) = &tools {
        eprintln!(
            "xtask: {e:#}; the extension is built unminified, with a wasm-opt on PATH if any"
        );
    }
    let wasm_opt = wasm_opt(root, &tools);
    // Cargo writes both under one name: each is bound right after its build.
    for (feature, module) in WASM_MODULES {
        run(cargo_command().args([
            "build",
            "--quiet",
            "--profile",
            WASM_PROFILE,
            "-p",
            "twofill-extension",
            "--target",
            WASM_TARGET,
            "--no-default-features",
            "--features",
            feature,
        ]))?;
        let wasm = target
            .join(WASM_TARGET)
            .join(WASM_PROFILE)
            .join("twofill_extension.wasm");
        run(Command::new("wasm-bindgen")
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--remove-name-section",
                "--remove-producers-section",
                "--out-name",
                module,
                "--out-dir",
            ])
            .arg(out.join("pkg"))
            .arg(&wasm))?;
        let bg = out.join("pkg").join(format!("{module}_bg.wasm"));
        if let Some(wasm_opt) = &wasm_opt {
            run(Command::new(wasm_opt)
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
    }
    if tools.is_ok() {
        minify_content_script(root, &out)?;
    }
    Ok(Built {
        extension_dir: out,
        ..Built::locate(root)
    })
}
