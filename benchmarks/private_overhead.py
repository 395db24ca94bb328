"""What privacy costs a node: AES-256-GCM on job content next to the SHA-256 every verified IPFS read already does.

For a delta, a `small` checkpoint and a 64 MiB blob: encrypt and decrypt time, the SHA-256 time of the same
bytes (the store hashes every block it fetches), their ratio, and the bytes added. Also the cost of opening a
keyring (one HPKE open per epoch) and of sealing a key to 100 nodes (what an admission or a removal costs
the requester).

    .venv/bin/python benchmarks/private_overhead.py
"""

from __future__ import annotations

import hashlib
import os
import time
from functools import partial

import torch
from eth_account import Account

from paris_node.content.sealing import OVERHEAD, decrypt, encrypt, new_data_key, node_key, public_bytes
from paris_node.learning.checkpoint import Checkpoint
from paris_node.market.keyring import Keyring
from paris_node.model.dit import VideoDiT, named_config

REPEATS = 5


def _best(fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    torch.set_num_threads(2)
    model = VideoDiT(named_config("small"))
    checkpoint = Checkpoint(model.config, 0, 0, 0, dict(model.state_dict()), {}).to_bytes()
    blobs = {"delta (64 KiB)": os.urandom(64 * 1024), "small checkpoint": checkpoint,
             "64 MiB blob": os.urandom(64 * 1024 * 1024)}
    key = new_data_key()
    print(f"{'content':<18} {'bytes':>11} {'encrypt':>9} {'decrypt':>9} {'sha256':>9} {'decrypt/sha256':>15} "
          f"{'added':>6}")
    for name, data in blobs.items():
        sealed = encrypt(key, 0, data)
        enc = _best(partial(encrypt, key, 0, data))
        dec = _best(partial(decrypt, key, sealed, name))
        sha = _best(partial(hashlib.sha256, data))
        print(f"{name:<18} {len(data):>11,} {enc * 1e3:>7.2f}ms {dec * 1e3:>7.2f}ms {sha * 1e3:>7.2f}ms "
              f"{dec / sha:>14.2f}x {OVERHEAD:>5}B")
    gib = len(blobs["64 MiB blob"]) / 2**30
    sealed = encrypt(key, 0, blobs["64 MiB blob"])
    print(f"decrypt throughput: {gib / _best(lambda: decrypt(key, sealed, 'blob')):.2f} GiB/s")

    nodes = [Account.create() for _ in range(100)]
    members = {a.address: public_bytes(node_key(a)) for a in nodes}
    started = time.perf_counter()
    keyring, _ = Keyring.first(members)
    for _ in range(3):
        keyring, _ = keyring.rotated(members)
    seal_s = (time.perf_counter() - started) / 4
    print(f"sealing one epoch's key to 100 nodes: {seal_s * 1e3:.1f} ms; keyring of 4 epochs x 100 nodes: "
          f"{len(keyring.to_bytes()):,} bytes")
    open_s = _best(lambda: keyring.open(1, nodes[0]))
    print(f"a node opening its 4 keys: {open_s * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
