//! HTTPS to the team server: rustls (ring) over a `TcpStream`, HTTP/1.1,
//! blocking like the rest of the host. The browser keeps one host running
//! for many messages, so the connection is kept open between requests
//! (keep-alive: no TCP or TLS handshake at fill time; a new connection
//! resumes the TLS session). A kept connection the server has closed in the
//! meantime fails before any reply byte arrives; the request is then sent
//! once more on a new connection. Every step has a deadline
//! (connect [`CONNECT_TIMEOUT`], the whole exchange [`REQUEST_TIMEOUT`]) so
//! an unreachable server becomes an answer, never a hung extension.
//!
//! Trust is explicit: [`Client::pinned`] trusts only the CA this device
//! pinned at `join` (no system roots), [`Client::unverified`] trusts nothing
//! and exists only so `join` can fetch the CA whose hash the invite names.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, ClientConfig, ClientConnection, DigitallySignedStruct, StreamOwned,
};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest reply read: anything the host forwards must fit in one
/// native message anyway.
const MAX_REPLY_BYTES: usize = twofill_protocol::MAX_FRAME_BYTES + 64 * 1024;

/// Why a request got no HTTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// No connection, a TLS failure other than the ones below, a timeout,
    /// or a reply that was cut short or not HTTP.
    Unreachable(String),
    /// The server's certificate does not chain to the pinned CA or does not
    /// name the host in the URL.
    UntrustedServer(String),
    /// The server refused this device's certificate during the handshake.
    ClientCertificateRefused(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Unreachable(m)
            | HttpError::UntrustedServer(m)
            | HttpError::ClientCertificateRefused(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HttpError {}

/// `https://host[:port][/prefix]`: where the API's `/v1/…` paths are rooted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    host: String,
    port: u16,
    prefix: String,
}

impl ServerUrl {
    pub fn parse(url: &str) -> Result<ServerUrl, String> {
        let bad = || {
            format!(
                "{url:?} is not a team server URL; it looks like https://vault.example or https://vault.example:8443"
            )
        };
        let rest = url.trim().strip_prefix("https://").ok_or_else(bad)?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty()
            || authority.contains(['@', '?', '#'])
            || prefix.contains(['?', '#'])
            || url.bytes().any(|b| b <= b' ' || b == 0x7f)
        {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, p.parse::<u16>().map_err(|_| bad())?),
            _ => (authority, 443),
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(ServerUrl {
            host: host.to_owned(),
            port,
            prefix: prefix.to_owned(),
        })
    }

    fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn host_header(&self) -> String {
        if self.port == 443 {
            self.host.clone()
        } else {
            self.address()
        }
    }

    fn server_name(&self) -> Result<ServerName<'static>, HttpError> {
        ServerName::try_from(self.host.trim_matches(['[', ']']).to_owned()).map_err(|_| {
            HttpError::Unreachable(format!("{:?} is not a valid server name", self.host))
        })
    }
}

impl std::fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "https://{}{}", self.host_header(), self.prefix)
    }
}

/// An HTTP reply: its status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

pub struct Client {
    url: ServerUrl,
    config: Arc<ClientConfig>,
    /// The connection of the last complete exchange, kept for the next.
    idle: Mutex<Option<Stream>>,
}

type Stream = StreamOwned<ClientConnection, TcpStream>;

/// How one exchange on one connection went.
enum Attempt {
    Answered(Reply),
    /// The connection failed before any byte of a reply: for a kept one,
    /// the server closed it while it was idle and never saw this request.
    Stale,
    Failed(HttpError),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, HttpError> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Unreachable(format!("TLS setup: {e}")))
}

