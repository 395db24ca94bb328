"""The cryptography of private jobs: node keys, data keys sealed to them, and encrypted content blobs.

- A node's X25519 key is derived from its account key (HKDF-SHA256), so the keystore stays the one secret
  to keep; the public half is published on chain with `registerKey`.
- A data key (AES-256) is sealed to a node's public key with HPKE (RFC 9180: DHKEM-X25519, HKDF-SHA256,
  AES-256-GCM); only that node's private key opens it.
- Content is `MAGIC | epoch (u32) | nonce (12) | AES-256-GCM(ciphertext | tag)`, the first 8 bytes
  authenticated as associated data, so a flipped bit anywhere (header included) fails to open.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account.signers.local import LocalAccount

MAGIC = b"PRS1"
HEADER = struct.Struct(">4sI")
NONCE_BYTES = 12
OVERHEAD = HEADER.size + NONCE_BYTES + 16  # header, nonce and GCM tag
KEY_BYTES = 32
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_NODE_KEY_INFO = b"paris x25519 node key v1"


class SealingError(ValueError):
    """Private content that cannot be opened; the message names what and why."""


class TamperedContent(SealingError):
    """Ciphertext (or a sealed key) that fails authentication: modified, truncated or made with another key."""


class NotSealed(SealingError):
    """Plaintext where a private job requires ciphertext."""


class NotAdmitted(SealingError):
    """This node holds no key for the content: it was not admitted to the job (or to that key epoch)."""


def node_key(account: LocalAccount) -> X25519PrivateKey:
    """The account's X25519 key, derived from its private key (never stored on its own)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_NODE_KEY_INFO)
    return X25519PrivateKey.from_private_bytes(hkdf.derive(bytes(account.key)))


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal_key(data_key: bytes, recipient: bytes, context: bytes) -> bytes:
    """`data_key` encrypted to the X25519 public key `recipient`, bound to `context` (HPKE info)."""
    if len(recipient) != 32 or recipient == bytes(32):
        raise SealingError(f"{recipient.hex() or 'empty'} is not an X25519 public key")
    return _SUITE.encrypt(data_key, X25519PublicKey.from_public_bytes(recipient), info=context)


def open_key(sealed: bytes, key: X25519PrivateKey, context: bytes) -> bytes:
    try:
        data_key = _SUITE.decrypt(sealed, key, info=context)
    except (InvalidTag, ValueError) as exc:
        raise TamperedContent(f"a sealed data key does not open with this node's key ({context.decode()})") from exc
    if len(data_key) != KEY_BYTES:
        raise TamperedContent(f"a sealed data key has {len(data_key)} bytes, not {KEY_BYTES}")
    return data_key


def encrypt(data_key: bytes, epoch: int, plaintext: bytes) -> bytes:
    header = HEADER.pack(MAGIC, epoch)
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + AESGCM(data_key).encrypt(nonce, plaintext, header)


def epoch_of(blob: bytes, source: str) -> int:
    """The key epoch a blob was encrypted under; NotSealed when it is not an encrypted blob."""
    if len(blob) < OVERHEAD or blob[:4] != MAGIC:
        raise NotSealed(f"{source}: not encrypted content ({len(blob)} bytes without the {MAGIC.decode()} header)")
    return HEADER.unpack_from(blob)[1]


def decrypt(data_key: bytes, blob: bytes, source: str) -> bytes:
    epoch_of(blob, source)
    header, nonce = blob[:HEADER.size], blob[HEADER.size:HEADER.size + NONCE_BYTES]
    try:
        return AESGCM(data_key).decrypt(nonce, blob[HEADER.size + NONCE_BYTES:], header)
    except InvalidTag as exc:
        raise TamperedContent(f"{source}: ciphertext fails authentication (tampered, truncated or another "
                              "job's key)") from exc
