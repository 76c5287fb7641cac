//! End-to-end harness: real headless Chromium (through chromedriver), the
//! built extension, the real `twofill-host` binary and a real vault file.
//!
//! Every [`Session`] is isolated: its own Chromium profile (where the host
//! manifest is installed), its own `XDG_CONFIG_HOME`, its own vault, its own
//! chromedriver. Nothing is mocked; the only stand-in is the web site, a
//! static fixture served on 127.0.0.1 under made-up `*.test` host names.
//!
//! The build outputs come from `cargo xtask build` (which `cargo xtask test`
//! and `cargo xtask demo` run first); their paths arrive in
//! `TWOFILL_EXTENSION_DIR` and `TWOFILL_HOST_BIN`, with the default
//! locations under `target/` as a fallback.

pub mod corpus;
pub mod firefox;
pub mod host;
pub mod package;
pub mod policy;
pub mod site;
pub mod team;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use twofill_words::{Access, HOST_NAME};

pub use host::HostCli;
pub use site::SiteServer;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/e2e is two levels below the root")
        .to_owned()
}

/// Served as the web root: `/site/…` (sign-in pages), `/detection/…` (the
/// labelled detection corpus).
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("tests").join("fixtures")
}

/// The built extension and host.
pub struct Artifacts {
    pub extension_dir: PathBuf,
    pub host_bin: PathBuf,
    /// The team server; checked by [`crate::team::TeamServer::start`],
    /// not here, since most sessions never start one.
    pub server_bin: PathBuf,
}

impl Artifacts {
    pub fn locate() -> Result<Artifacts> {
        let target = repo_root().join("target");
        let extension_dir = std::env::var_os("TWOFILL_EXTENSION_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| target.join("twofill-extension"));
        let host_bin = std::env::var_os("TWOFILL_HOST_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| target.join("debug").join("twofill-host"));
        let server_bin = std::env::var_os("TWOFILL_SERVER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| target.join("debug").join("twofill-server"));
        for (what, path) in [
            (
                "extension",
                extension_dir.join("pkg/twofill_worker_bg.wasm"),
            ),
            ("native host", host_bin.clone()),
        ] {
            ensure!(
                path.exists(),
                "the built {what} is missing at {}; run `cargo xtask build` (or `cargo xtask test`, which builds first)",
                path.display()
            );
        }
        Ok(Artifacts {
            extension_dir,
            host_bin,
            server_bin,
        })
    }
}

fn chromium_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TWOFILL_CHROMIUM") {
        return p.into();
    }
    // The Debian wrapper script reorders flags and adds its own
    // `--load-extension=`; the real binary behind it takes ours as given.
    let real = Path::new("/usr/lib/chromium/chromium");
    if real.exists() {
        real.to_owned()
    } else {
        PathBuf::from("/usr/bin/chromium")
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Where a session's `$BROWSER` records the address it was given.
const OPENED_URL_FILE: &str = "opened-in-system-browser";

/// The clock the host reads too.
pub use twofill_words::unix_now_secs as unix_now;

/// One isolated browser with the extension loaded and the host installed.
pub struct Session {
    pub client: Client,
    pub site: SiteServer,
    pub vault: PathBuf,
    artifacts: Artifacts,
    driver: Child,
    /// The driver's port and the capabilities the browser was started
    /// with, for [`Session::restart_browser`].
    driver_port: u16,
    capabilities: Value,
    driver_log: PathBuf,
    // Dropped after Drop::drop has stopped Chromium.
    _no_policy: Option<tokio::sync::RwLockReadGuard<'static, ()>>,
    _dir: tempfile::TempDir,
}

/// How a [`Session`] registers the native host with its browser profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostSetup {
    /// `twofill-host install` into the profile, as a user would.
    Installed,
    /// No manifest: the browser reports the host as not found.
    NotInstalled,
    /// A manifest that allows another extension only: the browser refuses
    /// our extension access to the host ("forbidden").
    ForOtherExtension,
}

/// The extension's id, fixed by the manifest key.
pub use twofill_words::CHROMIUM_EXTENSION_ID as EXTENSION_ID;

/// Config (host.toml and server.toml alike) with the fill rate limit off:
/// for the corpus and the benchmark, which fill one token on many pages in
/// a minute. The limit itself is tested by the vault, host and server.
pub const NO_RATE_LIMIT: &str = "[rate_limit]\ncodes = 0\nburst = 0\n";

/// Everything about a [`Session`] a test may vary.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub host: HostSetup,
    /// The name the host is registered under in the profile (`install
    /// --name`); `None` for the default `com.twofill.host`.
    pub host_name: Option<String>,
    /// Load the unpacked extension (`--load-extension`). Off for tests in
    /// which enterprise policy installs it: then the browser's background
    /// networking stays on, which force-install needs.
    pub load_extension: bool,
    /// Set by [`policy::ChromiumPolicy::session_options`]: the test holds
    /// the machine's policy itself. Otherwise the session waits until no
    /// policy test runs and keeps policy tests out while it lives.
    pub under_test_policy: bool,
    /// Load this extension directory instead of the built one (the
    /// benchmark's old-path copy).
    pub extension_dir: Option<PathBuf>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            host: HostSetup::Installed,
            host_name: None,
            load_extension: true,
            under_test_policy: false,
            extension_dir: None,
        }
    }
}

