#!/usr/bin/env python3
"""Generate tests/fixtures/migration.json: otpauth-migration:// links built
with Google's official protobuf runtime, independently of the Rust decoder.

Each case records the link and what it encodes (seeds in hex, names, enum
values, batch fields), written down here by hand, not computed by twofill.

Requirements: pip install protobuf grpcio-tools
Run from anywhere:  python3 crates/import/tests/gen_migration.py
The output is deterministic; re-running it must not change the fixture.
"""

import base64
import importlib
import json
import os
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "migration.json")


def compile_protos():
    """Compile gen/*.proto with grpcio-tools' bundled protoc and import them."""
    try:
        from grpc_tools import protoc
    except ImportError:
        sys.exit("grpcio-tools is missing: pip install protobuf grpcio-tools")
    out = tempfile.mkdtemp(prefix="twofill-proto-")
    gen = os.path.join(HERE, "gen")
    for name in ("migration.proto", "migration_future.proto"):
        rc = protoc.main(["protoc", f"-I{gen}", f"--python_out={out}", os.path.join(gen, name)])
        if rc != 0:
            sys.exit(f"protoc failed on {name}")
    sys.path.insert(0, out)
    return importlib.import_module("migration_pb2"), importlib.import_module("migration_future_pb2")


pb, future = compile_protos()
P = pb.MigrationPayload

# RFC 6238 appendix B seeds, so codes can also be checked against the RFC.
RFC_SHA1 = b"12345678901234567890"
RFC_SHA256 = b"12345678901234567890123456789012"
RFC_SHA512 = b"1234567890123456789012345678901234567890123456789012345678901234"
OTHER = bytes(range(0xA0, 0xB4))  # 20 arbitrary bytes


def ok(seed, issuer, account, algorithm, digits, kind="totp", counter=None):
    entry = {
        "secret_hex": seed.hex(),
        "secret_base32": base64.b32encode(seed).decode().rstrip("="),
        "issuer": issuer,
        "account": account,
        "algorithm": algorithm,
        "digits": digits,
        "kind": kind,
    }
    if counter is not None:  # HOTP only: the counter of the next code
        entry["counter"] = counter
    return {"ok": entry}


def err(kind, label):
    return {"error": kind, "label": label}


def params(msg, seed, name, issuer="", algorithm=0, digits=0, type_=0, counter=0):
    p = msg.otp_parameters.add()
    p.secret = seed
    p.name = name
    p.issuer = issuer
    p.algorithm = algorithm
    p.digits = digits
    p.type = type_
    p.counter = counter
    return p


def link(payload_bytes, encoding):
    b64 = base64.b64encode(payload_bytes).decode()
    if encoding == "percent":  # what Google Authenticator produces
        data = urllib.parse.quote(b64, safe="")
    elif encoding == "raw":  # what some QR readers / re-encoders produce
        data = b64
    elif encoding == "urlsafe-unpadded":
        data = base64.urlsafe_b64encode(payload_bytes).decode().rstrip("=")
    else:
        raise ValueError(encoding)
    return f"otpauth-migration://offline?data={data}", b64


cases = []


def add(name, description, payload_bytes, encoding, batch, entries=None, error=None):
    uri, b64 = link(payload_bytes, encoding)
    cases.append({
        "name": name,
        "description": description,
        "uri": uri,
        "encoding": encoding,
        "payload_hex": payload_bytes.hex(),
        "batch": batch,
        "error": error,
        "entries": entries or [],
    })
    return b64


# --- several accounts, every algorithm/digits/type combination -------------
def mixed_batch(batch_id):
    m = P(version=1, batch_size=3, batch_index=1, batch_id=batch_id)
    params(m, RFC_SHA1, "ACME Co:alice@example.com", "ACME Co", P.ALGORITHM_SHA1, P.DIGIT_COUNT_SIX, P.OTP_TYPE_TOTP)
    params(m, RFC_SHA256, "bob@example.com", "Example", P.ALGORITHM_SHA256, P.DIGIT_COUNT_EIGHT, P.OTP_TYPE_TOTP)
    params(m, RFC_SHA512, "Corp:carol", "", P.ALGORITHM_SHA512, P.DIGIT_COUNT_EIGHT, P.OTP_TYPE_TOTP)
    params(m, OTHER, "Bank:dan", "Bank", P.ALGORITHM_SHA1, P.DIGIT_COUNT_SIX, P.OTP_TYPE_HOTP, counter=42)
    params(m, OTHER, "Legacy:erin", "Legacy", P.ALGORITHM_MD5, P.DIGIT_COUNT_SIX, P.OTP_TYPE_TOTP)
    # All enums left UNSPECIFIED (fields absent on the wire): SHA1, 6, TOTP.
    params(m, OTHER, "frank")
    return m.SerializeToString()


