"""Encryption at rest: AES-256-GCM (authenticated) for database fields and files.

Keys live outside the database: `MINQING_ENCRYPTION_KEYS` ("kid:base64key,kid2:base64key")
or the key file `settings.ENCRYPTION_KEY_FILE` (one "kid:base64key" per line, generated with
mode 0600 on first use when neither exists). The first key encrypts; every listed key
decrypts, so rotation is: put a new key first, run `minqing rotate_encryption_key`
(re-encrypts every field and file under the new key), then drop the old key.

A stored value is `mq1:<kid>:<base64(nonce || ciphertext+tag)>`; the associated data binds
it to its table and column, so a value copied into another column does not decrypt.
"""

import base64
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "mq1"
FILE_MAGIC = b"MQ1\0"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A value that does not decrypt with any known key (wrong key, tampered data)."""


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]

    def aead(self, kid: str) -> AESGCM:
        try:
            return AESGCM(self.keys[kid])
        except KeyError:
            raise DecryptionError(f"unknown key id {kid!r}")


def _parse(text: str) -> list[tuple[str, bytes]]:
    entries = []
    for raw in text.replace(",", "\n").splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        kid, _sep, b64 = raw.partition(":")
        key = base64.b64decode(b64)
        if not kid.isalnum() or len(key) != 32:
            raise ImproperlyConfigured("encryption keys are 'kid:base64 of 32 bytes'")
        entries.append((kid, key))
    return entries


def new_key_line(kid: str | None = None) -> str:
    kid = kid or secrets.token_hex(4)
    return f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    text = settings.ENCRYPTION_KEYS
    if not text:
        path = settings.ENCRYPTION_KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(new_key_line() + "\n")
        text = path.read_text()
    entries = _parse(text)
    if not entries:
        raise ImproperlyConfigured("no encryption key configured")
    return Keyring(current=entries[0][0], keys=dict(entries))


def reset_keyring() -> None:
    keyring.cache_clear()


def encrypt_bytes(data: bytes, *, aad: str) -> bytes:
    ring = keyring()
    nonce = secrets.token_bytes(NONCE_BYTES)
    kid = ring.current.encode()
    body = ring.aead(ring.current).encrypt(nonce, data, aad.encode())
    return FILE_MAGIC + bytes([len(kid)]) + kid + nonce + body


def decrypt_bytes(blob: bytes, *, aad: str) -> bytes:
    if not blob.startswith(FILE_MAGIC):
        raise DecryptionError("not an encrypted blob")
    n = blob[len(FILE_MAGIC)]
    start = len(FILE_MAGIC) + 1
    kid = blob[start : start + n].decode()
    nonce = blob[start + n : start + n + NONCE_BYTES]
    try:
        return keyring().aead(kid).decrypt(nonce, blob[start + n + NONCE_BYTES :], aad.encode())
    except InvalidTag:
        raise DecryptionError("ciphertext does not authenticate")


def blob_key_id(blob: bytes) -> str:
    n = blob[len(FILE_MAGIC)]
    return blob[len(FILE_MAGIC) + 1 : len(FILE_MAGIC) + 1 + n].decode()


def encrypt_text(value: str, *, aad: str) -> str:
    ring = keyring()
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = ring.aead(ring.current).encrypt(nonce, value.encode(), aad.encode())
    return f"{PREFIX}:{ring.current}:{base64.b64encode(nonce + body).decode()}"


def decrypt_text(token: str, *, aad: str) -> str:
    try:
        prefix, kid, b64 = token.split(":", 2)
        raw = base64.b64decode(b64)
    except ValueError:
        raise DecryptionError("not an encrypted value")
    if prefix != PREFIX:
        raise DecryptionError("not an encrypted value")
    try:
        plain = keyring().aead(kid).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode())
    except InvalidTag:
        raise DecryptionError("ciphertext does not authenticate")
    return plain.decode()


def text_key_id(token: str) -> str:
    return token.split(":", 2)[1] if token and token.startswith(PREFIX + ":") else ""


class EncryptedTextField(models.TextField):
    """Text stored as AES-GCM ciphertext; Python code sees plain text.

    The database cannot search or sort it, which is the point. "" and None are stored as
    they are (an empty optional field reveals only that it is empty).
    """

    def aad(self) -> str:
        return f"{self.model._meta.db_table}.{self.column}"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt_text(value, aad=self.aad())

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt_text(value, aad=self.aad())


def encrypted_fields(model) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


def rotate_model(model, *, batch: int = 500) -> int:
    """Re-encrypt every encrypted field of `model` under the current key; returns rows."""
    names = encrypted_fields(model)
    if not names:
        return 0
    n = 0
    for row in model._base_manager.only("pk", *names).iterator(chunk_size=batch):
        row.save(update_fields=names)
        n += 1
    return n
