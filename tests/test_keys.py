"""Signing keys come from an encrypted keystore or the environment, with errors that say which."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from paris_node.runtime.keys import SigningKeyError, load_account, write_keystore

KEY = "0x" + "42" * 32


def test_keystore_round_trip_is_encrypted(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    address = write_keystore(path, KEY, "pw", scrypt_n=2**10)
    assert "42" * 32 not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_account(path, {"PARIS_KEYSTORE_PASSWORD": "pw"}).address == address


def test_wrong_password_is_named(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write_keystore(path, KEY, "pw", scrypt_n=2**10)
    with pytest.raises(SigningKeyError, match="wrong password"):
        load_account(path, {"PARIS_KEYSTORE_PASSWORD": "nope"})


def test_keystore_without_password_asks_for_it(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="PARIS_KEYSTORE_PASSWORD"):
        load_account(tmp_path / "k.json", {})


def test_missing_keystore_is_named(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="cannot be read"):
        load_account(tmp_path / "absent.json", {"PARIS_KEYSTORE_PASSWORD": "pw"})


def test_key_from_environment() -> None:
    assert load_account(None, {"PARIS_PRIVATE_KEY": KEY}).address == Account.from_key(KEY).address


def test_bad_environment_key_does_not_echo_it() -> None:
    with pytest.raises(SigningKeyError) as caught:
        load_account(None, {"PARIS_PRIVATE_KEY": "0x1234secret"})
    assert "1234secret" not in str(caught.value)


def test_no_key_at_all_says_where_to_put_one() -> None:
    with pytest.raises(SigningKeyError, match="PARIS_PRIVATE_KEY"):
        load_account(None, {})
