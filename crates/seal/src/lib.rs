//! Encryption at rest for the twofill vault.
//!
//! # Design: envelope encryption
//!
//! Every TOTP seed in the vault is encrypted with one random 256-bit **data
//! key** ([`DataKey`], the "DEK") using XChaCha20-Poly1305. The vault never
//! stores the data key in the clear: it stores it *wrapped* (encrypted) by a
//! **key-encryption key** (KEK), together with the public parameters needed
//! to find or re-derive that KEK ([`WrappedKey`], one string for one column).
//! The KEK comes from one of three [`Protection`]s:
//!
//! * [`Protection::KeyFile`] (the default): a file holding a random 256-bit
//!   key, created with mode `0600` (its directory `0700` if created). A key
//!   file that other users could read or write, or that belongs to another
//!   user, is refused with an error that tells how to fix it.
//! * [`Protection::Passphrase`]: the KEK is Argon2id(passphrase, random
//!   16-byte salt); salt and cost parameters are stored in the wrapped key.
//! * [`Protection::Keyring`]: a random KEK kept in the OS keyring (Secret
//!   Service on Linux, Keychain on macOS, Credential Manager on Windows),
//!   with the `keyring` cargo feature (on by default). Without a reachable
//!   keyring, as on a headless machine, [`keyring_available`] and [`wrap`]
//!   fail at once with [`SealError::KeyringUnavailable`], so a caller can fall
//!   back to a key file.
//!
//! Changing the protection ([`rewrap`]) re-wraps the data key and leaves
//! every sealed seed untouched. The wrapped key carries a 128-bit *key check*
//! derived from the KEK, so [`unwrap`] can tell a wrong passphrase or key file
//! ([`SealError::WrongPassphrase`], [`SealError::WrongKeyFile`], ...) from a
//! wrapped key that was altered ([`SealError::WrappedKeyTampered`]).
//!
//! # Formats
//!
//! A sealed value ([`DataKey::seal`]) is self-describing:
//! `version (1 byte, = 1) || nonce (24 random bytes) || ciphertext || tag (16 bytes)`.
//! The AEAD's associated data is `version || aad`, where `aad` is chosen by
//! the caller to bind the ciphertext to its context (the vault uses the token
//! id): a ciphertext moved to another row, or given another context, fails to
//! open. Random 192-bit nonces make nonce reuse a non-issue for any number of
//! seals with one key.
//!
//! The data key is wrapped with a key derived from the KEK by HKDF-SHA256
//! (`info = "twofill-seal/wrap-key/v1"`); the key check is the first 16 bytes
//! of HKDF-SHA256 with `info = "twofill-seal/key-check/v1"`. The wrapped key
//! uses the sealed-value format above, with the method and (for a passphrase)
//! the salt and Argon2 parameters as associated data. A key file is one line
//! of text, `twofill-vault-key-v1 <base64 of 32 bytes>`, after `#` comments.
//!
//! [`DataKey::derive_subkey`] derives independent keys for other purposes
//! (HKDF-SHA256, `info` = the purpose), e.g. the key of the vault's audit
//! hash chain HMAC.
//!
//! Key material lives in [`zeroize::Zeroizing`] buffers and is wiped on drop;
//! no `Debug` impl and no error message prints a key, a passphrase or a
//! plaintext.
//!
//! # Threat model
//!
//! Encryption at rest protects the seeds in **copies of the vault file made
//! without its key**: a backup, a synced folder, a disk image, a laptop that
//! is lost or whose disk is sold, a file attached to a support ticket. With a
//! key file, the key must be kept (and backed up) *apart* from the vault for
//! this to hold; with a passphrase, the protection is only as good as the
//! passphrase (Argon2id makes each guess cost ~64 MiB and several passes).
//! Authenticated encryption also detects any change to a sealed seed,
//! including swapping two seeds between rows.
//!
//! It does **not** protect against code running as the same OS user as the
//! host while the key is available: such a process can read the key file,
//! ask the unlocked keyring, or read the host's memory, exactly as the host
//! does. Enforcing "users may ask for codes but never read seeds" against the
//! local user needs an OS boundary: deploy the host so that the vault and its
//! key file belong to a dedicated service account and the user can only talk
//! to it. Nor does it protect against root, a compromised host binary, or
//! someone who holds both the vault and its key.
//!
//! # Example
//!
//! ```
//! use twofill_seal::{Argon2Params, DataKey, Protection, WrappedKey, unwrap, wrap};
//!
//! let dir = std::env::temp_dir().join(format!("twofill-seal-doc-{}", std::process::id()));
//! let protection = Protection::KeyFile(dir.join("vault.key"));
//!
//! // Creating a vault: a new data key, wrapped by a new key file.
//! let dek = DataKey::generate();
//! let stored: String = wrap(&dek, &protection)?.to_json();
//! let sealed = dek.seal(b"JBSWY3DPEHPK3PXP", b"token:1");
//!
//! // Opening it later.
//! let dek = unwrap(&WrappedKey::from_json(&stored)?, &protection)?;
//! assert_eq!(&dek.open(&sealed, b"token:1")?[..], b"JBSWY3DPEHPK3PXP");
//! assert!(dek.open(&sealed, b"token:2").is_err());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), twofill_seal::SealError>(())
//! ```

