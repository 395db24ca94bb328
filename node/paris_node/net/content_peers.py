"""IPFS nodes that meet through gossip: there is no DHT between Paris nodes, and bitswap only asks the nodes
it is connected to, so every daemon announces its IPFS node's addresses in its heartbeats and connects its
node to the ones live peers announce. Content then moves between any two hosts whose daemons hear each
other, whoever started them. Daemons sharing one IPFS node (the one-machine devnet) skip their own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from paris_node.content.store import IpfsStore, StoreError
from paris_node.net.liveness import PeerState

log = logging.getLogger(__name__)

MAX_ANNOUNCED = 4  # a heartbeat's `ipfs` field holds at most this many
RESTING_REDIAL_S = 300.0  # a resting daemon's node redials a peer this seldom (peers at work dial it anyway)


def peer_of(multiaddr: str) -> str:
    """The peer id a `.../p2p/<id>` multiaddr ends in."""
    return multiaddr.rsplit("/p2p/", 1)[-1]


class ContentPeers:
    """Announce this IPFS node and dial the announced ones, each at most once per `redial_s` (less often while
    the daemon rests)."""

    def __init__(self, store: IpfsStore, redial_s: float = 30.0) -> None:
        self.store, self.redial_s = store, redial_s
        self.peer_id: str | None = None
        self.addrs: list[str] = []
        self._dialed: dict[str, float] = {}  # IPFS peer id -> time.monotonic() of the last dial
        self.met: set[str] = set()  # IPFS peer ids connected to at least once

    def own(self) -> list[str]:
        """This node's addresses to announce, loopback ones only when it has no other; [] while it does not
        answer (asked again on the next call)."""
        if self.peer_id is None:
            try:
                peer_id, addrs = self.store.identity()
            except StoreError as exc:
                log.debug("cannot read this node's IPFS addresses: %s", exc)
                return []
            routable = [a for a in addrs if not a.startswith("/ip4/127.")]
            self.peer_id, self.addrs = peer_id, (routable or addrs)[:MAX_ANNOUNCED]
        return self.addrs

    def meet(self, peers: Iterable[PeerState], now: float | None = None, resting: bool = False) -> None:
        """Connect to the IPFS node of each live peer that announces one (not this node) and was not dialed
        in the last `redial_s` (RESTING_REDIAL_S while the daemon rests); a node that does not answer is tried
        again after that."""
        now = time.monotonic() if now is None else now
        redial_s = max(self.redial_s, RESTING_REDIAL_S) if resting else self.redial_s
        for peer in peers:
            if not peer.alive or not peer.ipfs:
                continue
            ipfs_id = peer_of(peer.ipfs[0])
            if ipfs_id == self.peer_id or now - self._dialed.get(ipfs_id, now - redial_s) < redial_s:
                continue
            self._dialed[ipfs_id] = now
            for addr in peer.ipfs:
                try:
                    self.store.connect(addr)
                    if ipfs_id not in self.met:
                        log.info("IPFS node connected to %s's (%s)", peer.address, addr)
                    self.met.add(ipfs_id)
                    break
                except StoreError as exc:
                    log.debug("cannot connect IPFS to %s: %s", addr, exc)
            else:
                log.warning("cannot reach the IPFS node %s announces (%s)", peer.address, ", ".join(peer.ipfs))
