"""Which experts a miner started without `--expert` trains: the job's experts dealt out over its live miners.

Every miner ranks the live miners it hears (their heartbeats) and itself by sha256(job, address), and takes
the experts dealt to its rank: with N miners and E experts, rank i takes every expert e with e = i (mod N)
when N <= E, else expert i mod E. Miners with the same view compute the same deal, so they spread over the
experts without talking to each other; when a miner stops, its heartbeats stop, the deal changes and its
experts are picked up in the next round. A miner that hears nobody takes every expert.

Of the work dealt to it (and, assisting, of the rest), a miner trains first where a second of its compute is
expected to earn most (`worth`): an expert round's reward, shared with the live miners announcing they train the
same checkpoint, over the seconds a delta of that job takes this miner. It is weighed again on every pass: what
it trains first follows others crowding an expert or leaving it, and better paying jobs opening.
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


def worth(reward_wei: int, others: int, delta_s: float) -> float:
    """Wei a second of a miner's compute is expected to earn on one expert round: its reward `reward_wei`,
    shared with `others` live miners training the same checkpoint, over the `delta_s` seconds a delta takes."""
    return reward_wei / (1 + others) / delta_s
