//! Firefox end to end: real Firefox ESR through geckodriver, the packaged
//! XPI (`cargo xtask package`), the real `twofill-host` and a real vault.
//!
//! Every [`FirefoxSession`] has its own `HOME` (set on geckodriver, which
//! passes it to Firefox, which passes it to the host it launches: Firefox
//! reads host manifests only from `~/.mozilla/native-messaging-hosts`, and
//! `moz:firefoxOptions.env` does not reach that lookup), its own vault
//! (`TWOFILL_VAULT`, inherited the same way), its own profile and its own
//! geckodriver. The `*.test` fixture hosts resolve to 127.0.0.1 through the
//! pref `network.dns.forceResolve` (Firefox has no `--host-resolver-rules`).
//!
//! The extension is installed either as a temporary add-on (the WebDriver
//! command `moz/addon/install`) or by enterprise policy. Firefox reads
//! policy only from machine-wide places (`/etc/firefox/policies/`), so the
//! policy sessions write that file under a process-wide lock that keeps
//! every other Firefox session of this process out meanwhile, and restore
//! what was there when dropped, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use fantoccini::Client;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::package::Package;
use crate::{Artifacts, HostCli, SiteServer, fixtures_dir, free_port};
use twofill_words::HOST_NAME;

/// The add-on id (`browser_specific_settings.gecko.id`); the host's
/// allow-list names it too.
pub use twofill_words::GECKO_EXTENSION_ID as GECKO_ID;

/// The extension's `moz-extension://` UUID in every session (pref
/// `extensions.webextensions.uuids`; random otherwise).
pub const EXTENSION_UUID: &str = "5f0c7a3e-1b2d-4c8e-9a6f-2e4d8b1c7a90";

/// Where Firefox on Linux reads enterprise policy (also honoured by
/// Debian's firefox-esr; `/etc/firefox-esr/policies/` is not).
pub const FIREFOX_POLICY_FILE: &str = "/etc/firefox/policies/policies.json";

/// Readers: ordinary sessions (a policy file would change them too).
/// Writer: a session that installs a policy file.
static FIREFOX_POLICY: RwLock<()> = RwLock::const_new(());

/// How the extension gets into the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddonInstall {
    /// `moz/addon/install` with `temporary: true`, like about:debugging.
    Temporary,
    /// Not by the test: enterprise policy (or nothing) installs it.
    None,
}

#[derive(Debug, Clone)]
pub struct FirefoxOptions {
    pub install: AddonInstall,
    /// `policies.json`'s `policies` object, written to
    /// [`FIREFOX_POLICY_FILE`] for the session's lifetime.
    pub policies: Option<Value>,
}

impl Default for FirefoxOptions {
    fn default() -> Self {
        FirefoxOptions {
            install: AddonInstall::Temporary,
            policies: None,
        }
    }
}

/// The add-on as Firefox's add-on manager sees it.
#[derive(Debug, Clone, Deserialize)]
pub struct AddonState {
    pub version: String,
    pub active: bool,
    pub temporary: bool,
    /// `installTelemetryInfo.source`: `temporary-addon`, `enterprise-policy`, …
    pub source: Option<String>,
    /// The origins the extension may access right now
    /// (`WebExtensionPolicy.allowedOrigins`): its content scripts run only
    /// where these match.
    pub origins: Vec<String>,
}

/// One isolated Firefox with the host installed (and usually the add-on).
pub struct FirefoxSession {
    pub client: Client,
    pub site: SiteServer,
    pub vault: PathBuf,
    pub package: Package,
    host: HostCli,
    home: PathBuf,
    driver: Child,
    driver_log: PathBuf,
    // Dropped after Drop::drop has stopped Firefox: the policy file is
    // restored only once no browser can read it any more.
    _policy: PolicyHold,
    _dir: tempfile::TempDir,
}

enum PolicyHold {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Installed(#[allow(dead_code)] FirefoxPolicyFile),
}

fn geckodriver_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TWOFILL_GECKODRIVER") {
        return p.into();
    }
    // `cargo xtask setup` installs the pinned version with `cargo install`
    // into $CARGO_HOME/bin, which is not always on PATH.
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    match cargo_home.map(|c| c.join("bin").join("geckodriver")) {
        Some(bin) if bin.is_file() => bin,
        _ => PathBuf::from("geckodriver"),
    }
}

