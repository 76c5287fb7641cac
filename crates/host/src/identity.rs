//! Who is asking: the user (for grants and the audit log) and, best
//! effort, which browser launched the host.

use anyhow::{Result, bail};

use crate::config::UserSource;

/// The current user's name per the configured source.
pub fn current_user(source: &UserSource) -> Result<String> {
    match source {
        UserSource::Os => os_user(),
        UserSource::Env(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
            _ => bail!("the twofill config takes the user from ${var}, which is not set"),
        },
    }
}

/// Why `user`, as `source` named it, cannot be trusted with admin changes,
/// seeds and recovery codes on the vault `settings` names (`None`: it can).
///
/// The OS account is the real uid, which nobody sets. An environment
/// variable is set by whoever starts the host, so it is trusted only where
/// it gives nothing away: when it names the OS account itself, or when the
/// person running the host already holds everything the vault holds — they
/// own the vault file, or opened a database with key material of their own
/// — and the host has no privileges of its own (not setuid or setgid).
/// Anyone else naming a user that way gets that user's codes, no more.
pub fn unverified_reason(
    source: &UserSource,
    user: &str,
    settings: &crate::config::Settings,
) -> Option<String> {
    let UserSource::Env(var) = source else {
        return None;
    };
    if os_user().is_ok_and(|me| me == user) {
        return None;
    }
    #[cfg(unix)]
    {
        // SAFETY: these have no preconditions and cannot fail.
        let privileged =
            unsafe { libc::geteuid() != libc::getuid() || libc::getegid() != libc::getgid() };
        if privileged {
            return Some(format!(
                "the config takes the user from ${var}, which whoever starts twofill-host can set, and this twofill-host runs with privileges its user lacks (setuid or setgid)"
            ));
        }
    }
    // Opening a database took the person's own key file, keyring entry or
    // passphrase: they hold its data key.
    if settings.vault_database_url().is_some() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let me = unsafe { libc::getuid() };
        // A vault still to be made is judged by its directory.
        let owner = std::fs::metadata(&settings.vault)
            .or_else(|_| std::fs::metadata(settings.vault.parent().unwrap_or(".".as_ref())))
            .map(|m| m.uid());
        if owner.is_ok_and(|uid| uid == me) {
            return None;
        }
    }
    Some(format!(
        "the config takes the user from ${var}, which whoever starts twofill-host can set, and the vault {} belongs to another account",
        settings.vault.display()
    ))
}

#[cfg(unix)]
fn os_user() -> Result<String> {
    // The real uid (not $USER, which anyone can set) mapped through the
    // password database.
    let uid = unsafe { libc::getuid() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return Ok(format!("uid{uid}"));
    }
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Ok(name.to_string_lossy().into_owned())
}

#[cfg(not(unix))]
fn os_user() -> Result<String> {
    use anyhow::Context;
    std::env::var("USERNAME").context("cannot determine the current user (USERNAME is not set)")
}

/// The browser that launched us, from the parent process (Linux only;
/// elsewhere `None`). Only for the audit log: never used for decisions.
pub fn launching_browser() -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let ppid = std::os::unix::process::parent_id();
        let exe = std::fs::read_link(format!("/proc/{ppid}/exe")).ok()?;
        let name = exe.file_name()?.to_string_lossy().to_lowercase();
        let known = [
            ("firefox", "firefox"),
            ("msedge", "edge"),
            ("brave", "brave"),
            ("vivaldi", "vivaldi"),
            ("chrome", "chrome"),
            ("chromium", "chromium"),
        ];
        let path = exe.to_string_lossy().to_lowercase();
        known
            .iter()
            .find(|(needle, _)| name.contains(needle) || path.contains(&format!("/{needle}")))
            .map(|(_, b)| (*b).to_owned())
            .or(Some(name))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// This computer's name, for the device list on the team server.
pub fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).trim().to_owned();
            if !name.is_empty() {
                return name;
            }
        }
    }
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| "this computer".into())
}
