//! Unit tests. Real files, real Argon2, real keyring when one is reachable:
//! no mocks.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::*;
use crate::wrap::passphrase_kek;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Argon2 parameters cheap enough for unit tests (64 KiB, 1 pass).
const CHEAP: Argon2Params = Argon2Params {
    m_cost_kib: 64,
    t_cost: 1,
    p_cost: 1,
};

fn cheap_passphrase(p: &str) -> Protection {
    Protection::Passphrase(Zeroizing::new(p.to_owned()), CHEAP)
}

fn key_from(bytes: &[u8]) -> DataKey {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(bytes);
    DataKey::from_bytes(key)
}

// ---------------------------------------------------------------------------
// Known answers, from independent implementations.

/// draft-irtf-cfrg-xchacha-03, appendix A.3.1 (AEAD_XChaCha20_Poly1305).
/// Re-checked with pycryptodome and libsodium by tests/gen_vectors.py.
#[test]
fn kat_xchacha20poly1305_draft_a31() {
    let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
        .try_into()
        .unwrap();
    let nonce: [u8; 24] = hex("404142434445464748494a4b4c4d4e4f5051525354555657")
        .try_into()
        .unwrap();
    let aad = hex("50515253c0c1c2c3c4c5c6c7");
    let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one \
                      tip for the future, sunscreen would be it.";
    let expected = hex(
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
         731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
         2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
         21f9664c97637da9768812f615c68b13b52e
         c0875924c1c7987947deafd8780acf49",
    );
    assert_eq!(xchacha_encrypt(&key, &nonce, &aad, plaintext), expected);
    let opened = xchacha_decrypt(&key, &nonce, &aad, &expected).unwrap();
    assert_eq!(&opened[..], plaintext);
}

/// A whole sealed value (version || nonce || ciphertext || tag, associated
/// data = version || "token:42"), computed by tests/gen_vectors.py with
/// pycryptodome and cross-checked with libsodium. Key 00..1f, nonce a0..b7.
const KAT_SEALED: &str = "01a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b70fae594aee6ee0fc24277d\
                          c24260fb90818c0e4dc62dc96af71401b02b9b7709";

/// HKDF-SHA256(ikm = 00..1f, no salt, info = "twofill-vault/audit-hmac/v1"),
/// computed by tests/gen_vectors.py with Python `cryptography`.
const KAT_SUBKEY: &str = "a10443d6653a8f58bc8c6b71663575a43a923cc997e65e12111e52a6728dbccb";

/// Argon2id v0x13 ("correct horse battery staple", salt 10..1f, m=64 KiB,
/// t=1, p=1, 32 bytes), computed by tests/gen_vectors.py with argon2-cffi.
const KAT_PASSPHRASE_KEK: &str = "cd8195b0461613a4754a5c85a55b1d17053666725c75b7d18d24f23a55793d24";

/// A wrapped key built by tests/gen_vectors.py from the documented format
/// alone (argon2-cffi, `cryptography` HKDF, pycryptodome XChaCha20-Poly1305):
/// the data key 00..1f under the passphrase "correct horse battery staple".
const KAT_WRAPPED_JSON: &str = r#"{"v":1,"method":"passphrase","salt":"EBESExQVFhcYGRobHB0eHw==","m_cost_kib":64,"t_cost":1,"p_cost":1,"check":"gcaquMD+gs1sOIaOJAIRFQ==","key":"AcDBwsPExcbHyMnKy8zNzs/Q0dLT1NXW1zIetPJkoxd8TJna/S1haURAaxlSjeHrMgyVowiA+moq+AJlNPg0bk2krtVVicBhpQ=="}"#;

fn kat_dek_bytes() -> Vec<u8> {
    (0x00..0x20).collect()
}

#[test]
fn kat_sealed_value() {
    let key: [u8; 32] = kat_dek_bytes().try_into().unwrap();
    let nonce: [u8; 24] = (0xa0..0xb8).collect::<Vec<u8>>().try_into().unwrap();
    let sealed = seal_with_nonce(&key, &nonce, b"JBSWY3DPEHPK3PXP", b"token:42");
    assert_eq!(to_hex(&sealed), KAT_SEALED);

    let dek = key_from(&kat_dek_bytes());
    let opened = dek.open(&hex(KAT_SEALED), b"token:42").unwrap();
    assert_eq!(&opened[..], b"JBSWY3DPEHPK3PXP");
}

#[test]
fn kat_subkey() {
    let dek = key_from(&kat_dek_bytes());
    assert_eq!(
        to_hex(&dek.derive_subkey("twofill-vault/audit-hmac/v1")[..]),
        KAT_SUBKEY
    );
}

#[test]
fn kat_passphrase_kek() {
    let salt: Vec<u8> = (0x10..0x20).collect();
    let kek = passphrase_kek("correct horse battery staple", &salt, CHEAP).unwrap();
    assert_eq!(to_hex(&kek[..]), KAT_PASSPHRASE_KEK);
}

