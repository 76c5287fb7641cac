//! The plan: what goes where on the target machine, computed without
//! touching anything.
//!
//! [`plan`] turns a [`Target`] and a list of browsers into the manifest files
//! and (on Windows) registry keys to write, and where the receipt goes.
//! Browsers that share a location share one entry (Chrome, Brave and Vivaldi
//! share Chrome's machine-wide directory on Linux and macOS, and Chrome's key
//! on Windows). `--print`, the Windows files, [`apply`] and [`remove`] all
//! work from a plan, so what is shown is what is done.
//!
//! [`apply`]: fn@crate::apply::apply
//! [`remove`]: fn@crate::apply::remove

use anyhow::{Context, Result};

use crate::manifest::render_manifest;
use crate::paths::{
    Browser, Family, Hive, InstallScope, TargetOs, fallback_note, is_documented, join,
    manifest_dir, registry_vendors, validate_name, validate_target_path,
};

/// Everything that decides where things go on the target machine.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub os: TargetOs,
    pub scope: InstallScope,
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
pub(crate) struct ManifestFile {
    /// Path on the target machine.
    pub path: String,
    pub family: Family,
    pub content: String,
    /// The selected browsers that read it.
    pub browsers: Vec<Browser>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegistryKey {
    pub hive: Hive,
    /// `SOFTWARE\…\NativeMessagingHosts\<name>`.
    pub key: String,
    /// The default value: the manifest's path.
    pub manifest: String,
    pub browsers: Vec<Browser>,
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
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
    pub(crate) fn file(&self, path: &str) -> Option<&ManifestFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// Adds `b` to a list of browsers unless it is there already.
pub(crate) fn add_browser(list: &mut Vec<Browser>, b: Browser) {
    if !list.contains(&b) {
        list.push(b);
    }
}

/// `chrome, brave, vivaldi`: who a file or key is for, in the output.
pub(crate) fn browser_list(browsers: &[Browser]) -> String {
    browsers
        .iter()
        .map(|b| b.id())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn plan(target: &Target, browsers: &[Browser]) -> Result<Plan> {
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
                    InstallScope::System => dir.to_string(),
                    InstallScope::User => join(os, &target.home, dir),
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
                InstallScope::System => Hive::Hklm,
                InstallScope::User => Hive::Hkcu,
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
        (TargetOs::Linux, InstallScope::System) => "/var/lib/twofill".into(),
        (TargetOs::Macos, InstallScope::System) => "/Library/Application Support/twofill".into(),
        (_, InstallScope::User) => join(os, &target.data_dir, "twofill"),
    };
    Ok(Plan {
        target: target.clone(),
        files,
        keys,
        notes,
        receipt: join(os, &receipt_dir, &format!("{}.install.json", target.name)),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::DEFAULT_NAME;
    use twofill_words::HOST_NAME;

    /// A target machine for the tests: ann's home, the default name, the
    /// usual host path.
    pub(crate) fn target(os: TargetOs, scope: InstallScope) -> Target {
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
                if scope == InstallScope::System {
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
        use InstallScope::*;
        use TargetOs::*;
        let table: &[(TargetOs, InstallScope, Browser, &str)] = &[
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
            let want = format!("{}{HOST_NAME}.json", dir.replace("~", "/home/ann"));
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
            (
                InstallScope::System,
                Hive::Hklm,
                "C:\\Program Files\\twofill",
            ),
            (
                InstallScope::User,
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
                    .map(|v| format!("SOFTWARE\\{v}\\NativeMessagingHosts\\{HOST_NAME}"))
                    .collect();
                assert_eq!(keys, want, "{browser:?}");
                let manifest = if browser == Firefox {
                    format!("{dir}\\{HOST_NAME}.firefox.json")
                } else {
                    format!("{dir}\\{HOST_NAME}.json")
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
        let p = plan(
            &target(TargetOs::Linux, InstallScope::System),
            &Browser::ALL,
        )
        .unwrap();
        assert_eq!(
            p.files.len(),
            4,
            "chromium, chrome(+brave+vivaldi), edge, firefox"
        );
        let chrome = p
            .file(&format!(
                "/etc/opt/chrome/native-messaging-hosts/{HOST_NAME}.json"
            ))
            .unwrap();
        assert_eq!(
            chrome.browsers,
            vec![Browser::Chrome, Browser::Brave, Browser::Vivaldi]
        );
        let w = plan(
            &target(TargetOs::Windows, InstallScope::System),
            &Browser::ALL,
        )
        .unwrap();
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
            r(TargetOs::Linux, InstallScope::System),
            format!("/var/lib/twofill/{HOST_NAME}.install.json")
        );
        assert_eq!(
            r(TargetOs::Linux, InstallScope::User),
            format!("/home/ann/.local/share/twofill/{HOST_NAME}.install.json")
        );
        assert_eq!(
            r(TargetOs::Macos, InstallScope::System),
            format!("/Library/Application Support/twofill/{HOST_NAME}.install.json")
        );
        assert_eq!(
            r(TargetOs::Windows, InstallScope::System),
            format!("C:\\Program Files\\twofill\\{HOST_NAME}.install.json")
        );
    }

    #[test]
    fn host_paths_must_be_absolute_for_the_target() {
        let mut t = target(TargetOs::Linux, InstallScope::System);
        t.host_path = "twofill-host".into();
        assert!(plan(&t, &[Browser::Chrome]).is_err());
        let mut t = target(TargetOs::Windows, InstallScope::System);
        t.host_path = "/usr/bin/twofill-host".into();
        assert!(plan(&t, &[Browser::Chrome]).is_err());
        t.host_path = "C:\\a\"b\\h.exe".into();
        assert!(plan(&t, &[Browser::Chrome]).is_err());
        t.host_path = "\\\\server\\share\\twofill-host.exe".into();
        assert!(plan(&t, &[Browser::Chrome]).is_ok());
    }
}
