//! The `[siem]` section of the host config.
//!
//! ```toml
//! [siem]
//! batch = 500                 # records per send (bounds memory)
//! poll_ms = 500               # how often `audit stream` looks for new records
//! backoff_initial_ms = 500    # first retry delay for a sink that is down,
//! backoff_max_ms = 30000      # doubling up to this
//! confirm_ms = 200            # plain syslog: how long a connection must stay healthy
//!                             # after a send before the cursor moves past it
//! state_dir = "/var/lib/twofill/siem"   # cursors and locks; default: `siem/` next to the vault
//! hostname = "ws-042"         # HOSTNAME / host field; default: the system host name
//! kick = true                 # the native host starts a best-effort drain after each code
//! lease_ms = 10000            # team server: how long a replica holds a sink without renewing;
//!                             # a replica that dies is replaced after this
//!
//! [[siem.sink]]
//! name = "soc-syslog"         # cursor key; default: the kind. Names must be unique.
//! kind = "syslog-tcp"
//! address = "siem.example:6514"
//! format = "rfc5424"          # or "cef" (CEF in an RFC 5424 syslog message)
//! facility = "authpriv"       # syslog facility name or number
//! tls = { ca = "/etc/twofill/siem-ca.pem", server_name = "siem.example" }
//!                             # optional client certificate: cert = "…", key = "…"
//!
//! [[siem.sink]]
//! kind = "file"               # ECS JSON lines, appended and fsync'ed
//! path = "/var/log/twofill/audit.jsonl"
//!
//! [[siem.sink]]
//! kind = "hec"                # Splunk HTTP Event Collector
//! url = "https://splunk.example:8088/services/collector/event"
//! token = "00000000-0000-0000-0000-000000000000"
//! index = "security"          # optional
//! channel = "…GUID…"          # optional X-Splunk-Request-Channel
//! tls = { ca = "/etc/twofill/splunk-ca.pem" }   # for https; default: the system CA bundle
//! ```

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SiemConfig {
    pub batch: usize,
    pub poll_ms: u64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    pub confirm_ms: u64,
    pub state_dir: Option<PathBuf>,
    pub hostname: Option<String>,
    pub kick: bool,
    pub lease_ms: u64,
    #[serde(rename = "sink")]
    pub sinks: Vec<SinkConfig>,
}

impl Default for SiemConfig {
    fn default() -> Self {
        SiemConfig {
            batch: 500,
            poll_ms: 500,
            backoff_initial_ms: 500,
            backoff_max_ms: 30_000,
            confirm_ms: 200,
            state_dir: None,
            hostname: None,
            kick: true,
            lease_ms: 10_000,
            sinks: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "raw::Sink")]
pub struct SinkConfig {
    /// Cursor key; defaults to the kind's name.
    pub name: Option<String>,
    pub kind: SinkKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkKind {
    SyslogTcp {
        /// `host:port`.
        address: String,
        format: SyslogFormat,
        facility: Facility,
        tls: Option<TlsConfig>,
    },
    File {
        path: PathBuf,
    },
    Hec {
        url: String,
        token: String,
        index: Option<String>,
        channel: Option<String>,
        tls: Option<TlsConfig>,
    },
}

/// serde cannot combine `flatten` with `deny_unknown_fields`, and a typo in
/// a sink (`adress`) must be an error, so the name lives in each variant
/// here and moves out after parsing.
mod raw {
    use super::*;

    #[derive(Deserialize)]
    #[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
    pub enum Sink {
        SyslogTcp {
            name: Option<String>,
            address: String,
            #[serde(default)]
            format: SyslogFormat,
            #[serde(default)]
            facility: Facility,
            tls: Option<TlsConfig>,
        },
        File {
            name: Option<String>,
            path: PathBuf,
        },
        Hec {
            name: Option<String>,
            url: String,
            token: String,
            index: Option<String>,
            channel: Option<String>,
            tls: Option<TlsConfig>,
        },
    }

    impl TryFrom<Sink> for SinkConfig {
        type Error = String;
        fn try_from(s: Sink) -> Result<Self, String> {
            Ok(match s {
                Sink::SyslogTcp {
                    name,
                    address,
                    format,
                    facility,
                    tls,
                } => SinkConfig {
                    name,
                    kind: SinkKind::SyslogTcp {
                        address,
                        format,
                        facility,
                        tls,
                    },
                },
                Sink::File { name, path } => SinkConfig {
                    name,
                    kind: SinkKind::File { path },
                },
                Sink::Hec {
                    name,
                    url,
                    token,
                    index,
                    channel,
                    tls,
                } => SinkConfig {
                    name,
                    kind: SinkKind::Hec {
                        url,
                        token,
                        index,
                        channel,
                        tls,
                    },
                },
            })
        }
    }
}

impl SinkKind {
    pub fn kind_name(&self) -> &'static str {
        match self {
            SinkKind::SyslogTcp { .. } => "syslog-tcp",
            SinkKind::File { .. } => "file",
            SinkKind::Hec { .. } => "hec",
        }
    }
}

impl SinkConfig {
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.kind.kind_name())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogFormat {
    #[default]
    Rfc5424,
    Cef,
}

/// A syslog facility, by name (`authpriv`, `local0`…) or number (0–23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "toml_facility::Raw")]
pub struct Facility(pub u8);

impl Default for Facility {
    fn default() -> Self {
        Facility(10) // authpriv: security/authorization messages
    }
}

mod toml_facility {
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub enum Raw {
        Name(String),
        Number(u8),
    }