#[test]
fn kat_wrapped_key_from_reference_implementation() {
    let wrapped = WrappedKey::from_json(KAT_WRAPPED_JSON).unwrap();
    assert_eq!(wrapped.kind(), ProtectionKind::Passphrase);
    assert_eq!(wrapped.argon2_params(), Some(CHEAP));
    let dek = unwrap(&wrapped, &cheap_passphrase("correct horse battery staple")).unwrap();
    assert_eq!(&dek.bytes()[..], &kat_dek_bytes()[..]);
    // ... and it opens the reference sealed value.
    assert_eq!(
        &dek.open(&hex(KAT_SEALED), b"token:42").unwrap()[..],
        b"JBSWY3DPEHPK3PXP"
    );
    // Our own serialization is byte-for-byte the reference one.
    assert_eq!(wrapped.to_json(), KAT_WRAPPED_JSON);
    assert!(matches!(
        unwrap(&wrapped, &cheap_passphrase("correct horse battery stapler")),
        Err(SealError::WrongPassphrase)
    ));
}

// ---------------------------------------------------------------------------
// Sealing.

#[test]
fn seal_open_round_trip() {
    let dek = DataKey::generate();
    for plaintext in [&b""[..], b"JBSWY3DPEHPK3PXP", &[0xa5; 10_000][..]] {
        let sealed = dek.seal(plaintext, b"token:7");
        assert_eq!(sealed.len(), plaintext.len() + SEAL_OVERHEAD);
        assert_eq!(sealed[0], SEAL_VERSION);
        assert_eq!(&dek.open(&sealed, b"token:7").unwrap()[..], plaintext);
    }
    // Empty context works too.
    let sealed = dek.seal(b"seed", b"");
    assert_eq!(&dek.open(&sealed, b"").unwrap()[..], b"seed");
}

#[test]
fn seal_is_randomized() {
    let dek = DataKey::generate();
    assert_ne!(dek.seal(b"seed", b"a"), dek.seal(b"seed", b"a"));
}

#[test]
fn wrong_aad_fails() {
    let dek = DataKey::generate();
    let sealed = dek.seal(b"JBSWY3DPEHPK3PXP", b"token:1");
    for aad in [&b"token:2"[..], b"", b"token:1 ", b"token:"] {
        assert!(matches!(dek.open(&sealed, aad), Err(SealError::OpenFailed)));
    }
}

#[test]
fn swapped_rows_fail() {
    let dek = DataKey::generate();
    let a = dek.seal(b"seed of token 1", b"token:1");
    let b = dek.seal(b"seed of token 2", b"token:2");
    assert!(dek.open(&b, b"token:1").is_err());
    assert!(dek.open(&a, b"token:2").is_err());
}

#[test]
fn wrong_key_fails() {
    let sealed = DataKey::generate().seal(b"seed", b"ctx");
    assert!(matches!(
        DataKey::generate().open(&sealed, b"ctx"),
        Err(SealError::OpenFailed)
    ));
}

#[test]
fn every_flipped_bit_fails() {
    let dek = DataKey::generate();
    let sealed = dek.seal(b"JBSWY3DPEHPK3PXP", b"token:1");
    for i in 0..sealed.len() {
        for bit in 0..8 {
            let mut bad = sealed.clone();
            bad[i] ^= 1 << bit;
            let err = dek.open(&bad, b"token:1").unwrap_err();
            if i == 0 {
                assert!(matches!(err, SealError::UnsupportedSealVersion { .. }));
            } else {
                assert!(matches!(err, SealError::OpenFailed), "byte {i} bit {bit}");
            }
        }
    }
}

#[test]
fn truncated_or_extended_fails() {
    let dek = DataKey::generate();
    let sealed = dek.seal(b"seed", b"ctx");
    for len in 0..SEAL_OVERHEAD {
        assert!(matches!(
            dek.open(&sealed[..len], b"ctx"),
            Err(SealError::SealedTooShort { .. })
        ));
    }
    for len in SEAL_OVERHEAD..sealed.len() {
        assert!(matches!(
            dek.open(&sealed[..len], b"ctx"),
            Err(SealError::OpenFailed)
        ));
    }
    let mut longer = sealed.clone();
    longer.push(0);
    assert!(matches!(
        dek.open(&longer, b"ctx"),
        Err(SealError::OpenFailed)
    ));
}

#[test]
fn nonces_are_unique() {
    let dek = DataKey::generate();
    let mut nonces = HashSet::new();
    for _ in 0..20_000 {
        let sealed = dek.seal(b"x", b"");
        assert!(
            nonces.insert(sealed[1..1 + NONCE_LEN].to_vec()),
            "nonce repeated"
        );
    }
}

