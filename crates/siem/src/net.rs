//! Connections: TCP with timeouts, optionally wrapped in TLS (rustls, ring).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::config::TlsConfig;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A ready TLS client setup: trust anchors, optional client certificate,
/// and the name to verify.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl Tls {
    pub fn new(cfg: &TlsConfig, default_host: &str) -> Result<Tls> {
        let ca = cfg.ca.as_deref().unwrap_or(Path::new(SYSTEM_CA_BUNDLE));
        let mut roots = RootCertStore::empty();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
            .with_context(|| format!("cannot read the CA file {}", ca.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("{} is not a PEM certificate file", ca.display()))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            bail!("no usable CA certificate in {}", ca.display());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots);
        let config = match (&cfg.cert, &cfg.key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .with_context(|| format!("cannot read {}", cert.display()))?
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("{} is not a PEM certificate file", cert.display()))?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .with_context(|| format!("cannot read the private key {}", key.display()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .context("client certificate")?
            }
            _ => builder.with_no_client_auth(),
        };
        let name = cfg.server_name.as_deref().unwrap_or(default_host);
        let server_name = ServerName::try_from(name.trim_matches(['[', ']']).to_owned())
            .map_err(|_| anyhow!("{name:?} is not a valid TLS server name"))?;
        Ok(Tls {
            config: Arc::new(config),
            server_name,
        })
    }
}

pub enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Conn {
    /// Connects to `address` (`host:port`), with TLS if given; the TLS
    /// handshake completes here, so certificate problems show at once.
    pub fn open(address: &str, tls: Option<&Tls>) -> Result<Conn> {
        let mut last = None;
        let addrs = address
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {address}"))?;
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => {
                return Err(e).with_context(|| format!("cannot connect to {address}"));
            }
            (None, None) => bail!("{address} resolves to no address"),
        };
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        match tls {
            None => Ok(Conn::Plain(stream)),
            Some(t) => {
                let conn = ClientConnection::new(t.config.clone(), t.server_name.clone())
                    .context("TLS setup")?;
                let mut s = StreamOwned::new(conn, stream);
                while s.conn.is_handshaking() {
                    s.conn
                        .complete_io(&mut s.sock)
                        .with_context(|| format!("TLS handshake with {address}"))?;
                }
                Ok(Conn::Tls(Box::new(s)))
            }
        }
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    /// Whether the peer still looks connected. A syslog receiver never
    /// talks back, so end-of-stream, an error, or anything readable (a TLS
    /// alert or close_notify) all mean the connection is finished and what
    /// was written lately may not have been read.
    pub fn healthy(&mut self) -> bool {
        if self.tcp().set_nonblocking(true).is_err() {
            return false;
        }
        let alive = match self {
            Conn::Plain(s) => {
                let mut b = [0u8; 1];
                matches!(s.peek(&mut b), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            // TLS 1.3 servers send session tickets after the handshake: read
            // and process what arrived; only a close, an alert or
            // application data count against the connection.
            Conn::Tls(s) => loop {
                match s.conn.read_tls(&mut s.sock) {
                    Ok(0) => break false,
                    Ok(_) => {
                        if s.conn.process_new_packets().is_err() {
                            break false;
                        }
                        let mut b = [0u8; 1];
                        match s.conn.reader().read(&mut b) {
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                            _ => break false,
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                    Err(_) => break false,
                }
            },
        };
        let _ = self.tcp().set_nonblocking(false);
        alive
    }

    pub fn shutdown(&mut self) {
        if let Conn::Tls(s) = self {
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
        }
        let _ = self.tcp().shutdown(std::net::Shutdown::Both);
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// `http(s)://host[:port][/path]`, split up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Url> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            bail!("{url:?}: only http:// and https:// URLs are supported");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            bail!("{url:?}: expected http(s)://host[:port]/path");
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| anyhow!("{url:?}: bad port {p:?}"))?,
            ),
            _ => (authority, if https { 443 } else { 80 }),
        };
        let path = match path {
            "" | "/" => "/services/collector/event".to_owned(),
            p => p.to_owned(),
        };
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            bail!("{url:?}: the path must not contain spaces or control characters");
        }
        Ok(Url {
            https,
            host: host.to_owned(),
            port,
            path,
        })
    }

    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn host_header(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            self.address()
        }
    }
}

/// What came back from an HTTP request.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// One HTTP/1.1 POST on a fresh connection (`Connection: close`), reading
/// the status and up to 64 KiB of the body.
pub fn post(
    url: &Url,
    tls: Option<&Tls>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<HttpResponse> {
    let mut conn = Conn::open(&url.address(), tls)?;
    let mut req = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: twofill-host/{}\r\nContent-Length: {}\r\nConnection: close\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (k, v) in headers {
        if v.contains(['\r', '\n']) || k.contains(['\r', '\n', ':']) {
            bail!("header {k:?} contains a line break");
        }
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > 64 * 1024 {
                    break;
                }
                if response_complete(&raw) {
                    break;
                }
            }
            // Peers that close without TLS close_notify: what we have is what we get.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => return Err(e).context("reading the HTTP response"),
        }
    }
    conn.shutdown();
    parse_response(&raw)
}

fn header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

fn response_complete(raw: &[u8]) -> bool {
    let Some(end) = header_end(raw) else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    content_length(&head).is_some_and(|n| raw.len() >= end + n)
}

pub fn parse_response(raw: &[u8]) -> Result<HttpResponse> {
    let end = header_end(raw).ok_or_else(|| anyhow!("incomplete HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        bail!("bad HTTP status line {status_line:?}");
    };
    if !version.starts_with("HTTP/1.") {
        bail!("bad HTTP status line {status_line:?}");
    }
    let status = code
        .parse()
        .map_err(|_| anyhow!("bad HTTP status line {status_line:?}"))?;
    let body = &raw[end..];
    let body = match content_length(&head) {
        Some(n) => &body[..n.min(body.len())],
        None => body,
    };
    Ok(HttpResponse {
        status,
        body: String::from_utf8_lossy(body).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("https://splunk.example:8088/services/collector/event").unwrap();
        assert_eq!(
            u,
            Url {
                https: true,
                host: "splunk.example".into(),
                port: 8088,
                path: "/services/collector/event".into()
            }
        );
        assert_eq!(u.host_header(), "splunk.example:8088");
        let u = Url::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(u.path, "/services/collector/event");
        let u = Url::parse("https://[::1]/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("[::1]", 443));
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://u@x/").is_err());
        assert!(Url::parse("http://x/a b").is_err());
    }

    #[test]
    fn responses() {
        let r = parse_response(b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusyEXTRA").unwrap();
        assert_eq!((r.status, r.body.as_str()), (503, "busy"));
        assert!(response_complete(
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
        ));
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"
        ));
        assert!(parse_response(b"garbage").is_err());
    }
}
