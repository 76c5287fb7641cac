//! SIEM sinks shared by a team server's replicas: each sink's cursor (the
//! last record it is known to have) and a lease on who may deliver to it.
//!
//! Exactly one streamer holds a sink at a time: a claim succeeds only when
//! the sink is free, its lease ran out, or the claimant holds it already
//! (which renews it), and only the holder may move the cursor. Claims and
//! advances are write transactions, so replicas on one database take turns
//! (PostgreSQL: the vault's advisory write lock). A holder that dies stops
//! renewing; when its lease ends another replica claims the sink and goes
//! on from the shared cursor, resending at most what the dead one sent but
//! had not yet recorded as delivered (at least once, never a gap).

use twofill_words::unix_now_ms;

use crate::store::SiemCursorRow;
use crate::{Result, Vault, VaultError};

/// A sink's shared state, as [`Vault::siem_cursor`] reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiemCursor {
    /// Last delivered record (0: none yet).
    pub seq: i64,
    /// Its MAC, `None` while nothing was delivered.
    pub mac: Option<[u8; 32]>,
    /// Who holds the sink (`None`: nobody, or released).
    pub holder: Option<String>,
    /// Until when (ms since the epoch) the holder's lease runs.
    pub lease_until_ms: i64,
}

impl From<SiemCursorRow> for SiemCursor {
    fn from(r: SiemCursorRow) -> SiemCursor {
        SiemCursor {
            seq: r.seq,
            mac: <[u8; 32]>::try_from(r.mac.as_slice()).ok(),
            holder: r.holder,
            lease_until_ms: r.lease_until_ms,
        }
    }
}

fn empty_row(sink: &str) -> SiemCursorRow {
    SiemCursorRow {
        sink: sink.to_owned(),
        seq: 0,
        mac: Vec::new(),
        holder: None,
        lease_until_ms: 0,
    }
}

impl Vault {
    /// Where `sink` is (the default, seq 0 and nobody holding it, for a
    /// sink never streamed).
    pub fn siem_cursor(&self, sink: &str) -> Result<SiemCursor> {
        Ok(self
            .store
            .reader()?
            .siem_cursor(sink)?
            .map(SiemCursor::from)
            .unwrap_or_default())
    }

    /// Takes (or renews) `sink` for `holder` until now + `lease_ms`, if it
    /// is free, its lease ran out, or `holder` has it already. `false`:
    /// another streamer holds it; leave the sink alone and ask again later.
    pub fn claim_siem_sink(&mut self, sink: &str, holder: &str, lease_ms: u64) -> Result<bool> {
        let now = unix_now_ms();
        let tx = self.store.begin_write()?;
        let mut row = tx.siem_cursor(sink)?.unwrap_or_else(|| empty_row(sink));
        let ours = row.holder.as_deref() == Some(holder);
        if !ours && row.holder.is_some() && row.lease_until_ms > now {
            return Ok(false);
        }
        row.holder = Some(holder.to_owned());
        row.lease_until_ms = now.saturating_add(i64::try_from(lease_ms).unwrap_or(i64::MAX));
        tx.put_siem_cursor(&row)?;
        tx.commit()?;
        Ok(true)
    }

    /// Records that `sink` has every record up to `seq` (whose MAC is
    /// `mac`). Refused unless `holder` still holds the sink: a streamer
    /// that lost its lease (paused too long, another replica took over)
    /// cannot move a cursor someone else now owns.
    pub fn advance_siem_cursor(
        &mut self,
        sink: &str,
        holder: &str,
        seq: i64,
        mac: [u8; 32],
    ) -> Result<()> {
        let now = unix_now_ms();
        let tx = self.store.begin_write()?;
        let Some(mut row) = tx.siem_cursor(sink)? else {
            return Err(lease_lost(sink));
        };
        if row.holder.as_deref() != Some(holder) || row.lease_until_ms <= now {
            return Err(lease_lost(sink));
        }
        row.seq = seq;
        row.mac = mac.to_vec();
        tx.put_siem_cursor(&row)?;
        tx.commit()
    }

    /// Moves `sink`'s cursor back to the start (the log it named is not
    /// this one: restored or replaced), if `holder` holds it.
    pub fn reset_siem_cursor(&mut self, sink: &str, holder: &str) -> Result<()> {
        let tx = self.store.begin_write()?;
        let mut row = tx.siem_cursor(sink)?.unwrap_or_else(|| empty_row(sink));
        if row.holder.as_deref() != Some(holder) {
            return Err(lease_lost(sink));
        }
        row.seq = 0;
        row.mac = Vec::new();
        tx.put_siem_cursor(&row)?;
        tx.commit()
    }

    /// Lets go of `sink` (a clean shutdown), so another replica need not
    /// wait for the lease to run out. Nothing happens unless `holder` has it.
    pub fn release_siem_sink(&mut self, sink: &str, holder: &str) -> Result<()> {
        let tx = self.store.begin_write()?;
        let Some(mut row) = tx.siem_cursor(sink)? else {
            return Ok(());
        };
        if row.holder.as_deref() != Some(holder) {
            return Ok(());
        }
        row.holder = None;
        row.lease_until_ms = 0;
        tx.put_siem_cursor(&row)?;
        tx.commit()
    }
}

fn lease_lost(sink: &str) -> VaultError {
    VaultError::SiemLeaseLost {
        sink: sink.to_owned(),
    }
}
