"""Private jobs' cryptography without a devnet: node keys, sealed data keys, encrypted blobs and keyrings."""

from __future__ import annotations

import pytest
from eth_account import Account
from multiformats import CID, multihash

from paris_node.content.sealing import (OVERHEAD, NotAdmitted, NotSealed, SealingError, TamperedContent, decrypt,
                                        encrypt, epoch_of, new_data_key, node_key, open_key, public_bytes, seal_key)
from paris_node.market.keyring import JobKeys, Keyring, SealedContent

ALICE, BOB, CAROL = (Account.from_key(bytes([n]) * 32) for n in (1, 2, 3))


def _public(account) -> bytes:  # type: ignore[no-untyped-def]
    return public_bytes(node_key(account))


def test_node_keys_are_derived_from_the_account_and_differ_between_accounts() -> None:
    assert _public(ALICE) == public_bytes(node_key(Account.from_key(bytes([1]) * 32)))
    assert len({_public(ALICE), _public(BOB), _public(CAROL)}) == 3


def test_a_sealed_key_opens_only_with_its_recipient_and_context() -> None:
    data_key = new_data_key()
    sealed = seal_key(data_key, _public(ALICE), b"epoch 0")
    assert open_key(sealed, node_key(ALICE), b"epoch 0") == data_key
    with pytest.raises(TamperedContent):
        open_key(sealed, node_key(BOB), b"epoch 0")
    with pytest.raises(TamperedContent):
        open_key(sealed, node_key(ALICE), b"epoch 1")
    with pytest.raises(SealingError, match="not an X25519 public key"):
        seal_key(data_key, bytes(32), b"epoch 0")


def test_every_flipped_byte_of_a_blob_is_rejected() -> None:
    data_key, plaintext = new_data_key(), b"clip bytes " * 20
    blob = encrypt(data_key, 3, plaintext)
    assert epoch_of(blob, "blob") == 3 and decrypt(data_key, blob, "blob") == plaintext
    assert len(blob) == len(plaintext) + OVERHEAD and plaintext not in blob
    for position in range(4, len(blob)):  # header epoch, nonce, ciphertext, tag
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(TamperedContent, match="fails authentication"):
            decrypt(data_key, bytes(tampered), "blob")
    with pytest.raises(TamperedContent):
        decrypt(data_key, blob[:-1], "blob")
    with pytest.raises(TamperedContent):
        decrypt(new_data_key(), blob, "blob")
    with pytest.raises(NotSealed, match="not encrypted"):
        decrypt(data_key, plaintext, "shard")


def test_admission_reaches_every_epoch_and_removal_starts_an_epoch_without_the_removed() -> None:
    keyring, first = Keyring.first({ALICE.address: _public(ALICE), BOB.address: _public(BOB)})
    assert keyring.members() == {ALICE.address, BOB.address}
    assert keyring.open(7, BOB).keys == (first,)
    assert keyring.open(7, CAROL).keys == (None,)

    rotated, second = keyring.rotated({ALICE.address: _public(ALICE)})  # BOB removed
    assert rotated.members() == {ALICE.address}
    assert rotated.open(7, BOB).keys == (first, None)  # what BOB read before, nothing after
    with pytest.raises(NotAdmitted, match="not admitted to private job 7"):
        rotated.open(7, BOB).current("checkpoint v2")

    admitted = Keyring.from_bytes(rotated.admitted(rotated.open(7, ALICE), CAROL.address, _public(CAROL)).to_bytes())
    assert admitted.members() == {ALICE.address, CAROL.address}
    assert admitted.open(7, CAROL).keys == (first, second)
    assert admitted.open(7, CAROL).current("delta") == (1, second)
    with pytest.raises(SealingError, match=r"epochs 0..1"):
        admitted.open(7, CAROL).of_epoch(5, "delta")


@pytest.mark.parametrize("document", [b"{}", b"not json", b'{"format": "paris-keyring/v1", "epochs": []}',
                                      b'{"format": "paris-keyring/v1", "epochs": [{"0xnot": "00"}]}'])
def test_malformed_keyrings_are_refused(document: bytes) -> None:
    with pytest.raises(SealingError, match="keyring"):
        Keyring.from_bytes(document)


class Memory:
    """Content in a dict: the store this unit test of SealedContent writes to."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def add(self, data: bytes, name: str = "blob"):  # type: ignore[no-untyped-def]
        cid = CID("base32", 1, "raw", multihash.digest(data, "sha2-256"))
        self.blobs[str(cid)] = data
        return cid

    def get(self, cid, max_bytes=None) -> bytes:  # type: ignore[no-untyped-def]
        return self.blobs[str(cid)]


def test_sealed_content_writes_under_the_current_epoch_and_rereads_the_keyring_for_a_newer_one() -> None:
    first, second = new_data_key(), new_data_key()
    known = [JobKeys(7, (first,))]
    refreshes = []

    def keys(refresh: bool) -> JobKeys:  # a cached view, re-read from the chain only when asked
        refreshes.append(refresh)
        return known[-1] if refresh else known[0]

    inner = Memory()
    content = SealedContent(inner, keys)
    cid = content.add(b"checkpoint v1")
    assert inner.blobs[str(cid)][:4] == b"PRS1" and content.get(cid) == b"checkpoint v1"
    assert refreshes == [True, False]  # a write always uses the latest epoch; a read of a known one does not ask
    newer = inner.add(encrypt(second, 1, b"checkpoint v2"))  # written after a rotation this reader missed
    known.append(JobKeys(7, (first, second)))
    refreshes.clear()
    assert content.get(newer) == b"checkpoint v2" and refreshes == [False, True]
