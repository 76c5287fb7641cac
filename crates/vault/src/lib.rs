//! The vault: where tokens live and which sites they are bound to.
//!
//! Storage is SQLite (bundled, so every platform runs the same engine) in a
//! file the host opens per request. The schema is versioned through
//! `PRAGMA user_version` and migrated forward in a transaction; a file that
//! is not a twofill vault, or is damaged, is reported and left untouched.

pub mod binding;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use twofill_otp::Token;

pub use binding::{Origin, SiteBinding};

/// Newest schema this build writes. Older vaults are migrated on open.
pub const SCHEMA_VERSION: i64 = 1;

/// SQLite `application_id` marking the file as a twofill vault ("2FIL").
const APPLICATION_ID: i64 = 0x3246_494c;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "{path} is not a readable twofill vault ({detail}). The file was left untouched; restore it from a backup or move it aside to start a new vault"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} was written by a newer twofill (schema {found}, this build knows up to {SCHEMA_VERSION}); upgrade twofill-host"
    )]
    TooNew { path: PathBuf, found: i64 },
    #[error("cannot create the vault directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no token with id `{0}`; `twofill-host token list` shows the ids")]
    NoSuchToken(String),
    #[error("token `{id}` has an unreadable seed ({detail}); re-enroll it")]
    BadSeed { id: String, detail: String },
    #[error("vault database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type Result<T, E = VaultError> = std::result::Result<T, E>;

/// A token as listed: everything except the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSummary {
    pub id: String,
    pub issuer: Option<String>,
    pub account: String,
    pub bindings: Vec<SiteBinding>,
}

pub struct Vault {
    conn: Connection,
}

