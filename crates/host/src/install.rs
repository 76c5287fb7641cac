//! Registering the host with browsers: the host manifest where each browser
//! looks for it, per user or machine-wide, on Linux, macOS and Windows.
//!
//! The manifests are the templates in `host-manifests/`, filled in here, so
//! what admins read in the repository is exactly what gets installed. One
//! manifest per browser family: Chromium-based browsers get
//! `allowed_origins`, Firefox gets `allowed_extensions`.
//!
//! Where each browser looks (docs/admin-guide.md has the same table):
//!
//! - Linux and macOS: `<dir>/<name>.json`, the directories in
//!   [`manifest_dir`]. Brave and Vivaldi document no machine-wide directory;
//!   machine-wide they get Chrome's, the fallback they reportedly read, and
//!   the output says so.
//! - Windows: the manifest files go to one folder (`%ProgramFiles%\twofill`
//!   machine-wide, `%LOCALAPPDATA%\twofill` per user) and each browser gets a
//!   registry key `HKLM|HKCU\SOFTWARE\<vendor>\NativeMessagingHosts\<name>`
//!   whose default value is the manifest's path ([`registry_vendors`]; Brave
//!   and Vivaldi get their own key and Chrome's). A Windows build writes the
//!   keys with `reg.exe`; any build renders them as a `.reg` file and a
//!   PowerShell script (`--os windows --print` or `--out DIR`).
//!
//! `install` records what it wrote — files, registry keys, and the
//! directories it had to create — in a receipt next to the host's state
//! ([`Plan::receipt`]); `uninstall` removes exactly that: a file or key only
//! when no browser still registered needs it (Chrome, Brave and Vivaldi
//! share Chrome's machine-wide location), a directory only if install created
//! it and it is empty.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::caller::{CHROMIUM_EXTENSION_ID, GECKO_EXTENSION_ID};
use crate::config;

const CHROMIUM_TEMPLATE: &str = include_str!("../../../host-manifests/chromium.json");
const FIREFOX_TEMPLATE: &str = include_str!("../../../host-manifests/firefox.json");

/// The name the extension looks for unless its `NativeHostName` policy
/// names another.
pub const DEFAULT_NAME: &str = twofill_protocol::HOST_NAME;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Browser {
    Chromium,
    Chrome,
    Edge,
    Brave,
    Vivaldi,
    Firefox,
}

impl Browser {
    pub const ALL: [Browser; 6] = [
        Browser::Chromium,
        Browser::Chrome,
        Browser::Edge,
        Browser::Brave,
        Browser::Vivaldi,
        Browser::Firefox,
    ];

    /// The `--browser` value.
    pub fn id(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Chrome => "chrome",
            Browser::Edge => "edge",
            Browser::Brave => "brave",
            Browser::Vivaldi => "vivaldi",
            Browser::Firefox => "firefox",
        }
    }

    pub fn family(self) -> Family {
        if self == Browser::Firefox {
            Family::Firefox
        } else {
            Family::Chromium
        }
    }
}

/// Which manifest template a browser takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Chromium,
    Firefox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetOs {
    Linux,
    Macos,
    Windows,
}

impl TargetOs {
    pub fn current() -> TargetOs {
        if cfg!(windows) {
            TargetOs::Windows
        } else if cfg!(target_os = "macos") {
            TargetOs::Macos
        } else {
            TargetOs::Linux
        }
    }

    fn id(self) -> &'static str {
        match self {
            TargetOs::Linux => "linux",
            TargetOs::Macos => "macos",
            TargetOs::Windows => "windows",
        }
    }

    fn sep(self) -> char {
        if self == TargetOs::Windows { '\\' } else { '/' }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Hive {
    #[serde(rename = "HKLM")]
    Hklm,
    #[serde(rename = "HKCU")]
    Hkcu,
}

impl Hive {
    pub fn short(self) -> &'static str {
        match self {
            Hive::Hklm => "HKLM",
            Hive::Hkcu => "HKCU",
        }
    }

    pub fn long(self) -> &'static str {
        match self {
            Hive::Hklm => "HKEY_LOCAL_MACHINE",
            Hive::Hkcu => "HKEY_CURRENT_USER",
        }
    }
}

// ---------------------------------------------------------------------------
// Where browsers look (enterprise-deployment reference §2).

/// Why a location is a guess, shown next to it in the output.
fn fallback_note(browser: Browser, os: TargetOs) -> String {
    let name = if browser == Browser::Brave {
        "Brave"
    } else {
        "Vivaldi"
    };
    match os {
        TargetOs::Windows => format!(
            "{name} documents no registry location: it gets its own key (as Bitwarden writes) and Chrome's (as KeePassXC writes) [unverified]"
        ),
        _ => format!(
            "{name} documents no machine-wide directory: this is Chrome's, which {name} reportedly reads [unverified]; if {name} reports \"native messaging host not found\", install per user as well (without --system)"
        ),
    }
}

/// The directory a browser reads host manifests from on Linux or macOS.
/// User directories are relative to the home directory. `None` on Windows.
pub fn manifest_dir(os: TargetOs, scope: Scope, browser: Browser) -> Option<&'static str> {
    use Browser::*;
    Some(match (os, scope) {
        (TargetOs::Windows, _) => return None,
        (TargetOs::Linux, Scope::System) => match browser {
            Chrome | Brave | Vivaldi => "/etc/opt/chrome/native-messaging-hosts",
            Chromium => "/etc/chromium/native-messaging-hosts",
            Edge => "/etc/opt/edge/native-messaging-hosts",
            Firefox => "/usr/lib/mozilla/native-messaging-hosts",
        },
        (TargetOs::Linux, Scope::User) => match browser {
            Chrome => ".config/google-chrome/NativeMessagingHosts",
            Chromium => ".config/chromium/NativeMessagingHosts",
            Edge => ".config/microsoft-edge/NativeMessagingHosts",
            Brave => ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
            Vivaldi => ".config/vivaldi/NativeMessagingHosts",
            Firefox => ".mozilla/native-messaging-hosts",
        },
        (TargetOs::Macos, Scope::System) => match browser {
            Chrome | Brave | Vivaldi => "/Library/Google/Chrome/NativeMessagingHosts",
            Chromium => "/Library/Application Support/Chromium/NativeMessagingHosts",
            Edge => "/Library/Microsoft/Edge/NativeMessagingHosts",
            Firefox => "/Library/Application Support/Mozilla/NativeMessagingHosts",
        },
        (TargetOs::Macos, Scope::User) => match browser {
            Chrome => "Library/Application Support/Google/Chrome/NativeMessagingHosts",
            Chromium => "Library/Application Support/Chromium/NativeMessagingHosts",
            Edge => "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
            Brave => "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
            Vivaldi => "Library/Application Support/Vivaldi/NativeMessagingHosts",
            Firefox => "Library/Application Support/Mozilla/NativeMessagingHosts",
        },
    })
}

/// Whether the location in [`manifest_dir`] / [`registry_vendors`] is
/// documented by the browser's vendor, or a fallback.
pub fn is_documented(os: TargetOs, scope: Scope, browser: Browser) -> bool {
    match browser {
        Browser::Brave | Browser::Vivaldi => os != TargetOs::Windows && scope == Scope::User,
        _ => true,
    }
}

