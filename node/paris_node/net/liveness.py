"""Who is alive: the last heartbeat of each staked peer, and whom to stop waiting for.

A peer that has sent no heartbeat for `missed` of the intervals its last heartbeat announced is dead. The
aggregator asks which live miners are training a given checkpoint version and does not wait for anyone else.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from paris_node.net.gossip import Envelope, Heartbeat


@dataclass(frozen=True)
class PeerState:
    address: str
    peer_id: str
    role: str
    addrs: tuple[str, ...]
    ipfs: tuple[str, ...]  # the multiaddrs of its IPFS node
    working: tuple[tuple[int, int, int], ...]  # (job, expert, version) being trained
    last_seen: float  # time.monotonic() of the last heartbeat
    alive: bool
    every_s: float  # the interval its last heartbeat announced


class Liveness:
    def __init__(self, interval_s: float, missed: int = 3) -> None:
        self.interval_s, self.missed = interval_s, missed
        self._last: dict[str, tuple[Envelope, float]] = {}
        self._lock = threading.Lock()

    @property
    def dead_after_s(self) -> float:
        """How long a peer beating at this node's own interval stays alive unheard."""
        return self.interval_s * self.missed

    def heard(self, env: Envelope, now: float | None = None) -> None:
        """Record a heartbeat (checked by GossipChecks) from its sender."""
        if isinstance(env.body, Heartbeat):
            with self._lock:
                self._last[env.sender] = (env, time.monotonic() if now is None else now)

    def peers(self, now: float | None = None) -> list[PeerState]:
        now = time.monotonic() if now is None else now
        with self._lock:
            last = dict(self._last)
        states = []
        for address, (env, seen) in sorted(last.items()):
            body = env.body
            assert isinstance(body, Heartbeat)
            states.append(PeerState(address, env.peer, body.role, tuple(body.addrs), tuple(body.ipfs),
                                    tuple(body.working), seen, now - seen <= body.every_s * self.missed, body.every_s))
        return states

    def alive(self, address: str, now: float | None = None) -> bool:
        return any(p.alive for p in self.peers(now) if p.address == address)

    def training(self, job: int, expert: int, version: int, now: float | None = None) -> set[str]:
        """Addresses of live miners whose last heartbeat says they are training this checkpoint version."""
        return {p.address for p in self.peers(now) if p.alive and p.role == "miner"
                and (job, expert, version) in p.working}
