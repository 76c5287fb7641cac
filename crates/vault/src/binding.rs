//! Which pages a token may be used on.
//!
//! A [`SiteBinding`] is what an admin writes (`kaspersky.com`,
//! `http://intranet.example:8080`); an [`Origin`] is what the browser reports
//! for the requesting frame. Matching is deliberately strict and simple:
//! same scheme, the bound host or one of its subdomains (on a label boundary,
//! so `kaspersky.com.evil.test` and `evilkaspersky.com` never match), and the
//! port as browsers see origins: a binding without a port means the
//! scheme's default port (443, 80), `host:8443` that port, and `host:*`
//! every port (what a binding without a port meant before schema 13). Hosts are compared in ASCII: bindings
//! written in Unicode are converted to punycode (as browsers report them), so
//! a look-alike in another script never equals a binding.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Https,
    Http,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }
}

/// A web origin as the browser reports it: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

/// A site a token is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteBinding {
    pub scheme: Scheme,
    pub host: String,
    pub port: Ports,
}

/// Which ports of its host a binding covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ports {
    /// No port written: the scheme's default port only.
    Default,
    /// `host:8443`.
    Only(u16),
    /// `host:*`: every port.
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    #[error("`{0}` has no host; write a domain such as `example.com`")]
    NoHost(String),
    #[error("`{0}` uses scheme `{1}`; only https (default) and http sites can be bound or served")]
    Scheme(String, String),
    #[error("`{0}` contains characters that are not allowed in a host name")]
    BadHost(String),
    #[error("`{0}` has an invalid port")]
    BadPort(String),
    #[error("`{0}` has a path, query or fragment; bind a site (scheme, host, port) only")]
    HasPath(String),
    #[error("`{0}` is too long")]
    TooLong(String),
}

const MAX_SITE_CHARS: usize = 300;

struct Parts {
    scheme: Option<Scheme>,
    host: String,
    port: Ports,
}

fn parse_parts(input: &str, allow_path: bool) -> Result<Parts, SiteError> {
    let s = input.trim();
    if s.len() > MAX_SITE_CHARS {
        return Err(SiteError::TooLong(s.chars().take(40).collect()));
    }
    let (scheme, rest) = match s.split_once("://") {
        Some((sch, rest)) => {
            let scheme = match sch.to_ascii_lowercase().as_str() {
                "https" => Scheme::Https,
                "http" => Scheme::Http,
                other => return Err(SiteError::Scheme(s.into(), other.into())),
            };
            (Some(scheme), rest)
        }
        None => (None, s),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if !(allow_path || tail.is_empty() || tail == "/") {
        return Err(SiteError::HasPath(s.into()));
    }
    if authority.contains('@') {
        return Err(SiteError::BadHost(s.into()));
    }
    // An IPv6 host is bracketed and full of colons: its port, if any,
    // follows the closing bracket.
    let port_sep = match authority.rfind(']') {
        Some(close) => authority[close..].find(':').map(|i| close + i),
        None => authority.rfind(':'),
    };
    let (host, port) = match port_sep {
        Some(i) if &authority[i + 1..] == "*" => (&authority[..i], Ports::Any),
        Some(i) => {
            let port: u16 = authority[i + 1..]
                .parse()
                .map_err(|_| SiteError::BadPort(s.into()))?;
            if port == 0 {
                return Err(SiteError::BadPort(s.into()));
            }
            (&authority[..i], Ports::Only(port))
        }
        None => (authority, Ports::Default),
    };
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return Err(SiteError::NoHost(s.into()));
    }
    // Internationalised names become punycode (UTS #46), the form browsers
    // report, so `bücher.example` binds `xn--bcher-kva.example` and a
    // look-alike in another script becomes a different ASCII name.
    let host = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(host).map_err(|_| SiteError::BadHost(s.into()))?
    };
    if !valid_host(&host) {
        return Err(SiteError::BadHost(s.into()));
    }
    Ok(Parts { scheme, host, port })
}

