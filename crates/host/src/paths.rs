//! Where the host keeps its files.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The vault file: `$TWOFILL_VAULT`, else `<user data dir>/twofill/vault.sqlite3`
/// (`$XDG_DATA_HOME` or `~/.local/share` on Linux).
pub fn vault() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("TWOFILL_VAULT").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let data = dirs::data_dir()
        .context("cannot find the user data directory; set TWOFILL_VAULT to the vault file path")?;
    Ok(data.join("twofill").join("vault.sqlite3"))
}