mod error;
mod keyfile;
mod keyring;
mod wrap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
pub use zeroize::Zeroizing;

pub use error::SealError;
pub use keyring::keyring_available;
pub use wrap::{Argon2Params, Protection, ProtectionKind, WrappedKey, rewrap, unwrap, wrap};

/// Format version of a sealed value (its first byte).
pub const SEAL_VERSION: u8 = 1;
/// Length of a key (data key or key-encryption key), in bytes.
pub const KEY_LEN: usize = 32;
/// Length of the random XChaCha20 nonce, in bytes.
pub const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag, in bytes.
pub const TAG_LEN: usize = 16;
/// How many bytes sealing adds to a plaintext (version, nonce and tag).
pub const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// A 256-bit key as stored in memory: wiped on drop.
pub(crate) type KeyBytes = Zeroizing<[u8; KEY_LEN]>;

/// The vault's data key: encrypts and authenticates the seeds.
///
/// Not `Clone` on purpose (fewer copies of the key in memory); its bytes are
/// zeroed when it is dropped and its `Debug` output is redacted.
pub struct DataKey(KeyBytes);

impl DataKey {
    /// A new random data key from the operating system's generator.
    ///
    /// # Panics
    ///
    /// If the OS random number generator fails, which std treats as fatal
    /// too (e.g. for `HashMap` seeds).
    pub fn generate() -> DataKey {
        DataKey(random_key())
    }

    pub(crate) fn from_bytes(bytes: KeyBytes) -> DataKey {
        DataKey(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Encrypts `plaintext`, binding it to `aad` (e.g. the record id): the
    /// result opens only with the same key *and* the same `aad`. The result
    /// is [`SEAL_OVERHEAD`] bytes longer than the plaintext; sealing the same
    /// plaintext twice gives different results (random nonce).
    ///
    /// # Panics
    ///
    /// If the OS random number generator fails (see [`DataKey::generate`]).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        seal_with(&self.0, plaintext, aad)
    }

    /// Decrypts a value made by [`DataKey::seal`] with the same `aad`.
    ///
    /// # Errors
    ///
    /// [`SealError::SealedTooShort`], [`SealError::UnsupportedSealVersion`],
    /// or [`SealError::OpenFailed`] when the key or the `aad` differ or any
    /// byte was changed.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        open_with(&self.0, sealed, aad)
    }

    /// Derives an independent 256-bit key for `purpose`:
    /// HKDF-SHA256(ikm = data key, no salt, info = `purpose`). Same key and
    /// purpose give the same subkey; different purposes give unrelated keys,
    /// and a subkey reveals nothing about the data key. Use a fixed,
    /// versioned purpose string per use, e.g. `"twofill-vault/audit-hmac/v1"`.
    pub fn derive_subkey(&self, purpose: &str) -> Zeroizing<[u8; KEY_LEN]> {
        hkdf_expand(&self.0[..], purpose.as_bytes())
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// Fills `buf` from the OS generator; panics if it fails.
pub(crate) fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

pub(crate) fn random_key() -> KeyBytes {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    fill_random(&mut key[..]);
    key
}

/// HKDF-SHA256 with no salt, 32 bytes of output.
pub(crate) fn hkdf_expand(ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha256>::new(None, ikm)
        .expand(info, &mut out[..])
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// XChaCha20-Poly1305 of `plaintext` under `key` and `nonce`, with `aad` as
/// associated data: ciphertext || tag. The raw primitive, for the
/// known-answer tests and [`seal_with`].
fn xchacha_encrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    msg: &[u8],
) -> Vec<u8> {
    XChaCha20Poly1305::new(key.into())
        .encrypt(&XNonce::from(*nonce), Payload { msg, aad })
        .expect("plaintext and associated data are far below XChaCha20-Poly1305's limits")
}

fn xchacha_decrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

/// The associated data actually given to the AEAD: the version byte, then
/// the caller's context.
fn full_aad(aad: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(1 + aad.len());
    full.push(SEAL_VERSION);
    full.extend_from_slice(aad);
    full
}

fn seal_with_nonce(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Vec<u8> {
    let ciphertext = xchacha_encrypt(key, nonce, &full_aad(aad), plaintext);
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ciphertext);
    out
}

pub(crate) fn seal_with(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce);
    seal_with_nonce(key, &nonce, plaintext, aad)
}

pub(crate) fn open_with(
    key: &[u8; KEY_LEN],
    sealed: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(SealError::SealedTooShort {
            len: sealed.len(),
            min: SEAL_OVERHEAD,
        });
    }
    if sealed[0] != SEAL_VERSION {
        return Err(SealError::UnsupportedSealVersion { version: sealed[0] });
    }
    let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
    xchacha_decrypt(key, nonce, &full_aad(aad), ciphertext).ok_or(SealError::OpenFailed)
}

/// Compares two byte strings without an early exit (secrets: keys' checks,
/// the host's sign-in `state`).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
