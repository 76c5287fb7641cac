//! A real team server for the end-to-end tests and the demo.
//!
//! `twofill-server` runs from a temporary state directory on a free
//! 127.0.0.1 port, over its embedded SQLite store or a PostgreSQL database.
//! The admin works as on the real server machine: `twofill-server` for
//! admins, invites and devices, and `twofill-host` pointed at the server's
//! store (its `vault` and key file) for tokens, groups, grants and the audit
//! log. Teammates are browser sessions whose hosts `join` with an invite,
//! each with its own config and data directory, as if on its own laptop.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use twofill_protocol::framing::{read_frame, write_frame};
use twofill_protocol::{PROTOCOL_VERSION, Request, RequestBody, SeedPurpose};
use twofill_words::Access;

use crate::host::HostCli;
use crate::{Artifacts, EXTENSION_ID, Session, oathtool_codes, unix_now};

/// The admin's name on the team server (the host CLI acts as them through
/// `user = { env = … }`).
pub const ADMIN: &str = "admin";
const ADMIN_ENV: &str = "TWOFILL_TEAM_ADMIN";

pub struct TeamServer {
    server_bin: PathBuf,
    host_bin: PathBuf,
    state: PathBuf,
    /// The store as the host CLI names it: the SQLite file or the URL.
    store: String,
    admin_config: PathBuf,
    child: Child,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl TeamServer {
    /// Initialises a state directory (`database`: a PostgreSQL URL, or the
    /// embedded SQLite store when `None`), makes [`ADMIN`] its first admin
    /// and starts serving.
    pub fn start(database: Option<&str>) -> Result<TeamServer> {
        TeamServer::start_with(database, "")
    }

    /// As [`TeamServer::start`], with `server_toml` (TOML tables, e.g. an
    /// `[sso]` section) added to the state directory's `server.toml`
    /// before it serves.
    pub fn start_with(database: Option<&str>, server_toml: &str) -> Result<TeamServer> {
        let artifacts = Artifacts::locate()?;
        ensure!(
            artifacts.server_bin.exists(),
            "the built team server is missing at {}; run `cargo xtask build`",
            artifacts.server_bin.display()
        );
        let dir = tempfile::Builder::new().prefix("twofill-team-").tempdir()?;
        let state = dir.path().join("state");
        let server =
            |args: &[&str]| -> Result<String> { server_cli(&artifacts.server_bin, &state, args) };
        match database {
            Some(url) => server(&["init", "--database", url])?,
            None => server(&["init"])?,
        };
        server(&["admin", "add", ADMIN])?;
        if !server_toml.is_empty() {
            // Merged table by table, so a test's `[rate_limit]` replaces the
            // one `init` wrote instead of repeating it.
            let config = state.join("server.toml");
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("cannot read {}", config.display()))?;
            let mut merged: toml::Table = text.parse()?;
            let extra: toml::Table = server_toml
                .parse()
                .with_context(|| format!("not TOML: {server_toml}"))?;
            merged.extend(extra);
            std::fs::write(&config, toml::to_string(&merged)?)?;
        }
        let store = match database {
            Some(url) => url.to_owned(),
            None => state.join("vault.db").display().to_string(),
        };
        // The server machine's admin config for `twofill-host`: the
        // server's store and its data key, acting as the admin.
        let admin_config = dir.path().join("admin-host.toml");
        std::fs::write(
            &admin_config,
            format!(
                "key = {{ file = \"{}\" }}\nuser = {{ env = \"{ADMIN_ENV}\" }}\n",
                state.join("data.key").display()
            ),
        )?;
        let log = dir.path().join("server.log");
        let mut child = Command::new(&artifacts.server_bin)
            .arg("--state")
            .arg(&state)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("cannot start twofill-server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .transpose()?
            .with_context(|| format!("twofill-server exited: {}", read_log(&log)))?;
        let addr = first
            .strip_prefix(twofill_words::SERVER_LISTENING)
            .with_context(|| format!("unexpected first line from serve: {first}"))?;
        let url = format!("https://{addr}");
        // Keep reading so that the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(TeamServer {
            server_bin: artifacts.server_bin,
            host_bin: artifacts.host_bin,
            state,
            store,
            admin_config,
            child,
            url,
            log,
            _dir: dir,
        })
    }

    /// `twofill-server --state STATE args…` on the server machine.
    pub fn server_cli(&self, args: &[&str]) -> Result<String> {
        server_cli(&self.server_bin, &self.state, args)
    }

    /// `twofill-host` on the server's store, as [`ADMIN`].
    pub fn admin(&self) -> HostCli {
        HostCli::new(&self.host_bin, Path::new(&self.store))
            .with_env("TWOFILL_CONFIG", &self.admin_config)
            .with_env(ADMIN_ENV, ADMIN)
    }

    /// An invite for `user` (created on the server if new).
    pub fn invite(&self, user: &str) -> Result<String> {
        let out = self.server_cli(&["invite", user, "--by", ADMIN])?;
        out.lines()
            .next()
            .filter(|l| l.starts_with("tf1."))
            .map(str::to_owned)
            .with_context(|| format!("unexpected `invite` output: {out}"))
    }

    /// Enrolls a team TOTP token as the admin, confirming its first code
    /// with oathtool's, bound to `sites`; returns its id.
    pub fn enroll(&self, issuer: &str, seed: &str, sites: &[&str]) -> Result<String> {
        let uri = format!("otpauth://totp/{issuer}:team@example.com?secret={seed}&issuer={issuer}");
        self.enroll_from(&["--uri", &uri], seed, sites)
    }

    /// Enrolls the token `uri` names (any kind), confirmed with `code`.
    pub fn enroll_uri(&self, uri: &str, code: &str, sites: &[&str]) -> Result<String> {
        self.admin().add_token(&["--uri", uri], code, sites)
    }

    /// Enrolls the token in the QR image at `qr` (as the site showed it),
    /// whose seed is `seed` (for oathtool's confirmation code).
    pub fn enroll_qr(&self, qr: &Path, seed: &str, sites: &[&str]) -> Result<String> {
        let qr = qr.display().to_string();
        self.enroll_from(&["--qr", &qr], seed, sites)
    }

    fn enroll_from(&self, source: &[&str], seed: &str, sites: &[&str]) -> Result<String> {
        let now = unix_now();
        let code = oathtool_codes(seed, now, now)?.remove(0);
        self.admin().add_token(source, &code, sites)
    }

    /// Gives `user` `access` to `token` through the group `group`.
    pub fn grant(&self, token: &str, group: &str, user: &str, access: Access) -> Result<()> {
        let admin = self.admin();
        if !admin
            .run(&["group", "list"])?
            .lines()
            .any(|l| l.split_whitespace().next() == Some(group))
        {
            admin.run(&["group", "add", group])?;
        }
        admin.run(&["group", "add-member", group, user])?;
        admin.run(&["grant", "set", token, group, access.as_str()])?;
        Ok(())
    }

    /// A shared SMS inbox `number` bound to `site` (on every port),
    /// granted to `user`
    /// through `group` at `level` (`code-only` or `full`).
    pub fn sms_inbox(
        &self,
        number: &str,
        site: &str,
        group: &str,
        user: &str,
        level: twofill_words::SmsAccess,
    ) -> Result<()> {
        self.server_cli(&["sms", "inbox", "add", number])?;
        let site = crate::host::on_every_port(site);
        self.server_cli(&["sms", "inbox", "bind", number, &site])?;
        let admin = self.admin();
        if !admin
            .run(&["group", "list"])?
            .lines()
            .any(|l| l.split_whitespace().next() == Some(group))
        {
            admin.run(&["group", "add", group])?;
        }
        admin.run(&["group", "add-member", group, user])?;
        self.server_cli(&["sms", "inbox", "grant", number, group, level.as_str()])?;
        Ok(())
    }

    /// An SMS provider's webhook: `POST path` (no device certificate, as
    /// providers call it) with `headers` and `body`; the HTTP status and
    /// the reply's body. Through curl, trusting the server's own CA.
    pub fn post_webhook(
        &self,
        path: &str,
        headers: &[(&str, String)],
        content_type: &str,
        body: &str,
    ) -> Result<(u16, String)> {
        let mut curl = Command::new("curl");
        curl.args(["--silent", "--show-error", "--max-time", "10"])
            .arg("--cacert")
            .arg(self.state.join("ca.pem"))
            .args(["--write-out", "\n%{http_code}", "--data-binary", "@-"])
            .arg("-H")
            .arg(format!("Content-Type: {content_type}"));
        for (name, value) in headers {
            curl.arg("-H").arg(format!("{name}: {value}"));
        }
        let mut child = curl
            .arg(format!("{}{path}", self.url))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run curl")?;
        std::io::Write::write_all(
            &mut child.stdin.take().context("no stdin")?,
            body.as_bytes(),
        )?;
        let out = child.wait_with_output()?;
        ensure!(
            out.status.success(),
            "curl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout)?;
        let (reply, status) = text.rsplit_once('\n').context("curl printed no status")?;
        Ok((status.trim().parse()?, reply.to_owned()))
    }

    /// The server's audit log, one ECS record per entry.
    pub fn audit(&self) -> Result<Vec<Value>> {
        self.admin().audit()
    }

    /// Where the server keeps its state (config, CA, store, key).
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// What the server printed to stderr so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }
}

