//! Tests that fail when the docs drift from the code (rust-analyzer's
//! `xtask/src/tidy.rs`): ARCHITECTURE.md's crate table against the
//! workspace's real dependencies, the paths ARCHITECTURE.md names against
//! the tree, its message table against `extension/messages.js`, and the
//! usage text against the command table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{COMMANDS, USAGE, workspace_root};

fn architecture() -> String {
    std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap()
}

/// Each workspace member's directory (relative to the root) and the
/// workspace members it depends on (normal dependencies, without the
/// `twofill-` prefix), from `cargo metadata`.
fn workspace_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = workspace_root();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let members: BTreeSet<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    packages
        .iter()
        .map(|p| {
            let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap());
            let dir = manifest.parent().unwrap().strip_prefix(&root).unwrap();
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap())
                .filter(|name| members.contains(name))
                .map(short_name)
                .collect();
            (dir.display().to_string(), deps)
        })
        .collect()
}

fn short_name(package: &str) -> String {
    package
        .strip_prefix("twofill-")
        .unwrap_or(package)
        .to_owned()
}

/// The rows of ARCHITECTURE.md's "Crates" table: first cell (a path in
/// backticks) → last cell ("depends on").
fn crate_table(doc: &str) -> BTreeMap<String, String> {
    let section = doc
        .split("\n## Crates\n")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Crates` section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
            let path = cells[0]
                .trim()
                .trim_matches('`')
                .trim_end_matches('/')
                .to_owned();
            (path, cells.last().unwrap().trim().to_owned())
        })
        .collect()
}

#[test]
fn crate_table_matches_the_workspace() {
    let graph = workspace_graph();
    let table = crate_table(&architecture());
    let names: BTreeSet<String> = graph
        .keys()
        .map(|dir| short_name(Path::new(dir).file_name().unwrap().to_str().unwrap()))
        .collect();
    let mut problems = Vec::new();
    for (dir, deps) in &graph {
        let Some(cell) = table.get(dir) else {
            problems.push(format!(
                "workspace member `{dir}` has no row in the crate table"
            ));
            continue;
        };
        // The cell names workspace crates by short name, among other
        // (external) dependencies.
        let listed: BTreeSet<String> = cell
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| names.contains(*w))
            .map(str::to_owned)
            .collect();
        if &listed != deps {
            problems.push(format!(
                "`{dir}` depends on {deps:?} but ARCHITECTURE.md says {listed:?}"
            ));
        }
    }
    for path in table.keys() {
        if (path.starts_with("crates/") || path == "xtask" || path == "tests/e2e")
            && !graph.contains_key(path)
        {
            problems.push(format!(
                "the crate table names `{path}`, which is not a workspace member"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "ARCHITECTURE.md's crate table is out of date (update it with the change):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn paths_named_in_architecture_exist() {
    let root = workspace_root();
    let doc = architecture();
    let prefixes = [
        "crates/",
        "extension/",
        "tests/",
        "xtask/",
        "host-manifests/",
        "keys/",
        "docs/",
        "fuzz/",
    ];
    let missing: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| prefixes.iter().any(|p| s.starts_with(p)) && !s.contains([' ', '*', '<', '{']))
        .map(|s| s.split(':').next().unwrap())
        .filter(|s| !root.join(s).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist (moved or renamed?): {missing:?}"
    );
}

#[test]
fn usage_lists_exactly_the_commands() {
    let section = USAGE
        .split("commands:\n")
        .nth(1)
        .expect("USAGE has a commands: section");
    let documented: BTreeSet<&str> = section
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let commands: BTreeSet<&str> = COMMANDS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        documented, commands,
        "xtask's usage text and its command table disagree"
    );
}

#[test]
fn message_table_lists_exactly_the_catalogue() {
    let catalogue =
        std::fs::read_to_string(workspace_root().join("extension/messages.js")).unwrap();
    // `  NAME: "sender.request",`
    let in_catalogue: BTreeSet<String> = catalogue
        .lines()
        .filter_map(|l| l.trim().split_once(": \""))
        .filter_map(|(_, rest)| rest.strip_suffix("\","))
        .map(str::to_owned)
        .collect();
    let doc = architecture();
    let section = doc
        .split("\n## Messages inside the extension\n")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Messages inside the extension` section");
    let section = section.split("\n## ").next().unwrap();
    let in_table: BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(name, _)| name.to_owned())
        .collect();
    assert!(
        !in_catalogue.is_empty(),
        "no names found in extension/messages.js"
    );
    assert_eq!(
        in_table, in_catalogue,
        "ARCHITECTURE.md's message table and extension/messages.js disagree"
    );
}
