//! The provider's pages in real headless Chromium (through chromedriver, W3C WebDriver over plain HTTP): what the
//! host's end-to-end tests do, kept working here. The loopback flow ends at a real listener on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use twofill_test_oidc::{LOGIN_FIELD, PASSWORD_FIELD, Pkce, SUBMIT_SELECTOR, jwt, random_token};

use crate::{ALICE, ALICE_PASSWORD, SCOPE, provider};

/// chromedriver and the headless Chromium it drives; both killed on drop (their own process group).
struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new("chromedriver");
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .spawn()
            .expect("cannot start chromedriver; install it with `cargo xtask setup`");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            _profile: profile,
        };
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
        }}});
        browser.session = browser.command("POST", "/session", Some(capabilities))["sessionId"]
            .as_str()
            .unwrap()
            .to_owned();
        browser
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let answer = match method {
            "GET" => agent.get(&url).call(),
            "DELETE" => agent.delete(&url).call(),
            _ => agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        };
        let mut answer = answer.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let text = answer.body_mut().read_to_string().unwrap();
        assert_eq!(
            answer.status().as_u16(),
            200,
            "WebDriver {method} {path}: {text}"
        );
        serde_json::from_str::<Value>(&text).unwrap()["value"].clone()
    }

    fn in_session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    fn open(&self, url: &str) {
        self.in_session("POST", "/url", Some(json!({ "url": url })));
    }

    fn title(&self) -> String {
        self.in_session("GET", "/title", None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The element for `css`, waiting for it to appear (pages load after a click).
    fn element(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.in_session(
                "POST",
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            );
            if let Some(first) = found.as_array().and_then(|a| a.first()) {
                return first
                    .as_object()
                    .unwrap()
                    .values()
                    .next()
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no {css} on the page titled {:?}",
                self.title()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css);
        self.in_session(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let element = self.element(css);
        self.in_session("POST", &format!("/element/{element}/click"), None);
    }

    fn wait_for_title(&self, title: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.title() != title {
            assert!(
                Instant::now() < deadline,
                "the page is {:?}, not {title:?}",
                self.title()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn sign_in_at_the_form(&self) {
        self.type_into(&format!("input[name={LOGIN_FIELD}]"), ALICE);
        self.type_into(&format!("input[name={PASSWORD_FIELD}]"), ALICE_PASSWORD);
        self.click(SUBMIT_SELECTOR);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.wait();
    }
}

/// Answers the first request on `listener` with a small page; returns its request target (path and query).
/// (Connections Chromium opens ahead and closes without a request are skipped.)
fn accept_callback(listener: TcpListener) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (mut stream, request_line) = loop {
            let (stream, _) = listener.accept().unwrap();
            let mut request_line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut request_line);
            if !request_line.trim().is_empty() {
                break (stream, request_line);
            }
        };
        let page = "<!DOCTYPE html><title>Signed in</title><p>You can close this tab.</p>";
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        )
        .unwrap();
        request_line.split_whitespace().nth(1).unwrap().to_owned()
    })
}

#[test]
fn chromium_signs_in_at_the_login_form_and_lands_on_a_loopback_listener() {
    let provider = provider();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr().unwrap().port()
    );
    let callback = accept_callback(listener);
    let (pkce, state, nonce) = (Pkce::new(), random_token(), random_token());
    let browser = Browser::start();
    let started = Instant::now();
    browser.open(&provider.authorization_url(
        provider.client_id(),
        &redirect,
        &pkce.challenge,
        &nonce,
        SCOPE,
        &state,
    ));
    browser.wait_for_title("Sign in");
    browser.sign_in_at_the_form();
    let target = callback.join().unwrap();
    eprintln!(
        "loopback sign-in in Chromium: {} ms",
        started.elapsed().as_millis()
    );
    let query = target
        .strip_prefix("/callback?")
        .unwrap_or_else(|| panic!("callback {target}"));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {query}"))
            .to_owned()
    };
    assert_eq!(param("state"), state);
    let tokens = provider
        .exchange_code(
            provider.client_id(),
            &param("code"),
            &redirect,
            &pkce.verifier,
        )
        .unwrap();
    let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token.payload["sub"], ALICE);
    assert_eq!(id_token.payload["nonce"], nonce.as_str());
    browser.wait_for_title("Signed in");
}

#[test]
fn chromium_approves_a_device_at_the_verification_page() {
    let provider = provider();
    let device = provider.start_device(SCOPE);
    let browser = Browser::start();
    browser.open(&device.verification_uri);
    browser.wait_for_title("Enter the code");
    browser.type_into("input[name=user_code]", &device.user_code);
    browser.click(SUBMIT_SELECTOR);
    browser.wait_for_title("Confirm the device");
    browser.click(SUBMIT_SELECTOR);
    browser.wait_for_title("Sign in");
    browser.sign_in_at_the_form();
    browser.wait_for_title("Signed in");
    let tokens = provider.poll_device(&device.device_code).unwrap();
    let id_token = jwt::decode(tokens.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token.payload["sub"], ALICE);
}
