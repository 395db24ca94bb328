"""Which clips a miner trains on at each step: a pure function of who, what and when.

The indices for a step depend only on (job seed, miner address, expert, base version, step), so a
validator can recompute them, and a delta copied from another miner fails replay under the copier's
address. The same seed also drives the step's noise and flow times.
"""

from __future__ import annotations

import hashlib

import numpy as np

DOMAIN = b"paris/assignment/v1"


def step_seed(job_seed: int, miner: str, expert: int, base_version: int, step: int) -> int:
    """A 64-bit seed for one training step; addresses are case-normalized (checksum case is not identity)."""
    message = b"|".join([DOMAIN, str(job_seed).encode(), miner.lower().encode(), str(expert).encode(),
                         str(base_version).encode(), str(step).encode()])
    return int.from_bytes(hashlib.sha256(message).digest()[:8], "big")


def assigned_indices(job_seed: int, miner: str, expert: int, base_version: int, step: int,
                     shard_size: int, batch: int) -> np.ndarray:
    """The `batch` clip indices of the shard this miner trains on at `step` (distinct when the shard allows)."""
    if shard_size <= 0 or batch <= 0:
        raise ValueError(f"shard_size ({shard_size}) and batch ({batch}) must be positive")
    rng = np.random.default_rng(step_seed(job_seed, miner, expert, base_version, step))
    return rng.choice(shard_size, size=batch, replace=batch > shard_size)