#[test]
fn generated_keys_differ() {
    let keys: HashSet<[u8; KEY_LEN]> = (0..1000).map(|_| *DataKey::generate().bytes()).collect();
    assert_eq!(keys.len(), 1000);
}

// ---------------------------------------------------------------------------
// Subkeys.

#[test]
fn subkeys_are_deterministic_and_separated() {
    let dek = DataKey::generate();
    let audit = dek.derive_subkey("twofill-vault/audit-hmac/v1");
    assert_eq!(audit, dek.derive_subkey("twofill-vault/audit-hmac/v1"));
    assert_ne!(audit, dek.derive_subkey("twofill-vault/audit-hmac/v2"));
    assert_ne!(audit, dek.derive_subkey(""));
    assert_ne!(&audit[..], &dek.bytes()[..]);
    assert_ne!(
        audit,
        DataKey::generate().derive_subkey("twofill-vault/audit-hmac/v1")
    );
}

// ---------------------------------------------------------------------------
// Key file.

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn key_file_round_trip() {
    let dir = tmp();
    let path = dir.path().join("vault.key");
    let protection = Protection::KeyFile(path.clone());
    let dek = DataKey::generate();
    let sealed = dek.seal(b"seed", b"token:1");

    let wrapped = wrap(&dek, &protection).unwrap();
    assert!(path.is_file());
    assert_eq!(wrapped.kind(), ProtectionKind::KeyFile);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# twofill vault key"));
    assert!(text.contains("\ntwofill-vault-key-v1 "));

    let back = unwrap(
        &WrappedKey::from_json(&wrapped.to_json()).unwrap(),
        &protection,
    )
    .unwrap();
    assert_eq!(back.bytes(), dek.bytes());
    assert_eq!(&back.open(&sealed, b"token:1").unwrap()[..], b"seed");

    // Wrapping again reuses the existing key file.
    let again = wrap(&dek, &protection).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
    assert_ne!(again, wrapped, "a new nonce each time");
    assert_eq!(unwrap(&again, &protection).unwrap().bytes(), dek.bytes());
    // A file with the right key but a different comment works too.
    let key_line = text.lines().find(|l| !l.starts_with('#')).unwrap();
    fs::write(&path, format!("\n  {key_line}  \r\n# moved here\n")).unwrap();
    assert_eq!(unwrap(&wrapped, &protection).unwrap().bytes(), dek.bytes());
}

#[cfg(unix)]
#[test]
fn key_file_is_created_private() {
    let dir = tmp();
    let path = dir.path().join("new").join("deeper").join("vault.key");
    wrap(&DataKey::generate(), &Protection::KeyFile(path.clone())).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(mode_of(path.parent().unwrap()), 0o700);
    assert_eq!(mode_of(&dir.path().join("new")), 0o700);
}

#[cfg(unix)]
#[test]
fn key_file_readable_by_others_is_refused() {
    let dir = tmp();
    let path = dir.path().join("vault.key");
    let protection = Protection::KeyFile(path.clone());
    let dek = DataKey::generate();
    let wrapped = wrap(&dek, &protection).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o620, 0o660] {
        chmod(&path, mode);
        let err = unwrap(&wrapped, &protection).unwrap_err();
        assert!(
            matches!(err, SealError::KeyFileInsecure { mode: m, .. } if m == mode),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("chmod 600 {}", path.display())),
            "{msg}"
        );
        assert!(msg.contains(&format!("{mode:04o}")), "{msg}");
        // wrap refuses it too rather than using or replacing it
        assert!(matches!(
            wrap(&dek, &protection),
            Err(SealError::KeyFileInsecure { .. })
        ));
    }
    chmod(&path, 0o600);
    assert_eq!(unwrap(&wrapped, &protection).unwrap().bytes(), dek.bytes());
    chmod(&path, 0o400);
    assert_eq!(unwrap(&wrapped, &protection).unwrap().bytes(), dek.bytes());
}

/// Needs root to give the file away; skipped otherwise.
#[cfg(unix)]
#[test]
fn key_file_of_another_user_is_refused() {
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root can chown a file to another user");
        return;
    }
    let dir = tmp();
    let path = dir.path().join("vault.key");
    let protection = Protection::KeyFile(path.clone());
    let wrapped = wrap(&DataKey::generate(), &protection).unwrap();
    std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
    let err = unwrap(&wrapped, &protection).unwrap_err();
    assert!(
        matches!(
            err,
            SealError::KeyFileWrongOwner {
                owner: 65534,
                me: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("chown 0 "), "{err}");
}

#[test]
fn missing_key_file_is_a_clear_error() {
    let dir = tmp();
    let path = dir.path().join("vault.key");
    let protection = Protection::KeyFile(path.clone());
    let wrapped = wrap(&DataKey::generate(), &protection).unwrap();
    fs::remove_file(&path).unwrap();
    let err = unwrap(&wrapped, &protection).unwrap_err();
    assert!(matches!(&err, SealError::KeyFileMissing { path: p } if *p == path));
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("missing") && msg.contains("backup"), "{msg}");
    assert!(!path.exists(), "unwrap must never create a key file");
}

