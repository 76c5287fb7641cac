//! The loopback redirect of a browser sign-in (RFC 8252 §7.3): a listener
//! on `127.0.0.1:<random port>` that takes exactly one request, on
//! [`CALLBACK_PATH`], carrying the `state` of this login.
//!
//! Anything else (another path, another or no `state`, a second request
//! after the good one, a malformed request) gets `400` and the listener
//! keeps waiting until its deadline; after the good one it closes. Each
//! connection is read on its own thread with a short timeout, so a
//! browser's idle speculative connection cannot hold up the real redirect.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// The redirect's path; the host part is always `127.0.0.1`.
pub const CALLBACK_PATH: &str = "/callback";
/// How long one connection may take to send its request line and headers.
const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest request head read.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How often the accept loop looks for a new connection.
const POLL: Duration = Duration::from_millis(20);

/// What the identity provider sent back through the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The authorization code to exchange.
    Code(String),
    /// The provider refused (`error=access_denied`, …), for this login.
    Refused {
        error: String,
        description: Option<String>,
    },
}

#[derive(Debug)]
pub enum CallbackError {
    /// No good request before the deadline.
    TimedOut(Duration),
    Io(io::Error),
}

impl std::fmt::Display for CallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallbackError::TimedOut(d) => write!(
                f,
                "the browser did not come back from the sign-in page within {} s; run `twofill-host login` again",
                d.as_secs()
            ),
            CallbackError::Io(e) => write!(f, "the sign-in callback listener failed: {e}"),
        }
    }
}

impl std::error::Error for CallbackError {}

pub struct CallbackListener {
    listener: TcpListener,
    port: u16,
    state: String,
}

impl CallbackListener {
    /// Listens on `127.0.0.1:0` for the redirect carrying `state`.
    pub fn bind(state: &str) -> io::Result<CallbackListener> {
        let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        Ok(CallbackListener {
            listener,
            port,
            state: state.to_owned(),
        })
    }

    /// `http://127.0.0.1:PORT/callback`, the `redirect_uri` of this login.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits for the one good request, at most `timeout`; the listener is
    /// closed when this returns, whatever the outcome.
    pub fn wait(self, timeout: Duration) -> Result<CallbackOutcome, CallbackError> {
        let deadline = Instant::now() + timeout;
        let state = Arc::new(self.state);
        let answered = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        loop {
            if let Ok(outcome) = rx.try_recv() {
                return Ok(outcome);
            }
            if Instant::now() >= deadline {
                return Err(CallbackError::TimedOut(timeout));
            }
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    let (state, answered, tx) = (state.clone(), answered.clone(), tx.clone());
                    std::thread::spawn(move || {
                        if let Some(outcome) = handle(stream, peer, &state, &answered) {
                            let _ = tx.send(outcome);
                        }
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The good request may be on its way in a handler.
                    if let Ok(outcome) = rx.recv_timeout(POLL) {
                        return Ok(outcome);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CallbackError::Io(e)),
            }
        }
    }
}

/// Answers one connection; `Some` for the one request this login waits for.
fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    state: &str,
    answered: &AtomicBool,
) -> Option<CallbackOutcome> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    // Bound to 127.0.0.1, so only this machine can connect; said again
    // here so that a change of the bind address cannot widen it silently.
    if peer.ip() != IpAddr::V4(Ipv4Addr::LOCALHOST) {
        reply(
            &mut stream,
            400,
            "Only this computer may call this address.",
        );
        return None;
    }
    let outcome = match read_head(&mut stream).and_then(|head| decide(&head, state)) {
        Ok(outcome) => outcome,
        Err(why) => {
            reply(&mut stream, 400, why);
            return None;
        }
    };
    // Exactly once: a second request with the right state (a reload, a
    // replay) is refused like any other.
    if answered.swap(true, Ordering::SeqCst) {
        reply(
            &mut stream,
            400,
            "This sign-in is already complete. You can close this tab.",
        );
        return None;
    }
    let page = match &outcome {
        CallbackOutcome::Code(_) => {
            "Signed in to twofill. You can close this tab and go back to the terminal.".to_owned()
        }
        CallbackOutcome::Refused { error, .. } => {
            format!("The sign-in was refused ({error}). You can close this tab.")
        }
    };
    reply(&mut stream, 200, &page);
    Some(outcome)
}

fn read_head(stream: &mut TcpStream) -> Result<String, &'static str> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return Err("The request was incomplete."),
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err("The request is too large.");
        }
    }
    String::from_utf8(head).map_err(|_| "The request is not text.")
}

/// The outcome a request head carries, or why it is not the awaited one.
fn decide(head: &str, state: &str) -> Result<CallbackOutcome, &'static str> {
    let line = head.split("\r\n").next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if method != "GET" {
        return Err("Only the browser's redirect is accepted here.");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != CALLBACK_PATH {
        return Err("This address only takes twofill's sign-in redirect.");
    }
    let params = query_pairs(query);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match get("state") {
        Some(s) if twofill_seal::ct_eq(s.as_bytes(), state.as_bytes()) => {}
        _ => return Err("This is not the sign-in twofill-host is waiting for (wrong state)."),
    }
    if let Some(error) = get("error") {
        return Ok(CallbackOutcome::Refused {
            error: error.to_owned(),
            description: get("error_description").map(str::to_owned),
        });
    }
    match get("code") {
        Some(code) if !code.is_empty() => Ok(CallbackOutcome::Code(code.to_owned())),
        _ => Err("The redirect carries no authorization code."),
    }
}

