//! The one error type of the crate.
//!
//! Every message says what went wrong *and what to do about it*, and none
//! ever contains key material, a passphrase or a plaintext.

use std::path::PathBuf;

use crate::ProtectionKind;

/// Everything that can go wrong while sealing, opening, wrapping or
/// unwrapping. The `Display` text is meant to be shown to the user as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    // ----- sealed blobs (DataKey::open) -----
    /// The blob is shorter than a version byte, a nonce and a tag.
    #[error(
        "an encrypted value in the vault is truncated ({len} bytes, at least {min} expected); \
         the vault file is damaged: restore it from a backup"
    )]
    SealedTooShort {
        /// Length of the blob that was given.
        len: usize,
        /// Smallest possible length of a sealed blob.
        min: usize,
    },

    /// The blob starts with a format version this build does not know.
    #[error(
        "an encrypted value in the vault uses format version {version}, which this version of \
         twofill does not know; it was probably written by a newer twofill: upgrade twofill \
         (or the vault file is damaged: restore it from a backup)"
    )]
    UnsupportedSealVersion {
        /// The version byte found.
        version: u8,
    },

    /// Authentication failed: wrong key, wrong context, or altered bytes.
    #[error(
        "an encrypted value in the vault failed its integrity check: it was altered, copied \
         from another record, or encrypted with a different vault key; it cannot be decrypted \
         (restore the vault from a backup if this persists)"
    )]
    OpenFailed,

    // ----- key file -----
    /// The key file does not exist.
    #[error(
        "the vault key file {path} is missing; without it the seeds in the vault cannot be \
         decrypted. Restore it from your backup (it must be the file created together with \
         this vault), or point twofill at the place where it lives now"
    )]
    KeyFileMissing {
        /// Where the key file was looked for.
        path: PathBuf,
    },

    /// The key file exists but could not be opened or read.
    #[error("cannot read the vault key file {path}: {source}; check that it is readable by you")]
    KeyFileUnreadable {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The key file could not be created.
    #[error(
        "cannot create the vault key file {path}: {source}; check that its directory is \
         writable by you, or choose another location"
    )]
    KeyFileCreate {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The key file can be read or written by other users.
    #[error(
        "the vault key file {path} is accessible by other users (mode {mode:04o}); refusing to \
         use it. Restrict it to yourself with `chmod 600 {path}` and, as other users may have \
         copied it already, consider re-keying the vault"
    )]
    KeyFileInsecure {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The key file belongs to another user.
    #[error(
        "the vault key file {path} is owned by user id {owner}, not by you (user id {me}); \
         refusing to use it. If it is yours, fix it with `chown {me} {path}` and \
         `chmod 600 {path}`"
    )]
    KeyFileWrongOwner {
        /// The key file.
        path: PathBuf,
        /// Its owner's user id.
        owner: u32,
        /// The effective user id of this process.
        me: u32,
    },

    /// The key file is not in the expected format (garbage, truncated, ...).
    #[error(
        "{path} is not a valid twofill vault key file ({reason}); it may be damaged or be some \
         other file. Restore the key file from your backup"
    )]
    KeyFileMalformed {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it (never its contents).
        reason: String,
    },

    /// The key file is well formed but holds a different key.
    #[error(
        "the key in {path} is not the key this vault was locked with; use the key file that \
         was created together with this vault (check your backups), or the new one if the \
         vault was re-keyed"
    )]
    WrongKeyFile {
        /// The key file.
        path: PathBuf,
    },

    // ----- passphrase -----
    /// The passphrase does not unlock the vault.
    #[error(
        "wrong passphrase: it does not unlock this vault's key. Check for typos and the \
         keyboard layout, and try again"
    )]
    WrongPassphrase,

    /// An empty passphrase was given.
    #[error("the passphrase is empty; choose a passphrase to protect the vault key")]
    EmptyPassphrase,

    /// Argon2 parameters out of range.
    #[error(
        "invalid Argon2 parameters (m_cost_kib={m_cost_kib}, t_cost={t_cost}, p_cost={p_cost}): \
         {reason}"
    )]
    InvalidArgon2Params {
        /// Memory cost in KiB.
        m_cost_kib: u32,
        /// Number of passes.
        t_cost: u32,
        /// Degree of parallelism.
        p_cost: u32,
        /// Why they are refused.
        reason: String,
    },

    // ----- OS keyring -----
    /// This build has no keyring support.
    #[error(
        "this build of twofill has no OS keyring support (it was built without the `keyring` \
         feature); protect the vault with a key file or a passphrase instead"
    )]
    KeyringNotBuilt,

    /// No keyring service could be reached.
    #[error(
        "the OS keyring is not available: {reason}. On Linux this needs a Secret Service \
         (GNOME Keyring, KWallet) on the D-Bus session bus, which headless machines usually \
         lack; protect the vault with a key file instead"
    )]
    KeyringUnavailable {
        /// Why (never contains secrets).
        reason: String,
    },

    /// The keyring entry for the vault key does not exist.
    #[error(
        "the OS keyring has no entry for service {service:?}, account {account:?}; the vault \
         key that was stored there is gone, so the seeds cannot be decrypted. Restore the \
         keyring entry (or your keyring) from a backup"
    )]
    KeyringEntryMissing {
        /// Keyring service name.
        service: String,
        /// Keyring account name.
        account: String,
    },

    /// The keyring entry exists but does not hold a twofill key.
    #[error(
        "the OS keyring entry for service {service:?}, account {account:?} does not hold a \
         twofill vault key ({reason}); it may have been overwritten by another program. \
         Restore it from a backup"
    )]
    KeyringEntryMalformed {
        /// Keyring service name.
        service: String,
        /// Keyring account name.
        account: String,
        /// What is wrong (never the contents).
        reason: String,
    },

    /// The keyring entry holds a different key.
    #[error(
        "the OS keyring entry for service {service:?}, account {account:?} holds a different \
         key than the one this vault was locked with; it may have been overwritten or belong \
         to another vault. Restore the entry from a backup, or re-key the vault"
    )]
    WrongKeyringKey {
        /// Keyring service name.
        service: String,
        /// Keyring account name.
        account: String,
    },

    /// Any other keyring failure (locked and the unlock was refused, ...).
    #[error(
        "the OS keyring refused access to service {service:?}, account {account:?}: {reason}. \
         Unlock your keyring and try again (its unlock prompt needs a desktop session), or \
         protect the vault with a key file instead"
    )]
    Keyring {
        /// Keyring service name.
        service: String,
        /// Keyring account name.
        account: String,
        /// The platform's reason (never contains secrets).
        reason: String,
    },

    // ----- wrapped key -----
    /// `unwrap` was given a different kind of protection than the one used.
    #[error(
        "the vault key is protected by {stored}, but {given} was given; unlock it with \
         {stored}"
    )]
    ProtectionMismatch {
        /// How the wrapped key is protected.
        stored: ProtectionKind,
        /// What the caller offered.
        given: ProtectionKind,
    },

    /// The key-encryption key is right but the wrapped key does not authenticate.
    #[error(
        "the vault's stored (wrapped) key was altered: it does not pass its integrity check \
         even though the {kind} is right. The vault file is damaged or was tampered with: \
         restore it from a backup"
    )]
    WrappedKeyTampered {
        /// How the wrapped key is protected.
        kind: ProtectionKind,
    },

    /// The serialized wrapped key cannot be parsed.
    #[error(
        "the vault's stored (wrapped) key is unreadable ({reason}); the vault file is damaged \
         or was written by a newer twofill: restore it from a backup or upgrade twofill"
    )]
    WrappedKeyMalformed {
        /// What is wrong with it.
        reason: String,
    },
}