#[test]
fn damaged_key_files_are_clear_errors() {
    let dir = tmp();
    let path = dir.path().join("vault.key");
    let protection = Protection::KeyFile(path.clone());
    let wrapped = wrap(&DataKey::generate(), &protection).unwrap();
    let good = fs::read(&path).unwrap();
    let key_line = String::from_utf8(good.clone())
        .unwrap()
        .lines()
        .find(|l| l.starts_with("twofill"))
        .unwrap()
        .to_owned();

    let mut random = vec![0u8; 64];
    fill_random(&mut random);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "holds no key"),
        ("only comments", b"# nothing\n".to_vec(), "holds no key"),
        ("truncated", good[..good.len() - 20].to_vec(), "truncated"),
        (
            "cut mid-line",
            key_line.as_bytes()[..key_line.len() / 2].to_vec(),
            "truncated",
        ),
        ("random bytes", random, "not text"),
        (
            "another format",
            b"-----BEGIN PRIVATE KEY-----\n".to_vec(),
            "does not start",
        ),
        (
            "short key",
            format!("twofill-vault-key-v1 {}\n", "AAAA".repeat(4)).into_bytes(),
            "12 bytes",
        ),
        (
            "two keys",
            format!("{key_line}\n{key_line}\n").into_bytes(),
            "more than one",
        ),
        ("huge", vec![b'#'; 10_000], "larger"),
    ];
    for (name, contents, expected) in cases {
        fs::write(&path, &contents).unwrap();
        let err = unwrap(&wrapped, &protection).unwrap_err();
        assert!(
            matches!(err, SealError::KeyFileMalformed { .. }),
            "{name}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(expected), "{name}: {msg}");
        assert!(msg.contains("backup"), "{name}: {msg}");
    }
}

