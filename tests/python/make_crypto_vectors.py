#!/usr/bin/env python3
"""Cross-implementation vectors for `crates/haimaker-crypto` (LiteLLM at-rest encryption).

The values are produced with the same Python libraries and the same calls as LiteLLM's
`litellm/proxy/common_utils/encrypt_decrypt_utils.py`, so the Rust crate can prove it reads
what a LiteLLM proxy wrote, and that LiteLLM reads what the Rust crate writes:

  * legacy (unprefixed): urlsafe_b64(PyNaCl SecretBox(sha256(salt)).encrypt(pt)),
    i.e. nonce(24) || tag(16) || ciphertext
  * "v2:gcm:" + urlsafe_b64(nonce(12) || AESGCM(sha256(salt)).encrypt(...)), i.e. ct || tag(16)
  * "v3:gcm:" + the same with key = HKDF-SHA256(salt=None, info=b"litellm-at-rest-v3")

Usage (packages pinned in requirements.txt, e.g. in a throwaway virtualenv):

  python make_crypto_vectors.py generate > crates/haimaker-crypto/tests/vectors.json
  cargo run -p haimaker-crypto --example refresh_rust_encrypted -- crates/haimaker-crypto/tests/vectors.json
  python make_crypto_vectors.py verify crates/haimaker-crypto/tests/vectors.json

`generate` draws fresh random nonces for `cases` (plus a few fixed-nonce vectors that must match
byte for byte); `verify` decrypts every entry, above all the Rust-written `rust_encrypted` list,
with the Python libraries the way LiteLLM does and exits non-zero on any mismatch.
"""

import base64
import binascii
import hashlib
import json
import os
import sys

import nacl.secret
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT = "sk-test-salt-1234"
V3_PREFIX = "v3:gcm:"
V2_PREFIX = "v2:gcm:"
HKDF_INFO = b"litellm-at-rest-v3"

PLAINTEXTS = [
    ("ascii", "sk-proj-abc123XYZ"),
    ("empty", ""),
    ("unicode", "héllo 🔑"),
    ("long", "The quick brown fox jumps over the lazy dog. " * 40),
    ("url", "https://my-endpoint.openai.azure.com/?a=1&b=2"),
]

# Fixed nonces make the full output deterministic, so the Rust side can check its encryption
# is byte-identical, not merely mutually decryptable.
FIXED_NONCE_24 = bytes(range(24))
FIXED_NONCE_12 = bytes(range(100, 112))


def sha256_key(salt: str) -> bytes:
    return hashlib.sha256(salt.encode()).digest()


