//! The vocabulary of a registration — browsers, target OSes, scopes and
//! registry hives — and where each browser looks for host manifests.
//!
//! This is the table docs/admin-guide.md repeats (the enterprise-deployment
//! reference §2): the directories on Linux and macOS ([`manifest_dir`]), the
//! registry vendors on Windows ([`registry_vendors`]), and which of those
//! locations are documented by the browser's vendor and which are fallbacks
//! ([`is_documented`]). It also holds the rules for host names and for paths
//! on the target machine, which may be another OS than this one, so paths
//! here are strings joined with the target's separator, not `Path`s.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail, ensure};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

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
    pub(crate) fn id(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Chrome => "chrome",
            Browser::Edge => "edge",
            Browser::Brave => "brave",
            Browser::Vivaldi => "vivaldi",
            Browser::Firefox => "firefox",
        }
    }

    pub(crate) fn family(self) -> Family {
        if self == Browser::Firefox {
            Family::Firefox
        } else {
            Family::Chromium
        }
    }
}

/// Which manifest template a browser takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
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
    pub(crate) fn current() -> TargetOs {
        if cfg!(windows) {
            TargetOs::Windows
        } else if cfg!(target_os = "macos") {
            TargetOs::Macos
        } else {
            TargetOs::Linux
        }
    }

    pub(crate) fn id(self) -> &'static str {
        match self {
            TargetOs::Linux => "linux",
            TargetOs::Macos => "macos",
            TargetOs::Windows => "windows",
        }
    }

    pub(crate) fn sep(self) -> char {
        if self == TargetOs::Windows { '\\' } else { '/' }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstallScope {
    User,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Hive {
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
pub(crate) fn fallback_note(browser: Browser, os: TargetOs) -> String {
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
pub(crate) fn manifest_dir(
    os: TargetOs,
    scope: InstallScope,
    browser: Browser,
) -> Option<&'static str> {
    use Browser::*;
    Some(match (os, scope) {
        (TargetOs::Windows, _) => return None,
        (TargetOs::Linux, InstallScope::System) => match browser {
            Chrome | Brave | Vivaldi => "/etc/opt/chrome/native-messaging-hosts",
            Chromium => "/etc/chromium/native-messaging-hosts",
            Edge => "/etc/opt/edge/native-messaging-hosts",
            Firefox => "/usr/lib/mozilla/native-messaging-hosts",
        },
        (TargetOs::Linux, InstallScope::User) => match browser {
            Chrome => ".config/google-chrome/NativeMessagingHosts",
            Chromium => ".config/chromium/NativeMessagingHosts",
            Edge => ".config/microsoft-edge/NativeMessagingHosts",
            Brave => ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
            Vivaldi => ".config/vivaldi/NativeMessagingHosts",
            Firefox => ".mozilla/native-messaging-hosts",
        },
        (TargetOs::Macos, InstallScope::System) => match browser {
            Chrome | Brave | Vivaldi => "/Library/Google/Chrome/NativeMessagingHosts",
            Chromium => "/Library/Application Support/Chromium/NativeMessagingHosts",
            Edge => "/Library/Microsoft/Edge/NativeMessagingHosts",
            Firefox => "/Library/Application Support/Mozilla/NativeMessagingHosts",
        },
        (TargetOs::Macos, InstallScope::User) => match browser {
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
pub(crate) fn is_documented(os: TargetOs, scope: InstallScope, browser: Browser) -> bool {
    match browser {
        Browser::Brave | Browser::Vivaldi => os != TargetOs::Windows && scope == InstallScope::User,
        _ => true,
    }
}

/// The vendor paths under `SOFTWARE\` whose `NativeMessagingHosts\<name>` key
/// a browser reads on Windows (HKCU per user, HKLM machine-wide).
pub(crate) fn registry_vendors(browser: Browser) -> &'static [&'static str] {
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

/// Where the host's system config lives on this machine: the file admins
/// deploy and the host reads first (`twofill-host`'s `config.rs`). A package
/// build may move it with `TWOFILL_SYSTEM_CONFIG` at compile time.
pub fn system_config_path() -> PathBuf {
    if let Some(p) = option_env!("TWOFILL_SYSTEM_CONFIG") {
        return p.into();
    }
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        Path::new(&base).join("twofill").join("host.toml")
    } else if cfg!(target_os = "macos") {
        "/Library/Application Support/twofill/host.toml".into()
    } else {
        "/etc/twofill/host.toml".into()
    }
}

/// Where the host's system config lives on `os`, as the install output
/// names it.
pub(crate) fn system_config_path_on(os: TargetOs) -> String {
    if os == TargetOs::current() {
        return system_config_path().display().to_string();
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
pub(crate) fn validate_name(name: &str) -> Result<()> {
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
pub(crate) fn validate_target_path(os: TargetOs, what: &str, path: &str) -> Result<()> {
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

pub(crate) fn join(os: TargetOs, dir: &str, name: &str) -> String {
    let sep = os.sep();
    if dir.ends_with(sep) {
        format!("{dir}{name}")
    } else {
        format!("{dir}{sep}{name}")
    }
}

pub(crate) fn parent(os: TargetOs, path: &str) -> Option<&str> {
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
pub(crate) fn plain_path(p: &Path) -> String {
    let s = p.display().to_string();
    match s.strip_prefix("\\\\?\\") {
        Some(rest) if !rest.starts_with("UNC\\") => rest.to_string(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twofill_words::HOST_NAME;

    #[test]
    fn host_names_follow_chromiums_rule() {
        for ok in [HOST_NAME, "a", "a_b.c9", "com.example.twofill"] {
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
}