impl Session {
    pub async fn start() -> Result<Session> {
        Self::start_with(HostSetup::Installed).await
    }

    pub async fn start_with(host: HostSetup) -> Result<Session> {
        Self::start_with_options(SessionOptions {
            host,
            ..SessionOptions::default()
        })
        .await
    }

    pub async fn start_with_options(options: SessionOptions) -> Result<Session> {
        let host = options.host;
        let no_policy = match options.under_test_policy {
            true => None,
            false => Some(policy::no_policy_hold().await?),
        };
        let artifacts = Artifacts::locate()?;
        let dir = tempfile::Builder::new().prefix("twofill-e2e-").tempdir()?;
        let profile = dir.path().join("profile");
        let vault = dir.path().join("vault").join("vault.sqlite3");
        let xdg = dir.path().join("xdg");
        // A team device's identity lives in the data directory: each
        // browser profile is its own laptop.
        let xdg_data = dir.path().join("xdg-data");
        std::fs::create_dir_all(&profile)?;
        std::fs::create_dir_all(&xdg)?;

        // Register the host the way an admin would, into this profile only.
        if host != HostSetup::NotInstalled {
            let mut install = Command::new(&artifacts.host_bin);
            install
                .args(["install", "--browser", "chromium", "--user-data-dir"])
                .arg(&profile);
            if let Some(name) = &options.host_name {
                install.args(["--name", name]);
            }
            let out = install
                .output()
                .context("cannot run twofill-host install")?;
            ensure!(
                out.status.success(),
                "twofill-host install failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if host == HostSetup::ForOtherExtension {
            let manifest = profile
                .join("NativeMessagingHosts")
                .join(format!("{HOST_NAME}.json"));
            let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest)?)?;
            m["allowed_origins"] = json!(["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"]);
            std::fs::write(&manifest, serde_json::to_vec_pretty(&m)?)?;
        }

        let site = SiteServer::start(&fixtures_dir())?;
        let port = free_port()?;
        let driver_log = dir.path().join("chromedriver.log");
        // What the host opens in "the system browser" (`twofill-host login`
        // started by the popup's "Sign in") is recorded, never opened.
        let browser = dir.path().join("system-browser.sh");
        std::fs::write(
            &browser,
            format!(
                "#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n",
                dir.path().join(OPENED_URL_FILE).display()
            ),
        )?;
        std::fs::set_permissions(
            &browser,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"))
            .arg(format!("--log-path={}", driver_log.display()))
            .arg("--enable-chrome-logs")
            // Inherited by Chromium and from it by the host it launches.
            .env("TWOFILL_VAULT", &vault)
            .env("XDG_CONFIG_HOME", &xdg)
            .env("XDG_DATA_HOME", &xdg_data)
            .env("BROWSER", &browser)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Own process group, so Drop can take Chromium down with the driver.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let driver = cmd
            .spawn()
            .context("cannot start chromedriver; install it with `cargo xtask setup`")?;

        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("chromedriver did not start listening on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let ext = options
            .extension_dir
            .as_ref()
            .unwrap_or(&artifacts.extension_dir)
            .display()
            .to_string();
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--no-first-run".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            // Plain-http fixtures: no automatic https:// upgrade attempts.
            "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable".into(),
            "--window-size=1100,800".into(),
            "--host-resolver-rules=MAP *.test 127.0.0.1".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut chrome_options = json!({
            "binary": chromium_binary(),
        });
        if options.load_extension {
            args.extend([
                "--disable-background-networking".into(),
                format!("--load-extension={ext}"),
                format!("--disable-extensions-except={ext}"),
            ]);
        } else {
            // chromedriver adds this switch by default, and with it policy
            // force-installs silently never happen.
            chrome_options["excludeSwitches"] = json!(["disable-background-networking"]);
        }
        chrome_options["args"] = json!(args);
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": chrome_options,
        });
        let client = connect_webdriver(port, caps.clone())
            .await
            .with_context(|| {
                format!(
                    "chromedriver could not start Chromium; log: {}",
                    log_tail(&driver_log)
                )
            })?;

