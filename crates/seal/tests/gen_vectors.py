#!/usr/bin/env python3
"""Independent reference vectors for twofill-seal's known-answer tests.

Written from the format description in src/lib.rs, with no Rust involved:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install pycryptodome pynacl cryptography argon2-cffi
    /tmp/v/bin/python crates/seal/tests/gen_vectors.py

It prints the constants used in src/tests.rs (`KAT_*`). The XChaCha20-Poly1305
values are computed twice, with pycryptodome and with PyNaCl (libsodium), and
must agree; the draft-irtf-cfrg-xchacha-03 A.3.1 vector is checked first.
"""

import base64
import json

import argon2.low_level as a2
import nacl.bindings as sodium
from Crypto.Cipher import ChaCha20_Poly1305
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def xchacha(key: bytes, nonce: bytes, aad: bytes, msg: bytes) -> bytes:
    c = ChaCha20_Poly1305.new(key=key, nonce=nonce)  # 24-byte nonce = XChaCha20
    c.update(aad)
    ct, tag = c.encrypt_and_digest(msg)
    a = ct + tag
    b = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(msg, aad, nonce, key)
    assert a == b, "pycryptodome and libsodium disagree"
    return a


def hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


def seal(key: bytes, nonce: bytes, aad: bytes, msg: bytes) -> bytes:
    # version || nonce || ciphertext || tag, AEAD associated data = version || aad
    return b"\x01" + nonce + xchacha(key, nonce, b"\x01" + aad, msg)


# draft-irtf-cfrg-xchacha-03, A.3.1
draft = xchacha(
    bytes(range(0x80, 0xA0)),
    bytes(range(0x40, 0x58)),
    bytes.fromhex("50515253c0c1c2c3c4c5c6c7"),
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
    b"for the future, sunscreen would be it.",
)
assert draft.hex() == (
    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
    "21f9664c97637da9768812f615c68b13b52e"
    "c0875924c1c7987947deafd8780acf49"
)

# 1. A sealed value: key 00..1f, nonce a0..b7, context "token:42".
dek = bytes(range(0x00, 0x20))
sealed = seal(dek, bytes(range(0xA0, 0xB8)), b"token:42", b"JBSWY3DPEHPK3PXP")
print("KAT_SEALED =", sealed.hex())

# 2. A subkey.
print("KAT_SUBKEY =", hkdf(dek, b"twofill-vault/audit-hmac/v1").hex())

# 3. A passphrase-wrapped key (Argon2id m=64 KiB, t=1, p=1) that unwraps to `dek`.
salt = bytes(range(0x10, 0x20))
m, t, p = 64, 1, 1
kek = a2.hash_secret_raw(
    b"correct horse battery staple", salt, time_cost=t, memory_cost=m,
    parallelism=p, hash_len=32, type=a2.Type.ID, version=0x13,
)
print("KAT_PASSPHRASE_KEK =", kek.hex())
wrap_key = hkdf(kek, b"twofill-seal/wrap-key/v1")
check = hkdf(kek, b"twofill-seal/key-check/v1")[:16]
aad = (b"twofill-seal/wrapped-data-key/v1\0passphrase\0" + salt
       + m.to_bytes(4, "little") + t.to_bytes(4, "little") + p.to_bytes(4, "little"))
wrapped = seal(wrap_key, bytes(range(0xC0, 0xD8)), aad, dek)
b64 = lambda b: base64.b64encode(b).decode()
print("KAT_WRAPPED_JSON =", json.dumps({
    "v": 1, "method": "passphrase", "salt": b64(salt), "m_cost_kib": m, "t_cost": t,
    "p_cost": p, "check": b64(check), "key": b64(wrapped)}, separators=(",", ":")))