fn firefox_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TWOFILL_FIREFOX") {
        return p.into();
    }
    let esr = Path::new("/usr/bin/firefox-esr");
    if esr.exists() {
        esr.to_owned()
    } else {
        PathBuf::from("firefox")
    }
}

impl FirefoxSession {
    /// The add-on installed as a temporary add-on, no policy.
    pub async fn start() -> Result<FirefoxSession> {
        Self::start_with(FirefoxOptions::default()).await
    }

    pub async fn start_with(options: FirefoxOptions) -> Result<FirefoxSession> {
        let artifacts = Artifacts::locate()?;
        let package = Package::locate()?;
        // Policy first: it must be in place before Firefox starts, and no
        // other session of ours may start while it is.
        let policy = match &options.policies {
            Some(p) => PolicyHold::Installed(FirefoxPolicyFile::install(p).await?),
            None => PolicyHold::Shared(FIREFOX_POLICY.read().await),
        };

        let dir = tempfile::Builder::new().prefix("twofill-ff-").tempdir()?;
        let home = dir.path().join("home");
        let tmp = dir.path().join("tmp");
        let vault = dir.path().join("vault").join("vault.sqlite3");
        for d in [&home, &tmp] {
            std::fs::create_dir_all(d)?;
        }
        let host = HostCli::new(&artifacts.host_bin, &vault).with_env("HOME", &home);

        // Register the host as a user would: `install --browser firefox`
        // writes ~/.mozilla/native-messaging-hosts/com.twofill.host.json.
        host.run(&["install", "--browser", "firefox"])?;
        let manifest = home
            .join(".mozilla")
            .join("native-messaging-hosts")
            .join(format!("{HOST_NAME}.json"));
        ensure!(
            manifest.exists(),
            "`twofill-host install --browser firefox` wrote no {}",
            manifest.display()
        );

        let site = SiteServer::start(&fixtures_dir())?;
        let port = free_port()?;
        let driver_log = dir.path().join("geckodriver.log");
        let log = std::fs::File::create(&driver_log)?;
        let mut cmd = Command::new(geckodriver_binary());
        cmd.arg(format!("--port={port}"))
            .arg(format!("--websocket-port={}", free_port()?))
            .arg("--profile-root")
            .arg(&tmp)
            // Chrome-context scripts: the add-on manager's view, the
            // clipboard, opening extension pages (WebDriver may not
            // navigate to moz-extension:// URLs).
            .arg("--allow-system-access")
            // Inherited by Firefox and from it by the host it launches.
            .env("HOME", &home)
            .env("TWOFILL_VAULT", &vault)
            .env("TMPDIR", &tmp)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local").join("share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Own process group, so Drop takes Firefox and the hosts down too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let driver = cmd.spawn().with_context(|| {
            format!(
                "cannot start {}; install it with `cargo xtask setup`",
                geckodriver_binary().display()
            )
        })?;
        let mut partial = PartialSession {
            driver: Some(driver),
        };

        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("geckodriver did not start listening on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let uuids = json!({ GECKO_ID: EXTENSION_UUID }).to_string();
        let caps = json!({
            "browserName": "firefox",
            "moz:firefoxOptions": {
                "binary": firefox_binary(),
                "args": ["-headless", "--window-size=1100,800"],
                "prefs": {
                    // Every host name is 127.0.0.1: the fixtures' *.test
                    // names, and nothing leaves the machine.
                    "network.dns.forceResolve": "127.0.0.1",
                    "network.proxy.type": 0,
                    // Plain-http fixtures: no https:// upgrade attempts.
                    "dom.security.https_first": false,
                    "dom.security.https_first_schemeless": false,
                    "extensions.webextensions.uuids": uuids,
                    // Page and extension console output into the log.
                    "devtools.console.stdout.content": true,
                    "devtools.console.stdout.chrome": true,
                },
            }
        });
        let client = crate::connect_webdriver(port, caps)
            .await
            .with_context(|| {
                format!(
                    "geckodriver could not start Firefox; log: {}",
                    firefox_log_tail(&driver_log)
                )
            })?;

        let session = FirefoxSession {
            client,
            site,
            vault,
            package,
            host,
            home,
            driver: partial.driver.take().expect("driver still owned"),
            driver_log,
            _policy: policy,
            _dir: dir,
        };
        if options.install == AddonInstall::Temporary {
            session
                .install_temporary(&session.package.xpi.clone())
                .await?;
        }
        Ok(session)
    }

    /// Installs `xpi` as a temporary add-on (unsigned is fine).
    pub async fn install_temporary(&self, xpi: &Path) -> Result<()> {
        let id = self
            .client
            .issue_cmd(crate::SessionPost {
                path: "moz/addon/install",
                body: json!({ "path": xpi, "temporary": true }),
            })
            .await
            .with_context(|| format!("cannot install {}", xpi.display()))?;
        ensure!(
            id == GECKO_ID,
            "installed add-on has id {id}, not {GECKO_ID}"
        );
        Ok(())
    }

    /// The host CLI on this session's vault, with this session's `HOME`.
    pub fn host(&self) -> &HostCli {
        &self.host
    }

    /// This session's `HOME` (where the host manifest is).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Runs `script` (a function body; the last argument is the callback)
    /// asynchronously in Firefox's chrome (parent process) context.
    pub async fn chrome_script(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.set_context("chrome").await?;
        let result = self.client.execute_async(script, args).await;
        self.set_context("content").await?;
        result.context("chrome-context script failed")
    }

    async fn set_context(&self, context: &str) -> Result<()> {
        self.client
            .issue_cmd(crate::SessionPost {
                path: "moz/context",
                body: json!({ "context": context }),
            })
            .await
            .with_context(|| format!("cannot switch to the {context} context"))?;
        Ok(())
    }

    /// The add-on manager's view of the twofill add-on; `None` while it is
    /// not installed.
    pub async fn addon(&self) -> Result<Option<AddonState>> {
        let v = self
            .chrome_script(
                r#"const [id, done] = arguments;
                const { AddonManager } = ChromeUtils.importESModule(
                  "resource://gre/modules/AddonManager.sys.mjs");
                AddonManager.getAddonByID(id).then((a) => {
                  if (!a) return done(null);
                  const p = WebExtensionPolicy.getByID(id);
                  done({
                    version: a.version,
                    active: a.isActive,
                    temporary: a.temporarilyInstalled,
                    source: a.installTelemetryInfo?.source ?? null,
                    origins: p ? p.allowedOrigins.patterns.map((m) => m.pattern) : [],
                  });
                }, (e) => done({ error: String(e) }));"#,
                vec![json!(GECKO_ID)],
            )
            .await?;
        if let Some(e) = v.get("error") {
            bail!("add-on manager: {e}");
        }
        Ok(serde_json::from_value(v)?)
    }

    /// Waits until the add-on is installed and running (policy installs
    /// happen after startup).
    pub async fn wait_for_addon(&self, wait: Duration) -> Result<AddonState> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(a) = self.addon().await?
                && a.active
            {
                return Ok(a);
            }
            if Instant::now() > deadline {
                bail!(
                    "the add-on was not installed and running within {wait:?}; log:\n{}",
                    self.diagnostics()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `moz-extension://<uuid>/popup.html?<query>`.
    pub fn popup_url(&self, query: &str) -> String {
        format!("moz-extension://{EXTENSION_UUID}/popup.html?{query}")
    }

    /// Opens the popup page in a new tab and switches to it (WebDriver
    /// itself may not navigate to extension pages), then waits until it has
    /// left its loading state; returns that state.
    pub async fn open_popup(&self, query: &str) -> Result<String> {
        let before = self.client.windows().await?;
        self.chrome_script(
            r#"const [url, done] = arguments;
            const win = Services.wm.getMostRecentWindow("navigator:browser");
            const tab = win.gBrowser.addTab(url, {
              triggeringPrincipal: Services.scriptSecurityManager.getSystemPrincipal(),
            });
            win.gBrowser.selectedTab = tab;
            done(true);"#,
            vec![json!(self.popup_url(query))],
        )
        .await?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let handle = loop {
            let now = self.client.windows().await?;
            if let Some(h) = now.into_iter().find(|h| !before.contains(h)) {
                break h;
            }
            if Instant::now() > deadline {
                bail!("the popup tab did not open");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.client.switch_to_window(handle).await?;
        crate::popup_state(
            &self.client,
            "return location.protocol === 'moz-extension:' && document.body
                ? document.body.dataset.state : 'loading';",
            deadline,
            || self.diagnostics(),
        )
        .await
    }

    /// The system clipboard's text (Firefox's headless clipboard), read
    /// from the chrome context; "" when empty.
    pub async fn clipboard_text(&self) -> Result<String> {
        let v = self
            .chrome_script(
                r#"const [done] = arguments;
                const t = Cc["@mozilla.org/widget/transferable;1"]
                  .createInstance(Ci.nsITransferable);
                t.init(null);
                t.addDataFlavor("text/plain");
                Services.clipboard.getData(t, Ci.nsIClipboard.kGlobalClipboard);
                const data = {};
                try {
                  t.getTransferData("text/plain", data);
                  done(data.value.QueryInterface(Ci.nsISupportsString).data);
                } catch (e) {
                  done("");
                }"#,
                vec![],
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Relevant lines of geckodriver's and Firefox's output, for failures.
    pub fn diagnostics(&self) -> String {
        firefox_log_tail(&self.driver_log)
    }

    pub async fn close(self) -> Result<()> {
        // Ends the session: geckodriver quits Firefox. Drop kills the rest.
        self.client.clone().close().await.ok();
        Ok(())
    }
}

impl Drop for FirefoxSession {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// Owns geckodriver until the session is complete, so an early error
/// does not leave it (and a Firefox) running.
struct PartialSession {
    driver: Option<Child>,
}

impl Drop for PartialSession {
    fn drop(&mut self) {
        if let Some(driver) = &mut self.driver {
            kill_group(driver);
        }
    }
}

fn kill_group(driver: &mut Child) {
    // geckodriver, the Firefox it started and the hosts Firefox started.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .stderr(Stdio::null())
        .status();
    let _ = driver.wait();
}

fn firefox_log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            (l.contains("twofill")
                || l.contains("moz-extension")
                || l.contains("JavaScript error")
                || l.contains("console.error")
                || l.contains("ERROR"))
                && !l.contains("D-Bus")
        })
        .collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The `policies` of a `policies.json` that force-installs `xpi` (an
/// unsigned XPI: ESR honours the locked `xpinstall.signatures.required`
/// pref from policy) and gives the extension `managed` as its
/// `storage.managed` (`3rdparty.Extensions`).
pub fn force_install_policies(xpi: &Path, managed: Value) -> Result<Value> {
    let url = url::Url::from_file_path(xpi)
        .map_err(|()| anyhow::anyhow!("{} is not an absolute path", xpi.display()))?;
    Ok(json!({
        "ExtensionSettings": {
            GECKO_ID: {
                "installation_mode": "force_installed",
                "install_url": url.as_str(),
            }
        },
        "Preferences": {
            "xpinstall.signatures.required": { "Value": false, "Status": "locked" }
        },
        "3rdparty": { "Extensions": { GECKO_ID: managed } },
    }))
}

/// [`FIREFOX_POLICY_FILE`] with our policies while this value lives; what
/// was there before (or nothing, and no directories we created) after.
pub struct FirefoxPolicyFile {
    path: PathBuf,
    saved: Option<Vec<u8>>,
    created: Vec<PathBuf>,
    _lock: RwLockWriteGuard<'static, ()>,
}

impl FirefoxPolicyFile {
    pub async fn install(policies: &Value) -> Result<FirefoxPolicyFile> {
        let lock = FIREFOX_POLICY.write().await;
        let path = PathBuf::from(FIREFOX_POLICY_FILE);
        let saved = match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut created = Vec::new();
        for dir in path.ancestors().skip(1) {
            if dir.exists() {
                break;
            }
            created.push(dir.to_owned());
        }
        // From here on Drop cleans up whatever happens.
        let file = FirefoxPolicyFile {
            path,
            saved,
            created,
            _lock: lock,
        };
        let dir = file.path.parent().expect("a directory");
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create {} (Firefox policy tests need root)",
                dir.display()
            )
        })?;
        std::fs::write(
            &file.path,
            serde_json::to_vec_pretty(&json!({ "policies": policies }))?,
        )
        .with_context(|| format!("cannot write {}", file.path.display()))?;
        Ok(file)
    }
}

impl Drop for FirefoxPolicyFile {
    fn drop(&mut self) {
        let _ = match &self.saved {
            Some(bytes) => std::fs::write(&self.path, bytes),
            None => std::fs::remove_file(&self.path),
        };
        // Innermost first; only if empty (remove_dir fails otherwise).
        for dir in &self.created {
            let _ = std::fs::remove_dir(dir);
        }
    }
}