        Ok(Session {
            client,
            site,
            vault,
            artifacts,
            driver,
            driver_log,
            driver_port: port,
            capabilities: caps,
            _no_policy: no_policy,
            _dir: dir,
        })
    }

    /// The host CLI on this session's vault (see [`HostCli`]).
    pub fn host(&self) -> HostCli {
        HostCli::new(&self.artifacts.host_bin, &self.vault)
    }

    /// `twofill-host` with the environment this browser gives the host it
    /// launches (its config and data directories): what the person at this
    /// browser runs in a terminal, e.g. `join`.
    pub fn teammate_cli(&self) -> HostCli {
        self.host()
            .with_env("XDG_CONFIG_HOME", self._dir.path().join("xdg"))
            .with_env("XDG_DATA_HOME", self._dir.path().join("xdg-data"))
    }

    /// Runs `twofill-host` against this session's vault, as the current OS
    /// user (the same identity the browser-launched host resolves).
    pub fn host_cli(&self, args: &[&str]) -> Result<String> {
        self.host().run(args)
    }

    /// The vault's audit log, one ECS record per entry (`audit export`).
    pub fn audit(&self) -> Result<Vec<Value>> {
        self.host().audit()
    }

    /// See [`HostCli::enroll`].
    pub fn enroll(
        &self,
        issuer: &str,
        seed: &str,
        sites: &[&str],
        access: Access,
    ) -> Result<String> {
        self.host().enroll(issuer, seed, sites, access)
    }

    /// See [`HostCli::enroll_uri`].
    pub fn enroll_uri(
        &self,
        uri: &str,
        code: &str,
        sites: &[&str],
        access: Access,
    ) -> Result<String> {
        self.host().enroll_uri(uri, code, sites, access)
    }

    /// Writes the user's host config (`$XDG_CONFIG_HOME/twofill/host.toml`)
    /// with [`NO_RATE_LIMIT`].
    pub fn lift_rate_limit(&self) -> Result<()> {
        let dir = self._dir.path().join("xdg").join("twofill");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("host.toml"), NO_RATE_LIMIT)?;
        Ok(())
    }

    /// The popup page's URL with `query` (e.g. `origin=…&theme=dark`).
    pub fn popup_url(&self, query: &str) -> String {
        format!("chrome-extension://{EXTENSION_ID}/popup.html?{query}")
    }

    /// Opens the popup as a tab in the current window and waits until it
    /// has left its loading state; returns that state (`list`, `empty`,
    /// `not-installed`, `refused`, `host-error`).
    pub async fn open_popup(&self, query: &str) -> Result<String> {
        self.client.goto(&self.popup_url(query)).await?;
        let deadline = Instant::now() + Duration::from_secs(15);
        popup_state(
            &self.client,
            "return document.body.dataset.state;",
            deadline,
            || self.diagnostics(),
        )
        .await
    }

    /// Saves a screenshot of the page's `body` to
    /// `target/screenshots/<name>.png` and returns the path.
    pub async fn save_screenshot(&self, name: &str) -> Result<PathBuf> {
        let dir = repo_root().join("target").join("screenshots");
        std::fs::create_dir_all(&dir)?;
        let body = self.client.find(Locator::Css("body")).await?;
        let png = body.screenshot().await?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Grants the current page's origin a permission (`clipboard-read`,
    /// …) through WebDriver's Set Permissions command.
    pub async fn grant_permission(&self, name: &str) -> Result<()> {
        self.client
            .issue_cmd(SessionPost {
                // Applies to the current page's origin.
                path: "permissions",
                body: json!({ "descriptor": { "name": name }, "state": "granted" }),
            })
            .await
            .with_context(|| format!("cannot grant {name}"))?;
        Ok(())
    }

    /// Stops the browser's service workers (the extension's included), as
    /// the browser does to an idle one: the next event starts it again,
    /// from nothing (WASM instantiated anew, no host port open).
    pub async fn stop_service_workers(&self) -> Result<()> {
        for cmd in ["ServiceWorker.enable", "ServiceWorker.stopAllWorkers"] {
            self.client
                .issue_cmd(SessionPost {
                    path: "goog/cdp/execute",
                    body: json!({ "cmd": cmd, "params": {} }),
                })
                .await
                .with_context(|| format!("cannot stop the service workers ({cmd})"))?;
        }
        Ok(())
    }

    /// Quits the browser and starts it again on the same profile, as a
    /// person does: the extension is installed, its service worker not
    /// running until an event arrives.
    pub async fn restart_browser(&mut self) -> Result<()> {
        self.client.clone().close().await?;
        self.client = connect_webdriver(self.driver_port, self.capabilities.clone())
            .await
            .with_context(|| {
                format!(
                    "chromedriver could not start Chromium again; log: {}",
                    log_tail(&self.driver_log)
                )
            })?;
        Ok(())
    }

    /// Waits until this browser runs no host (its ports closed).
    pub async fn wait_for_no_host(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.host_processes().is_empty() {
            ensure!(
                Instant::now() < deadline,
                "a host still runs 10 s after its port closed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// The `twofill-host` processes this browser has running now (found by
    /// the vault path in their environment, which only this session's
    /// browser hands on).
    pub fn host_processes(&self) -> Vec<u32> {
        let vault = format!("TWOFILL_VAULT={}", self.vault.display());
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            let is_host = std::fs::read(entry.path().join("cmdline")).is_ok_and(|c| {
                c.split(|b| *b == 0)
                    .next()
                    .is_some_and(|argv0| argv0.ends_with(b"twofill-host"))
            });
            let ours = std::fs::read(entry.path().join("environ"))
                .is_ok_and(|e| e.split(|b| *b == 0).any(|v| v == vault.as_bytes()));
            if is_host && ours {
                pids.push(pid);
            }
        }
        pids
    }

    /// The address the host last asked the system browser to open
    /// (`$BROWSER` records it), waiting up to `wait` for one.
    pub async fn opened_in_system_browser(&self, wait: Duration) -> Result<String> {
        let path = self._dir.path().join(OPENED_URL_FILE);
        let deadline = Instant::now() + wait;
        loop {
            if let Ok(url) = std::fs::read_to_string(&path)
                && !url.is_empty()
            {
                std::fs::remove_file(&path)?;
                return Ok(url);
            }
            ensure!(
                Instant::now() < deadline,
                "the host opened nothing in the system browser within {wait:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of chromedriver's and Chromium's log, for failure messages.
    pub fn diagnostics(&self) -> String {
        log_tail(&self.driver_log)
    }

    pub async fn close(mut self) -> Result<()> {
        let client = self.client.clone();
        client.close().await.ok();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Kill the whole group (chromedriver and the Chromium it started).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.wait();
    }
}

/// `POST /session/{id}/<path>` with a JSON body: WebDriver commands
/// fantoccini has no method for (W3C Set Permissions on chromedriver,
/// geckodriver's `moz/…` extension commands).
#[derive(Debug)]
pub(crate) struct SessionPost {
    pub path: &'static str,
    pub body: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for SessionPost {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            (l.contains("twofill") || l.contains("ERROR") || l.contains("CONSOLE"))
                && !l.contains("dbus")
        })
        .collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Polls the popup page until it has left its loading state (`script`
/// returns `document.body.dataset.state`, or "loading" while the page is
/// not there yet) and returns that state.
pub async fn popup_state(
    client: &Client,
    script: &str,
    deadline: Instant,
    diagnostics: impl FnOnce() -> String,
) -> Result<String> {
    loop {
        let state = client.execute(script, vec![]).await?;
        let state = state.as_str().unwrap_or("loading").to_owned();
        if state != "loading" {
            return Ok(state);
        }
        if Instant::now() > deadline {
            // A page without the popup's `data-state` reads as loading too:
            // say which page it was.
            let at = client.current_url().await.map(|u| u.to_string());
            bail!(
                "the popup stayed in its loading state (page: {}); browser log:\n{}",
                at.unwrap_or_default(),
                diagnostics()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A WebDriver session on the driver listening on `port` (chromedriver or
/// geckodriver) with these capabilities, over plain HTTP.
pub async fn connect_webdriver(port: u16, capabilities: Value) -> Result<Client> {
    let Value::Object(caps) = capabilities else {
        bail!("WebDriver capabilities must be a JSON object");
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    Ok(ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await?)
}

/// Signs in on the fixture at `url` and checks that the extension filled
/// the code oathtool computes for `seed` (a window inside the time we
/// watched: the extension may wait for the next one when < 3 s are left).
/// `diagnostics` is shown when it was never filled.
pub async fn sign_in_expecting_code(
    client: &Client,
    url: &str,
    seed: &str,
    diagnostics: impl FnOnce() -> String,
) -> Result<SignInOutcome> {
    let filled = sign_in_and_wait_for_code(client, url, Duration::from_secs(15)).await?;
    ensure!(
        !filled.value.is_empty(),
        "the code field was never filled at {url}; browser log:\n{}",
        diagnostics()
    );
    let expected = oathtool_codes(seed, filled.started, filled.finished)?;
    ensure!(
        expected.contains(&filled.value),
        "filled {:?}, oathtool says one of {expected:?}",
        filled.value
    );
    Ok(filled)
}

/// What happened on the sign-in fixture after the code step appeared.
#[derive(Debug)]
pub struct SignInOutcome {
    /// The code input's value when we stopped waiting ("" if never filled).
    pub value: String,
    /// Unix time just before the code prompt was requested.
    pub started: u64,
    /// Unix time when we stopped waiting.
    pub finished: u64,
    /// From submitting the password step to seeing the code in the field.
    pub latency: Duration,
}

/// Opens the My-Kaspersky-style fixture (or one of its variants) at `url`
/// and types the email and password; [`submit_sign_in`] goes on to the
/// code step.
pub async fn enter_sign_in(client: &Client, url: &str) -> Result<()> {
    client.goto(url).await?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#email"))
        .await?
        .send_keys("team@example.com")
        .await?;
    client
        .find(Locator::Css("#password"))
        .await?
        .send_keys("correct horse battery staple")
        .await?;
    Ok(())
}

/// Submits the password step [`enter_sign_in`] filled in.
pub async fn submit_sign_in(client: &Client) -> Result<()> {
    client
        .find(Locator::Css("#step-password button[type=submit]"))
        .await?
        .click()
        .await?;
    Ok(())
}

/// Drives the My-Kaspersky-style fixture: email and password, submit, then
/// waits up to `wait` for the code field to be filled by the extension.
pub async fn sign_in_and_wait_for_code(
    client: &Client,
    url: &str,
    wait: Duration,
) -> Result<SignInOutcome> {
    enter_sign_in(client, url).await?;
    let started = unix_now();
    let t0 = Instant::now();
    submit_sign_in(client).await?;
    let deadline = t0 + wait;
    loop {
        let value = client
            .execute(
                "const el = document.getElementById('tfa-code');
                 const form = document.getElementById('step-code');
                 return form.hidden ? null : el.value;",
                vec![],
            )
            .await?;
        let value = value.as_str().unwrap_or("").to_owned();
        if !value.is_empty() || Instant::now() >= deadline {
            return Ok(SignInOutcome {
                value,
                started,
                finished: unix_now(),
                latency: t0.elapsed(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Codes `oathtool` (OATH Toolkit, an independent C implementation) computes
/// for every 30-second window touching `[from, to]`.
pub fn oathtool_codes(base32_seed: &str, from: u64, to: u64) -> Result<Vec<String>> {
    let mut codes = Vec::new();
    let mut t = from - from % 30;
    while t <= to {
        let out = Command::new("oathtool")
            .args(["--totp", "-b", base32_seed, "--now", &format!("@{t}")])
            .output()
            .context("cannot run oathtool; install it with `cargo xtask setup`")?;
        ensure!(
            out.status.success(),
            "oathtool failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        codes.push(String::from_utf8(out.stdout)?.trim().to_owned());
        t += 30;
    }
    Ok(codes)
}