    impl TryFrom<Raw> for super::Facility {
        type Error = String;
        fn try_from(raw: Raw) -> Result<Self, String> {
            const NAMES: [&str; 24] = [
                "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
                "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
                "local3", "local4", "local5", "local6", "local7",
            ];
            match raw {
                Raw::Number(n) if n < 24 => Ok(super::Facility(n)),
                Raw::Number(n) => Err(format!("syslog facility {n} is not in 0..=23")),
                Raw::Name(s) => NAMES
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(&s))
                    .map(|i| super::Facility(i as u8))
                    .ok_or_else(|| format!("unknown syslog facility {s:?}")),
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) to trust; default: the system
    /// bundle (`/etc/ssl/certs/ca-certificates.crt`).
    pub ca: Option<PathBuf>,
    /// Name to check the server certificate against; default: the host
    /// part of the address or URL.
    pub server_name: Option<String>,
    /// Client certificate chain and key (PEM) for mutual TLS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl SiemConfig {
    /// Checks what serde cannot: unique, file-name-safe sink names and sane numbers.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch == 0 {
            return Err("siem.batch must be at least 1".into());
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.sinks {
            let name = s.name();
            if name.is_empty()
                || name.len() > 64
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                || name.starts_with('.')
            {
                return Err(format!(
                    "siem sink name {name:?} must be 1-64 letters, digits, '-', '_' or '.'"
                ));
            }
            if !seen.insert(name) {
                return Err(format!(
                    "two siem sinks are named {name:?}; give each a distinct `name` (it keys the delivery cursor)"
                ));
            }
            if let SinkKind::SyslogTcp { tls: Some(t), .. } | SinkKind::Hec { tls: Some(t), .. } =
                &s.kind
                && t.cert.is_some() != t.key.is_some()
            {
                return Err(format!(
                    "siem sink {name:?}: tls.cert and tls.key go together"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Host {
        siem: SiemConfig,
    }

    fn parse(s: &str) -> Result<SiemConfig, String> {
        toml::from_str::<Host>(s)
            .map(|h| h.siem)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sinks_of_every_kind() {
        let c = parse(
            r#"
            [siem]
            batch = 10
            [[siem.sink]]
            kind = "syslog-tcp"
            address = "127.0.0.1:6514"
            format = "cef"
            facility = "local3"
            tls = { ca = "/ca.pem", server_name = "siem" }
            [[siem.sink]]
            name = "jsonl"
            kind = "file"
            path = "/x.jsonl"
            [[siem.sink]]
            kind = "hec"
            url = "http://127.0.0.1:8088"
            token = "t"
            "#,
        )
        .unwrap();
        assert_eq!(c.batch, 10);
        assert_eq!(c.poll_ms, 500);
        assert_eq!(c.sinks.len(), 3);
        assert_eq!(c.sinks[0].name(), "syslog-tcp");
        assert_eq!(c.sinks[1].name(), "jsonl");
        match &c.sinks[0].kind {
            SinkKind::SyslogTcp {
                format,
                facility,
                tls,
                ..
            } => {
                assert_eq!(*format, SyslogFormat::Cef);
                assert_eq!(*facility, Facility(19));
                assert_eq!(tls.as_ref().unwrap().server_name.as_deref(), Some("siem"));
            }
            k => panic!("{k:?}"),
        }
        c.validate().unwrap();
    }

    #[test]
    fn typos_and_clashes_are_errors() {
        let e = parse("[[siem.sink]]\nkind = \"file\"\npath = \"/x\"\npth = 1\n").unwrap_err();
        assert!(e.contains("pth"), "{e}");
        assert!(parse("[[siem.sink]]\nkind = \"kafka\"\n").is_err());
        assert!(
            parse("[[siem.sink]]\nkind = \"syslog-tcp\"\naddress = \"a:1\"\nfacility = \"nope\"\n")
                .is_err()
        );
        let c = parse("[[siem.sink]]\nkind = \"file\"\npath = \"/a\"\n[[siem.sink]]\nkind = \"file\"\npath = \"/b\"\n").unwrap();
        assert!(c.validate().unwrap_err().contains("distinct"));
        let c = parse("[[siem.sink]]\nname = \"../x\"\nkind = \"file\"\npath = \"/a\"\n").unwrap();
        assert!(c.validate().is_err());
    }
}
