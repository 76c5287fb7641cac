//! The `twofill-host install|uninstall` command line: its options, turning
//! them into a [`Target`], and what it prints. The host binary only hands
//! its arguments here.

/// Writes to standard output through `?`, so a reader that went away (a
/// closed pipe) ends the command with an `io::Error` the caller can tell
/// apart (`twofill-host` exits cleanly on it) instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => {
        write!(std::io::stdout(), $($arg)*)?
    };
}

/// [`out!`] with a newline.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout(), $($arg)*)?
    };
}

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;

use crate::apply::{apply, local, remove};
use crate::manifest::render_manifest;
use crate::paths::{
    Family, InstallScope, join, plain_path, system_config_path_on, validate_name,
    validate_target_path,
};
use crate::plan::{Plan, Target, add_browser, browser_list, plan};
use crate::profile::{install_into_profile, uninstall_from_profile, user_data_dir_manifest};
use crate::windows::{powershell_script, reg_file, utf16le_with_bom};

use crate::DEFAULT_NAME;
use crate::paths::{Browser, TargetOs};

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
        InstallScope::System
    } else {
        InstallScope::User
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
    let (home, data_dir) = if os == here && os != TargetOs::Windows && scope == InstallScope::User {
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
            (None, InstallScope::System) if os == here => {
                let base =
                    std::env::var("ProgramFiles").unwrap_or_else(|_| "C:\\Program Files".into());
                format!("{base}\\twofill")
            }
            (None, InstallScope::User) if os == here => {
                let base = std::env::var("LOCALAPPDATA")
                    .context("LOCALAPPDATA is not set; pass --manifest-dir")?;
                format!("{base}\\twofill")
            }
            (None, InstallScope::System) => "C:\\Program Files\\twofill".into(),
            (None, InstallScope::User) => bail!(
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
    let sys = system_config_path_on(t.os);
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
        if t.scope == InstallScope::System {
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
        && t.scope == InstallScope::System
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
                outln!("==> {} <==", p.display());
                outln!(
                    "{}",
                    render_manifest(
                        browser.family(),
                        &sel.name,
                        host.to_str().context("the host path is not UTF-8")?
                    )?
                );
            } else {
                let p = install_into_profile(browser, udd, &sel.name, &host)?;
                outln!("{:<9} wrote {}", browser.id(), p.display());
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
        outln!("{l}");
    }
    if sel.root.is_some() && args.host_path.is_none() {
        outln!(
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
        outln!("note: {} does not exist (yet)", t.host_path);
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
                outln!("wrote {}", p.display());
            }
        } else {
            outln!("==> install.reg <==");
            out!("{}", reg.replace("\r\n", "\n"));
            outln!("==> uninstall.reg <==");
            out!("{}", unreg.replace("\r\n", "\n"));
            outln!("==> install.ps1 <==");
            out!("{}", ps1.replace("\r\n", "\n"));
            for f in &plan.files {
                outln!("==> {} <==", f.path);
                outln!("{}", f.content.trim_end());
            }
        }
        for f in &plan.files {
            for &b in &f.browsers {
                outln!("{:<9} manifest {}", b.id(), f.path);
            }
        }
        for k in &plan.keys {
            outln!(
                "{:<9} key {}\\{}",
                browser_list(&k.browsers),
                k.hive.short(),
                k.key
            );
        }
        outln!(
            "next: on the Windows machine run install.ps1{} (or copy the manifests to {} and import install.reg); install.ps1 -Uninstall or uninstall.reg undoes it",
            if t.scope == InstallScope::System {
                " elevated"
            } else {
                ""
            },
            t.windows_dir.as_deref().unwrap_or("")
        );
    } else if print {
        for f in &plan.files {
            outln!("==> {} <== ({})", f.path, browser_list(&f.browsers));
            outln!("{}", f.content.trim_end());
        }
        outln!("receipt: {}", plan.receipt);
    } else {
        let report = apply(&plan, root)?;
        for l in report.lines {
            outln!("{l}");
        }
        outln!("receipt: {} (uninstall reads it)", plan.receipt);
    }
    for l in notes(&plan) {
        outln!("{l}");
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
                outln!("{:<9} would remove {}", browser.id(), p.display());
                continue;
            }
            match uninstall_from_profile(browser, udd, &sel.name)? {
                Some(p) => outln!("{:<9} removed {}", browser.id(), p.display()),
                None => outln!("{:<9} not installed", browser.id()),
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
        outln!("{l}");
    }
    if sel.print {
        if t.os == TargetOs::Windows {
            outln!("==> uninstall.reg <==");
            out!("{}", reg_file(&plan, true).replace("\r\n", "\n"));
        }
        for f in &plan.files {
            outln!(
                "{:<9} would remove {} (unless another installed browser still reads it)",
                browser_list(&f.browsers),
                f.path
            );
        }
        for k in &plan.keys {
            outln!(
                "{:<9} would remove {}\\{}",
                browser_list(&k.browsers),
                k.hive.short(),
                k.key
            );
        }
        outln!(
            "and the directories install created, if empty (receipt: {})",
            plan.receipt
        );
        return Ok(());
    }
    let report = remove(&plan, root)?;
    for l in report.lines {
        outln!("{l}");
    }
    Ok(())
}