MIXED_ENTRIES = [
    ok(RFC_SHA1, "ACME Co", "alice@example.com", "SHA1", 6),
    ok(RFC_SHA256, "Example", "bob@example.com", "SHA256", 8),
    ok(RFC_SHA512, "Corp", "carol", "SHA512", 8),
    ok(OTHER, "Bank", "dan", "SHA1", 6, kind="hotp", counter=42),
    err("md5", "Legacy: erin"),
    ok(OTHER, None, "frank", "SHA1", 6),
]

add("mixed_percent",
    "six accounts (SHA1/SHA256/SHA512, 6 and 8 digits, HOTP, MD5, unspecified enums), "
    "QR 2 of 3 with a negative batch id, data percent-encoded as Google Authenticator does",
    mixed_batch(-12345), "percent", {"index": 1, "size": 3, "id": -12345}, MIXED_ENTRIES)

# Same accounts, raw base64 in the link; pick a batch id whose encoding
# contains both '+' and '/' so that un-escaped base64 is really exercised.
batch_id = 1
while True:
    b64 = base64.b64encode(mixed_batch(batch_id)).decode()
    if "+" in b64 and "/" in b64:
        break
    batch_id += 1
add("mixed_raw",
    "the same accounts with raw (not percent-encoded) base64 containing '+' and '/'",
    mixed_batch(batch_id), "raw", {"index": 1, "size": 3, "id": batch_id}, MIXED_ENTRIES)

# --- forward compatibility: fields this schema does not know ---------------
F = future.MigrationPayload
m = F(version=2, batch_size=1, batch_index=0, batch_id=77, exported_by="Pixel 9",
      exported_at=1_700_000_000_000)
m.extra.note = "payload-level extra"
m.extra.values.extend([1, -1, 300])
for seed, name, issuer, alg, dig in [
    (RFC_SHA1, "Future:grace", "Future", 1, 1),
    (OTHER, "heidi", "Later Inc", 3, 2),
]:
    p = m.otp_parameters.add()
    p.secret = seed
    p.name = name
    p.issuer = issuer
    p.algorithm = alg
    p.digits = dig
    p.type = 2
    p.icon_url = "https://example.com/icon.png"
    p.color = 0xFF00FF
    p.extra.note = "entry-level extra"
    p.extra.values.extend([7, 8])
    p.created_ms = 2**63 + 5
    p.weight = 0.5
    p.tags.extend([1, 2, 3])
    p.sort_order = 9
add("unknown_fields",
    "two accounts from a newer schema with extra fields of every wire type in both messages",
    m.SerializeToString(), "percent", {"index": 0, "size": 1, "id": 77}, [
        ok(RFC_SHA1, "Future", "grace", "SHA1", 6),
        ok(OTHER, "Later Inc", "heidi", "SHA512", 8),
    ])

# --- URL-safe alphabet without padding ------------------------------------
name = "ivan@example.com"
while True:
    m = P(version=1, batch_size=1, batch_index=0, batch_id=5)
    params(m, OTHER, name, "Padless", P.ALGORITHM_SHA256, P.DIGIT_COUNT_SIX, P.OTP_TYPE_TOTP)
    raw = m.SerializeToString()
    enc = base64.urlsafe_b64encode(raw).decode()
    if len(raw) % 3 and ("-" in enc or "_" in enc):
        break
    name = "x" + name
add("urlsafe_unpadded",
    "one account, base64 in the URL-safe alphabet with the '=' padding stripped",
    raw, "urlsafe-unpadded", {"index": 0, "size": 1, "id": 5}, [
        ok(OTHER, "Padless", name, "SHA256", 6),
    ])