def hkdf_key(salt: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(salt.encode())


def encrypt_legacy(pt: str, salt: str, nonce: bytes | None = None) -> str:
    box = nacl.secret.SecretBox(sha256_key(salt))
    return base64.urlsafe_b64encode(bytes(box.encrypt(pt.encode("utf-8"), nonce))).decode()


def encrypt_gcm(pt: str, salt: str, version: str, nonce: bytes | None = None) -> str:
    nonce = os.urandom(12) if nonce is None else nonce
    key, prefix = (hkdf_key(salt), V3_PREFIX) if version == "v3" else (sha256_key(salt), V2_PREFIX)
    blob = AESGCM(key).encrypt(nonce, pt.encode("utf-8"), None)
    return prefix + base64.urlsafe_b64encode(nonce + blob).decode()


def decrypt_like_litellm(stored: str, salt: str) -> str:
    """LiteLLM's `_decrypt_with_signing_key`, raising on any failure."""
    if stored.startswith((V3_PREFIX, V2_PREFIX)):
        if stored.startswith(V3_PREFIX):
            key, prefix = hkdf_key(salt), V3_PREFIX
        else:
            key, prefix = sha256_key(salt), V2_PREFIX
        raw = base64.urlsafe_b64decode(stored[len(prefix) :])
        return AESGCM(key).decrypt(raw[:12], raw[12:], None).decode("utf-8")
    try:
        raw = base64.urlsafe_b64decode(stored)
    except (binascii.Error, ValueError):
        raw = base64.b64decode(stored)
    if len(raw) == 0:
        return ""
    if len(raw) < 40:
        raise ValueError("too short for xsalsa20-poly1305")
    return nacl.secret.SecretBox(sha256_key(salt)).decrypt(raw).decode("utf-8")


def check_nacl_tag_layout() -> None:
    """Prove PyNaCl's combined output is nonce || tag || ciphertext (tag FIRST).

    XSalsa20 is a stream cipher: flipping one plaintext bit flips exactly that ciphertext byte,
    while the Poly1305 tag changes completely. Only the 16 bytes right after the nonce and the
    flipped byte's position should differ.
    """
    box = nacl.secret.SecretBox(sha256_key(SALT))
    a = bytes(box.encrypt(b"\x00" * 8, FIXED_NONCE_24))
    b = bytes(box.encrypt(b"\x01" + b"\x00" * 7, FIXED_NONCE_24))
    assert len(a) == 24 + 16 + 8
    changed = [i for i in range(len(a)) if a[i] != b[i]]
    assert all(24 <= i < 40 for i in changed[:-1]) and changed[-1] == 40, changed


def generate() -> dict:
    check_nacl_tag_layout()
    cases = [
        {
            "name": name,
            "plaintext": pt,
            "legacy": encrypt_legacy(pt, SALT),
            "v2": encrypt_gcm(pt, SALT, "v2"),
            "v3": encrypt_gcm(pt, SALT, "v3"),
        }
        for name, pt in PLAINTEXTS
    ]
    fixed = []
    for name, pt in PLAINTEXTS:
        fixed.append({"name": name, "format": "legacy", "nonce_hex": FIXED_NONCE_24.hex(), "plaintext": pt,
                      "stored": encrypt_legacy(pt, SALT, FIXED_NONCE_24)})
        for version in ("v2", "v3"):
            fixed.append({"name": name, "format": version, "nonce_hex": FIXED_NONCE_12.hex(), "plaintext": pt,
                          "stored": encrypt_gcm(pt, SALT, version, FIXED_NONCE_12)})
    # Legacy values written by LiteLLM releases that used standard (not urlsafe) base64.
    std_b64 = []
    for name, pt in PLAINTEXTS:
        # Retry until the standard alphabet really differs from the urlsafe one (contains + or /).
        while True:
            raw = bytes(nacl.secret.SecretBox(sha256_key(SALT)).encrypt(pt.encode("utf-8")))
            stored = base64.b64encode(raw).decode()
            if "+" in stored or "/" in stored:
                break
        std_b64.append({"name": name, "plaintext": pt, "stored": stored})
    doc = {
        "generator": "tests/python/make_crypto_vectors.py",
        "libraries": {"PyNaCl": nacl.__version__, "cryptography": __import__("cryptography").__version__},
        "salt": SALT,
        "sha256_key_hex": sha256_key(SALT).hex(),
        "hkdf_v3_key_hex": hkdf_key(SALT).hex(),
        "cases": cases,
        "fixed_nonce": fixed,
        "legacy_standard_base64": std_b64,
        "rust_encrypted": [],
    }
    # Self-check before anything is written out.
    verify_doc(doc, require_rust=False)
    return doc


def verify_doc(doc: dict, require_rust: bool) -> int:
    salt = doc["salt"]
    checked = 0
    for case in doc["cases"]:
        for fmt in ("legacy", "v2", "v3"):
            assert decrypt_like_litellm(case[fmt], salt) == case["plaintext"], (case["name"], fmt)
            checked += 1
    for entry in doc["fixed_nonce"] + doc["legacy_standard_base64"]:
        assert decrypt_like_litellm(entry["stored"], salt) == entry["plaintext"], entry["name"]
        checked += 1
    rust = doc.get("rust_encrypted", [])
    if require_rust and not rust:
        raise SystemExit("no rust_encrypted entries to verify")
    formats = set()
    for entry in rust:
        got = decrypt_like_litellm(entry["stored"], salt)
        assert got == entry["plaintext"], (entry["name"], entry["format"])
        expected_prefix = {"v3": V3_PREFIX, "legacy": ""}[entry["format"]]
        assert entry["stored"].startswith(expected_prefix), entry
        if entry["format"] == "legacy":
            assert not entry["stored"].startswith((V3_PREFIX, V2_PREFIX)), entry
        # Wrong salt must fail in Python too.
        try:
            decrypt_like_litellm(entry["stored"], salt + "x")
        except Exception:  # noqa: BLE001  # nacl and AESGCM raise their own types
            pass
        else:
            if entry["plaintext"] != "":
                raise AssertionError(("wrong salt decrypted", entry["name"]))
        formats.add(entry["format"])
        checked += 1
    if require_rust and formats != {"legacy", "v3"}:
        raise SystemExit(f"rust_encrypted covers {sorted(formats)}, expected legacy and v3")
    return checked


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[1] == "generate":
        json.dump(generate(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    if len(argv) == 3 and argv[1] == "verify":
        with open(argv[2], encoding="utf-8") as f:
            doc = json.load(f)
        check_nacl_tag_layout()
        checked = verify_doc(doc, require_rust=True)
        print(f"OK: {checked} values decrypt with PyNaCl {nacl.__version__} / cryptography "
              f"{__import__('cryptography').__version__}, including {len(doc['rust_encrypted'])} Rust-encrypted")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
