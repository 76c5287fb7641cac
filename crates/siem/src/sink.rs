//! Where records go. A sink either acknowledges what it got (file: fsync;
//! HEC: an HTTP 2xx) or, for plain syslog over TCP/TLS which has no
//! acknowledgement, asks the streamer to wait a moment and check that the
//! connection is still healthy before counting a batch as delivered.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use twofill_vault::AuditRecord;

use crate::config::{SinkKind, SyslogFormat};
use crate::format::{self, SyslogHeader};
use crate::net::{self, Conn, Tls, Url};

pub trait Sink {
    /// Hands the batch over. `Ok` means written; whether it counts as
    /// delivered is up to [`Sink::settle`] and [`Sink::confirm`].
    fn send(&mut self, batch: &[AuditRecord]) -> Result<()>;

    /// How long after a send to wait before [`Sink::confirm`] can vouch for
    /// it. Zero for sinks whose `send` already means delivered.
    fn settle(&self) -> Duration {
        Duration::ZERO
    }

    /// Checks that everything sent at least [`Sink::settle`] ago arrived.
    fn confirm(&mut self) -> Result<()> {
        Ok(())
    }

    /// Nothing is in flight: a connection the receiver closed meanwhile
    /// (idle timeout, restart) can be replaced without losing anything.
    fn drop_if_stale(&mut self) {}

    /// Drops any connection (after a failure, or at the end).
    fn close(&mut self) {}
}

/// Builds the sink a config entry describes.
pub fn build(kind: &SinkKind, hostname: &str, confirm: Duration) -> Result<Box<dyn Sink>> {
    Ok(match kind {
        SinkKind::SyslogTcp {
            address,
            format,
            facility,
            tls,
        } => {
            let tls = tls
                .as_ref()
                .map(|t| Tls::new(t, host_of(address)))
                .transpose()?;
            Box::new(SyslogTcp {
                address: address.clone(),
                tls,
                format: *format,
                header: SyslogHeader::new(facility.0, hostname),
                conn: None,
                settle: confirm,
                buf: Vec::new(),
            })
        }
        SinkKind::File { path } => Box::new(FileSink {
            path: path.clone(),
            file: None,
        }),
        SinkKind::Hec {
            url,
            token,
            index,
            channel,
            tls,
        } => {
            let url = Url::parse(url)?;
            let tls = if url.https {
                Some(Tls::new(&tls.clone().unwrap_or_default(), &url.host)?)
            } else {
                if tls.is_some() {
                    bail!("`tls` is set but the HEC url is http://; use https://");
                }
                None
            };
            Box::new(Hec {
                url,
                tls,
                token: token.clone(),
                index: index.clone(),
                channel: channel.clone(),
                host: hostname.to_owned(),
            })
        }
    })
}

fn host_of(address: &str) -> &str {
    match address.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => h,
        _ => address,
    }
}

/// RFC 5424 (or CEF in RFC 5424) over TCP or TLS, octet-counted (RFC 6587).
pub struct SyslogTcp {
    address: String,
    tls: Option<Tls>,
    format: SyslogFormat,
    header: SyslogHeader,
    conn: Option<Conn>,
    settle: Duration,
    buf: Vec<u8>,
}

impl Sink for SyslogTcp {
    fn send(&mut self, batch: &[AuditRecord]) -> Result<()> {
        // A connection the receiver closed still accepts writes into the
        // kernel buffer; with batches in flight that is a failure (they may
        // not have been read), otherwise `drop_if_stale` replaced it.
        if self.conn.as_mut().is_some_and(|c| !c.healthy()) {
            bail!("{} closed the connection", self.address);
        }
        if self.conn.is_none() {
            self.conn = Some(Conn::open(&self.address, self.tls.as_ref())?);
        }
        self.buf.clear();
        for r in batch {
            let m = match self.format {
                SyslogFormat::Rfc5424 => format::rfc5424(&self.header, r),
                SyslogFormat::Cef => format::cef_syslog(&self.header, r),
            };
            format::octet_frame(&m, &mut self.buf);
        }
        let conn = self.conn.as_mut().expect("opened above");
        conn.write_all(&self.buf)
            .and_then(|()| conn.flush())
            .with_context(|| format!("sending to {}", self.address))
    }

    fn settle(&self) -> Duration {
        self.settle
    }

    fn drop_if_stale(&mut self) {
        if self.conn.as_mut().is_some_and(|c| !c.healthy()) {
            self.close();
        }
    }

    fn confirm(&mut self) -> Result<()> {
        if self.conn.as_mut().is_some_and(|c| c.healthy()) {
            return Ok(());
        }
        bail!(
            "{} closed the connection; what it had not yet read is sent again",
            self.address
        )
    }

    fn close(&mut self) {
        if let Some(mut c) = self.conn.take() {
            c.shutdown();
        }
    }
}

/// ECS JSON lines appended to a file, fsync'ed before a batch counts.
pub struct FileSink {
    path: PathBuf,
    file: Option<File>,
}

impl Sink for FileSink {
    fn send(&mut self, batch: &[AuditRecord]) -> Result<()> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut o = OpenOptions::new();
            o.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o640);
            self.file = Some(
                o.open(&self.path)
                    .with_context(|| format!("cannot open {}", self.path.display()))?,
            );
        }
        let mut out = String::new();
        for r in batch {
            out.push_str(&format::ecs_line(r));
        }
        let f = self.file.as_mut().expect("opened above");
        f.write_all(out.as_bytes())
            .and_then(|()| f.sync_data())
            .with_context(|| format!("writing {}", self.path.display()))
    }

    fn close(&mut self) {
        self.file = None;
    }
}

/// Splunk HTTP Event Collector: one POST per batch, events concatenated.
pub struct Hec {
    url: Url,
    tls: Option<Tls>,
    token: String,
    index: Option<String>,
    channel: Option<String>,
    host: String,
}

impl Sink for Hec {
    fn send(&mut self, batch: &[AuditRecord]) -> Result<()> {
        let mut body = Vec::new();
        for r in batch {
            serde_json::to_writer(
                &mut body,
                &format::hec_event(r, &self.host, self.index.as_deref()),
            )?;
            body.push(b'\n');
        }
        let auth = format!("Splunk {}", self.token);
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        if let Some(c) = &self.channel {
            headers.push(("X-Splunk-Request-Channel", c));
        }
        let r = net::post(&self.url, self.tls.as_ref(), &headers, &body)
            .with_context(|| format!("posting to {}", self.url.address()))?;
        if !(200..300).contains(&r.status) {
            let text: String = r.body.chars().take(200).collect();
            bail!(
                "{} answered HTTP {}: {}",
                self.url.address(),
                r.status,
                text.trim()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_part_of_addresses() {
        assert_eq!(host_of("siem.example:6514"), "siem.example");
        assert_eq!(host_of("[::1]:6514"), "[::1]");
        assert_eq!(host_of("siem"), "siem");
    }
}
