//! `twofill-host install|uninstall` through the real binary: a machine-wide
//! Linux install into a staging root (`--root`), per-user installs into a
//! throwaway home, the Windows `.reg` and PowerShell files (parsed back),
//! and the refusals that tell admins what to do instead.
//!
//! Nothing here touches the real /etc, /var or the registry: every write
//! goes under a temporary directory.

use crate::support::regfile;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use twofill_words::{CHROMIUM_EXTENSION_ID, GECKO_EXTENSION_ID, HOST_NAME};

const HOST: &str = env!("CARGO_BIN_EXE_twofill-host");

fn host(args: &[&str]) -> Output {
    host_in(args, None)
}

/// Runs the host with a clean environment apart from `HOME` (so per-user
/// locations land in `home`).
fn host_in(args: &[&str], home: Option<&Path>) -> Output {
    let mut c = Command::new(HOST);
    c.args(args)
        .env_remove("TWOFILL_CONFIG")
        .env_remove("TWOFILL_VAULT")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME");
    if let Some(h) = home {
        c.env("HOME", h);
    }
    c.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn fails(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn chromium_origin() -> String {
    format!("chrome-extension://{CHROMIUM_EXTENSION_ID}/")
}

/// Checks a manifest's fields and allow-list for its family.
fn check_manifest(m: &Value, name: &str, host_path: &str, firefox: bool) {
    assert_eq!(m["name"], name);
    assert_eq!(m["path"], host_path);
    assert_eq!(m["type"], "stdio");
    if firefox {
        assert_eq!(
            m["allowed_extensions"],
            serde_json::json!([GECKO_EXTENSION_ID])
        );
        assert!(m.get("allowed_origins").is_none());
    } else {
        assert_eq!(m["allowed_origins"], serde_json::json!([chromium_origin()]));
        assert!(m.get("allowed_extensions").is_none());
    }
}

/// Every file and directory under `root`, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if p.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out.sort();
    out
}

#[cfg(target_os = "linux")]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[cfg(target_os = "linux")]
#[test]
fn system_install_and_uninstall_in_a_staging_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    // What a Debian machine with Chromium has: /etc/chromium with a file in it.
    std::fs::create_dir_all(root.join("etc/chromium")).unwrap();
    std::fs::write(root.join("etc/chromium/master_preferences"), "{}").unwrap();
    let before = tree(&root);
    let host_path = "/opt/Acme Corp/twofill/twofill-host";
    let r = root.to_str().unwrap();

    let out = ok(&host(&[
        "install",
        "--system",
        "--all",
        "--root",
        r,
        "--host-path",
        host_path,
    ]));
    assert!(out.contains("(machine-wide)"), "{out}");
    assert!(
        out.contains("config: /etc/twofill/host.toml is not staged"),
        "says which config is in force: {out}"
    );
    // Brave and Vivaldi have no documented machine-wide directory: the
    // output says which fallback they got.
    for b in ["brave", "vivaldi"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("note: {b}:")) && l.contains("[unverified]")),
            "{b}: {out}"
        );
    }
    let expected = [
        ("etc/chromium/native-messaging-hosts", false),
        ("etc/opt/chrome/native-messaging-hosts", false),
        ("etc/opt/edge/native-messaging-hosts", false),
        ("usr/lib/mozilla/native-messaging-hosts", true),
    ];
    for (d, firefox) in expected {
        let p = root.join(d).join(format!("{HOST_NAME}.json"));
        check_manifest(&json(&p), HOST_NAME, host_path, firefox);
        assert_eq!(mode(&p), 0o644, "{}", p.display());
        assert_eq!(mode(p.parent().unwrap()), 0o755, "{}", p.display());
    }
    let receipt = json(&root.join(format!("var/lib/twofill/{HOST_NAME}.install.json")));
    let chrome_file = receipt["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == format!("/etc/opt/chrome/native-messaging-hosts/{HOST_NAME}.json"))
        .unwrap();
    assert_eq!(
        chrome_file["browsers"],
        serde_json::json!(["chrome", "brave", "vivaldi"])
    );
    let created: Vec<&str> = receipt["created_dirs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        !created.contains(&"/etc/chromium") && !created.contains(&"/etc"),
        "only what install created, never shared system directories: {created:?}"
    );
    assert!(created.contains(&"/etc/chromium/native-messaging-hosts"));

    // Installing again changes nothing.
    let first = tree(&root);
    let receipt_text =
        std::fs::read_to_string(root.join(format!("var/lib/twofill/{HOST_NAME}.install.json")))
            .unwrap();
    ok(&host(&[
        "install",
        "--system",
        "--all",
        "--root",
        r,
        "--host-path",
        host_path,
    ]));
    assert_eq!(tree(&root), first);
    assert_eq!(
        std::fs::read_to_string(root.join(format!("var/lib/twofill/{HOST_NAME}.install.json")))
            .unwrap(),
        receipt_text
    );

    // Brave alone: Chrome and Vivaldi still read that file.
    let out = ok(&host(&[
        "uninstall",
        "--system",
        "--browser",
        "brave",
        "--root",
        r,
    ]));
    assert!(
        out.contains(&format!("kept /etc/opt/chrome/native-messaging-hosts/{HOST_NAME}.json: chrome, vivaldi still read it")),
        "{out}"
    );
    assert!(
        root.join(format!(
            "etc/opt/chrome/native-messaging-hosts/{HOST_NAME}.json"
        ))
        .exists()
    );

    let out = ok(&host(&["uninstall", "--system", "--all", "--root", r]));
    for (d, _) in expected {
        assert!(
            out.contains(&format!("removed /{d}/{HOST_NAME}.json")),
            "{d}: {out}"
        );
    }
    assert!(out.contains("removed the empty directory /etc/chromium/native-messaging-hosts"));
    // Back to what was there before, apart from the shared system
    // directories a fresh staging root needed (/etc/opt, /usr/lib, /var/lib).
    let after = tree(&root);
    for p in &before {
        assert!(after.contains(p), "{p} was there before and must stay");
    }
    let extra: Vec<&String> = after.iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(
        extra,
        ["etc/opt", "usr", "usr/lib", "var", "var/lib"],
        "leftovers"
    );

    // Nothing left to remove: says so.
    let out = ok(&host(&[
        "uninstall",
        "--system",
        "--browser",
        "chromium",
        "--root",
        r,
    ]));
    assert!(
        out.contains(&format!(
            "not there: /etc/chromium/native-messaging-hosts/{HOST_NAME}.json"
        )),
        "{out}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn uninstall_without_a_receipt_removes_only_what_is_not_shared() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    ok(&host(&[
        "install",
        "--system",
        "--browser",
        "chrome",
        "--browser",
        "edge",
        "--root",
        r,
        "--host-path",
        "/usr/bin/twofill-host",
    ]));
    // As if installed by hand or by an older version: no receipt.
    std::fs::remove_file(
        dir.path()
            .join(format!("var/lib/twofill/{HOST_NAME}.install.json")),
    )
    .unwrap();
    let chrome = dir.path().join(format!(
        "etc/opt/chrome/native-messaging-hosts/{HOST_NAME}.json"
    ));
    let out = ok(&host(&[
        "uninstall",
        "--system",
        "--browser",
        "brave",
        "--root",
        r,
    ]));
    assert!(out.contains("add --browser chrome to remove it"), "{out}");
    assert!(chrome.exists());
    let out = ok(&host(&[
        "uninstall",
        "--system",
        "--browser",
        "chrome",
        "--browser",
        "brave",
        "--browser",
        "vivaldi",
        "--browser",
        "edge",
        "--root",
        r,
    ]));
    assert!(!chrome.exists(), "{out}");
    assert!(
        !out.contains("removed the empty directory"),
        "no receipt, no directories: {out}"
    );
    assert!(
        dir.path()
            .join("etc/opt/edge/native-messaging-hosts")
            .is_dir()
    );
}

