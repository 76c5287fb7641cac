//! Per-sink delivery cursors: the sequence number (and MAC) of the last
//! record a sink is known to have, in `<state_dir>/<sink>.cursor.json`,
//! replaced atomically (write a temp file, fsync, rename, fsync the
//! directory). A lock file per sink (`<sink>.lock`, `flock`) keeps two
//! streamers from delivering to the same sink at once.
//!
//! [`CursorStore`] is where a streamer keeps its cursors and who may
//! deliver to a sink: [`FileCursors`] (these files and locks, the host's
//! `audit stream`) or `crate::vault_cursors::VaultCursors` (the vault's
//! shared cursors and leases, for a team server's replicas).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Last delivered record (0: none yet).
    pub seq: i64,
    /// Its MAC (hex), to notice a vault that was replaced under the cursor.
    #[serde(default)]
    pub mac: String,
    /// When it was last moved (ms since the epoch).
    #[serde(default)]
    pub updated_ms: i64,
}

pub fn cursor_path(state_dir: &Path, sink: &str) -> PathBuf {
    state_dir.join(format!("{sink}.cursor.json"))
}

pub fn load(state_dir: &Path, sink: &str) -> Result<Cursor> {
    let p = cursor_path(state_dir, sink);
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a valid cursor file", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Cursor::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
    }
}

pub fn store(state_dir: &Path, sink: &str, cursor: &Cursor) -> Result<()> {
    let p = cursor_path(state_dir, sink);
    let tmp = state_dir.join(format!(".{sink}.cursor.json.tmp"));
    let mut f = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec(cursor)?)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &p).with_context(|| format!("cannot replace {}", p.display()))?;
    #[cfg(unix)]
    File::open(state_dir)?.sync_all()?;
    Ok(())
}

/// Creates the state directory (0700: cursors say how much the SIEM has).
pub fn ensure_dir(state_dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))
}

/// Held while a streamer delivers to one sink; released on drop.
pub struct SinkLock {
    _file: File,
}

impl SinkLock {
    /// `Ok(None)` when another streamer holds it.
    pub fn try_acquire(state_dir: &Path, sink: &str) -> Result<Option<SinkLock>> {
        let p = state_dir.join(format!("{sink}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .with_context(|| format!("cannot open {}", p.display()))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a file descriptor we own; no memory involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::WouldBlock {
                    return Ok(None);
                }
                return Err(e).with_context(|| format!("cannot lock {}", p.display()));
            }
        }
        Ok(Some(SinkLock { _file: file }))
    }
}

/// Where a streamer's cursors live and who may deliver to a sink.
pub trait CursorStore {
    /// Takes, keeps or renews the right to deliver to `sink`; `false`:
    /// another streamer has it (leave the sink alone, ask again later).
    /// The streamer asks before every batch it sends.
    fn hold(&mut self, sink: &str) -> Result<bool>;
    /// The sink's cursor (the default when it never got anything).
    fn load(&mut self, sink: &str) -> Result<Cursor>;
    /// Moves the cursor; fails when this streamer no longer holds the sink.
    fn store(&mut self, sink: &str, cursor: &Cursor) -> Result<()>;
    /// Lets go of the sink (best effort: a lease runs out by itself).
    fn release(&mut self, sink: &str);
}

/// Cursor files and `flock`s in one state directory.
pub struct FileCursors {
    dir: PathBuf,
    locks: HashMap<String, SinkLock>,
}

impl FileCursors {
    pub fn new(dir: &Path) -> Result<FileCursors> {
        ensure_dir(dir)?;
        Ok(FileCursors {
            dir: dir.to_owned(),
            locks: HashMap::new(),
        })
    }
}

impl CursorStore for FileCursors {
    fn hold(&mut self, sink: &str) -> Result<bool> {
        if self.locks.contains_key(sink) {
            return Ok(true);
        }
        match SinkLock::try_acquire(&self.dir, sink)? {
            Some(lock) => {
                self.locks.insert(sink.to_owned(), lock);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn load(&mut self, sink: &str) -> Result<Cursor> {
        load(&self.dir, sink)
    }

    fn store(&mut self, sink: &str, cursor: &Cursor) -> Result<()> {
        store(&self.dir, sink, cursor)
    }

    fn release(&mut self, sink: &str) {
        self.locks.remove(sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_start_at_zero() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load(d.path(), "a").unwrap(), Cursor::default());
        let c = Cursor {
            seq: 7,
            mac: "ab".into(),
            updated_ms: 1,
        };
        store(d.path(), "a", &c).unwrap();
        assert_eq!(load(d.path(), "a").unwrap(), c);
        assert_eq!(load(d.path(), "b").unwrap().seq, 0);
    }

    #[cfg(unix)]
    #[test]
    fn one_streamer_per_sink() {
        let d = tempfile::tempdir().unwrap();
        let held = SinkLock::try_acquire(d.path(), "s").unwrap();
        assert!(held.is_some());
        assert!(SinkLock::try_acquire(d.path(), "s").unwrap().is_none());
        assert!(SinkLock::try_acquire(d.path(), "t").unwrap().is_some());
        drop(held);
        assert!(SinkLock::try_acquire(d.path(), "s").unwrap().is_some());
    }
}