# --- name/issuer splitting, Steam, bad secrets ------------------------------
m = P(version=1, batch_size=1, batch_index=0, batch_id=99)
params(m, RFC_SHA1, "GitHub:octocat", "GitHub", 1, 1, 2)          # issuer repeated in name
params(m, RFC_SHA1, "gitlab: someone@example.com", "GitLab", 1, 1, 2)  # other case, space
params(m, RFC_SHA1, "Other:judy", "Okta", 1, 1, 2)                # prefix is not the issuer
params(m, RFC_SHA1, "Steam:gaben", "Steam", 1, 1, 2)              # Steam account
params(m, b"\x01\x02\x03\x04\x05", "Short:kim", "", 1, 1, 2)      # 5-byte secret
params(m, b"", "Empty:lee", "", 1, 1, 2)                          # no secret at all
params(m, RFC_SHA1, "mallory", "", 1, 9, 2)                       # digits enum from the future
add("names_and_bad_entries",
    "issuer/name combinations, a Steam account, too-short and empty secrets, an unknown digits value",
    m.SerializeToString(), "percent", {"index": 0, "size": 1, "id": 99}, [
        ok(RFC_SHA1, "GitHub", "octocat", "SHA1", 6),
        ok(RFC_SHA1, "GitLab", "someone@example.com", "SHA1", 6),
        ok(RFC_SHA1, "Okta", "Other:judy", "SHA1", 6),
        ok(RFC_SHA1, "Steam", "gaben", "SHA1", 5, kind="steam"),
        err("invalid", "Short: kim"),
        err("invalid", "Empty: lee"),
        err("unknown", "mallory"),
    ])

# --- counter-based (HOTP) accounts ---------------------------------------
m = P(version=1, batch_size=1, batch_index=0, batch_id=4226)
# counter 0 is proto3's default, so the field is absent on the wire.
params(m, RFC_SHA1, "RFC 4226:appendix-d", "RFC 4226", P.ALGORITHM_SHA1, P.DIGIT_COUNT_SIX, P.OTP_TYPE_HOTP)
params(m, OTHER, "VPN:olga", "VPN", P.ALGORITHM_SHA1, P.DIGIT_COUNT_EIGHT, P.OTP_TYPE_HOTP, counter=2**40 + 7)
params(m, RFC_SHA256, "Bank:pete", "Bank", P.ALGORITHM_SHA256, P.DIGIT_COUNT_SIX, P.OTP_TYPE_HOTP, counter=5)
# Steam Guard is time-based: a counter-based account named Steam stays HOTP.
params(m, OTHER, "Steam:quinn", "Steam", P.ALGORITHM_SHA1, P.DIGIT_COUNT_SIX, P.OTP_TYPE_HOTP, counter=1)
params(m, OTHER, "Legacy:rob", "Legacy", P.ALGORITHM_MD5, P.DIGIT_COUNT_SIX, P.OTP_TYPE_HOTP, counter=3)
params(m, RFC_SHA1, "Mixed:sara", "Mixed", P.ALGORITHM_SHA1, P.DIGIT_COUNT_SIX, P.OTP_TYPE_TOTP)
add("hotp",
    "HOTP accounts (counter absent on the wire, above 2^32, SHA256, 8 digits, a Steam issuer), "
    "an MD5 HOTP account that is still skipped, and a TOTP account beside them",
    m.SerializeToString(), "percent", {"index": 0, "size": 1, "id": 4226}, [
        ok(RFC_SHA1, "RFC 4226", "appendix-d", "SHA1", 6, kind="hotp", counter=0),
        ok(OTHER, "VPN", "olga", "SHA1", 8, kind="hotp", counter=2**40 + 7),
        ok(RFC_SHA256, "Bank", "pete", "SHA256", 6, kind="hotp", counter=5),
        ok(OTHER, "Steam", "quinn", "SHA1", 6, kind="hotp", counter=1),
        err("md5", "Legacy: rob"),
        ok(RFC_SHA1, "Mixed", "sara", "SHA1", 6),
    ])

# --- a payload that does not say which batch it is --------------------------
m = P()
params(m, RFC_SHA1, "noname@example.com", "Solo", 1, 1, 2)
add("no_batch_fields", "one account and no version/batch fields at all",
    m.SerializeToString(), "percent", None, [ok(RFC_SHA1, "Solo", "noname@example.com", "SHA1", 6)])

# --- no accounts ---------------------------------------------------------
m = P(version=1, batch_size=1, batch_index=0, batch_id=3)
add("empty", "batch fields but no accounts", m.SerializeToString(), "percent",
    {"index": 0, "size": 1, "id": 3}, error="MigrationEmpty")

doc = {
    "generator": "crates/import/tests/gen_migration.py (python protobuf "
                 + importlib.import_module("google.protobuf").__version__ + ")",
    "cases": cases,
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(doc, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(f"wrote {len(cases)} cases to {os.path.relpath(OUT)}")
