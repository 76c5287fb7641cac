//! `--user-data-dir`: one Chromium profile, as the tests and a developer use
//! it. The manifest goes to `<user-data-dir>/NativeMessagingHosts/<name>.json`
//! and the user's and the machine's registrations are left alone. There is no
//! receipt (the one file is all there is to remove), and no Firefox (it reads
//! host manifests from `~/.mozilla/native-messaging-hosts` only).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use crate::manifest::render_manifest;
use crate::paths::{Browser, Family, validate_name};

pub(crate) fn user_data_dir_manifest(browser: Browser, udd: &Path, name: &str) -> Result<PathBuf> {
    ensure!(
        browser.family() == Family::Chromium,
        "--user-data-dir applies to Chromium-family browsers; Firefox reads host manifests from ~/.mozilla/native-messaging-hosts only"
    );
    Ok(udd
        .join("NativeMessagingHosts")
        .join(format!("{name}.json")))
}

pub(crate) fn install_into_profile(
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

pub(crate) fn uninstall_from_profile(
    browser: Browser,
    udd: &Path,
    name: &str,
) -> Result<Option<PathBuf>> {
    let target = user_data_dir_manifest(browser, udd, name)?;
    match std::fs::remove_file(&target) {
        Ok(()) => Ok(Some(target)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", target.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_NAME;
    use twofill_words::HOST_NAME;

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
                .join(format!("NativeMessagingHosts/{HOST_NAME}.json"))
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
