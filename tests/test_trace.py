"""Trace commitments: every leaf proves against the root, and nothing else does."""

from __future__ import annotations

import hashlib

import pytest

from paris_node.learning.trace import merkle_proof, merkle_root, verify_proof


def _digests(count: int) -> list[bytes]:
    return [hashlib.sha256(str(i).encode()).digest() for i in range(count)]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 9])
def test_every_leaf_proves_and_forgeries_fail(count: int) -> None:
    digests = _digests(count)
    root = merkle_root(digests)
    for index, digest in enumerate(digests):
        proof = merkle_proof(digests, index)
        assert verify_proof(root, digest, index, count, proof)
        assert not verify_proof(root, hashlib.sha256(b"forged").digest(), index, count, proof)
        if count > 1:
            other = (index + 1) % count
            assert not verify_proof(root, digest, other, count, merkle_proof(digests, other))
            assert not verify_proof(root, digest, index, count, proof[:-1])


def test_root_depends_on_order_and_every_state() -> None:
    digests = _digests(6)
    assert merkle_root(digests) != merkle_root(list(reversed(digests)))
    assert merkle_root(digests) != merkle_root([*digests[:-1], hashlib.sha256(b"x").digest()])
    assert merkle_root(digests[:1]) != digests[0]  # a leaf is domain-separated from a state hash


def test_bad_indices() -> None:
    with pytest.raises(IndexError):
        merkle_proof(_digests(3), 3)
    assert not verify_proof(merkle_root(_digests(3)), _digests(3)[0], 5, 3, [])
    with pytest.raises(ValueError):
        merkle_root([])