#[cfg(target_os = "linux")]
#[test]
fn per_user_install_into_a_home() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let out = ok(&host_in(
        &[
            "install",
            "--browser",
            "firefox",
            "--browser",
            "chromium",
            "--browser",
            "brave",
        ],
        Some(h),
    ));
    assert!(out.contains("(per user)"), "{out}");
    assert!(
        !out.contains("note: brave"),
        "Brave's per-user directory is known: {out}"
    );
    let exe = std::fs::canonicalize(HOST).unwrap();
    let exe = exe.to_str().unwrap();
    check_manifest(
        &json(&h.join(format!(".mozilla/native-messaging-hosts/{HOST_NAME}.json"))),
        HOST_NAME,
        exe,
        true,
    );
    check_manifest(
        &json(&h.join(format!(
            ".config/chromium/NativeMessagingHosts/{HOST_NAME}.json"
        ))),
        HOST_NAME,
        exe,
        false,
    );
    assert!(
        h.join(format!(
            ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts/{HOST_NAME}.json"
        ))
        .exists()
    );
    assert!(
        h.join(format!(".local/share/twofill/{HOST_NAME}.install.json"))
            .exists()
    );
    let out = ok(&host_in(&["uninstall"], Some(h)));
    assert!(out.contains("removed the empty directory"), "{out}");
    assert_eq!(
        tree(h),
        [".config", ".local", ".local/share"],
        "only the shared per-user directories stay"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_custom_host_name_names_the_file_and_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().to_str().unwrap();
    let out = ok(&host(&[
        "install",
        "--system",
        "--browser",
        "edge",
        "--name",
        "com.acme.twofill",
        "--os",
        "linux",
        "--root",
        r,
        "--host-path",
        "/usr/bin/twofill-host",
    ]));
    assert!(
        out.contains("NativeHostName"),
        "tells admins to set the policy: {out}"
    );
    let p = dir
        .path()
        .join("etc/opt/edge/native-messaging-hosts/com.acme.twofill.json");
    check_manifest(
        &json(&p),
        "com.acme.twofill",
        "/usr/bin/twofill-host",
        false,
    );
    ok(&host(&[
        "uninstall",
        "--system",
        "--browser",
        "edge",
        "--name",
        "com.acme.twofill",
        "--root",
        r,
    ]));
    assert!(!p.exists());
}

