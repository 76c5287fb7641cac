//! Streams twofill's durable audit log to SIEMs.
//!
//! - [`format`]: RFC 5424 syslog with a `[twofill@32473 …]` structured-data
//!   element, CEF carried in RFC 5424, ECS JSON lines, Splunk HEC events;
//!   RFC 6587 octet-counting framing.
//! - [`sink`]: syslog over TCP or TLS (rustls), an fsync'ed JSON-lines
//!   file, Splunk HEC over HTTP(S).
//! - [`stream`]: per-sink cursors, bounded batches, backoff; delivery is
//!   at least once, in order (see that module for the exact guarantees).
//! - [`cursor`], [`vault_cursors`]: where cursors live and who may deliver
//!   to a sink: files and locks (the host), or the vault's shared cursors
//!   and leases (a team server's replicas; no double delivery).
//! - [`config`]: the `[siem]` section of the host config (and the server's).

pub mod config;
pub mod cursor;
pub mod format;
pub mod net;
pub mod sink;
pub mod stream;
pub mod vault_cursors;

use std::path::{Path, PathBuf};

pub use config::{SiemConfig, SinkConfig, SinkKind, SyslogFormat, TlsConfig};
pub use cursor::{CursorStore, FileCursors};
pub use stream::{AuditSource, SinkReport, Streamer};
pub use vault_cursors::VaultCursors;

/// Where cursors and locks live: `state_dir` from the config, else a
/// `siem` directory next to the vault.
pub fn state_dir(cfg: &SiemConfig, vault: &Path) -> PathBuf {
    match &cfg.state_dir {
        Some(d) => d.clone(),
        None => vault.parent().unwrap_or(Path::new(".")).join("siem"),
    }
}

/// The configured host name, else the system's.
pub fn hostname(cfg: &SiemConfig) -> String {
    if let Some(h) = &cfg.hostname {
        return h.clone();
    }
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
        // when it fits, and we stop at the first NUL either way.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            if end > 0 {
                return String::from_utf8_lossy(&buf[..end]).into_owned();
            }
        }
    }
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "-".into())
}
