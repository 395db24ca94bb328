"""The training trace commitment: a Merkle tree over the hashes of a miner's segment-boundary states.

Leaf i is `state_hash` of the state before segment i; the last leaf is the final state, so H steps cut
into n segments of k give n + 1 leaves. The root goes on chain with the delta. To let a validator replay
segment i, the miner reveals the state at leaf i, and proofs that leaves i and i + 1 are in the tree.
Interior nodes are sha256(0x01 || left || right) and leaves sha256(0x00 || state hash), so a leaf can
never pass for a node; an odd node is promoted unchanged.
"""

from __future__ import annotations

import hashlib

from eth_abi import encode as abi_encode
from eth_utils import keccak


def _leaf(state_digest: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + state_digest).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    if not leaves:
        raise ValueError("a trace needs at least one state")
    levels = [[_leaf(d) for d in leaves]]
    while len(levels[-1]) > 1:
        level = levels[-1]
        levels.append([_node(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                       for i in range(0, len(level), 2)])
    return levels


def merkle_root(state_digests: list[bytes]) -> bytes:
    return _levels(state_digests)[-1][0]


def merkle_proof(state_digests: list[bytes], index: int) -> list[bytes]:
    """Sibling hashes from leaf `index` up to the root (a promoted odd node contributes none)."""
    if not 0 <= index < len(state_digests):
        raise IndexError(f"leaf {index} of a {len(state_digests)}-leaf trace")
    proof = []
    for level in _levels(state_digests)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index //= 2
    return proof


def verify_proof(root: bytes, state_digest: bytes, index: int, leaves: int, proof: list[bytes]) -> bool:
    """Whether `state_digest` is leaf `index` of a `leaves`-leaf trace with this root."""
    if not 0 <= index < leaves:
        return False
    node, width, used = _leaf(state_digest), leaves, 0
    while width > 1:
        if index ^ 1 < width:
            if used == len(proof):
                return False
            sibling = proof[used]
            used += 1
            node = _node(node, sibling) if index % 2 == 0 else _node(sibling, node)
        index //= 2
        width = (width + 1) // 2
    return used == len(proof) and node == root


def challenged_segments(seed: bytes, segments: int, count: int) -> list[int]:
    """The contract's `challengedSegments`: the last segment (it ties the final state, and so the delta, to
    training), then min(count, segments - 1) distinct draws keccak256(abi.encode(seed, nonce)) % (segments - 1).

    Recomputed off chain from the seed in the `Revealed` event, because `blockhash` (and so the view) is
    only readable for 256 blocks."""
    if segments < 1 or count < 1:
        raise ValueError(f"cannot challenge {count} of {segments} segments")
    others = segments - 1
    picked = [others]
    nonce = 0
    while len(picked) <= min(count, others):
        candidate = int.from_bytes(keccak(abi_encode(["bytes32", "uint256"], [seed, nonce])), "big") % others
        if candidate not in picked[1:]:
            picked.append(candidate)
        nonce += 1
    return picked