impl Client {
    /// Trusts only `ca` (the pinned CA) and, when given, presents this
    /// device's certificate and key.
    pub fn pinned(
        url: ServerUrl,
        ca: CertificateDer<'static>,
        device: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Result<Client, HttpError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).map_err(|e| {
            HttpError::UntrustedServer(format!("the pinned CA certificate is unusable: {e}"))
        })?;
        let builder = builder()?.with_root_certificates(roots);
        let config = match device {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                HttpError::ClientCertificateRefused(format!(
                    "this device's certificate or key is unusable: {e}"
                ))
            })?,
            None => builder.with_no_client_auth(),
        };
        Ok(Client {
            url,
            config: Arc::new(config),
            idle: Mutex::new(None),
        })
    }

    /// Trusts any certificate: only for `GET /v1/ca` during `join`, whose
    /// answer the caller checks against the invite's pin before sending
    /// anything secret.
    pub fn unverified(url: ServerUrl) -> Result<Client, HttpError> {
        let config = builder()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
            .with_no_client_auth();
        Ok(Client {
            url,
            config: Arc::new(config),
            idle: Mutex::new(None),
        })
    }

    pub fn url(&self) -> &ServerUrl {
        &self.url
    }

    pub fn get(&self, path: &str) -> Result<Reply, HttpError> {
        self.exchange("GET", path, None, &[])
    }

    pub fn post_json(&self, path: &str, body: &[u8]) -> Result<Reply, HttpError> {
        self.exchange("POST", path, Some(body), &[])
    }

    /// `GET` with extra request headers (the sign-in's session ticket).
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Result<Reply, HttpError> {
        self.exchange("GET", path, None, headers)
    }

    /// `POST` with extra request headers (the sign-in's session ticket).
    pub fn post_json_with(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<Reply, HttpError> {
        self.exchange("POST", path, Some(body), headers)
    }

    fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, HttpError> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: twofill-host/{}\r\nAccept: application/json\r\n",
            self.url.prefix,
            self.url.host_header(),
            env!("CARGO_PKG_VERSION"),
        );
        for (name, value) in headers {
            // A header value is ours (a ticket the server issued), but a
            // line break in it would forge more headers: refuse, never send.
            if [name, value]
                .iter()
                .any(|t| t.bytes().any(|b| b < b' ' || b == 0x7f))
            {
                return Err(HttpError::Unreachable(format!(
                    "the request header {name} holds a control character; it was not sent to {}",
                    self.url
                )));
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let kept = self.idle.lock().map(|mut idle| idle.take()).unwrap_or(None);
        if let Some(stream) = kept {
            match self.attempt(stream, head.as_bytes(), body, deadline, true) {
                Attempt::Answered(reply) => return Ok(reply),
                Attempt::Failed(e) => return Err(e),
                Attempt::Stale => {}
            }
        }
        let stream = self.connect(deadline)?;
        match self.attempt(stream, head.as_bytes(), body, deadline, false) {
            Attempt::Answered(reply) => Ok(reply),
            Attempt::Failed(e) => Err(e),
            Attempt::Stale => Err(HttpError::Unreachable(format!(
                "{} closed the connection without a reply",
                self.url
            ))),
        }
    }

    /// Sends one request on `stream` and reads its reply; a connection the
    /// reply allows to stay open is kept for the next request.
    fn attempt(
        &self,
        mut stream: Stream,
        head: &[u8],
        body: Option<&[u8]>,
        deadline: Instant,
        kept: bool,
    ) -> Attempt {
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = stream
            .sock
            .set_write_timeout(Some(left.max(Duration::from_millis(1))));
        let sent = stream
            .write_all(head)
            .and_then(|()| stream.write_all(body.unwrap_or_default()))
            .and_then(|()| stream.flush());
        if let Err(e) = sent {
            return match kept {
                true => Attempt::Stale,
                false => Attempt::Failed(self.io_error("sending the request to", &e)),
            };
        }
        match self.read_reply(&mut stream, deadline) {
            Ok(Some((reply, keep))) => {
                if keep && let Ok(mut idle) = self.idle.lock() {
                    *idle = Some(stream);
                }
                Attempt::Answered(reply)
            }
            Ok(None) => Attempt::Stale,
            Err(e) => Attempt::Failed(e),
        }
    }

    /// The reply and whether the connection may be kept; `None` when the
    /// connection ended before any byte of a reply.
    fn read_reply(
        &self,
        stream: &mut Stream,
        deadline: Instant,
    ) -> Result<Option<(Reply, bool)>, HttpError> {
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.timeout());
            }
            // Ignored: a zero timeout is the only error, excluded above.
            let _ = stream.sock.set_read_timeout(Some(left));
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    raw.extend_from_slice(&buf[..n]);
                    if raw.len() > MAX_REPLY_BYTES {
                        return Err(HttpError::Unreachable(format!(
                            "the reply from {} is larger than {MAX_REPLY_BYTES} bytes",
                            self.url
                        )));
                    }
                    if let Some((reply, keep)) = parse(&raw)? {
                        return Ok(Some((reply, keep)));
                    }
                }
                // A peer that closes without TLS close_notify: the reply is
                // whatever arrived, if that is complete.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
                // Closed before it answered (an idle connection's end).
                Err(e)
                    if raw.is_empty()
                        && matches!(
                            e.kind(),
                            io::ErrorKind::UnexpectedEof
                                | io::ErrorKind::ConnectionReset
                                | io::ErrorKind::ConnectionAborted
                                | io::ErrorKind::BrokenPipe
                        ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(self.io_error("reading the reply from", &e)),
            }
        }
        if raw.is_empty() {
            return Ok(None);
        }
        parse_to_end(&raw)
            .map(|reply| Some((reply, false)))
            .map_err(|e| HttpError::Unreachable(format!("{}: {e}", self.url)))
    }

    fn connect(&self, deadline: Instant) -> Result<Stream, HttpError> {
        let address = self.url.address();
        let unreachable = |what: String| HttpError::Unreachable(format!("{what} ({})", self.url));
        let addrs = address
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("cannot resolve {}: {e}", self.url.host)))?;
        let mut last = None;
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = match (tcp, last) {
            (Some(s), _) => s,
            (None, Some(e)) => {
                return Err(unreachable(format!("cannot connect to {address}: {e}")));
            }
            (None, None) => return Err(unreachable(format!("{address} resolves to no address"))),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timeout());
        }
        let _ = tcp.set_nodelay(true);
        let _ = tcp.set_read_timeout(Some(left));
        let _ = tcp.set_write_timeout(Some(left));
        let conn = ClientConnection::new(self.config.clone(), self.url.server_name()?)
            .map_err(|e| unreachable(format!("TLS setup: {e}")))?;
        let mut stream = StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| self.io_error("the TLS handshake with", &e))?;
        }
        Ok(stream)
    }

    fn timeout(&self) -> HttpError {
        HttpError::Unreachable(format!(
            "{} did not answer within {} s",
            self.url,
            REQUEST_TIMEOUT.as_secs()
        ))
    }

    /// Tells certificate problems (theirs and ours) from a network failure.
    fn io_error(&self, doing: &str, e: &io::Error) -> HttpError {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            return self.timeout();
        }
        let tls = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match tls {
            Some(rustls::Error::InvalidCertificate(why)) => HttpError::UntrustedServer(format!(
                "{} presented a certificate that is not from the CA this device pinned when it joined ({why:?})",
                self.url
            )),
            Some(rustls::Error::AlertReceived(
                alert @ (AlertDescription::BadCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::CertificateRequired
                | AlertDescription::UnknownCA
                | AlertDescription::AccessDenied),
            )) => HttpError::ClientCertificateRefused(format!(
                "{} refused this device's certificate ({alert:?})",
                self.url
            )),
            _ => HttpError::Unreachable(format!("{doing} {}: {e}", self.url)),
        }
    }
}

