"""Which experts a miner started without `--expert` trains: the job's experts dealt out over its live miners.

Every miner ranks the live miners it hears (their heartbeats) and itself by sha256(job, address), and takes
the experts dealt to its rank: with N miners and E experts, rank i takes every expert e with e = i (mod N)
when N <= E, else expert i mod E. Miners with the same view compute the same deal, so they spread over the
experts without talking to each other; when a miner stops, its heartbeats stop, the deal changes and its
experts are picked up in the next round. A miner that hears nobody takes every expert.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def _rank(job_id: int, address: str) -> bytes:
    return hashlib.sha256(f"paris/route/v1/{job_id}/{address.lower()}".encode()).digest()


def dealt(job_id: int, experts: int, me: str, live: Iterable[str]) -> set[int]:
    """The experts of job `job_id` (of `experts`) that miner `me` trains, given the other live miners."""
    miners = sorted({me.lower(), *(a.lower() for a in live)}, key=lambda a: _rank(job_id, a))
    count, rank = len(miners), miners.index(me.lower())
    if count <= experts:
        return {e for e in range(experts) if e % count == rank}
    return {rank % experts}