fn valid_host(host: &str) -> bool {
    if host.starts_with('[') {
        return host.ends_with(']')
            && host[1..host.len() - 1]
                .parse::<std::net::Ipv6Addr>()
                .is_ok();
    }
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl FromStr for Origin {
    type Err = SiteError;

    /// Parses an origin; a full URL is accepted and reduced to its origin
    /// (Firefox reports `sender.url`, not `sender.origin`).
    fn from_str(s: &str) -> Result<Self, SiteError> {
        if !s.contains("://") {
            return Err(SiteError::Scheme(s.into(), String::new()));
        }
        let parts = parse_parts(s, true)?;
        let scheme = parts.scheme.expect("checked above");
        let port = match parts.port {
            Ports::Default => scheme.default_port(),
            Ports::Only(port) => port,
            Ports::Any => return Err(SiteError::BadPort(s.into())),
        };
        Ok(Origin {
            scheme,
            port,
            host: parts.host,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

impl FromStr for SiteBinding {
    type Err = SiteError;

    fn from_str(s: &str) -> Result<Self, SiteError> {
        let parts = parse_parts(s, false)?;
        Ok(SiteBinding {
            scheme: parts.scheme.unwrap_or(Scheme::Https),
            host: parts.host,
            port: parts.port,
        })
    }
}

impl fmt::Display for SiteBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        match self.port {
            Ports::Default => Ok(()),
            Ports::Only(port) => write!(f, ":{port}"),
            Ports::Any => write!(f, ":*"),
        }
    }
}

impl SiteBinding {
    /// The stored texts (each a binding's [`Display`](fmt::Display) form) of
    /// every binding that could match `origin`: its host and each parent
    /// domain on a label boundary, without a port, with the origin's, or
    /// with any. A superset: [`matches`](Self::matches) still decides, so a
    /// lookup by these keys finds exactly what a scan of every binding finds.
    pub fn candidate_keys(origin: &Origin) -> Vec<String> {
        let mut keys = Vec::new();
        let mut host = origin.host.as_str();
        loop {
            for port in [Ports::Default, Ports::Only(origin.port), Ports::Any] {
                let candidate = SiteBinding {
                    scheme: origin.scheme,
                    host: host.to_owned(),
                    port,
                };
                keys.push(candidate.to_string());
            }
            match host.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => host = parent,
                _ => break,
            }
        }
        keys
    }

    pub fn matches(&self, origin: &Origin) -> bool {
        self.scheme == origin.scheme
            && match self.port {
                Ports::Default => origin.port == self.scheme.default_port(),
                Ports::Only(port) => origin.port == port,
                Ports::Any => true,
            }
            && (origin.host == self.host
                || (origin
                    .host
                    .strip_suffix(&self.host)
                    .is_some_and(|prefix| prefix.ends_with('.'))
                    && !is_ip(&self.host)))
    }
}

fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(s: &str) -> Origin {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn b(s: &str) -> SiteBinding {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn bare_domain_means_https_its_default_port_and_subdomains() {
        let k = b("Kaspersky.com");
        assert_eq!(k.to_string(), "https://kaspersky.com");
        assert!(k.matches(&o("https://kaspersky.com")));
        assert!(k.matches(&o("https://my.kaspersky.com:443")));
        assert!(
            !k.matches(&o("https://MY.KASPERSKY.COM:8443")),
            "another port is another origin"
        );
        assert!(
            !k.matches(&o("http://my.kaspersky.com")),
            "http is not https"
        );
        let http = b("http://intranet.test");
        assert!(http.matches(&o("http://intranet.test:80")));
        assert!(!http.matches(&o("http://intranet.test:8080")));
    }

    #[test]
    fn a_star_port_widens_a_binding_to_every_port() {
        let k = b("kaspersky.com:*");
        assert_eq!(k.to_string(), "https://kaspersky.com:*");
        assert_eq!(b(&k.to_string()), k, "the stored form reads back");
        for origin in ["https://kaspersky.com", "https://my.kaspersky.com:8443"] {
            assert!(k.matches(&o(origin)), "{origin}");
        }
        assert!(!k.matches(&o("http://kaspersky.com:8443")));
        assert!(b("http://[::1]:*").matches(&o("http://[::1]:5555")));
        assert!(
            "https://kaspersky.com:*".parse::<Origin>().is_err(),
            "an origin has one port"
        );
    }

    #[test]
    fn lookalikes_never_match() {
        let k = b("kaspersky.com");
        for bad in [
            "https://kaspersky.com.evil.test",
            "https://evilkaspersky.com",
            "https://kaspersky.co",
            "https://xn--kaspersy-5ya.com", // punycode look-alike
            "https://kaspersky.com-login.test",
        ] {
            assert!(!k.matches(&o(bad)), "{bad} must not match");
        }
    }

    #[test]
    fn explicit_scheme_and_port() {
        let b1 = b("http://my.kaspersky.test:8080");
        assert!(b1.matches(&o("http://my.kaspersky.test:8080")));
        assert!(!b1.matches(&o("http://my.kaspersky.test:8081")));
        assert!(!b1.matches(&o("https://my.kaspersky.test:8080")));
        let b2 = b("https://example.com:443");
        assert!(b2.matches(&o("https://example.com")));
    }

    #[test]
    fn candidate_keys_are_the_host_and_its_parents_with_and_without_the_port() {
        assert_eq!(
            SiteBinding::candidate_keys(&o("https://my.kaspersky.com")),
            [
                "https://my.kaspersky.com",
                "https://my.kaspersky.com:443",
                "https://my.kaspersky.com:*",
                "https://kaspersky.com",
                "https://kaspersky.com:443",
                "https://kaspersky.com:*",
                "https://com",
                "https://com:443",
                "https://com:*",
            ]
        );
        assert_eq!(
            SiteBinding::candidate_keys(&o("http://[::1]:8080")),
            ["http://[::1]", "http://[::1]:8080", "http://[::1]:*"]
        );
    }

    #[test]
    fn ip_bindings_match_exactly() {
        let ip = b("http://127.0.0.1:*");
        assert!(ip.matches(&o("http://127.0.0.1:5555")));
        assert!(!ip.matches(&o("http://1.127.0.0.1")));
    }

    #[test]
    fn origin_from_full_url() {
        assert_eq!(
            o("https://my.kaspersky.com/signin?x=1#y").to_string(),
            "https://my.kaspersky.com"
        );
        assert_eq!(o("http://a.test:80/").to_string(), "http://a.test");
    }

    #[test]
    fn internationalised_names_bind_as_punycode() {
        let b1 = b("bücher.example");
        assert_eq!(b1.to_string(), "https://xn--bcher-kva.example");
        assert!(b1.matches(&o("https://xn--bcher-kva.example")));
        assert!(b1.matches(&o("https://shop.xn--bcher-kva.example")));
        assert!(!b1.matches(&o("https://bucher.example")));
        // Cyrillic "а" (U+0430) in place of Latin "a": a different name.
        let cyr = b("k\u{0430}spersky.com");
        assert!(cyr.host.starts_with("xn--"), "{cyr}");
        assert!(!b("kaspersky.com").matches(&o(&format!("https://{}", cyr.host))));
        assert!(!cyr.matches(&o("https://kaspersky.com")));
        // Same name in any case and as punycode: one binding.
        assert_eq!(b("BÜCHER.example"), b1);
        assert_eq!(b("xn--bcher-kva.example"), b1);
    }

    #[test]
    fn bad_input_is_refused_with_reason() {
        assert!(matches!(
            "ftp://x.com".parse::<SiteBinding>(),
            Err(SiteError::Scheme(..))
        ));
        assert!(matches!(
            "x.com/login".parse::<SiteBinding>(),
            Err(SiteError::HasPath(_))
        ));
        assert!(matches!(
            "exa mple.com".parse::<SiteBinding>(),
            Err(SiteError::BadHost(_))
        ));
        assert!(matches!(
            "user@x.com".parse::<SiteBinding>(),
            Err(SiteError::BadHost(_))
        ));
        assert!(matches!(
            "x.com:99999".parse::<SiteBinding>(),
            Err(SiteError::BadPort(_))
        ));
        assert!(matches!(
            "".parse::<SiteBinding>(),
            Err(SiteError::NoHost(_))
        ));
        assert!(matches!(
            "chrome-extension://abc".parse::<Origin>(),
            Err(SiteError::Scheme(..))
        ));
        assert!(matches!(
            "null".parse::<Origin>(),
            Err(SiteError::Scheme(..))
        ));
        assert!("https://[::1]:8443".parse::<Origin>().is_ok());
        assert_eq!(
            o("https://[::1]").port,
            443,
            "a bracketed host without a port"
        );
        assert_eq!(b("[::1]").to_string(), "https://[::1]");
        assert!(matches!(
            "https://[::1]x".parse::<Origin>(),
            Err(SiteError::BadPort(_) | SiteError::BadHost(_))
        ));
    }
}