#[test]
fn bad_host_names_say_what_to_do() {
    for (name, hint) in [
        ("Com.Acme.Twofill", "--name com.acme.twofill"),
        ("com.acme-otp", "--name com.acme_otp"),
        ("com..acme", "--name com.acme"),
        (".com.acme", "--name com.acme"),
    ] {
        let err = fails(&host(&["install", "--print", "--name", name]));
        assert!(
            err.contains("cannot be a native messaging host name"),
            "{err}"
        );
        assert!(err.contains(hint), "{name}: {err}");
        assert!(err.contains("NativeHostName"), "{err}");
        let err = fails(&host(&["uninstall", "--name", name]));
        assert!(err.contains(hint), "{err}");
    }
}

#[test]
fn print_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let out = ok(&host(&[
        "install",
        "--system",
        "--all",
        "--os",
        "linux",
        "--root",
        root.to_str().unwrap(),
        "--host-path",
        "/usr/bin/twofill-host",
        "--print",
    ]));
    assert!(!root.exists(), "--print wrote {:?}", tree(&root));
    assert!(out.contains("nothing is changed"), "{out}");
    assert!(out.contains(&format!("==> /etc/opt/chrome/native-messaging-hosts/{HOST_NAME}.json <== (chrome, brave, vivaldi)")), "{out}");
    // Each printed manifest is valid JSON.
    let mut blocks = out.split("==> ").skip(1);
    let mut n = 0;
    for b in blocks.by_ref() {
        let body = b.split_once('\n').unwrap().1;
        let end = body.find("\n}").unwrap() + 2;
        let v: Value = serde_json::from_str(&body[..end]).unwrap();
        assert_eq!(v["name"], HOST_NAME);
        n += 1;
    }
    assert_eq!(n, 4);
}

#[test]
fn macos_paths_render_with_print_only() {
    let out = ok(&host(&[
        "install", "--system", "--all", "--os", "macos", "--print",
    ]));
    for p in [
        &format!("/Library/Google/Chrome/NativeMessagingHosts/{HOST_NAME}.json"),
        &format!("/Library/Application Support/Chromium/NativeMessagingHosts/{HOST_NAME}.json"),
        &format!("/Library/Microsoft/Edge/NativeMessagingHosts/{HOST_NAME}.json"),
        &format!("/Library/Application Support/Mozilla/NativeMessagingHosts/{HOST_NAME}.json"),
    ] {
        assert!(out.contains(&format!("==> {p} <==")), "{p}: {out}");
    }
    assert!(
        out.contains("\"path\": \"/usr/local/bin/twofill-host\""),
        "{out}"
    );
    assert!(
        out.contains("/Library/Application Support/twofill/host.toml"),
        "{out}"
    );
    if cfg!(not(target_os = "macos")) {
        let err = fails(&host(&["install", "--system", "--os", "macos"]));
        assert!(
            err.contains("--print") && err.contains("postinstall"),
            "{err}"
        );
    }
}

