//! The key file: a random key-encryption key, readable only by its owner.
//!
//! Format: text, `#` comment lines, then one line
//! `twofill-vault-key-v1 <base64 of 32 bytes>`.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::{KEY_LEN, KeyBytes, SealError, random_key};

/// First word of the key line.
pub(crate) const MAGIC: &str = "twofill-vault-key-v1";
/// A key file is small; anything larger is not one (and is not read whole).
const MAX_LEN: usize = 4096;
/// Written above the key line of a new key file.
const COMMENT: &str = "# twofill vault key. Keep it secret and back it up apart from the vault:\n\
                       # without it the seeds in the vault cannot be decrypted.\n";

/// Loads the key file at `path`, or creates it (with a new random key) if
/// there is no file there.
pub(crate) fn load_or_create(path: &Path) -> Result<KeyBytes, SealError> {
    match create(path)? {
        Some(key) => Ok(key),
        None => load(path),
    }
}

/// Creates a new key file; `Ok(None)` if a file already exists at `path`.
///
/// The file is created exclusively (`O_EXCL`) with mode `0600`, written and
/// fsynced, then its directory is fsynced. A missing directory is created
/// with mode `0700`.
fn create(path: &Path) -> Result<Option<KeyBytes>, SealError> {
    let create_error = |source: io::Error| SealError::KeyFileCreate {
        path: path.to_path_buf(),
        source,
    };
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent
        && !parent.exists()
    {
        create_private_dir(parent).map_err(create_error)?;
    }

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(create_error(e)),
    };

    let key = random_key();
    // Built in a zeroized buffer that is large enough never to reallocate.
    let mut text = Zeroizing::new(String::with_capacity(COMMENT.len() + MAGIC.len() + 64));
    text.push_str(COMMENT);
    text.push_str(MAGIC);
    text.push(' ');
    B64.encode_string(&key[..], &mut text);
    text.push('\n');

    if let Err(e) = write_and_close(file, text.as_bytes()) {
        // A half-written key file would only confuse the next run.
        let _ = fs::remove_file(path);
        return Err(create_error(e));
    }
    sync_dir(parent.unwrap_or(Path::new("."))).map_err(create_error)?;
    Ok(Some(key))
}

/// Writes, fsyncs and closes (so that, on Windows too, it can be removed).
fn write_and_close(mut file: fs::File, bytes: &[u8]) -> io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Makes the new directory entry durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Loads an existing key file, after checking (on Unix) that it belongs to
/// the current user and that nobody else may read or write it.
pub(crate) fn load(path: &Path) -> Result<KeyBytes, SealError> {
    let unreadable = |source: io::Error| SealError::KeyFileUnreadable {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Opening a FIFO planted at the path must not block.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(SealError::KeyFileMissing {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(unreadable(e)),
    };
    // Checked on the open file, so the checked file is the one read.
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(malformed(path, "it is not a regular file"));
    }
    #[cfg(unix)]
    check_owner_and_mode(path, &meta)?;

    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_LEN + 2));
    (&file)
        .take(MAX_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() > MAX_LEN {
        return Err(malformed(path, "it is larger than a key file can be"));
    }
    parse(path, &bytes)
}

#[cfg(unix)]
fn check_owner_and_mode(path: &Path, meta: &fs::Metadata) -> Result<(), SealError> {
    use std::os::unix::fs::MetadataExt as _;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(SealError::KeyFileWrongOwner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SealError::KeyFileInsecure {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

fn malformed(path: &Path, reason: impl Into<String>) -> SealError {
    SealError::KeyFileMalformed {
        path: PathBuf::from(path),
        reason: reason.into(),
    }
}

/// Parses a key file's contents. Errors never quote the contents.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<KeyBytes, SealError> {
    let text = std::str::from_utf8(bytes).map_err(|_| malformed(path, "it is not text"))?;
    let mut key_line = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if key_line.is_some() {
            return Err(malformed(path, "it has more than one key line"));
        }
        key_line = Some(line);
    }
    let line = key_line.ok_or_else(|| malformed(path, "it holds no key: empty or truncated"))?;
    let encoded = match line.split_once(char::is_whitespace) {
        Some((MAGIC, encoded)) => encoded.trim(),
        _ => {
            return Err(malformed(
                path,
                format!("its key line does not start with {MAGIC:?}"),
            ));
        }
    };
    let decoded = Zeroizing::new(
        B64.decode(encoded)
            .map_err(|_| malformed(path, "its key is not valid base64: truncated or damaged"))?,
    );
    if decoded.len() != KEY_LEN {
        return Err(malformed(
            path,
            format!(
                "its key is {} bytes long instead of {KEY_LEN}: truncated or damaged",
                decoded.len()
            ),
        ));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&decoded);
    Ok(key)
}
