//! A tiny static file server for the fixture pages, on 127.0.0.1.
//!
//! Chromium maps every `*.test` host to 127.0.0.1 (`--host-resolver-rules`),
//! so one server serves the same page under different origins: the bound
//! `my.kaspersky.test` and the unbound `evil.test`. Every response carries a
//! strict CSP without `'wasm-unsafe-eval'`, like real sign-in pages.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

pub const PAGE_CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; frame-src 'self'";

pub struct SiteServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl SiteServer {
    /// Serves `root` until dropped.
    pub fn start(root: &Path) -> std::io::Result<SiteServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_owned();
        let stop_flag = stop.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let root = root.clone();
                thread::spawn(move || {
                    let _ = serve_one(stream, &root);
                });
            }
        });
        Ok(SiteServer { port, stop })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://<host>:<port><path>`; `host` should end in `.test`.
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port)
    }
}

impl Drop for SiteServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve_one(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers; we need none of them.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let mut out = stream;
    match resolve(root, path).and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
        Some((file, body)) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
                 Content-Security-Policy: {PAGE_CSP}\r\nCache-Control: no-store\r\n\
                 Connection: close\r\n\r\n",
                content_type(&file),
                body.len()
            )?;
            out.write_all(&body)?;
        }
        None => {
            let body = b"not found";
            write!(
                out,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            out.write_all(body)?;
        }
    }
    out.flush()
}

/// Maps a URL path into `root`, refusing anything that climbs out of it.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let rel = Path::new(url_path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(rel);
    full.is_file().then_some(full)
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        // Extension packages, as a self-hosting admin serves them.
        Some("xml") => "application/xml",
        Some("crx") => "application/x-chrome-extension",
        Some("xpi") => "application/x-xpinstall",
        _ => "application/octet-stream",
    }
}
