#!/usr/bin/env python3
"""Generate the QR image fixtures in tests/fixtures/qr/ and their manifest
qr.json, with encoders independent of the Rust decoder:

- `qrencode` (libqrencode, Debian package `qrencode`) for the plain PNGs,
- `segno` (pure Python, PyPI) for the JPEG and the composed "screenshots",
- Pillow for JPEG encoding and drawing the screenshot around the codes.

Requirements: apt-get install qrencode; pip install segno pillow
Run after gen_migration.py (the migration QR encodes one of its links):
    python3 crates/import/tests/gen_qr.py
"""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

try:
    import segno
    from PIL import Image, ImageDraw, ImageOps
except ImportError:
    sys.exit("missing Python packages: pip install segno pillow")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "qr")
MIGRATION = os.path.join(HERE, "fixtures", "migration.json")

# base32 of the RFC 6238 SHA1 seed "12345678901234567890".
RFC_SHA1_B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
# base32 of the RFC 6238 SHA256 seed "12345678901234567890123456789012".
RFC_SHA256_B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"

PLAIN = ("otpauth://totp/ACME%20Co:alice@example.com?secret=" + RFC_SHA1_B32
         + "&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30")
JPEG_URI = ("otpauth://totp/Example:bob@example.com?secret=" + RFC_SHA256_B32
            + "&issuer=Example&algorithm=SHA256&digits=8&period=30")
SCREENSHOT_URI = ("otpauth://totp/Initech:peter@initech.example?secret=" + RFC_SHA1_B32
                  + "&issuer=Initech")
# A QR code that is not a setup code, with something secret-looking in it
# that error messages must not echo.
FOREIGN = "https://example.com/welcome?token=SECRETSECRETSECRET234"

with open(MIGRATION) as f:
    MIGRATION_URI = next(c["uri"] for c in json.load(f)["cases"] if c["name"] == "mixed_percent")


def qrencode(text, path, scale=4):
    exe = shutil.which("qrencode")
    if exe is None:
        sys.exit("qrencode is missing: apt-get install qrencode")
    subprocess.run([exe, "-t", "PNG", "-s", str(scale), "-m", "4", "-l", "M", "-o", path, text],
                   check=True)


def segno_image(text, scale=4, dark="black", light="white"):
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buf, kind="png", scale=scale, border=4,
                                                   dark=dark, light=light)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def settings_page(size, title):
    """A plain 'account settings' page, like the background of a screenshot."""
    img = Image.new("RGB", size, (246, 247, 249))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, size[0], 48], fill=(36, 41, 47))
    d.text((16, 18), title, fill=(255, 255, 255))
    d.rectangle([24, 72, size[0] - 24, size[1] - 24], fill=(255, 255, 255), outline=(208, 215, 222))
    lines = ["Two-factor authentication", "",
             "1. Install an authenticator app on your phone.",
             "2. Scan the QR code with the app.",
             "3. Enter the 6-digit code the app shows.", "",
             "Can't scan? Use the setup key instead."]
    for i, line in enumerate(lines):
        d.text((48, 96 + 20 * i), line, fill=(31, 35, 40))
    d.rectangle([48, size[1] - 96, 200, size[1] - 60], fill=(31, 136, 61))
    d.text((72, size[1] - 84), "Verify", fill=(255, 255, 255))
    return img


def save_png(img, name):
    img.save(os.path.join(OUT, name), optimize=True)


os.makedirs(OUT, exist_ok=True)
manifest = {}

# 1. A plain otpauth QR code, straight from qrencode.
qrencode(PLAIN, os.path.join(OUT, "otpauth.png"))
manifest["otpauth.png"] = {"texts": [PLAIN], "note": "qrencode, 4 px per module"}

# 2. A Google Authenticator export QR code (6 accounts, QR 2 of 3).
qrencode(MIGRATION_URI, os.path.join(OUT, "migration.png"))
manifest["migration.png"] = {"texts": [MIGRATION_URI],
                             "note": "qrencode; the mixed_percent case of migration.json"}

# 3. A JPEG, encoded by segno and compressed with visible artefacts.
segno_image(JPEG_URI, scale=5).save(os.path.join(OUT, "otpauth.jpg"), quality=70)
manifest["otpauth.jpg"] = {"texts": [JPEG_URI], "note": "segno, JPEG quality 70"}

# 4. A QR code off-centre in a larger screenshot-like canvas.
page = settings_page((900, 620), "Initech - Security settings")
page.paste(segno_image(SCREENSHOT_URI, scale=3), (560, 250))
save_png(page, "screenshot.png")
manifest["screenshot.png"] = {"texts": [SCREENSHOT_URI],
                              "note": "segno, 3 px per module, at (560, 250) in a 900x620 page"}

# 5. A screenshot with no QR code at all.
save_png(settings_page((640, 400), "Nothing to scan here"), "no_qr.png")
manifest["no_qr.png"] = {"texts": [], "note": "no QR code"}

# 6. Dark mode: light modules on a dark background.
dark = ImageOps.invert(segno_image(PLAIN, scale=4))
framed = Image.new("RGB", (dark.width + 80, dark.height + 80), (0, 0, 0))
framed.paste(dark, (40, 40))
save_png(framed, "dark_mode.png")
manifest["dark_mode.png"] = {"texts": [PLAIN], "note": "segno, colours inverted"}

# 7. A QR code that is not a setup code.
qrencode(FOREIGN, os.path.join(OUT, "not_otpauth.png"))
manifest["not_otpauth.png"] = {"texts": [FOREIGN], "note": "qrencode; an https link"}

# 8. Two QR codes side by side: a setup code (left) and a foreign one (right).
left = segno_image(PLAIN, scale=3)
right = segno_image(FOREIGN, scale=3)
pair = settings_page((left.width + right.width + 160, max(left.height, right.height) + 380),
                     "Two codes")
pair.paste(left, (40, 240))
pair.paste(right, (120 + left.width, 250))
save_png(pair, "two_codes.png")
manifest["two_codes.png"] = {"texts": [PLAIN, FOREIGN],
                             "note": "segno; setup code left, https link right"}

# 9. A PNG header claiming 50000x50000 pixels and almost no data: must be refused before
#    any pixel memory is allocated.
def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


with open(os.path.join(OUT, "huge_dimensions.png"), "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", 50000, 50000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))
manifest["huge_dimensions.png"] = {"texts": [], "note": "PNG header claiming 50000x50000, 64 bytes of data"}

with open(os.path.join(OUT, "qr.json"), "w") as f:
    json.dump({"generator": "crates/import/tests/gen_qr.py", "images": manifest}, f, indent=2)
    f.write("\n")
for name in sorted(os.listdir(OUT)):
    print(f"{os.path.getsize(os.path.join(OUT, name)):>8}  {name}")
