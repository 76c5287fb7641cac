//! Registering twofill's native host with browsers: the host manifest where
//! each browser looks for it, per user or machine-wide, on Linux, macOS and
//! Windows.
//!
//! Deployment is its own crate, apart from serving: the native-messaging
//! loop never needs any of this, and this crate knows no vault. It also owns
//! where the host's system config lives ([`system_config_path`]), the file
//! admins deploy.
//!
//! The manifests are the templates in `host-manifests/`, filled in here, so
//! what admins read in the repository is exactly what gets installed. One
//! manifest per browser family: Chromium-based browsers get
//! `allowed_origins`, Firefox gets `allowed_extensions`.
//!
//! Where each browser looks (docs/admin-guide.md has the same table):
//!
//! - Linux and macOS: `<dir>/<name>.json`, the directories in
//!   `paths::manifest_dir`. Brave and Vivaldi document no machine-wide directory;
//!   machine-wide they get Chrome's, the fallback they reportedly read, and
//!   the output says so.
//! - Windows: the manifest files go to one folder (`%ProgramFiles%\twofill`
//!   machine-wide, `%LOCALAPPDATA%\twofill` per user) and each browser gets a
//!   registry key `HKLM|HKCU\SOFTWARE\<vendor>\NativeMessagingHosts\<name>`
//!   whose default value is the manifest's path (`paths::registry_vendors`; Brave
//!   and Vivaldi get their own key and Chrome's). A Windows build writes the
//!   keys with `reg.exe`; any build renders them as a `.reg` file and a
//!   PowerShell script (`--os windows --print` or `--out DIR`).
//!
//! `install` records what it wrote — files, registry keys, and the
//! directories it had to create — in a receipt next to the host's state
//! (`Plan::receipt`); `uninstall` removes exactly that: a file or key only
//! when no browser still registered needs it (Chrome, Brave and Vivaldi
//! share Chrome's machine-wide location), a directory only if install created
//! it and it is empty.
//!
//! The code is split by what it owns:
//!
//! - `paths.rs`: browsers, target OSes, scopes and hives; where each browser
//!   looks, and which locations are fallbacks; host-name and path rules.
//! - `manifest.rs`: the manifest templates, filled in.
//! - `plan.rs`: what goes where, computed without touching anything.
//! - `windows.rs`: `.reg` files, the PowerShell script, `reg.exe`.
//! - `apply.rs`: carrying out a plan on this machine, and the receipt.
//! - `profile.rs`: `--user-data-dir`, one Chromium profile.
//! - `cli.rs`: the `twofill-host install|uninstall` command line (its
//!   options and output); the host binary only hands its arguments here.

mod apply;
mod cli;
mod manifest;
mod paths;
mod plan;
mod profile;
mod windows;

pub use self::cli::{InstallArgs, Selection, UninstallArgs, run_install, run_uninstall};
pub use self::paths::{Browser, TargetOs, system_config_path};

/// The name the extension looks for unless its `NativeHostName` policy
/// names another.
pub const DEFAULT_NAME: &str = twofill_words::HOST_NAME;