#[cfg(not(windows))]
#[test]
fn windows_registry_cannot_be_written_from_here() {
    let err = fails(&host(&["install", "--system", "--os", "windows"]));
    assert!(err.contains("cannot write the Windows registry"), "{err}");
    assert!(
        err.contains("--out DIR") && err.contains("install.ps1") && err.contains("install.reg"),
        "{err}"
    );
    let err = fails(&host(&["uninstall", "--system", "--os", "windows"]));
    assert!(err.contains("-Uninstall"), "{err}");
    let err = fails(&host(&["install", "--os", "windows", "--print"]));
    assert!(
        err.contains("--manifest-dir"),
        "per-user needs a concrete folder: {err}"
    );
    let err = fails(&host(&[
        "install", "--system", "--os", "windows", "--root", "/tmp/x", "--print",
    ]));
    assert!(err.contains("--out"), "{err}");
    let err = fails(&host(&["install", "--system", "--out", "/tmp/x"]));
    assert!(err.contains("--os windows"), "{err}");
}

/// Reads a PowerShell single-quoted literal at the start of `s`.
fn ps_literal(s: &str) -> (String, &str) {
    let s = s.strip_prefix('\'').expect("a single-quoted literal");
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if let Some((_, '\'')) = chars.peek() {
                chars.next();
                out.push('\'');
            } else {
                return (out, &s[i + 1..]);
            }
        } else {
            out.push(c);
        }
    }
    panic!("unterminated literal");
}

#[test]
fn windows_files_for_a_path_with_spaces_quotes_and_backslashes() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("win");
    let manifest_dir = r"C:\Program Files\Acme Corp\O'Brien's twofill";
    let host_path = r"C:\Program Files\Acme Corp\O'Brien's twofill\bin\twofill-host.exe";
    let stdout = ok(&host(&[
        "install",
        "--system",
        "--all",
        "--os",
        "windows",
        "--manifest-dir",
        manifest_dir,
        "--host-path",
        host_path,
        "--out",
        out_dir.to_str().unwrap(),
    ]));
    assert!(stdout.contains("install.ps1"), "{stdout}");
    let chromium_manifest = format!(r"{manifest_dir}\{HOST_NAME}.json");
    let firefox_manifest = format!(r"{manifest_dir}\{HOST_NAME}.firefox.json");

    // The manifests written next to the scripts.
    check_manifest(
        &json(&out_dir.join(format!("{HOST_NAME}.json"))),
        HOST_NAME,
        host_path,
        false,
    );
    check_manifest(
        &json(&out_dir.join(format!("{HOST_NAME}.firefox.json"))),
        HOST_NAME,
        host_path,
        true,
    );

    // install.reg: UTF-16LE with BOM, CRLF, parsed back to the exact paths.
    let bytes = std::fs::read(out_dir.join("install.reg")).unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xFE], "regedit's encoding");
    let text = regfile::decode(&bytes);
    assert!(
        text.contains("\r\n") && !text.replace("\r\n", "").contains('\n'),
        "CRLF only"
    );
    let reg = regfile::parse(&text).unwrap();
    let hklm = |vendor: &str| {
        format!(r"HKEY_LOCAL_MACHINE\SOFTWARE\{vendor}\NativeMessagingHosts\{HOST_NAME}")
    };
    let expected: Vec<(String, &String)> = vec![
        (hklm("Chromium"), &chromium_manifest),
        (hklm(r"Google\Chrome"), &chromium_manifest),
        (hklm(r"Microsoft\Edge"), &chromium_manifest),
        (hklm(r"BraveSoftware\Brave-Browser"), &chromium_manifest),
        (hklm("Vivaldi"), &chromium_manifest),
        (hklm("Mozilla"), &firefox_manifest),
    ];
    assert_eq!(reg.keys.len(), expected.len(), "{text}");
    for (key, manifest) in &expected {
        let values = reg
            .values(key)
            .unwrap_or_else(|| panic!("{key} missing:\n{text}"));
        assert_eq!(values.len(), 1);
        assert_eq!(
            values.get(""),
            Some(&regfile::Value::Sz((*manifest).clone())),
            "{key}"
        );
    }
    assert!(text.contains(&format!(
        r#"@="C:\\Program Files\\Acme Corp\\O'Brien's twofill\\{HOST_NAME}.json""#
    )));

    // uninstall.reg deletes exactly those keys, nothing above them.
    let un = regfile::parse(&regfile::decode(
        &std::fs::read(out_dir.join("uninstall.reg")).unwrap(),
    ))
    .unwrap();
    let mut deleted: Vec<&str> = un
        .keys
        .iter()
        .map(|k| {
            assert!(k.delete && k.values.is_empty());
            k.path.as_str()
        })
        .collect();
    let mut want: Vec<&str> = expected.iter().map(|(k, _)| k.as_str()).collect();
    deleted.sort();
    want.sort();
    assert_eq!(deleted, want);

    // install.ps1: UTF-8 with BOM (Windows PowerShell 5.1 reads BOM-less
    // files as ANSI), CRLF; checked structurally (no PowerShell here).
    let bytes = std::fs::read(out_dir.join("install.ps1")).unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
    let ps = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(!ps.replace("\r\n", "").contains('\n'), "CRLF only");
    let ps = ps.replace("\r\n", "\n");
    assert!(
        ps.contains("param(\n    [switch]$Uninstall,\n    [string]$HostExe\n)"),
        "{ps}"
    );
    assert!(ps.contains("$ErrorActionPreference = 'Stop'"));
    assert!(ps.contains("Set-ItemProperty -LiteralPath $key -Name '(default)' -Value $Keys[$key]"));
    assert!(ps.contains("New-Item -Path $key -Force"));
    assert!(
        ps.contains("if (-not (Test-Path -LiteralPath $key))"),
        "idempotent: creates only missing keys"
    );
    assert!(ps.contains("if ($Uninstall) {") && ps.contains("Remove-Item -LiteralPath $key"));
    // Every key in $Keys, quoted right, pointing at the right manifest.
    let keys_block = ps.split("$Keys = [ordered]@{\n").nth(1).unwrap();
    let keys_block = &keys_block[..keys_block.find("\n}").unwrap()];
    let mut keys = Vec::new();
    for line in keys_block.lines() {
        let (key, rest) = ps_literal(line.trim_start());
        let rest = rest.strip_prefix(" = ").unwrap();
        let (value, _) = ps_literal(rest);
        keys.push((key, value));
    }
    assert_eq!(keys.len(), expected.len());
    for (key, manifest) in &expected {
        let ps_key = key.replace("HKEY_LOCAL_MACHINE", "HKLM:");
        assert!(
            keys.iter().any(|(k, v)| *k == ps_key && v == *manifest),
            "{ps_key} → {manifest} in {keys:?}"
        );
    }
    let (host_lit, _) = ps_literal(ps.split("$HostPath = ").nth(1).unwrap());
    assert_eq!(host_lit, host_path);
    // The embedded manifests are the files above, in balanced here-strings.
    assert_eq!(ps.matches("= @'\n").count(), 2);
    assert_eq!(ps.matches("\n'@\n").count(), 2);
    for (i, firefox) in [(0, false), (1, true)] {
        let start = ps.find(&format!("$Manifest{i} = @'\n")).unwrap();
        let body = &ps[start..];
        let body = &body[body.find('\n').unwrap() + 1..body.find("\n'@\n").unwrap()];
        check_manifest(
            &serde_json::from_str(body).unwrap(),
            HOST_NAME,
            host_path,
            firefox,
        );
    }
}