/// A reply once it is complete, and whether its connection may carry
/// another request: `Ok(None)` while more is needed (a body whose length is
/// known or chunked; others end with the connection).
fn parse(raw: &[u8]) -> Result<Option<(Reply, bool)>, HttpError> {
    let Some(end) = find(raw, b"\r\n\r\n").map(|i| i + 4) else {
        return Ok(None);
    };
    let head = Head::parse(&raw[..end]).map_err(HttpError::Unreachable)?;
    let body = &raw[end..];
    let body = if head.chunked {
        dechunk(body)
    } else if let Some(n) = head.content_length {
        (body.len() >= n).then(|| body[..n].to_vec())
    } else {
        None
    };
    // Exactly one reply's bytes: anything after it would be a reply to
    // nothing, and the connection cannot be trusted with another request.
    let exact = match (head.chunked, head.content_length) {
        (false, Some(n)) => raw.len() == end + n,
        _ => false,
    };
    Ok(body.map(|body| {
        (
            Reply {
                status: head.status,
                body,
            },
            exact && !head.close,
        )
    }))
}

/// A reply that ended with the connection.
fn parse_to_end(raw: &[u8]) -> Result<Reply, String> {
    let end = find(raw, b"\r\n\r\n")
        .map(|i| i + 4)
        .ok_or("the reply was cut short or is not HTTP")?;
    let head = Head::parse(&raw[..end])?;
    if head.chunked || head.content_length.is_some() {
        return Err("the reply was cut short".into());
    }
    Ok(Reply {
        status: head.status,
        body: raw[end..].to_vec(),
    })
}

struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    /// `Connection: close`: the server ends the connection after this reply.
    close: bool,
}

impl Head {
    fn parse(head: &[u8]) -> Result<Head, String> {
        let head = std::str::from_utf8(head).map_err(|_| "the reply's header is not text")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.split(' ');
        let status = match (parts.next(), parts.next()) {
            (Some(v), Some(code)) if v.starts_with("HTTP/1.") => code.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| format!("not an HTTP reply: {:?}", truncate(status_line)))?;
        let mut content_length = None;
        let mut chunked = false;
        let mut close = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(value.parse().map_err(|_| "a bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.to_ascii_lowercase().contains("close");
            }
        }
        Ok(Head {
            status,
            content_length,
            chunked,
            close,
        })
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A chunked body, once its last chunk has arrived.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = find(rest, b"\r\n")?;
        let size = std::str::from_utf8(&rest[..line]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line + 2..];
        if size == 0 {
            return Some(body);
        }
        if rest.len() < size.checked_add(2)? {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Accepts any server certificate (still checking the handshake's
/// signatures): see [`Client::unverified`].
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        let u = ServerUrl::parse("https://vault.example:8443").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.prefix.as_str()),
            ("vault.example", 8443, "")
        );
        assert_eq!(u.to_string(), "https://vault.example:8443");
        let u = ServerUrl::parse("https://vault.example/twofill/").unwrap();
        assert_eq!((u.port, u.prefix.as_str()), (443, "/twofill"));
        assert_eq!(u.to_string(), "https://vault.example/twofill");
        for bad in [
            "http://vault.example",
            "vault.example",
            "https://",
            "https://u@vault.example",
            "https://vault.example:99999",
            "https://vault.example/a b",
            "https://vault.example/?x",
        ] {
            let err = ServerUrl::parse(bad).unwrap_err();
            assert!(err.contains("https://vault.example"), "{bad}: {err}");
        }
    }

    #[test]
    fn replies_by_length_chunks_or_end() {
        let (r, keep) = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            .unwrap()
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        assert!(keep, "a reply of known length leaves the connection usable");
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}")
                .unwrap()
                .is_none()
        );
        let chunked = b"HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let (r, keep) = parse(chunked).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (401, &b"abcde"[..]));
        assert!(!keep, "chunked replies end their connection here");
        assert!(parse(&chunked[..chunked.len() - 5]).unwrap().is_none());
        let r = parse_to_end(b"HTTP/1.0 503 Busy\r\n\r\nbusy").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (503, &b"busy"[..]));
        assert!(parse_to_end(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}").is_err());
        assert!(parse(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_to_end(b"garbage").is_err());
    }

    #[test]
    fn a_connection_is_kept_only_after_exactly_one_reply_without_close() {
        let keep = |raw: &[u8]| parse(raw).unwrap().unwrap().1;
        assert!(!keep(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
        ));
        assert!(!keep(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK"
        ));
        assert!(keep(
            b"HTTP/1.1 200 OK\r\nconnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}"
        ));
    }
}