impl Vault {
    /// Opens (creating if needed) the vault at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Vault> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|source| VaultError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let corrupt = |detail: String| VaultError::Corrupt {
            path: path.to_owned(),
            detail,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // The first real read is where SQLite notices a file that is not a
        // database; classify that as corruption, not as a generic error.
        let app_id: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| corrupt(e.to_string()))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| corrupt(e.to_string()))?;
        let is_empty: bool = conn
            .query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| corrupt(e.to_string()))?;
        if !is_empty && app_id != APPLICATION_ID {
            return Err(corrupt(format!(
                "it is an SQLite database of another application (application_id {app_id:#x})"
            )));
        }
        if version > SCHEMA_VERSION {
            return Err(VaultError::TooNew {
                path: path.to_owned(),
                found: version,
            });
        }
        if !is_empty {
            let check: String = conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(|e| corrupt(e.to_string()))?;
            if check != "ok" {
                return Err(corrupt(format!("integrity check failed: {check}")));
            }
        }
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )?;
        let mut vault = Vault { conn };
        vault.migrate(version)?;
        Ok(vault)
    }

    fn migrate(&mut self, from: i64) -> Result<()> {
        if from >= SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        if from < 1 {
            tx.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID};
                 CREATE TABLE tokens (
                     id TEXT PRIMARY KEY,
                     issuer TEXT,
                     account TEXT NOT NULL,
                     uri TEXT NOT NULL,
                     created_at INTEGER NOT NULL DEFAULT (unixepoch())
                 );
                 CREATE TABLE token_sites (
                     token_id TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
                     site TEXT NOT NULL,
                     PRIMARY KEY (token_id, site)
                 );"
            ))?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores a token bound to `sites` and returns its new id.
    pub fn add_token(&mut self, token: &Token, sites: &[SiteBinding]) -> Result<String> {
        let tx = self.conn.transaction()?;
        let id: String = tx.query_row("SELECT lower(hex(randomblob(6)))", [], |r| r.get(0))?;
        tx.execute(
            "INSERT INTO tokens (id, issuer, account, uri) VALUES (?1, ?2, ?3, ?4)",
            params![id, token.issuer, token.account, token.to_uri()],
        )?;
        for site in sites {
            tx.execute(
                "INSERT OR IGNORE INTO token_sites (token_id, site) VALUES (?1, ?2)",
                params![id, site.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    pub fn remove_token(&mut self, id: &str) -> Result<()> {
        match self
            .conn
            .execute("DELETE FROM tokens WHERE id = ?1", [id])?
        {
            0 => Err(VaultError::NoSuchToken(id.to_owned())),
            _ => Ok(()),
        }
    }

    pub fn bind_site(&mut self, id: &str, site: &SiteBinding) -> Result<()> {
        self.summary(id)?;
        self.conn.execute(
            "INSERT OR IGNORE INTO token_sites (token_id, site) VALUES (?1, ?2)",
            params![id, site.to_string()],
        )?;
        Ok(())
    }

    /// All tokens, without seeds, in a stable order.
    pub fn tokens(&self) -> Result<Vec<TokenSummary>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, issuer, account FROM tokens ORDER BY issuer, account, id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<(String, Option<String>, String)>>>()?;
        rows.into_iter()
            .map(|(id, issuer, account)| {
                let bindings = self.bindings(&id)?;
                Ok(TokenSummary {
                    id,
                    issuer,
                    account,
                    bindings,
                })
            })
            .collect()
    }

    /// The tokens bound to a site that `origin` belongs to.
    pub fn tokens_for_origin(&self, origin: &Origin) -> Result<Vec<TokenSummary>> {
        Ok(self
            .tokens()?
            .into_iter()
            .filter(|t| t.bindings.iter().any(|b| b.matches(origin)))
            .collect())
    }

    pub fn summary(&self, id: &str) -> Result<TokenSummary> {
        let row: Option<(Option<String>, String)> = self
            .conn
            .query_row(
                "SELECT issuer, account FROM tokens WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (issuer, account) = row.ok_or_else(|| VaultError::NoSuchToken(id.to_owned()))?;
        Ok(TokenSummary {
            id: id.to_owned(),
            issuer,
            account,
            bindings: self.bindings(id)?,
        })
    }

    /// The token with its seed. Callers decide whether the requester may have
    /// a code from it; the seed itself must never leave the host.
    pub fn load_token(&self, id: &str) -> Result<Token> {
        let uri: String = self
            .conn
            .query_row("SELECT uri FROM tokens WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| VaultError::NoSuchToken(id.to_owned()))?;
        Token::from_uri(&uri).map_err(|e| VaultError::BadSeed {
            id: id.to_owned(),
            detail: e.to_string(),
        })
    }

    fn bindings(&self, id: &str) -> Result<Vec<SiteBinding>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT site FROM token_sites WHERE token_id = ?1 ORDER BY site")?;
        let sites = stmt
            .query_map([id], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // Bindings were validated on the way in; one that no longer parses
        // (hand-edited file) simply matches nothing rather than failing open.
        Ok(sites.iter().filter_map(|s| s.parse().ok()).collect())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(issuer: &str) -> Token {
        Token::from_uri(&format!(
            "otpauth://totp/{issuer}:alice?secret=JBSWY3DPEHPK3PXP&issuer={issuer}"
        ))
        .unwrap()
    }

    #[test]
    fn add_list_load_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/vault.sqlite3");
        let mut v = Vault::open(&path).unwrap();
        let id = v
            .add_token(&token("Kaspersky"), &["my.kaspersky.com".parse().unwrap()])
            .unwrap();
        drop(v);
        let mut v = Vault::open(&path).unwrap();
        let list = v.tokens().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].issuer.as_deref(), Some("Kaspersky"));
        assert_eq!(list[0].bindings[0].to_string(), "https://my.kaspersky.com");
        assert_eq!(v.load_token(&id).unwrap(), token("Kaspersky"));

        let origin: Origin = "https://my.kaspersky.com".parse().unwrap();
        assert_eq!(v.tokens_for_origin(&origin).unwrap().len(), 1);
        let other: Origin = "https://kaspersky.com.evil.test".parse().unwrap();
        assert!(v.tokens_for_origin(&other).unwrap().is_empty());

        v.remove_token(&id).unwrap();
        assert!(v.tokens().unwrap().is_empty());
        assert!(matches!(
            v.remove_token(&id),
            Err(VaultError::NoSuchToken(_))
        ));
    }

    #[test]
    fn garbage_file_is_reported_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.sqlite3");
        let garbage =
            b"this is not a database, it is a text file that happens to sit here.\n".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let err = Vault::open(&path).err().expect("must not open");
        assert!(matches!(err, VaultError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("left untouched"));
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn foreign_sqlite_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        let err = Vault::open(&path).err().expect("must not open");
        assert!(matches!(err, VaultError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn damaged_page_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.sqlite3");
        {
            let mut v = Vault::open(&path).unwrap();
            for i in 0..200 {
                v.add_token(&token(&format!("Issuer{i}")), &[]).unwrap();
            }
            v.conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 3 * 4096);
        // Overwrite pages 2 and 3 (b-tree pages of the tokens table) with noise.
        for b in &mut bytes[4096..3 * 4096] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let err = Vault::open(&path).err().expect("damage must be detected");
        assert!(matches!(err, VaultError::Corrupt { .. }), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "file must be left as it was"
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.sqlite3");
        Vault::open(&path).unwrap();
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(Vault::open(&path), Err(VaultError::TooNew { .. })));
    }
}