#[test]
fn windows_print_shows_the_files() {
    let out = ok(&host(&[
        "install",
        "--system",
        "--browser",
        "edge",
        "--os",
        "windows",
        "--print",
    ]));
    for part in [
        "==> install.reg <==",
        "==> uninstall.reg <==",
        "==> install.ps1 <==",
    ] {
        assert!(out.contains(part), "{part}: {out}");
    }
    let reg = out
        .split("==> install.reg <==\n")
        .nth(1)
        .unwrap()
        .split("==> ")
        .next()
        .unwrap();
    let reg = regfile::parse(reg).unwrap();
    assert_eq!(
        reg.values(&format!(
            r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Edge\NativeMessagingHosts\{HOST_NAME}"
        ))
        .unwrap()
        .get(""),
        Some(&regfile::Value::Sz(format!(
            r"C:\Program Files\twofill\{HOST_NAME}.json"
        )))
    );
    assert!(
        out.contains(r#""path": "C:\\Program Files\\twofill\\twofill-host.exe""#),
        "{out}"
    );
}

/// The profile-directory form the end-to-end tests use still works.
#[test]
fn user_data_dir_install() {
    let dir = tempfile::tempdir().unwrap();
    let udd = dir.path().to_str().unwrap();
    ok(&host(&[
        "install",
        "--browser",
        "chromium",
        "--user-data-dir",
        udd,
    ]));
    let p: PathBuf = dir
        .path()
        .join(format!("NativeMessagingHosts/{HOST_NAME}.json"));
    check_manifest(
        &json(&p),
        HOST_NAME,
        std::fs::canonicalize(HOST).unwrap().to_str().unwrap(),
        false,
    );
    let err = fails(&host(&[
        "install",
        "--browser",
        "firefox",
        "--user-data-dir",
        udd,
    ]));
    assert!(err.contains("Chromium-family"), "{err}");
    ok(&host(&[
        "uninstall",
        "--browser",
        "chromium",
        "--user-data-dir",
        udd,
    ]));
    assert!(!p.exists());
}