/// The vendor paths under `SOFTWARE\` whose `NativeMessagingHosts\<name>` key
/// a browser reads on Windows (HKCU per user, HKLM machine-wide).
pub fn registry_vendors(browser: Browser) -> &'static [&'static str] {
    match browser {
        Browser::Chrome => &["Google\\Chrome"],
        // Chromium-branded builds read their own key, then Chrome's.
        Browser::Chromium => &["Chromium"],
        Browser::Edge => &["Microsoft\\Edge"],
        Browser::Brave => &["BraveSoftware\\Brave-Browser", "Google\\Chrome"],
        Browser::Vivaldi => &["Vivaldi", "Google\\Chrome"],
        Browser::Firefox => &["Mozilla"],
    }
}

/// Where the host's system config lives on `os` (see `config.rs`).
pub fn system_config_path(os: TargetOs) -> String {
    if os == TargetOs::current() {
        return config::system_config_path().display().to_string();
    }
    match os {
        TargetOs::Linux => "/etc/twofill/host.toml".into(),
        TargetOs::Macos => "/Library/Application Support/twofill/host.toml".into(),
        TargetOs::Windows => "%ProgramData%\\twofill\\host.toml".into(),
    }
}

// ---------------------------------------------------------------------------
// Names and paths.

/// Chromium's rule for host names (the stricter of Chromium's and Firefox's):
/// lowercase letters, digits, `_` and `.`, not starting or ending with a dot,
/// no `..`. It names the manifest file and the registry key, and the
/// extension's `NativeHostName` policy must name the same.
pub fn validate_name(name: &str) -> Result<()> {
    let chars_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    let ok = !name.is_empty()
        && name.len() <= 128
        && chars_ok
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..");
    if ok {
        return Ok(());
    }
    let why = if name.is_empty() {
        "it is empty".to_string()
    } else if name.len() > 128 {
        "it is longer than 128 characters".to_string()
    } else if name.bytes().any(|b| b.is_ascii_uppercase()) {
        "it has uppercase letters (Chromium refuses them)".to_string()
    } else if !chars_ok {
        "it has characters other than a-z, 0-9, '_' and '.'".to_string()
    } else {
        "it starts or ends with '.' or has '..'".to_string()
    };
    let suggestion: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .split('.')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    let hint = if !suggestion.is_empty() && suggestion.len() <= 128 && suggestion != name {
        format!(" (e.g. --name {suggestion})")
    } else {
        " (e.g. --name com.example.twofill)".to_string()
    };
    bail!(
        "{name:?} cannot be a native messaging host name: {why}. Use only lowercase letters, digits, '_' and '.', not starting or ending with '.' and without '..'{hint}, and set the extension's NativeHostName policy to the same name"
    )
}