#[test]
fn key_file_that_is_not_a_file_is_refused() {
    let dir = tmp();
    let path = dir.path().join("vault.key");
    let protection = Protection::KeyFile(path.clone());
    let wrapped = wrap(&DataKey::generate(), &protection).unwrap();
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    assert!(unwrap(&wrapped, &protection).is_err());
    #[cfg(unix)]
    {
        // A FIFO must not make the host hang.
        fs::remove_dir(&path).unwrap();
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = unwrap(&wrapped, &protection).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}

#[test]
fn another_key_file_is_the_wrong_key() {
    let dir = tmp();
    let first = Protection::KeyFile(dir.path().join("a.key"));
    let second = Protection::KeyFile(dir.path().join("b.key"));
    let dek = DataKey::generate();
    let wrapped = wrap(&dek, &first).unwrap();
    wrap(&dek, &second).unwrap();
    let err = unwrap(&wrapped, &second).unwrap_err();
    assert!(matches!(err, SealError::WrongKeyFile { .. }), "{err:?}");
    assert!(err.to_string().contains("b.key"), "{err}");
}

#[test]
fn moved_key_file_still_works() {
    let dir = tmp();
    let old = dir.path().join("old.key");
    let new = dir.path().join("elsewhere").join("new.key");
    let dek = DataKey::generate();
    let wrapped = wrap(&dek, &Protection::KeyFile(old.clone())).unwrap();
    assert_eq!(
        wrapped.stored_protection().map(|p| format!("{p:?}")),
        Some(format!("{:?}", Protection::KeyFile(old.clone())))
    );
    fs::create_dir(new.parent().unwrap()).unwrap();
    fs::rename(&old, &new).unwrap();
    let back = unwrap(&wrapped, &Protection::KeyFile(new)).unwrap();
    assert_eq!(back.bytes(), dek.bytes());
}

#[test]
fn unwritable_key_file_location_is_a_clear_error() {
    let dir = tmp();
    let blocker = dir.path().join("not-a-dir");
    fs::write(&blocker, b"").unwrap();
    let path = blocker.join("vault.key");
    let err = wrap(&DataKey::generate(), &Protection::KeyFile(path.clone())).unwrap_err();
    assert!(matches!(err, SealError::KeyFileCreate { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

// ---------------------------------------------------------------------------
// Passphrase.

#[test]
fn passphrase_round_trip() {
    let dek = DataKey::generate();
    let protection = cheap_passphrase("correct horse battery staple");
    let wrapped = wrap(&dek, &protection).unwrap();
    assert_eq!(wrapped.kind(), ProtectionKind::Passphrase);
    assert!(wrapped.stored_protection().is_none());
    let json = wrapped.to_json();
    assert!(!json.contains("correct horse"));
    let back = unwrap(&WrappedKey::from_json(&json).unwrap(), &protection).unwrap();
    assert_eq!(back.bytes(), dek.bytes());
    // A new salt every time.
    let other = wrap(&dek, &protection).unwrap();
    assert_ne!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap()["salt"],
        serde_json::from_str::<serde_json::Value>(&other.to_json()).unwrap()["salt"]
    );
    // The stored parameters are used, whatever the protection says.
    let back = unwrap(
        &wrapped,
        &Protection::Passphrase(
            Zeroizing::new("correct horse battery staple".into()),
            Argon2Params::DEFAULT,
        ),
    )
    .unwrap();
    assert_eq!(back.bytes(), dek.bytes());
}

#[test]
fn wrong_passphrase_is_reported_as_such() {
    let wrapped = wrap(&DataKey::generate(), &cheap_passphrase("hunter2hunter2")).unwrap();
    for guess in ["hunter2hunter3", "Hunter2hunter2", "hunter2hunter2 ", "x"] {
        let err = unwrap(&wrapped, &cheap_passphrase(guess)).unwrap_err();
        assert!(matches!(err, SealError::WrongPassphrase), "{err:?}");
        assert!(!err.to_string().contains(guess));
    }
    assert!(matches!(
        unwrap(&wrapped, &cheap_passphrase("")),
        Err(SealError::EmptyPassphrase)
    ));
    assert!(matches!(
        wrap(&DataKey::generate(), &cheap_passphrase("")),
        Err(SealError::EmptyPassphrase)
    ));
}

#[test]
fn passphrase_is_unicode_exact() {
    let wrapped = wrap(&DataKey::generate(), &cheap_passphrase("pässwörd 🔑")).unwrap();
    assert!(unwrap(&wrapped, &cheap_passphrase("pässwörd 🔑")).is_ok());
    // Same look, other normal form (a + combining diaeresis): a different passphrase.
    assert!(matches!(
        unwrap(&wrapped, &cheap_passphrase("pa\u{308}sswörd 🔑")),
        Err(SealError::WrongPassphrase)
    ));
}

/// The one test with the real, default cost (64 MiB, 3 passes).
#[test]
fn passphrase_with_default_params() {
    let dek = DataKey::generate();
    let protection = Protection::passphrase("a long and memorable passphrase");
    let started = std::time::Instant::now();
    let wrapped = wrap(&dek, &protection).unwrap();
    eprintln!(
        "Argon2id with the default parameters took {:?}",
        started.elapsed()
    );
    assert_eq!(wrapped.argon2_params(), Some(Argon2Params::DEFAULT));
    assert!(
        wrapped
            .to_json()
            .contains(r#""m_cost_kib":65536,"t_cost":3,"p_cost":1"#)
    );
    assert_eq!(unwrap(&wrapped, &protection).unwrap().bytes(), dek.bytes());
}

#[test]
fn invalid_argon2_params_are_refused() {
    for params in [
        Argon2Params {
            m_cost_kib: 1,
            ..CHEAP
        },
        Argon2Params { t_cost: 0, ..CHEAP },
        Argon2Params { p_cost: 0, ..CHEAP },
        Argon2Params {
            m_cost_kib: u32::MAX,
            ..CHEAP
        },
        Argon2Params {
            t_cost: 1_000_000,
            ..CHEAP
        },
    ] {
        let protection = Protection::Passphrase(Zeroizing::new("pw".into()), params);
        let err = wrap(&DataKey::generate(), &protection).unwrap_err();
        assert!(
            matches!(err, SealError::InvalidArgon2Params { .. }),
            "{err:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Wrapped key: serialization, tampering, mismatches, rewrap.

fn edit_json(json: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
    edit(&mut value);
    value.to_string()
}

fn flip_b64(value: &mut serde_json::Value, field: &str, byte: usize) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(value[field].as_str().unwrap()).unwrap();
    bytes[byte] ^= 0x01;
    value[field] = b64.encode(bytes).into();
}

#[test]
fn wrapped_key_json_round_trip() {
    let dir = tmp();
    let dek = DataKey::generate();
    let mut wrapped = vec![
        wrap(&dek, &Protection::KeyFile(dir.path().join("k"))).unwrap(),
        wrap(&dek, &cheap_passphrase("pw")).unwrap(),
    ];
    // Not wrap()ped: no keyring needed to test its serialization.
    let mut keyring = wrapped[0].clone();
    keyring.source = wrap::Source::Keyring {
        service: "twofill".into(),
        account: "vault \"main\"".into(),
    };
    wrapped.push(keyring);
    for w in wrapped {
        let json = w.to_json();
        assert!(!json.contains('\n'));
        let back = WrappedKey::from_json(&json).unwrap();
        assert_eq!(back, w);
        assert_eq!(back.to_json(), json);
    }
}

#[test]
fn wrapped_key_json_is_self_describing() {
    let dir = tmp();
    let path = dir.path().join("vault.key");
    let json = wrap(&DataKey::generate(), &Protection::KeyFile(path.clone()))
        .unwrap()
        .to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["v"], 1);
    assert_eq!(value["method"], "key_file");
    assert_eq!(value["path"], path.to_str().unwrap());
}

#[test]
fn tampered_wrapped_key_is_detected() {
    let dek = DataKey::generate();
    let protection = cheap_passphrase("pw");
    let json = wrap(&dek, &protection).unwrap().to_json();

    // Any change to the wrapped data key itself: right passphrase, "tampered".
    for byte in 1..KEY_LEN + SEAL_OVERHEAD {
        let bad = edit_json(&json, |v| flip_b64(v, "key", byte));
        let err = unwrap(&WrappedKey::from_json(&bad).unwrap(), &protection).unwrap_err();
        assert!(
            matches!(
                err,
                SealError::WrappedKeyTampered {
                    kind: ProtectionKind::Passphrase
                }
            ),
            "byte {byte}: {err:?}"
        );
    }
    // Version byte of the wrapped data key.
    let bad = edit_json(&json, |v| flip_b64(v, "key", 0));
    assert!(matches!(
        unwrap(&WrappedKey::from_json(&bad).unwrap(), &protection),
        Err(SealError::WrappedKeyTampered { .. })
    ));
    // Changes to what derives the key-encryption key, or to the check, make
    // the right passphrase look wrong; never a wrong key.
    for bad in [
        edit_json(&json, |v| flip_b64(v, "salt", 3)),
        edit_json(&json, |v| flip_b64(v, "check", 0)),
        edit_json(&json, |v| v["t_cost"] = 2.into()),
        edit_json(&json, |v| v["m_cost_kib"] = 128.into()),
    ] {
        assert!(matches!(
            unwrap(&WrappedKey::from_json(&bad).unwrap(), &protection),
            Err(SealError::WrongPassphrase)
        ));
    }
    // Claiming another method.
    let bad = edit_json(&json, |v| {
        v["method"] = "key_file".into();
        v["path"] = "/tmp/x".into();
    });
    assert!(matches!(
        unwrap(&WrappedKey::from_json(&bad).unwrap(), &protection),
        Err(SealError::ProtectionMismatch {
            stored: ProtectionKind::KeyFile,
            given: ProtectionKind::Passphrase
        })
    ));
}

#[test]
fn malformed_wrapped_keys_are_refused() {
    let json = wrap(&DataKey::generate(), &cheap_passphrase("pw"))
        .unwrap()
        .to_json();
    let cases = [
        (String::new(), "not a wrapped key"),
        ("garbage".to_owned(), "not a wrapped key"),
        ("{}".to_owned(), "not a wrapped key"),
        (edit_json(&json, |v| v["v"] = 2.into()), "version 2"),
        (
            edit_json(&json, |v| v["method"] = "rot13".into()),
            "not a wrapped key",
        ),
        (
            edit_json(&json, |v| {
                v.as_object_mut().unwrap().remove("salt").map(drop).unwrap()
            }),
            "salt",
        ),
        (edit_json(&json, |v| v["salt"] = "AAAA".into()), "salt"),
        (edit_json(&json, |v| v["check"] = "!!".into()), "check"),
        (edit_json(&json, |v| v["key"] = "AAAA".into()), "key"),
        (
            edit_json(&json, |v| v["m_cost_kib"] = u32::MAX.into()),
            "maximum",
        ),
    ];
    for (bad, expected) in cases {
        let err = WrappedKey::from_json(&bad).unwrap_err();
        assert!(
            matches!(err, SealError::WrappedKeyMalformed { .. }),
            "{bad}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(expected), "{bad}: {msg}");
    }
}

#[test]
fn unwrap_with_another_kind_of_protection_is_a_mismatch() {
    let dir = tmp();
    let wrapped = wrap(&DataKey::generate(), &cheap_passphrase("pw")).unwrap();
    let err = unwrap(&wrapped, &Protection::KeyFile(dir.path().join("k"))).unwrap_err();
    assert!(matches!(err, SealError::ProtectionMismatch { .. }));
    assert_eq!(
        err.to_string(),
        "the vault key is protected by a passphrase, but a key file was given; unlock it \
         with a passphrase"
    );
    assert!(!dir.path().join("k").exists());
}

#[test]
fn rewrap_keeps_sealed_values() {
    let dir = tmp();
    let dek = DataKey::generate();
    let sealed = dek.seal(b"JBSWY3DPEHPK3PXP", b"token:9");
    let by_passphrase = wrap(&dek, &cheap_passphrase("old passphrase")).unwrap();
    let key_file = Protection::KeyFile(dir.path().join("vault.key"));

    let by_file = rewrap(
        &by_passphrase,
        &cheap_passphrase("old passphrase"),
        &key_file,
    )
    .unwrap();
    let by_new_passphrase =
        rewrap(&by_file, &key_file, &cheap_passphrase("new passphrase")).unwrap();

    for (wrapped, protection) in [
        (&by_file, &key_file),
        (&by_new_passphrase, &cheap_passphrase("new passphrase")),
    ] {
        let dek = unwrap(wrapped, protection).unwrap();
        assert_eq!(
            &dek.open(&sealed, b"token:9").unwrap()[..],
            b"JBSWY3DPEHPK3PXP"
        );
    }
    assert!(matches!(
        rewrap(&by_passphrase, &cheap_passphrase("wrong"), &key_file),
        Err(SealError::WrongPassphrase)
    ));
}

// ---------------------------------------------------------------------------
// Nothing secret in Debug or Display.

fn assert_no_secret(text: &str, secret: &[u8]) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert!(!text.contains(&to_hex(secret)), "{text}");
    assert!(!text.contains(&b64.encode(secret)), "{text}");
    assert!(!text.contains(&format!("{secret:?}")), "{text}");
    let decimal: Vec<String> = secret.iter().map(u8::to_string).collect();
    assert!(!text.contains(&decimal.join(", ")), "{text}");
}

#[test]
fn debug_does_not_leak_keys_or_passphrases() {
    let dek = DataKey::generate();
    let text = format!("{dek:?} {dek:#?}");
    assert_eq!(format!("{dek:?}"), "DataKey([redacted])");
    assert_no_secret(&text, dek.bytes());
    assert_no_secret(&text, &dek.derive_subkey("x")[..]);

    let protection = cheap_passphrase("correct horse battery staple");
    let text = format!("{protection:?} {protection:#?}");
    assert!(!text.contains("correct horse"), "{text}");
    assert!(text.contains("redacted"), "{text}");

    let dir = tmp();
    let path = dir.path().join("vault.key");
    let wrapped = wrap(&dek, &Protection::KeyFile(path.clone())).unwrap();
    let kek = keyfile::load(&path).unwrap();
    let text = format!("{wrapped:?} {wrapped:#?}");
    assert_no_secret(&text, &kek[..]);
    assert_no_secret(&text, dek.bytes());

    // The key file's key never appears in an error about it.
    chmod_if_unix(&path, 0o644);
    for err in [
        unwrap(&wrapped, &Protection::KeyFile(path.clone())).map(drop),
        unwrap(
            &wrapped,
            &Protection::KeyFile(PathBuf::from("/nonexistent/k")),
        )
        .map(drop),
    ] {
        let err = err.unwrap_err();
        assert_no_secret(&format!("{err} {err:?}"), &kek[..]);
    }
}

fn chmod_if_unix(_path: &Path, _mode: u32) {
    #[cfg(unix)]
    chmod(_path, _mode);
}

// ---------------------------------------------------------------------------
// OS keyring.

#[cfg(not(feature = "keyring"))]
#[test]
fn keyring_not_built() {
    assert!(matches!(
        keyring_available(),
        Err(SealError::KeyringNotBuilt)
    ));
    let protection = Protection::Keyring {
        service: "s".into(),
        account: "a".into(),
    };
    assert!(matches!(
        wrap(&DataKey::generate(), &protection),
        Err(SealError::KeyringNotBuilt)
    ));
}

/// Without a reachable Secret Service, the keyring fails at once with
/// `KeyringUnavailable`. Runs this test binary again in a child process with
/// a D-Bus address that leads nowhere (the keyring connection is made once
/// per process, so the parent's own keyring is not disturbed).
#[cfg(all(feature = "keyring", target_os = "linux"))]
#[test]
fn keyring_unreachable_fails_fast() {
    const CHILD: &str = "TWOFILL_SEAL_TEST_CHILD";
    let protection = Protection::Keyring {
        service: "twofill-seal-test".into(),
        account: "unreachable".into(),
    };
    if std::env::var_os(CHILD).is_some() {
        let started = std::time::Instant::now();
        let err = keyring_available().unwrap_err();
        assert!(
            matches!(err, SealError::KeyringUnavailable { .. }),
            "{err:?}"
        );
        eprintln!("keyring_available: {err}");
        let err = wrap(&DataKey::generate(), &protection).unwrap_err();
        assert!(
            matches!(err, SealError::KeyringUnavailable { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("key file"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::keyring_unreachable_fails_fast",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/twofill-seal-test/bus",
        )
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the OS keyring is not available"),
        "{stderr}"
    );
}

/// Against a real Secret Service / Keychain / Credential Manager. Skipped
/// when none is reachable, unless `TWOFILL_SEAL_TEST_KEYRING=1` demands it.
/// On a headless Debian machine (`apt-get install gnome-keyring dbus`), in a
/// throw-away D-Bus session and keyring (HOME points at a fresh directory so
/// no real keyring is touched; keep RUSTUP_HOME and CARGO_HOME pointing at
/// the toolchain):
///
/// ```text
/// RUSTUP_HOME=$HOME/.rustup CARGO_HOME=$HOME/.cargo HOME=$(mktemp -d) dbus-run-session -- \
///   sh -c 'echo -n test | gnome-keyring-daemon --unlock --components=secrets >/dev/null;
///          TWOFILL_SEAL_TEST_KEYRING=1 cargo test -p twofill-seal keyring'
/// ```
///
/// The keyring must be unlocked (`--unlock` above): a Secret Service that
/// D-Bus activates on demand starts locked, cannot prompt without a desktop,
/// and the test then skips (or fails when demanded).
#[cfg(feature = "keyring")]
#[test]
fn keyring_round_trip() {
    let demanded = std::env::var_os("TWOFILL_SEAL_TEST_KEYRING").is_some_and(|v| v == "1");
    let service = "twofill-seal-test".to_owned();
    let account = format!("vault-{}-{:x}", std::process::id(), rand_u64());
    let other = format!("{account}-other");
    let protection = Protection::Keyring {
        service: service.clone(),
        account: account.clone(),
    };
    // Unreachable, or reachable but locked with nobody to answer the unlock
    // prompt (a Secret Service activated on a headless D-Bus session).
    let usable =
        keyring_available().and_then(|()| wrap(&DataKey::generate(), &protection).map(drop));
    if let Err(err) = usable {
        assert!(
            matches!(
                err,
                SealError::KeyringUnavailable { .. } | SealError::Keyring { .. }
            ),
            "{err:?}"
        );
        assert!(!demanded, "TWOFILL_SEAL_TEST_KEYRING=1 but {err}");
        eprintln!("skipped: {err}");
        return;
    }
    let cleanup = || {
        for a in [&account, &other] {
            if let Ok(entry) = ::keyring::Entry::new(&service, a) {
                let _ = entry.delete_credential();
            }
        }
    };
    cleanup();
    let result = std::panic::catch_unwind(|| {
        let dek = DataKey::generate();
        let sealed = dek.seal(b"seed", b"token:1");
        let wrapped = wrap(&dek, &protection).unwrap();
        assert_eq!(wrapped.kind(), ProtectionKind::Keyring);
        let json = wrapped.to_json();
        assert!(json.contains(&account));
        let back = unwrap(&WrappedKey::from_json(&json).unwrap(), &protection).unwrap();
        assert_eq!(&back.open(&sealed, b"token:1").unwrap()[..], b"seed");
        assert_eq!(
            format!("{:?}", wrapped.stored_protection().unwrap()),
            format!("{protection:?}")
        );

        // Wrapping again reuses the stored key.
        let entry = ::keyring::Entry::new(&service, &account).unwrap();
        let stored = Zeroizing::new(entry.get_secret().unwrap());
        assert_eq!(stored.len(), KEY_LEN);
        let again = wrap(&dek, &protection).unwrap();
        assert_eq!(
            &Zeroizing::new(entry.get_secret().unwrap())[..],
            &stored[..]
        );
        assert_eq!(unwrap(&again, &protection).unwrap().bytes(), dek.bytes());

        // Another entry holds another key.
        let other_protection = Protection::Keyring {
            service: service.clone(),
            account: other.clone(),
        };
        assert!(matches!(
            unwrap(&wrapped, &other_protection),
            Err(SealError::KeyringEntryMissing { .. })
        ));
        wrap(&DataKey::generate(), &other_protection).unwrap();
        assert!(matches!(
            unwrap(&wrapped, &other_protection),
            Err(SealError::WrongKeyringKey { .. })
        ));

        // Rewrap to a key file and back.
        let dir = tmp();
        let key_file = Protection::KeyFile(dir.path().join("vault.key"));
        let by_file = rewrap(&wrapped, &protection, &key_file).unwrap();
        let back = unwrap(&by_file, &key_file).unwrap();
        assert_eq!(back.bytes(), dek.bytes());

        // An entry that does not hold a key.
        entry.set_secret(b"not a key").unwrap();
        assert!(matches!(
            unwrap(&wrapped, &protection),
            Err(SealError::KeyringEntryMalformed { .. })
        ));
        // A deleted entry.
        entry.delete_credential().unwrap();
        let err = unwrap(&wrapped, &protection).unwrap_err();
        assert!(
            matches!(err, SealError::KeyringEntryMissing { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(&account));
    });
    cleanup();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[cfg(feature = "keyring")]
fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    fill_random(&mut bytes);
    u64::from_le_bytes(bytes)
}

#[test]
fn ct_eq_compares_exactly() {
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"abcd"));
    assert!(!ct_eq(b"", b"a"));
}
