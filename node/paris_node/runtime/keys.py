"""Signing keys: from the `PARIS_PRIVATE_KEY` variable or an encrypted keystore, never from a config file.

Keystores are eth-account's standard encrypted JSON (scrypt); the password comes from
`PARIS_KEYSTORE_PASSWORD`. Only addresses are ever logged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr

KEY_ENV = "PARIS_PRIVATE_KEY"
PASSWORD_ENV = "PARIS_KEYSTORE_PASSWORD"


class SigningKeyError(Exception):
    """No usable signing key; the message says which source was tried and why it failed."""


def write_keystore(path: Path, private_key: bytes | str, password: str, scrypt_n: int = 2**18) -> str:
    """Encrypt a key into `path` (mode 0600) and return its address. Lower `scrypt_n` only for devnets."""
    key = HexStr(private_key) if isinstance(private_key, str) else private_key
    keystore = Account.encrypt(key, password, kdf="scrypt", iterations=scrypt_n)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(keystore, out)
    return Account.from_key(private_key).address


def load_account(keystore: Path | None = None, env: Mapping[str, str] | None = None) -> LocalAccount:
    """The signing account: the keystore when one is given (password from the env), else PARIS_PRIVATE_KEY."""
    env = os.environ if env is None else env
    if keystore is not None:
        password = env.get(PASSWORD_ENV)
        if password is None:
            raise SigningKeyError(f"keystore {keystore} needs its password in {PASSWORD_ENV}")
        try:
            return Account.from_key(Account.decrypt(json.loads(keystore.read_text()), password))
        except OSError as exc:
            raise SigningKeyError(f"keystore {keystore} cannot be read: {exc.strerror}") from exc
        except ValueError as exc:  # wrong password (MAC mismatch) or not a keystore
            raise SigningKeyError(f"keystore {keystore} cannot be decrypted: wrong password or not a keystore") from exc
    if KEY_ENV in env:
        try:
            return Account.from_key(env[KEY_ENV])
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"{KEY_ENV} is not a valid private key") from exc
    raise SigningKeyError(f"no signing key: pass a keystore (with {PASSWORD_ENV}) or set {KEY_ENV}")
