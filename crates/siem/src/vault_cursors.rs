//! Cursors and sink leases in the vault (`Vault::claim_siem_sink` and
//! friends): a team server's replicas share one cursor per sink, and only
//! the replica holding a sink's lease delivers to it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use twofill_vault::Vault;
use twofill_vault::audit::hex;

use crate::cursor::{Cursor, CursorStore};

pub struct VaultCursors {
    vault: Vault,
    /// This streamer's name in the leases (unique per process).
    holder: String,
    lease: Duration,
    /// When each held sink's lease was last taken or renewed here.
    renewed: HashMap<String, Instant>,
}

impl VaultCursors {
    /// `vault` should be a handle of its own (a claim is a write
    /// transaction); `holder` names this streamer uniquely across replicas.
    pub fn new(vault: Vault, holder: String, lease: Duration) -> VaultCursors {
        VaultCursors {
            vault,
            holder,
            lease: lease.max(Duration::from_millis(300)),
            renewed: HashMap::new(),
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }
}

impl CursorStore for VaultCursors {
    fn hold(&mut self, sink: &str) -> Result<bool> {
        // Renewed when a third of the lease is gone, so a holder that is
        // alive never lets it run out, and at most one claim per third.
        if self
            .renewed
            .get(sink)
            .is_some_and(|at| at.elapsed() < self.lease / 3)
        {
            return Ok(true);
        }
        let asked = Instant::now();
        let lease_ms = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX);
        let held = self
            .vault
            .claim_siem_sink(sink, &self.holder, lease_ms)
            .context("claiming the SIEM sink in the vault")?;
        if held {
            self.renewed.insert(sink.to_owned(), asked);
        } else {
            self.renewed.remove(sink);
        }
        Ok(held)
    }

    fn load(&mut self, sink: &str) -> Result<Cursor> {
        let c = self.vault.siem_cursor(sink)?;
        Ok(Cursor {
            seq: c.seq,
            mac: c.mac.map(|m| hex(&m)).unwrap_or_default(),
            updated_ms: 0,
        })
    }

    fn store(&mut self, sink: &str, cursor: &Cursor) -> Result<()> {
        let result = if cursor.seq == 0 {
            self.vault.reset_siem_cursor(sink, &self.holder)
        } else {
            let mac = unhex32(&cursor.mac).context("a cursor MAC is not 32 bytes of hex")?;
            self.vault
                .advance_siem_cursor(sink, &self.holder, cursor.seq, mac)
        };
        if result.is_err() {
            // Whatever went wrong, ask the vault again before the next send.
            self.renewed.remove(sink);
        }
        Ok(result?)
    }

    fn release(&mut self, sink: &str) {
        self.renewed.remove(sink);
        let _ = self.vault.release_siem_sink(sink, &self.holder);
    }
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}