fn is_absolute_for(os: TargetOs, path: &str) -> bool {
    match os {
        TargetOs::Windows => {
            let b = path.as_bytes();
            (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\')
                || path.starts_with("\\\\")
        }
        _ => path.starts_with('/'),
    }
}

/// Checks a path as it will be on the target machine.
fn validate_target_path(os: TargetOs, what: &str, path: &str) -> Result<()> {
    ensure!(
        !path.chars().any(|c| c.is_control()),
        "{what} {path:?} has control characters"
    );
    if os == TargetOs::Windows {
        ensure!(
            is_absolute_for(os, path),
            "{what} {path:?} must be an absolute Windows path like C:\\Program Files\\twofill\\twofill-host.exe"
        );
        // After the drive's colon, these cannot appear in a Windows path.
        let rest = if path.starts_with("\\\\") {
            path
        } else {
            &path[2..]
        };
        ensure!(
            !rest.chars().any(|c| "<>:\"|?*/".contains(c)),
            "{what} {path:?} has characters Windows paths cannot have (< > : \" | ? * or /)"
        );
    } else {
        ensure!(
            is_absolute_for(os, path),
            "{what} {path:?} must be absolute (browsers refuse relative host paths on {})",
            os.id()
        );
    }
    Ok(())
}

fn join(os: TargetOs, dir: &str, name: &str) -> String {
    let sep = os.sep();
    if dir.ends_with(sep) {
        format!("{dir}{name}")
    } else {
        format!("{dir}{sep}{name}")
    }
}

fn parent(os: TargetOs, path: &str) -> Option<&str> {
    let (p, _) = path.trim_end_matches(os.sep()).rsplit_once(os.sep())?;
    if p.is_empty() {
        Some("/")
    } else if os == TargetOs::Windows && p.len() == 2 && p.ends_with(':') {
        None
    } else {
        Some(p)
    }
}

/// A Windows `canonicalize` gives `\\?\C:\…`; manifests and the registry
/// want the plain form.
fn plain_path(p: &Path) -> String {
    let s = p.display().to_string();
    match s.strip_prefix("\\\\?\\") {
        Some(rest) if !rest.starts_with("UNC\\") => rest.to_string(),
        _ => s,
    }
}

// ---------------------------------------------------------------------------
// Manifests.

/// Fills a family's template for a host named `name` at `host_path`.
pub fn render_manifest(family: Family, name: &str, host_path: &str) -> Result<String> {
    let json_str = |s: &str| -> Result<String> { Ok(serde_json::to_string(s)?) };
    let inner = |s: &str| -> Result<String> {
        let q = json_str(s)?;
        Ok(q[1..q.len() - 1].to_string())
    };
    let text = match family {
        Family::Firefox => {
            FIREFOX_TEMPLATE.replace("{{ALLOWED_EXTENSIONS}}", &json_str(GECKO_EXTENSION_ID)?)
        }
        Family::Chromium => CHROMIUM_TEMPLATE.replace(
            "{{ALLOWED_ORIGINS}}",
            &json_str(&format!(
                "chrome-extension://{}/",
                CHROMIUM_EXTENSION_ID.trim()
            ))?,
        ),
    }
    .replace("{{HOST_NAME}}", &inner(name)?)
    .replace("{{HOST_PATH}}", &inner(host_path)?);
    // The template must still be valid JSON after substitution.
    serde_json::from_str::<serde_json::Value>(&text).context("rendered manifest is not JSON")?;
    Ok(text)
}

// ---------------------------------------------------------------------------
// The plan: what goes where, computed without touching anything.

/// Everything that decides where things go on the target machine.
#[derive(Debug, Clone)]
pub struct Target {
    pub os: TargetOs,
    pub scope: Scope,
    pub name: String,
    /// Where the binary is on the target machine.
    pub host_path: String,
    /// The home directory (Linux/macOS per-user locations).
    pub home: String,
    /// Linux/macOS per-user data directory (the receipt goes there).
    pub data_dir: String,
    /// Windows: the folder for the manifest files.
    pub windows_dir: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// Path on the target machine.
    pub path: String,
    pub family: Family,
    pub content: String,
    /// The selected browsers that read it.
    pub browsers: Vec<Browser>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryKey {
    pub hive: Hive,
    /// `SOFTWARE\…\NativeMessagingHosts\<name>`.
    pub key: String,
    /// The default value: the manifest's path.
    pub manifest: String,
    pub browsers: Vec<Browser>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    pub files: Vec<ManifestFile>,
    pub keys: Vec<RegistryKey>,
    /// Per browser: why its location is a fallback.
    pub notes: Vec<(Browser, String)>,
    /// Where install records what it wrote (path on the target machine).
    pub receipt: String,
}

impl Plan {
    /// The selected browsers that read `path`.
    fn file(&self, path: &str) -> Option<&ManifestFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

fn add_browser(list: &mut Vec<Browser>, b: Browser) {
    if !list.contains(&b) {
        list.push(b);
    }
}

pub fn plan(target: &Target, browsers: &[Browser]) -> Result<Plan> {
    validate_name(&target.name)?;
    validate_target_path(target.os, "the host path", &target.host_path)?;
    let os = target.os;
    let mut files: Vec<ManifestFile> = Vec::new();
    let mut keys: Vec<RegistryKey> = Vec::new();
    let mut notes = Vec::new();
    for &browser in browsers {
        if !is_documented(os, target.scope, browser) {
            notes.push((browser, fallback_note(browser, os)));
        }
        let family = browser.family();
        let path = match os {
            TargetOs::Windows => {
                let dir = target
                    .windows_dir
                    .as_deref()
                    .context("no folder for the manifests")?;
                let file = match family {
                    Family::Chromium => format!("{}.json", target.name),
                    Family::Firefox => format!("{}.firefox.json", target.name),
                };
                join(os, dir, &file)
            }
            _ => {
                let dir = manifest_dir(os, target.scope, browser).expect("unix location");
                let dir = match target.scope {
                    Scope::System => dir.to_string(),
                    Scope::User => join(os, &target.home, dir),
                };
                join(os, &dir, &format!("{}.json", target.name))
            }
        };
        match files.iter_mut().find(|f| f.path == path) {
            Some(f) => add_browser(&mut f.browsers, browser),
            None => files.push(ManifestFile {
                path: path.clone(),
                family,
                content: render_manifest(family, &target.name, &target.host_path)?,
                browsers: vec![browser],
            }),
        }
        if os == TargetOs::Windows {
            let hive = match target.scope {
                Scope::System => Hive::Hklm,
                Scope::User => Hive::Hkcu,
            };
            for vendor in registry_vendors(browser) {
                let key = format!("SOFTWARE\\{vendor}\\NativeMessagingHosts\\{}", target.name);
                match keys.iter_mut().find(|k| k.hive == hive && k.key == key) {
                    Some(k) => add_browser(&mut k.browsers, browser),
                    None => keys.push(RegistryKey {
                        hive,
                        key,
                        manifest: path.clone(),
                        browsers: vec![browser],
                    }),
                }
            }
        }
    }
    let receipt_dir = match (os, target.scope) {
        (TargetOs::Windows, _) => target.windows_dir.clone().unwrap_or_default(),
        (TargetOs::Linux, Scope::System) => "/var/lib/twofill".into(),
        (TargetOs::Macos, Scope::System) => "/Library/Application Support/twofill".into(),
        (_, Scope::User) => join(os, &target.data_dir, "twofill"),
    };
    Ok(Plan {
        target: target.clone(),
        files,
        keys,
        notes,
        receipt: join(os, &receipt_dir, &format!("{}.install.json", target.name)),
    })
}

// ---------------------------------------------------------------------------
// Windows: .reg files and the PowerShell script.

fn reg_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn browser_list(browsers: &[Browser]) -> String {
    browsers
        .iter()
        .map(|b| b.id())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `.reg` file that registers (or, with `uninstall`, removes) the plan's
/// keys. Lines end in CRLF, as regedit writes them.
pub fn reg_file(plan: &Plan, uninstall: bool) -> String {
    let mut out = String::from("Windows Registry Editor Version 5.00\r\n\r\n");
    let t = &plan.target;
    let _ = write!(
        out,
        "; twofill native messaging host {} ({}), generated by twofill-host {}\r\n",
        t.name,
        if t.scope == Scope::System {
            "machine-wide"
        } else {
            "per user"
        },
        env!("CARGO_PKG_VERSION")
    );
    if uninstall {
        out.push_str(
            "; Removes the keys install.reg adds; delete the manifest files yourself:\r\n",
        );
    } else {
        out.push_str("; Copy these manifests to their folder first (the keys point at them):\r\n");
    }
    for f in &plan.files {
        let file = f.path.rsplit('\\').next().unwrap_or(&f.path);
        let _ = write!(out, ";   {file} -> {}\r\n", f.path);
    }
    out.push_str("\r\n");
    for k in &plan.keys {
        let _ = write!(out, "; {}\r\n", browser_list(&k.browsers));
        if uninstall {
            let _ = write!(out, "[-{}\\{}]\r\n\r\n", k.hive.long(), k.key);
        } else {
            let _ = write!(
                out,
                "[{}\\{}]\r\n@=\"{}\"\r\n\r\n",
                k.hive.long(),
                k.key,
                reg_escape(&k.manifest)
            );
        }
    }
    out
}

/// A PowerShell string literal.
fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A self-contained PowerShell script: writes the manifests it carries and
/// sets the registry keys; idempotent; `-Uninstall` removes both again.
pub fn powershell_script(plan: &Plan) -> String {
    let t = &plan.target;
    let dir = t.windows_dir.clone().unwrap_or_default();
    let hive_drive = |h: Hive| format!("{}:", h.short());
    let elevated = t.scope == Scope::System;
    let mut s = String::new();
    let browsers: Vec<Browser> = {
        let mut all: Vec<Browser> = Vec::new();
        for f in &plan.files {
            for &b in &f.browsers {
                add_browser(&mut all, b);
            }
        }
        all
    };
    let _ = writeln!(s, "<#");
    let _ = writeln!(s, ".SYNOPSIS");
    let _ = writeln!(
        s,
        "Registers the twofill native messaging host {} for {} ({}).",
        t.name,
        browser_list(&browsers),
        if elevated { "machine-wide" } else { "per user" }
    );
    let _ = writeln!(s, ".DESCRIPTION");
    let _ = writeln!(
        s,
        "Generated by twofill-host {} (twofill-host install --os windows{}).",
        env!("CARGO_PKG_VERSION"),
        if elevated { " --system" } else { "" }
    );
    let _ = writeln!(
        s,
        "Writes the host manifests to {dir} and points each browser's registry key at them."
    );
    let _ = writeln!(
        s,
        "Running it again changes nothing. -Uninstall removes exactly the keys and manifests it writes."
    );
    let _ = writeln!(
        s,
        "-HostExe copies twofill-host.exe to the path the manifests name ({}); -Uninstall leaves the binary alone.",
        t.host_path
    );
    if plan
        .keys
        .iter()
        .any(|k| k.key.starts_with("SOFTWARE\\Google\\Chrome\\"))
    {
        let _ = writeln!(
            s,
            "Chrome's key serves Chrome, Brave and Vivaldi alike: -Uninstall removes it for any of them."
        );
    }
    if elevated {
        let _ = writeln!(
            s,
            "Run it elevated (it writes HKLM); as an Intune platform script or Win32 app install command, in system context."
        );
    }
    let _ = writeln!(s, "#>");
    let _ = writeln!(s, "[CmdletBinding()]");
    let _ = writeln!(s, "param(");
    let _ = writeln!(s, "    [switch]$Uninstall,");
    let _ = writeln!(s, "    [string]$HostExe");
    let _ = writeln!(s, ")");
    let _ = writeln!(s, "$ErrorActionPreference = 'Stop'");
    let _ = writeln!(s, "Set-StrictMode -Version 2.0");
    let _ = writeln!(s);
    let _ = writeln!(s, "$HostPath = {}", ps_quote(&t.host_path));
    let _ = writeln!(s, "$ManifestDir = {}", ps_quote(&dir));
    let _ = writeln!(s);
    for (i, f) in plan.files.iter().enumerate() {
        let _ = writeln!(s, "# {}", browser_list(&f.browsers));
        let _ = writeln!(s, "$Manifest{i} = @'");
        s.push_str(f.content.trim_end());
        s.push('\n');
        let _ = writeln!(s, "'@");
    }
    let _ = writeln!(s, "$Manifests = [ordered]@{{");
    for (i, f) in plan.files.iter().enumerate() {
        let _ = writeln!(s, "    {} = $Manifest{i}", ps_quote(&f.path));
    }
    let _ = writeln!(s, "}}");
    let _ = writeln!(
        s,
        "# Registry key (default value = manifest path), per browser"
    );
    let _ = writeln!(s, "$Keys = [ordered]@{{");
    for k in &plan.keys {
        let _ = writeln!(
            s,
            "    {} = {}  # {}",
            ps_quote(&format!("{}\\{}", hive_drive(k.hive), k.key)),
            ps_quote(&k.manifest),
            browser_list(&k.browsers)
        );
    }
    let _ = writeln!(s, "}}");
    s.push_str(
        r#"
if ($Uninstall) {
    foreach ($key in $Keys.Keys) {
        if (Test-Path -LiteralPath $key) {
            Remove-Item -LiteralPath $key -Recurse -Force
            Write-Output "removed $key"
        } else {
            Write-Output "not there: $key"
        }
    }
    foreach ($file in $Manifests.Keys) {
        if (Test-Path -LiteralPath $file) {
            Remove-Item -LiteralPath $file -Force
            Write-Output "removed $file"
        } else {
            Write-Output "not there: $file"
        }
    }
    if ((Test-Path -LiteralPath $ManifestDir) -and -not (Get-ChildItem -LiteralPath $ManifestDir -Force | Select-Object -First 1)) {
        Remove-Item -LiteralPath $ManifestDir -Force
        Write-Output "removed the empty folder $ManifestDir"
    }
    return
}

if ($HostExe) {
    New-Item -ItemType Directory -Force -Path (Split-Path -Parent $HostPath) | Out-Null
    Copy-Item -LiteralPath $HostExe -Destination $HostPath -Force
    Write-Output "copied $HostExe to $HostPath"
} elseif (-not (Test-Path -LiteralPath $HostPath)) {
    Write-Warning "$HostPath does not exist yet: install twofill-host.exe there (or pass -HostExe)"
}
New-Item -ItemType Directory -Force -Path $ManifestDir | Out-Null
$Utf8NoBom = New-Object System.Text.UTF8Encoding $false
foreach ($file in $Manifests.Keys) {
    [System.IO.File]::WriteAllText($file, $Manifests[$file], $Utf8NoBom)
    Write-Output "wrote $file"
}
foreach ($key in $Keys.Keys) {
    if (-not (Test-Path -LiteralPath $key)) {
        New-Item -Path $key -Force | Out-Null
    }
    Set-ItemProperty -LiteralPath $key -Name '(default)' -Value $Keys[$key]
    Write-Output "set $key = $($Keys[$key])"
}
"#,
    );
    s.replace('\n', "\r\n")
}

/// `.reg` files are UTF-16LE with a byte-order mark, as regedit writes them
/// (an ANSI file would garble non-ASCII paths).
pub fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

/// Arguments for `reg.exe` (Windows builds write the registry with it).
pub fn reg_exe_args(k: &RegistryKey, add: bool) -> Vec<String> {
    let key = format!("{}\\{}", k.hive.short(), k.key);
    if add {
        vec![
            "add".into(),
            key,
            "/ve".into(),
            "/t".into(),
            "REG_SZ".into(),
            "/d".into(),
            k.manifest.clone(),
            "/f".into(),
            "/reg:64".into(),
        ]
    } else {
        vec!["delete".into(), key, "/f".into(), "/reg:64".into()]
    }
}

fn reg_exe(args: &[String]) -> Result<bool> {
    let out = Command::new("reg")
        .args(args)
        .output()
        .context("cannot run reg.exe")?;
    Ok(out.status.success())
}

fn reg_key_exists(k: &RegistryKey) -> Result<bool> {
    reg_exe(&[
        "query".into(),
        format!("{}\\{}", k.hive.short(), k.key),
        "/ve".into(),
        "/reg:64".into(),
    ])
}

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
fn local(root: Option<&Path>, target: &str) -> PathBuf {
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
    let system = t.scope == Scope::System;
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
pub struct Report {
    pub lines: Vec<String>,
}

impl Report {
    fn line(&mut self, s: impl Into<String>) {
        self.lines.push(s.into());
    }
}

/// Writes the plan's manifests (and, on Windows, its registry keys) and the
/// receipt. `root` is a staging prefix (Linux/macOS only).
pub fn apply(plan: &Plan, root: Option<&Path>) -> Result<Report> {
    let os = plan.target.os;
    let system = plan.target.scope == Scope::System;
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
pub fn remove(plan: &Plan, root: Option<&Path>) -> Result<Report> {
    let os = plan.target.os;
    ensure!(
        os == TargetOs::current(),
        "cannot uninstall for {} on {}",
        os.id(),
        TargetOs::current().id()
    );
    // Where every browser would be registered, to know who shares a file or key.
    let everyone = self::plan(&plan.target, &Browser::ALL)?;
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

// ---------------------------------------------------------------------------
// `--user-data-dir`: one Chromium profile, as the tests and a developer use it.

fn user_data_dir_manifest(browser: Browser, udd: &Path, name: &str) -> Result<PathBuf> {
    ensure!(
        browser.family() == Family::Chromium,
        "--user-data-dir applies to Chromium-family browsers; Firefox reads host manifests from ~/.mozilla/native-messaging-hosts only"
    );
    Ok(udd
        .join("NativeMessagingHosts")
        .join(format!("{name}.json")))
}

pub fn install_into_profile(
    browser: Browser,
    udd: &Path,
    name: &str,
    host_path: &Path,
) -> Result<PathBuf> {
    validate_name(name)?;
    let target = user_data_dir_manifest(browser, udd, name)?;
    let host = host_path
        .to_str()
        .context("the host path is not valid UTF-8; install the binary under a UTF-8 path")?;
    let text = render_manifest(browser.family(), name, host)?;
    let dir = target.parent().expect("manifest path has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(&target, text).with_context(|| format!("cannot write {}", target.display()))?;
    Ok(target)
}

pub fn uninstall_from_profile(browser: Browser, udd: &Path, name: &str) -> Result<Option<PathBuf>> {
    let target = user_data_dir_manifest(browser, udd, name)?;
    match std::fs::remove_file(&target) {
        Ok(()) => Ok(Some(target)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", target.display())),
    }
}

// ---------------------------------------------------------------------------
// The command line (`twofill-host install|uninstall`).

/// Which browsers, where: shared by `install` and `uninstall`.
#[derive(Args, Debug, Clone)]
pub struct Selection {
    /// Browser to register with; repeat for several. Default: all of them.
    #[arg(long = "browser", value_enum, conflicts_with = "all")]
    pub browsers: Vec<Browser>,
    /// Every browser: chromium, chrome, edge, brave, vivaldi, firefox.
    #[arg(long)]
    pub all: bool,
    /// Machine-wide (needs root / an elevated prompt) instead of for the
    /// current user: system manifest directories, HKLM on Windows.
    #[arg(long)]
    pub system: bool,
    /// The OS to write for (default: this one). Another OS only with --print
    /// (or, for Windows, --out).
    #[arg(long, value_enum)]
    pub os: Option<TargetOs>,
    /// Host name: the manifest file and registry key are named after it, and
    /// the extension's NativeHostName policy must name it.
    #[arg(long, default_value = DEFAULT_NAME)]
    pub name: String,
    /// Staging prefix: write under DIR as if it were / (to build a .deb,
    /// .rpm or .pkg payload, or in tests). Linux and macOS only.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Windows: the folder for the manifest files (default
    /// %ProgramFiles%\twofill with --system, else %LOCALAPPDATA%\twofill).
    #[arg(long, value_name = "DIR")]
    pub manifest_dir: Option<String>,
    /// Show what would be written or removed; change nothing.
    #[arg(long)]
    pub print: bool,
    /// One Chromium profile directory (`--user-data-dir`) instead of the
    /// browser's own locations.
    #[arg(long, conflicts_with_all = ["system", "root", "os", "manifest_dir", "all"])]
    pub user_data_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct InstallArgs {
    #[command(flatten)]
    pub sel: Selection,
    /// Where the twofill-host binary is (or will be) on the target machine.
    /// Default: this binary; for another OS /usr/bin/twofill-host (Linux),
    /// /usr/local/bin/twofill-host (macOS), <manifest dir>\twofill-host.exe
    /// (Windows).
    #[arg(long, value_name = "PATH")]
    pub host_path: Option<String>,
    /// Windows: write install.reg, uninstall.reg, install.ps1 and the
    /// manifests into DIR (works on any OS).
    #[arg(long, value_name = "DIR", conflicts_with = "user_data_dir")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub sel: Selection,
}

fn selected(sel: &Selection) -> Vec<Browser> {
    if sel.browsers.is_empty() || sel.all {
        Browser::ALL.to_vec()
    } else {
        let mut out = Vec::new();
        for &b in &sel.browsers {
            add_browser(&mut out, b);
        }
        out
    }
}

fn this_binary() -> Result<String> {
    let exe = std::env::current_exe()?
        .canonicalize()
        .context("cannot resolve the host binary's path")?;
    ensure!(
        exe.to_str().is_some(),
        "the host path is not valid UTF-8; install the binary under a UTF-8 path"
    );
    Ok(plain_path(&exe))
}

/// Resolves the command line into a [`Target`]. `writing`: the command will
/// change this machine (not --print, not --out).
fn target(sel: &Selection, host_path: Option<&str>, writing: bool, out: bool) -> Result<Target> {
    let here = TargetOs::current();
    let os = sel.os.unwrap_or(here);
    let scope = if sel.system {
        Scope::System
    } else {
        Scope::User
    };
    let flags = if sel.system { " --system" } else { "" };
    if os != here && writing {
        if os == TargetOs::Windows {
            bail!(
                "cannot write the Windows registry from {here}: this command registers the host on the machine it runs on. Generate the files instead, on any OS:\n  twofill-host install{flags} --os windows --out DIR\nthen on the Windows machine run DIR\\install.ps1 (self-contained; -Uninstall removes it again), or copy the manifests to their folder and import DIR\\install.reg; or run `twofill-host install{flags}` there",
                here = here.id()
            );
        }
        bail!(
            "cannot register the host for {os} from {here}: run `twofill-host install{flags}` on the {os} machine (e.g. in the package's postinstall), or pass --print to see what it would write",
            os = os.id(),
            here = here.id()
        );
    }
    if out && os != TargetOs::Windows {
        bail!(
            "--out writes the Windows registration files; add --os windows (for {} use --root DIR to stage the files)",
            os.id()
        );
    }
    if sel.root.is_some() && os == TargetOs::Windows {
        bail!(
            "--root stages Linux and macOS files; Windows registrations are registry keys: use --out DIR for the .reg and PowerShell files"
        );
    }
    if sel.manifest_dir.is_some() && os != TargetOs::Windows {
        bail!(
            "--manifest-dir is for Windows; on {} each browser reads manifests from a fixed directory",
            os.id()
        );
    }
    let (home, data_dir) = if os == here && os != TargetOs::Windows && scope == Scope::User {
        let home = dirs::home_dir().context("cannot find the home directory")?;
        let data = dirs::data_dir().unwrap_or_else(|| home.join(".local/share"));
        (plain_path(&home), plain_path(&data))
    } else if os == TargetOs::Macos {
        ("~".into(), "~/Library/Application Support".into())
    } else {
        ("~".into(), "~/.local/share".into())
    };
    let windows_dir = if os == TargetOs::Windows {
        let dir = match (&sel.manifest_dir, scope) {
            (Some(d), _) => d.trim_end_matches('\\').to_string(),
            (None, Scope::System) if os == here => {
                let base =
                    std::env::var("ProgramFiles").unwrap_or_else(|_| "C:\\Program Files".into());
                format!("{base}\\twofill")
            }
            (None, Scope::User) if os == here => {
                let base = std::env::var("LOCALAPPDATA")
                    .context("LOCALAPPDATA is not set; pass --manifest-dir")?;
                format!("{base}\\twofill")
            }
            (None, Scope::System) => "C:\\Program Files\\twofill".into(),
            (None, Scope::User) => bail!(
                "a per-user Windows registration names paths in the user's profile (%LOCALAPPDATA%\\twofill), which a .reg file cannot expand: add --system (HKLM, C:\\Program Files\\twofill), or pass --manifest-dir C:\\Users\\NAME\\AppData\\Local\\twofill, or run `twofill-host install` on the Windows machine as that user"
            ),
        };
        validate_target_path(os, "--manifest-dir", &dir)?;
        Some(dir)
    } else {
        None
    };
    let host_path = match host_path {
        Some(p) => p.to_string(),
        None if os == here => this_binary()?,
        None => match os {
            TargetOs::Linux => "/usr/bin/twofill-host".into(),
            TargetOs::Macos => "/usr/local/bin/twofill-host".into(),
            TargetOs::Windows => join(
                os,
                windows_dir.as_deref().expect("set above"),
                "twofill-host.exe",
            ),
        },
    };
    validate_name(&sel.name)?;
    validate_target_path(os, "the host path (--host-path)", &host_path)?;
    Ok(Target {
        os,
        scope,
        name: sel.name.clone(),
        host_path,
        home,
        data_dir,
        windows_dir,
    })
}

/// Which config the host uses, as install and whoami report it.
fn config_line(t: &Target, root: Option<&Path>) -> String {
    let sys = system_config_path(t.os);
    if t.os != TargetOs::current() {
        return format!(
            "config: on the target, {sys} (root/Administrators only) wins over everything users set (TWOFILL_CONFIG, TWOFILL_VAULT)"
        );
    }
    if let Some(r) = root {
        let staged = local(Some(r), &sys).exists();
        return format!(
            "config: {sys} {} in {}; on the target it wins over everything users set (TWOFILL_CONFIG, TWOFILL_VAULT)",
            if staged { "is staged" } else { "is not staged" },
            r.display()
        );
    }
    if Path::new(&sys).exists() {
        format!(
            "config: {sys} (system config, in force for every user: TWOFILL_CONFIG and TWOFILL_VAULT are ignored)"
        )
    } else if let Some(p) = std::env::var_os("TWOFILL_CONFIG").filter(|p| !p.is_empty()) {
        format!(
            "config: {} (TWOFILL_CONFIG; there is no system config at {sys}, so users choose their own)",
            Path::new(&p).display()
        )
    } else {
        format!(
            "config: built-in defaults (there is no system config at {sys}; a managed deployment puts one there, and then users' TWOFILL_CONFIG/TWOFILL_VAULT are ignored)"
        )
    }
}

fn header(plan: &Plan, verb: &str, root: Option<&Path>, print: bool) -> Vec<String> {
    let t = &plan.target;
    let mut lines = vec![format!(
        "{verb} {} for {} ({}){}{}",
        t.name,
        t.os.id(),
        if t.scope == Scope::System {
            "machine-wide"
        } else {
            "per user"
        },
        root.map(|r| format!(", staged under {}", r.display()))
            .unwrap_or_default(),
        if print {
            "; nothing is changed (--print)"
        } else {
            ""
        }
    )];
    lines.push(format!("host:   {}", t.host_path));
    lines.push(config_line(t, root));
    lines
}

fn notes(plan: &Plan) -> Vec<String> {
    let mut lines: Vec<String> = plan
        .notes
        .iter()
        .map(|(b, n)| format!("note: {}: {n}", b.id()))
        .collect();
    let t = &plan.target;
    if t.os == TargetOs::Linux
        && t.scope == Scope::System
        && plan.files.iter().any(|f| f.family == Family::Firefox)
    {
        lines.push("note: firefox: builds that use /usr/lib64 (Fedora, RHEL, openSUSE) read /usr/lib64/mozilla/native-messaging-hosts instead; link the file there".into());
    }
    if t.name != DEFAULT_NAME {
        lines.push(format!(
            "note: the extension asks for {DEFAULT_NAME} unless its NativeHostName policy says {}: set it (and list {} in NativeMessagingAllowlist if you block native hosts)",
            t.name, t.name
        ));
    }
    lines
}

pub fn run_install(args: InstallArgs) -> Result<()> {
    let sel = &args.sel;
    if let Some(udd) = &sel.user_data_dir {
        validate_name(&sel.name)?;
        let host = match &args.host_path {
            Some(p) => PathBuf::from(p),
            None => PathBuf::from(this_binary()?),
        };
        for browser in selected(sel) {
            if sel.print {
                let p = user_data_dir_manifest(browser, udd, &sel.name)?;
                println!("==> {} <==", p.display());
                println!(
                    "{}",
                    render_manifest(
                        browser.family(),
                        &sel.name,
                        host.to_str().context("the host path is not UTF-8")?
                    )?
                );
            } else {
                let p = install_into_profile(browser, udd, &sel.name, &host)?;
                println!("{:<9} wrote {}", browser.id(), p.display());
            }
        }
        return Ok(());
    }
    let t = target(
        sel,
        args.host_path.as_deref(),
        !sel.print && args.out.is_none(),
        args.out.is_some(),
    )?;
    let plan = plan(&t, &selected(sel))?;
    let root = sel.root.as_deref();
    let print = sel.print;
    for l in header(
        &plan,
        "twofill-host install:",
        root,
        print || args.out.is_some(),
    ) {
        println!("{l}");
    }
    if sel.root.is_some() && args.host_path.is_none() {
        println!(
            "note: the manifests name this binary ({}); pass --host-path with where the package puts it",
            t.host_path
        );
    }
    if t.os == TargetOs::current()
        && root.is_none()
        && !print
        && args.out.is_none()
        && !Path::new(&t.host_path).exists()
    {
        println!("note: {} does not exist (yet)", t.host_path);
    }
    if t.os == TargetOs::Windows && (print || args.out.is_some()) {
        let reg = reg_file(&plan, false);
        let unreg = reg_file(&plan, true);
        let ps1 = powershell_script(&plan);
        if let Some(dir) = &args.out {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let mut written = Vec::new();
            let mut put = |name: &str, bytes: &[u8]| -> Result<()> {
                let p = dir.join(name);
                std::fs::write(&p, bytes)
                    .with_context(|| format!("cannot write {}", p.display()))?;
                written.push(p);
                Ok(())
            };
            put("install.reg", &utf16le_with_bom(&reg))?;
            put("uninstall.reg", &utf16le_with_bom(&unreg))?;
            let mut ps = vec![0xEF, 0xBB, 0xBF];
            ps.extend_from_slice(ps1.as_bytes());
            put("install.ps1", &ps)?;
            for f in &plan.files {
                let file = f.path.rsplit('\\').next().unwrap_or(&f.path);
                put(file, f.content.as_bytes())?;
            }
            for p in &written {
                println!("wrote {}", p.display());
            }
        } else {
            println!("==> install.reg <==");
            print!("{}", reg.replace("\r\n", "\n"));
            println!("==> uninstall.reg <==");
            print!("{}", unreg.replace("\r\n", "\n"));
            println!("==> install.ps1 <==");
            print!("{}", ps1.replace("\r\n", "\n"));
            for f in &plan.files {
                println!("==> {} <==", f.path);
                println!("{}", f.content.trim_end());
            }
        }
        for f in &plan.files {
            for &b in &f.browsers {
                println!("{:<9} manifest {}", b.id(), f.path);
            }
        }
        for k in &plan.keys {
            println!(
                "{:<9} key {}\\{}",
                browser_list(&k.browsers),
                k.hive.short(),
                k.key
            );
        }
        println!(
            "next: on the Windows machine run install.ps1{} (or copy the manifests to {} and import install.reg); install.ps1 -Uninstall or uninstall.reg undoes it",
            if t.scope == Scope::System {
                " elevated"
            } else {
                ""
            },
            t.windows_dir.as_deref().unwrap_or("")
        );
    } else if print {
        for f in &plan.files {
            println!("==> {} <== ({})", f.path, browser_list(&f.browsers));
            println!("{}", f.content.trim_end());
        }
        println!("receipt: {}", plan.receipt);
    } else {
        let report = apply(&plan, root)?;
        for l in report.lines {
            println!("{l}");
        }
        println!("receipt: {} (uninstall reads it)", plan.receipt);
    }
    for l in notes(&plan) {
        println!("{l}");
    }
    Ok(())
}

pub fn run_uninstall(args: UninstallArgs) -> Result<()> {
    let sel = &args.sel;
    if let Some(udd) = &sel.user_data_dir {
        validate_name(&sel.name)?;
        for browser in selected(sel) {
            if sel.print {
                let p = user_data_dir_manifest(browser, udd, &sel.name)?;
                println!("{:<9} would remove {}", browser.id(), p.display());
                continue;
            }
            match uninstall_from_profile(browser, udd, &sel.name)? {
                Some(p) => println!("{:<9} removed {}", browser.id(), p.display()),
                None => println!("{:<9} not installed", browser.id()),
            }
        }
        return Ok(());
    }
    // Uninstall needs no real host path; any valid one renders the plan.
    let placeholder = match sel.os.unwrap_or(TargetOs::current()) {
        TargetOs::Windows => "C:\\twofill-host.exe",
        _ => "/twofill-host",
    };
    let t = target(sel, Some(placeholder), !sel.print, false)?;
    let plan = plan(&t, &selected(sel))?;
    let root = sel.root.as_deref();
    let mut head = header(&plan, "twofill-host uninstall:", root, sel.print);
    head.remove(1); // the host path is not used
    for l in head {
        println!("{l}");
    }
    if sel.print {
        if t.os == TargetOs::Windows {
            println!("==> uninstall.reg <==");
            print!("{}", reg_file(&plan, true).replace("\r\n", "\n"));
        }
        for f in &plan.files {
            println!(
                "{:<9} would remove {} (unless another installed browser still reads it)",
                browser_list(&f.browsers),
                f.path
            );
        }
        for k in &plan.keys {
            println!(
                "{:<9} would remove {}\\{}",
                browser_list(&k.browsers),
                k.hive.short(),
                k.key
            );
        }
        println!(
            "and the directories install created, if empty (receipt: {})",
            plan.receipt
        );
        return Ok(());
    }
    let report = remove(&plan, root)?;
    for l in report.lines {
        println!("{l}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(os: TargetOs, scope: Scope) -> Target {
        let windows = os == TargetOs::Windows;
        Target {
            os,
            scope,
            name: DEFAULT_NAME.into(),
            host_path: if windows {
                "C:\\Program Files\\twofill\\twofill-host.exe".into()
            } else {
                "/usr/bin/twofill-host".into()
            },
            home: "/home/ann".into(),
            data_dir: "/home/ann/.local/share".into(),
            windows_dir: windows.then(|| {
                if scope == Scope::System {
                    "C:\\Program Files\\twofill".into()
                } else {
                    "C:\\Users\\ann\\AppData\\Local\\twofill".into()
                }
            }),
        }
    }

    /// The reference's table (enterprise-deployment.md §2.2), browser by
    /// browser; user paths under ~ = /home/ann. Brave and Vivaldi machine-wide
    /// are the fallback (Chrome's directory).
    #[test]
    fn unix_paths_match_the_reference_table() {
        use Browser::*;
        use Scope::*;
        use TargetOs::*;
        let table: &[(TargetOs, Scope, Browser, &str)] = &[
            (
                Macos,
                System,
                Chrome,
                "/Library/Google/Chrome/NativeMessagingHosts/",
            ),
            (
                Macos,
                User,
                Chrome,
                "~/Library/Application Support/Google/Chrome/NativeMessagingHosts/",
            ),
            (
                Linux,
                System,
                Chrome,
                "/etc/opt/chrome/native-messaging-hosts/",
            ),
            (
                Linux,
                User,
                Chrome,
                "~/.config/google-chrome/NativeMessagingHosts/",
            ),
            (
                Macos,
                System,
                Chromium,
                "/Library/Application Support/Chromium/NativeMessagingHosts/",
            ),
            (
                Macos,
                User,
                Chromium,
                "~/Library/Application Support/Chromium/NativeMessagingHosts/",
            ),
            (
                Linux,
                System,
                Chromium,
                "/etc/chromium/native-messaging-hosts/",
            ),
            (
                Linux,
                User,
                Chromium,
                "~/.config/chromium/NativeMessagingHosts/",
            ),
            (
                Macos,
                System,
                Edge,
                "/Library/Microsoft/Edge/NativeMessagingHosts/",
            ),
            (
                Macos,
                User,
                Edge,
                "~/Library/Application Support/Microsoft Edge/NativeMessagingHosts/",
            ),
            (Linux, System, Edge, "/etc/opt/edge/native-messaging-hosts/"),
            (
                Linux,
                User,
                Edge,
                "~/.config/microsoft-edge/NativeMessagingHosts/",
            ),
            (
                Macos,
                System,
                Brave,
                "/Library/Google/Chrome/NativeMessagingHosts/",
            ),
            (
                Macos,
                User,
                Brave,
                "~/Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts/",
            ),
            (
                Linux,
                System,
                Brave,
                "/etc/opt/chrome/native-messaging-hosts/",
            ),
            (
                Linux,
                User,
                Brave,
                "~/.config/BraveSoftware/Brave-Browser/NativeMessagingHosts/",
            ),
            (
                Macos,
                System,
                Vivaldi,
                "/Library/Google/Chrome/NativeMessagingHosts/",
            ),
            (
                Macos,
                User,
                Vivaldi,
                "~/Library/Application Support/Vivaldi/NativeMessagingHosts/",
            ),
            (
                Linux,
                System,
                Vivaldi,
                "/etc/opt/chrome/native-messaging-hosts/",
            ),
            (
                Linux,
                User,
                Vivaldi,
                "~/.config/vivaldi/NativeMessagingHosts/",
            ),
            (
                Macos,
                System,
                Firefox,
                "/Library/Application Support/Mozilla/NativeMessagingHosts/",
            ),
            (
                Macos,
                User,
                Firefox,
                "~/Library/Application Support/Mozilla/NativeMessagingHosts/",
            ),
            (
                Linux,
                System,
                Firefox,
                "/usr/lib/mozilla/native-messaging-hosts/",
            ),
            (Linux, User, Firefox, "~/.mozilla/native-messaging-hosts/"),
        ];
        assert_eq!(table.len(), 2 * 2 * Browser::ALL.len(), "every cell");
        for &(os, scope, browser, dir) in table {
            let p = plan(&target(os, scope), &[browser]).unwrap();
            assert_eq!(p.files.len(), 1);
            assert!(p.keys.is_empty());
            let want = format!("{}com.twofill.host.json", dir.replace("~", "/home/ann"));
            assert_eq!(p.files[0].path, want, "{os:?} {scope:?} {browser:?}");
            assert_eq!(p.files[0].family, browser.family());
            let fallback = matches!(browser, Brave | Vivaldi) && scope == System;
            assert_eq!(
                !p.notes.is_empty(),
                fallback,
                "a fallback location says so: {os:?} {scope:?} {browser:?}"
            );
        }
    }

    /// §2.1: one key per browser under HKLM/HKCU; Brave and Vivaldi get their
    /// own key and Chrome's; Firefox's points at the Firefox manifest.
    #[test]
    fn windows_keys_match_the_reference_table() {
        use Browser::*;
        let table: &[(Browser, &[&str])] = &[
            (Chrome, &["Google\\Chrome"]),
            (Chromium, &["Chromium"]),
            (Edge, &["Microsoft\\Edge"]),
            (Brave, &["BraveSoftware\\Brave-Browser", "Google\\Chrome"]),
            (Vivaldi, &["Vivaldi", "Google\\Chrome"]),
            (Firefox, &["Mozilla"]),
        ];
        assert_eq!(table.len(), Browser::ALL.len());
        for (scope, hive, dir) in [
            (Scope::System, Hive::Hklm, "C:\\Program Files\\twofill"),
            (
                Scope::User,
                Hive::Hkcu,
                "C:\\Users\\ann\\AppData\\Local\\twofill",
            ),
        ] {
            for &(browser, vendors) in table {
                let p = plan(&target(TargetOs::Windows, scope), &[browser]).unwrap();
                let keys: Vec<String> = p
                    .keys
                    .iter()
                    .map(|k| {
                        assert_eq!(k.hive, hive);
                        k.key.clone()
                    })
                    .collect();
                let want: Vec<String> = vendors
                    .iter()
                    .map(|v| format!("SOFTWARE\\{v}\\NativeMessagingHosts\\com.twofill.host"))
                    .collect();
                assert_eq!(keys, want, "{browser:?}");
                let manifest = if browser == Firefox {
                    format!("{dir}\\com.twofill.host.firefox.json")
                } else {
                    format!("{dir}\\com.twofill.host.json")
                };
                assert!(p.keys.iter().all(|k| k.manifest == manifest));
                assert_eq!(p.files.len(), 1);
                assert_eq!(p.files[0].path, manifest);
                assert_eq!(
                    p.notes.is_empty(),
                    !matches!(browser, Brave | Vivaldi),
                    "{browser:?}"
                );
            }
        }
    }

    #[test]
    fn shared_locations_become_one_file_and_one_key() {
        let p = plan(&target(TargetOs::Linux, Scope::System), &Browser::ALL).unwrap();
        assert_eq!(
            p.files.len(),
            4,
            "chromium, chrome(+brave+vivaldi), edge, firefox"
        );
        let chrome = p
            .file("/etc/opt/chrome/native-messaging-hosts/com.twofill.host.json")
            .unwrap();
        assert_eq!(
            chrome.browsers,
            vec![Browser::Chrome, Browser::Brave, Browser::Vivaldi]
        );
        let w = plan(&target(TargetOs::Windows, Scope::System), &Browser::ALL).unwrap();
        assert_eq!(w.files.len(), 2, "one manifest per family");
        assert_eq!(
            w.keys.len(),
            6,
            "chromium, chrome, edge, brave, vivaldi, mozilla"
        );
        let chrome_key = w
            .keys
            .iter()
            .find(|k| k.key.starts_with("SOFTWARE\\Google\\Chrome\\"))
            .unwrap();
        assert_eq!(
            chrome_key.browsers,
            vec![Browser::Chrome, Browser::Brave, Browser::Vivaldi]
        );
    }

    #[test]
    fn receipts_live_with_the_hosts_state() {
        let r = |os, scope| {
            plan(&target(os, scope), &[Browser::Chrome])
                .unwrap()
                .receipt
        };
        assert_eq!(
            r(TargetOs::Linux, Scope::System),
            "/var/lib/twofill/com.twofill.host.install.json"
        );
        assert_eq!(
            r(TargetOs::Linux, Scope::User),
            "/home/ann/.local/share/twofill/com.twofill.host.install.json"
        );
        assert_eq!(
            r(TargetOs::Macos, Scope::System),
            "/Library/Application Support/twofill/com.twofill.host.install.json"
        );
        assert_eq!(
            r(TargetOs::Windows, Scope::System),
            "C:\\Program Files\\twofill\\com.twofill.host.install.json"
        );
    }

    #[test]
    fn chromium_manifest_names_our_origin_and_path() {
        let text =
            render_manifest(Family::Chromium, DEFAULT_NAME, "/opt/twofill/twofill-host").unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["name"], twofill_protocol::HOST_NAME);
        assert_eq!(v["type"], "stdio");
        assert_eq!(v["path"], "/opt/twofill/twofill-host");
        let origin = format!("chrome-extension://{}/", CHROMIUM_EXTENSION_ID.trim());
        assert_eq!(v["allowed_origins"], serde_json::json!([origin]));
        assert!(v.get("allowed_extensions").is_none());
    }

    #[test]
    fn firefox_manifest_names_addon_id() {
        let text = render_manifest(Family::Firefox, "com.acme.otp", "/o/p \"q\"").unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["name"], "com.acme.otp");
        assert_eq!(
            v["allowed_extensions"],
            serde_json::json!([GECKO_EXTENSION_ID])
        );
        assert_eq!(v["path"], "/o/p \"q\"", "paths are JSON-escaped");
        assert!(v.get("allowed_origins").is_none());
    }

    #[test]
    fn windows_paths_are_json_escaped() {
        let text = render_manifest(
            Family::Chromium,
            DEFAULT_NAME,
            "C:\\Program Files\\Acme Corp\\twofill-host.exe",
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["path"], "C:\\Program Files\\Acme Corp\\twofill-host.exe");
    }

    #[test]
    fn host_names_follow_chromiums_rule() {
        for ok in ["com.twofill.host", "a", "a_b.c9", "com.example.twofill"] {
            validate_name(ok).unwrap();
        }
        for (bad, says) in [
            ("", "empty"),
            ("Com.Acme.Host", "uppercase"),
            ("com-acme", "characters other than"),
            (".com.acme", "starts or ends"),
            ("com.acme.", "starts or ends"),
            ("com..acme", "'..'"),
            ("com acme", "characters other than"),
            ("com/acme", "characters other than"),
        ] {
            let e = validate_name(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
            assert!(e.contains("NativeHostName"), "{e}");
        }
        let e = validate_name("Com.Acme.Host").unwrap_err().to_string();
        assert!(e.contains("--name com.acme.host"), "suggests a fix: {e}");
        let e = validate_name("x".repeat(129).as_str())
            .unwrap_err()
            .to_string();
        assert!(e.contains("128"), "{e}");
    }

    #[test]
    fn host_paths_must_be_absolute_for_the_target() {
        let mut t = target(TargetOs::Linux, Scope::System);
        t.host_path = "twofill-host".into();
        assert!(plan(&t, &[Browser::Chrome]).is_err());
        let mut t = target(TargetOs::Windows, Scope::System);
        t.host_path = "/usr/bin/twofill-host".into();
        assert!(plan(&t, &[Browser::Chrome]).is_err());
        t.host_path = "C:\\a\"b\\h.exe".into();
        assert!(plan(&t, &[Browser::Chrome]).is_err());
        t.host_path = "\\\\server\\share\\twofill-host.exe".into();
        assert!(plan(&t, &[Browser::Chrome]).is_ok());
    }

    #[test]
    fn reg_exe_arguments() {
        let p = plan(&target(TargetOs::Windows, Scope::System), &[Browser::Edge]).unwrap();
        assert_eq!(
            reg_exe_args(&p.keys[0], true),
            [
                "add",
                "HKLM\\SOFTWARE\\Microsoft\\Edge\\NativeMessagingHosts\\com.twofill.host",
                "/ve",
                "/t",
                "REG_SZ",
                "/d",
                "C:\\Program Files\\twofill\\com.twofill.host.json",
                "/f",
                "/reg:64"
            ]
        );
        assert_eq!(reg_exe_args(&p.keys[0], false)[0], "delete");
    }

    #[test]
    fn parents_of_target_paths() {
        assert_eq!(parent(TargetOs::Linux, "/etc/a/b.json"), Some("/etc/a"));
        assert_eq!(parent(TargetOs::Linux, "/etc"), Some("/"));
        assert_eq!(parent(TargetOs::Linux, "/"), None);
        assert_eq!(
            parent(TargetOs::Windows, "C:\\Program Files\\twofill\\x.json"),
            Some("C:\\Program Files\\twofill")
        );
        assert_eq!(parent(TargetOs::Windows, "C:\\Program Files"), None);
    }

    #[test]
    fn user_data_dir_install_and_uninstall() {
        let dir = tempfile::tempdir().unwrap();
        let p = install_into_profile(
            Browser::Chromium,
            dir.path(),
            DEFAULT_NAME,
            Path::new("/bin/true"),
        )
        .unwrap();
        assert_eq!(
            p,
            dir.path()
                .join("NativeMessagingHosts/com.twofill.host.json")
        );
        assert!(p.exists());
        assert_eq!(
            uninstall_from_profile(Browser::Chromium, dir.path(), DEFAULT_NAME).unwrap(),
            Some(p.clone())
        );
        assert!(!p.exists());
        assert_eq!(
            uninstall_from_profile(Browser::Chromium, dir.path(), DEFAULT_NAME).unwrap(),
            None
        );
        assert!(
            install_into_profile(
                Browser::Firefox,
                dir.path(),
                DEFAULT_NAME,
                Path::new("/bin/true")
            )
            .is_err()
        );
    }
}