impl Drop for TeamServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_cli(bin: &Path, state: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(bin)
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    ensure!(
        out.status.success(),
        "twofill-server {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A teammate's laptop joined to the server.
pub struct Teammate {
    pub name: String,
    pub session: Session,
    /// The device id the server gave this laptop.
    pub device: String,
}

impl Teammate {
    /// A new browser profile whose host joins `server` with an invite for
    /// `name`, its device key in a 0600 file (the test machine has no
    /// keyring session for the browser).
    pub async fn join(server: &TeamServer, name: &str) -> Result<Teammate> {
        let invite = server.invite(name)?;
        let (teammate, user) = Teammate::join_with(server, name, &invite).await?;
        ensure!(user == name, "joined as {user}");
        Ok(teammate)
    }

    /// As [`Teammate::join`], with an invite the test made (`invite --sso`:
    /// the device's user is whoever signs in first, so `name` is only what
    /// the laptop is called).
    /// Also returns the user the server enrolled the device for.
    pub async fn join_with(
        server: &TeamServer,
        name: &str,
        invite: &str,
    ) -> Result<(Teammate, String)> {
        Teammate::join_in(Session::start().await?, server, name, invite).await
    }

    /// As [`Teammate::join`], in a browser started with `options`.
    pub async fn join_with_options(
        server: &TeamServer,
        name: &str,
        options: crate::SessionOptions,
    ) -> Result<Teammate> {
        let invite = server.invite(name)?;
        let session = Session::start_with_options(options).await?;
        Ok(Teammate::join_in(session, server, name, &invite).await?.0)
    }

    async fn join_in(
        session: Session,
        server: &TeamServer,
        name: &str,
        invite: &str,
    ) -> Result<(Teammate, String)> {
        let joined: Value = serde_json::from_str(
            &session
                .teammate_cli()
                .with_env("TWOFILL_NO_KEYRING", "1")
                .run(&[
                    "join",
                    &server.url,
                    "--invite",
                    invite,
                    "--name",
                    &format!("{name}'s laptop"),
                    "--json",
                ])?,
        )?;
        let user = joined["user"].as_str().unwrap_or_default().to_owned();
        let device = joined["device"]["id"]
            .as_str()
            .context("`join --json` names no device")?
            .to_owned();
        Ok((
            Teammate {
                name: name.to_owned(),
                session,
                device,
            },
            user,
        ))
    }

    /// Starts `twofill-host login --no-browser ARGS --json` as this
    /// teammate and waits for the address it prints (the provider's sign-in
    /// page, or the device flow's verification URI).
    pub fn start_login(&self, args: &[&str]) -> Result<LoginRun> {
        let mut child = self
            .session
            .teammate_cli()
            .with_env("TWOFILL_NO_KEYRING", "1")
            .command()
            .args(["login", "--no-browser", "--json"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start `twofill-host login`")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut said = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let url = line
                        .split_whitespace()
                        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
                        .map(|w| w.trim_end_matches([',', '.', ')']).to_owned());
                    said.push(line.clone());
                    // The device flow names the URI and the code on one line.
                    let user_code = line
                        .split_once("enter the code ")
                        .map(|(_, c)| c.trim().to_owned());
                    if let Some(url) = url {
                        return Ok(LoginRun {
                            child,
                            url,
                            user_code,
                            said: rx,
                            started: Instant::now(),
                        });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    bail!("`twofill-host login` printed no address: {said:?}");
                }
            }
        }
    }
}

/// A `twofill-host login` in progress.
pub struct LoginRun {
    child: Child,
    /// Where the browser goes: the sign-in page or the verification URI.
    pub url: String,
    /// The device flow's code, when it is one.
    pub user_code: Option<String>,
    said: std::sync::mpsc::Receiver<String>,
    /// When the address was printed.
    pub started: Instant,
}

impl LoginRun {
    /// Waits for `login` to finish; its `--json` report.
    pub fn finish(mut self, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!(
                    "`twofill-host login` did not finish within {timeout:?}: {:?}",
                    self.said.try_iter().collect::<Vec<_>>()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            stdout.read_to_string(&mut out)?;
        }
        std::thread::sleep(Duration::from_millis(50));
        let said: Vec<String> = self.said.try_iter().collect();
        ensure!(status.success(), "`twofill-host login` failed: {said:?}");
        serde_json::from_str(&out).with_context(|| format!("`login --json` printed {out:?}"))
    }
}

impl Teammate {
    /// Sends the host this browser launches one native message, as the
    /// extension would (same caller, same environment); its reply.
    pub fn ask_host(&self, body: RequestBody) -> Result<Value> {
        let request = Request {
            v: PROTOCOL_VERSION,
            id: "e2e-1".into(),
            body,
        };
        let mut child = self
            .session
            .teammate_cli()
            .command()
            .arg(format!("chrome-extension://{EXTENSION_ID}/"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut stdin = child.stdin.take().context("no stdin")?;
        write_frame(&mut stdin, &serde_json::to_vec(&request)?)?;
        drop(stdin);
        let mut stdout = child.stdout.take().context("no stdout")?;
        let reply = read_frame(&mut stdout)?.context("the host closed without a reply")?;
        let mut rest = Vec::new();
        let _ = stdout.read_to_end(&mut rest);
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("the host did not exit after its reply");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(serde_json::from_slice(&reply)?)
    }

    /// Asks for `token`'s seed through the host.
    pub fn reveal_seed(&self, token: &str) -> Result<Value> {
        self.ask_host(RequestBody::RevealSeed {
            token: token.to_owned(),
            purpose: SeedPurpose::default(),
        })
    }
}