/// `application/x-www-form-urlencoded` pairs.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reply(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>twofill</title><p>{}</p>\n",
        html_escape(text)
    );
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .and_then(|()| stream.flush());
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(target: &str) -> String {
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    }

    #[test]
    fn only_the_callback_path_with_this_state_carries_a_code() {
        assert_eq!(
            decide(&head("/callback?code=a%2Bb+c&state=s1"), "s1"),
            Ok(CallbackOutcome::Code("a+b c".into()))
        );
        assert!(decide(&head("/callback?code=x&state=s2"), "s1").is_err());
        assert!(decide(&head("/callback?code=x"), "s1").is_err());
        assert!(decide(&head("/callback?code=x&state=s"), "s1").is_err());
        assert!(decide(&head("/other?code=x&state=s1"), "s1").is_err());
        assert!(decide(&head("/callback/?code=x&state=s1"), "s1").is_err());
        assert!(decide(&head("/callback?state=s1"), "s1").is_err());
        assert!(decide("POST /callback?code=x&state=s1 HTTP/1.1\r\n\r\n", "s1").is_err());
        assert_eq!(
            decide(
                &head("/callback?error=access_denied&error_description=no%20way&state=s1"),
                "s1"
            ),
            Ok(CallbackOutcome::Refused {
                error: "access_denied".into(),
                description: Some("no way".into())
            })
        );
    }

    /// One raw HTTP request to `addr`; the status code, or `None` when the
    /// connection was refused.
    fn get(addr: SocketAddr, target: &str) -> Option<u16> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        stream
            .write_all(format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).ok()?;
        reply.split(' ').nth(1)?.parse().ok()
    }

    #[test]
    fn the_listener_takes_one_request_with_its_state_then_closes() {
        let listener = CallbackListener::bind("the-state").unwrap();
        let uri = listener.redirect_uri();
        let port: u16 = uri
            .strip_prefix("http://127.0.0.1:")
            .and_then(|r| r.strip_suffix("/callback"))
            .unwrap()
            .parse()
            .unwrap();
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        let waiter = std::thread::spawn(move || listener.wait(Duration::from_secs(20)));
        // An idle connection (a browser's speculative one) holds nothing up.
        let _idle = TcpStream::connect(addr).unwrap();
        // Elsewhere on the loopback net (127.0.0.2) nobody listens.
        let other = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), port);
        assert_eq!(get(other, "/callback?code=c&state=the-state"), None);
        assert_eq!(get(addr, "/callback?code=c&state=wrong"), Some(400));
        assert_eq!(get(addr, "/callback?code=c"), Some(400));
        assert_eq!(get(addr, "/favicon.ico"), Some(400));
        assert_eq!(
            get(addr, "/callback?code=the-code&state=the-state"),
            Some(200)
        );
        let outcome = waiter.join().unwrap().unwrap();
        assert_eq!(outcome, CallbackOutcome::Code("the-code".into()));
        // Closed: a replay of the good redirect finds nobody.
        assert_eq!(get(addr, "/callback?code=the-code&state=the-state"), None);
    }

    #[test]
    fn two_good_requests_in_flight_at_once_get_one_code() {
        // Two handlers share the "answered" flag, as two connections that
        // arrived together would: the second is refused.
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let answered = AtomicBool::new(false);
        let mut statuses = Vec::new();
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            let client = std::thread::spawn(move || get(addr, "/callback?code=c&state=s"));
            let (stream, peer) = server.accept().unwrap();
            outcomes.push(handle(stream, peer, "s", &answered));
            statuses.push(client.join().unwrap());
        }
        assert_eq!(outcomes, [Some(CallbackOutcome::Code("c".into())), None]);
        assert_eq!(statuses, [Some(200), Some(400)]);
    }

    #[test]
    fn a_peer_that_is_not_127_0_0_1_is_refused_even_with_the_state() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let client = std::thread::spawn(move || get(addr, "/callback?code=c&state=s"));
        let (stream, _) = server.accept().unwrap();
        let lan_peer: SocketAddr = "192.168.1.20:50000".parse().unwrap();
        let answered = AtomicBool::new(false);
        assert_eq!(handle(stream, lan_peer, "s", &answered), None);
        // Answered 400 unread (the reset may swallow the answer): never a 200.
        assert_ne!(client.join().unwrap(), Some(200));
        assert!(!answered.load(Ordering::SeqCst));
    }

    #[test]
    fn without_the_good_request_the_listener_gives_up_at_its_deadline() {
        let listener = CallbackListener::bind("s").unwrap();
        let started = Instant::now();
        let err = listener.wait(Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, CallbackError::TimedOut(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(err.to_string().contains("twofill-host login"), "{err}");
    }

    #[test]
    fn percent_decoding_keeps_what_it_cannot_decode() {
        assert_eq!(percent_decode("%41%zz%4"), "A%zz%4");
        assert_eq!(percent_decode("a+b%20c"), "a b c");
    }
}
