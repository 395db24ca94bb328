"""What every daemon shares besides its own work: the p2p network (optional), metrics, and a run loop that
gossip wakes early."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from paris_node.content.store import IpfsStore
from paris_node.net.content_peers import ContentPeers
from paris_node.net.gossip import Body
from paris_node.net.metrics import Metrics
from paris_node.net.network import Network
from paris_node.net.status_api import PeerReport


STOP_CHECK_S = 0.5  # how often an idle pause looks at the stop flag (gossip ends it at once)


class Presence:
    def __init__(self, network: Network | None = None) -> None:
        self.network = network
        self.metrics = Metrics()
        self.running = False
        self.content: ContentPeers | None = None
        if network is not None:
            self.metrics.read("paris_gossip_messages", "Gossip messages received, by verdict", "result",
                              lambda: dict(network.checks.counts))

    def watch_store(self, store: IpfsStore) -> None:
        self.metrics.read("paris_ipfs_bytes", "Bytes added to and fetched from IPFS", "direction",
                          lambda: {"up": store.bytes_up, "down": store.bytes_down})
        if self.network is not None:
            self.content = ContentPeers(store)

    def share_content(self) -> None:
        """Announce this daemon's IPFS node in its heartbeats and connect it to the ones live peers announce."""
        if self.network is not None and self.content is not None:
            self.network.ipfs_addrs = self.content.own()
            self.content.meet(self.network.liveness.peers(), resting=self.network.resting)

    @property
    def peer_id(self) -> str | None:
        return self.network.peer_id if self.network else None

    def follow(self, job_id: int, aggregator: str) -> None:
        """Join the job's topic and accept gossip from its aggregator (named on chain, not staked)."""
        if self.network:
            self.network.join(job_id)
            self.network.members.vouch(aggregator)

    def publish(self, job_id: int, body: Body) -> None:
        if self.network:
            self.network.publish(job_id, body)

    def rest(self, resting: bool) -> None:
        """Whether the daemon has nothing in flight (its heartbeats and IPFS redials slow down meanwhile)."""
        if self.network:
            self.network.rest(resting)

    def set_working(self, work: set[tuple[int, int, int]]) -> None:
        if self.network:
            self.network.working = set(work)

    def peers(self) -> list[PeerReport]:
        return self.network.peer_reports() if self.network else []

    def run(self, step: Callable[[], None], stop: threading.Event, pause_s: Callable[[], float]) -> None:
        """Call `step` until `stop`, pausing `pause_s()` seconds between passes, or less when gossip brings news."""
        self.running = True
        try:
            while not stop.is_set():
                step()
                self._idle(stop, pause_s())
        finally:
            self.running = False

    def _idle(self, stop: threading.Event, seconds: float) -> None:
        if self.network is None:
            stop.wait(seconds)
            return
        wake, deadline = self.network.wake, time.monotonic() + seconds
        while not stop.is_set() and not wake.is_set() and time.monotonic() < deadline:
            wake.wait(min(STOP_CHECK_S, seconds))
        wake.clear()
