//! Registering the host with browsers: writing the host manifest where each
//! browser looks for it.
//!
//! The manifests are the templates in `host-manifests/`, filled in here, so
//! what admins read in the repository is exactly what gets installed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;

use crate::caller::{CHROMIUM_EXTENSION_ID, GECKO_EXTENSION_ID};

const CHROMIUM_TEMPLATE: &str = include_str!("../../../host-manifests/chromium.json");
const FIREFOX_TEMPLATE: &str = include_str!("../../../host-manifests/firefox.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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

    fn is_firefox(self) -> bool {
        self == Browser::Firefox
    }

    /// Per-user manifest directory, relative to the home directory.
    fn user_dir(self) -> &'static str {
        if cfg!(target_os = "macos") {
            match self {
                Browser::Chromium => "Library/Application Support/Chromium/NativeMessagingHosts",
                Browser::Chrome => "Library/Application Support/Google/Chrome/NativeMessagingHosts",
                Browser::Edge => "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
                Browser::Brave => {
                    "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts"
                }
                Browser::Vivaldi => "Library/Application Support/Vivaldi/NativeMessagingHosts",
                Browser::Firefox => "Library/Application Support/Mozilla/NativeMessagingHosts",
            }
        } else {
            match self {
                Browser::Chromium => ".config/chromium/NativeMessagingHosts",
                Browser::Chrome => ".config/google-chrome/NativeMessagingHosts",
                Browser::Edge => ".config/microsoft-edge/NativeMessagingHosts",
                Browser::Brave => ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
                Browser::Vivaldi => ".config/vivaldi/NativeMessagingHosts",
                Browser::Firefox => ".mozilla/native-messaging-hosts",
            }
        }
    }
}

/// Fills the browser family's template for a host binary at `host_path`.
pub fn render_manifest(browser: Browser, host_path: &Path) -> Result<String> {
    let path = host_path
        .to_str()
        .context("the host path is not valid UTF-8; install the binary under a UTF-8 path")?;
    let path_json = serde_json::to_string(path)?;
    let path_json = &path_json[1..path_json.len() - 1];
    let text = if browser.is_firefox() {
        FIREFOX_TEMPLATE.replace(
            "{{ALLOWED_EXTENSIONS}}",
            &serde_json::to_string(GECKO_EXTENSION_ID)?,
        )
    } else {
        CHROMIUM_TEMPLATE.replace(
            "{{ALLOWED_ORIGINS}}",
            &serde_json::to_string(&format!(
                "chrome-extension://{}/",
                CHROMIUM_EXTENSION_ID.trim()
            ))?,
        )
    }
    .replace("{{HOST_PATH}}", path_json);
    // The template must still be valid JSON after substitution.
    serde_json::from_str::<serde_json::Value>(&text).context("rendered manifest is not JSON")?;
    Ok(text)
}

/// Where the manifest goes: `<user-data-dir>/NativeMessagingHosts` when a
/// Chromium profile directory is given, else the browser's per-user folder.
pub fn manifest_path(browser: Browser, user_data_dir: Option<&Path>) -> Result<PathBuf> {
    let dir = match user_data_dir {
        Some(_) if browser.is_firefox() => bail!(
            "--user-data-dir applies to Chromium-family browsers; Firefox reads host manifests from ~/.mozilla/native-messaging-hosts only"
        ),
        Some(udd) => udd.join("NativeMessagingHosts"),
        None => {
            if cfg!(windows) {
                bail!(
                    "on Windows hosts are registered in the registry; this build cannot write it yet"
                );
            }
            dirs::home_dir()
                .context("cannot find the home directory")?
                .join(browser.user_dir())
        }
    };
    Ok(dir.join(format!("{}.json", twofill_protocol::HOST_NAME)))
}

pub fn install(
    browser: Browser,
    user_data_dir: Option<&Path>,
    host_path: &Path,
) -> Result<PathBuf> {
    let target = manifest_path(browser, user_data_dir)?;
    let text = render_manifest(browser, host_path)?;
    let dir = target.parent().expect("manifest path has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(&target, text).with_context(|| format!("cannot write {}", target.display()))?;
    Ok(target)
}

pub fn uninstall(browser: Browser, user_data_dir: Option<&Path>) -> Result<Option<PathBuf>> {
    let target = manifest_path(browser, user_data_dir)?;
    match std::fs::remove_file(&target) {
        Ok(()) => Ok(Some(target)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", target.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_manifest_names_our_origin_and_path() {
        let text =
            render_manifest(Browser::Chromium, Path::new("/opt/twofill/twofill-host")).unwrap();
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
        let text = render_manifest(Browser::Firefox, Path::new("/o/p \"q\"")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["allowed_extensions"],
            serde_json::json!([GECKO_EXTENSION_ID])
        );
        assert_eq!(v["path"], "/o/p \"q\"", "paths are JSON-escaped");
        assert!(v.get("allowed_origins").is_none());
    }

    #[test]
    fn user_data_dir_install_and_uninstall() {
        let dir = tempfile::tempdir().unwrap();
        let p = install(Browser::Chromium, Some(dir.path()), Path::new("/bin/true")).unwrap();
        assert_eq!(
            p,
            dir.path()
                .join("NativeMessagingHosts/com.twofill.host.json")
        );
        assert!(p.exists());
        assert_eq!(
            uninstall(Browser::Chromium, Some(dir.path())).unwrap(),
            Some(p.clone())
        );
        assert!(!p.exists());
        assert_eq!(
            uninstall(Browser::Chromium, Some(dir.path())).unwrap(),
            None
        );
        assert!(install(Browser::Firefox, Some(dir.path()), Path::new("/bin/true")).is_err());
    }
}
