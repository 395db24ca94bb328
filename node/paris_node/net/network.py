"""A daemon's presence on the p2p network: its libp2p host, signed gossip, heartbeats, peer exchange, liveness.

Started from bootstrap addresses (devnet.json or config); every heartbeat carries the sender's listen
addresses, so a node dials the peers it hears of (peer exchange) and the mesh no longer depends on the
bootstrap node. Valid messages on a job topic wake the daemon loop (`wake`); the daemon then reads the
chain, which stays the source of truth.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from eth_account.signers.local import LocalAccount

from paris_node.market.chain import Chain, ChainError
from paris_node.net.gossip import (HEARTBEAT_S, HEARTBEAT_TOPIC, Body, Dropped, Envelope, GossipChecks, Heartbeat, Role,
                                   envelope, job_topic, parse)
from paris_node.net.liveness import Liveness
from paris_node.net.p2p import GossipMessage, P2PError, P2PHost
from paris_node.net.status_api import PeerReport

log = logging.getLogger(__name__)


NOT_MEMBER_TTL_S = 5.0
RESTING_HEARTBEAT_S = 10.0  # between heartbeats of a node with nothing in flight


class Members:
    """Which addresses may gossip: staked, unslashed accounts, plus ones vouched for (a job's aggregator).

    `is_member` never blocks (it runs inside gossipsub's validation); an unknown address is queued and
    looked up on the chain by `refresh`, called from the heartbeat thread."""

    def __init__(self, chain: Chain | None, ttl_s: float = 60.0) -> None:  # None: vouched addresses only
        self.chain, self.ttl_s = chain, ttl_s
        self._known: dict[str, tuple[bool, float]] = {}
        self._vouched: set[str] = set()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._min_stake: int | None = None

    def vouch(self, address: str) -> None:
        with self._lock:
            self._vouched.add(address)

    def is_member(self, address: str) -> bool:
        with self._lock:
            if address in self._vouched:
                return True
            member, checked = self._known.get(address, (False, -1.0))
            # A refusal is rechecked sooner: a node may stake just after its first heartbeats.
            if checked < 0 or time.monotonic() - checked > (self.ttl_s if member else NOT_MEMBER_TTL_S):
                self._pending.add(address)
            return member

    def refresh(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, set()
        if self.chain is None:
            return
        for address in pending:
            try:
                if self._min_stake is None:
                    self._min_stake = self.chain.call("MIN_STAKE")
                stake = self.chain.stake_of(address)
            except ChainError as exc:
                log.warning("cannot look up the stake of %s: %s", address, exc)
                with self._lock:
                    self._pending.add(address)
                return
            with self._lock:
                self._known[address] = (stake.amount >= self._min_stake and not stake.slashed, time.monotonic())


def bootstrap_peer(identity: Path, listen: str = "/ip4/127.0.0.1/tcp/0") -> P2PHost:
    """A started host that only relays the heartbeat topic: nodes started from its address learn each
    other's from the heartbeats it relays, and dial each other from then on."""
    host = P2PHost(identity, listen).start()
    host.subscribe(HEARTBEAT_TOPIC, lambda message: None)
    return host


class Network:
    def __init__(self, account: LocalAccount, identity: Path, role: Role, members: Members,
                 listen: str = "/ip4/127.0.0.1/tcp/0", bootstrap: Iterable[str] = (), heartbeat_s: float = HEARTBEAT_S,
                 missed: int = 3) -> None:
        self.account, self.role, self.members = account, role, members
        self.host = P2PHost(identity, listen)
        self.checks = GossipChecks(members.is_member)
        self.liveness = Liveness(heartbeat_s, missed)
        self.bootstrap = tuple(bootstrap)
        self.heartbeat_s = heartbeat_s
        self._resting = False  # nothing in flight: heartbeats every RESTING_HEARTBEAT_S (see `rest`)
        self._rouse = threading.Event()  # the next heartbeat is due now
        self.working: set[tuple[int, int, int]] = set()  # (job, expert, version) this node is training
        self.ipfs_addrs: list[str] = []  # where peers dial this node's IPFS node (announced in heartbeats)
        self.wake = threading.Event()
        self.listeners: list[Callable[[Envelope], None]] = []  # called (on the p2p thread) with each job message
        self._jobs: set[int] = set()
        self._dial: queue.SimpleQueue[tuple[str, tuple[str, ...]]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="paris-heartbeat", daemon=True)
        self._dialer = threading.Thread(target=self._dial_peers, name="paris-dialer", daemon=True)

    @property
    def peer_id(self) -> str:
        return self.host.peer_id

    def start(self) -> Network:
        self.host.start()
        self.host.subscribe(HEARTBEAT_TOPIC, self._on_message, self._valid)
        for job_id in sorted(self._jobs):  # joined before the host ran (a daemon restoring its state)
            self.host.subscribe(job_topic(job_id), self._on_message, self._valid)
        self._connect_bootstrap()
        self._thread.start()
        self._dialer.start()
        return self

    def join(self, job_id: int) -> None:
        """Follow a job's topic (idempotent; before `start`, it is followed from the start)."""
        if job_id not in self._jobs:
            if self._thread.is_alive():
                self.host.subscribe(job_topic(job_id), self._on_message, self._valid)
            self._jobs.add(job_id)

    def publish(self, job_id: int, body: Body) -> None:
        """Tell peers now what the chain will show anyway; a p2p failure is logged, never raised."""
        try:
            self.host.publish(job_topic(job_id), envelope(self.account, self.peer_id, job_id, body))
        except P2PError as exc:
            log.warning("gossip on job %d failed: %s", job_id, exc)

    def peer_reports(self) -> list[PeerReport]:
        now = time.monotonic()
        return [PeerReport(address=p.address, peer_id=p.peer_id, role=p.role, alive=p.alive,
                           seconds_since_heartbeat=round(now - p.last_seen, 3), working=list(p.working))
                for p in self.liveness.peers(now)]

    @property
    def resting(self) -> bool:
        return self._resting

    def rest(self, resting: bool) -> None:
        """Beat every RESTING_HEARTBEAT_S while this node has nothing in flight, at once and every `heartbeat_s`
        again as soon as it has: peers judge each heartbeat by the interval it announces."""
        if self._resting and not resting:
            self._rouse.set()
        self._resting = resting

    def stop(self) -> None:
        self._stop.set()
        self._rouse.set()
        self._thread.join(5.0)
        self._dialer.join(5.0)
        self.host.stop()

    # --------------------------------------------------------------- gossipsub side (the p2p thread)

    def _valid(self, data: bytes, origin: str) -> bool:
        try:
            self.checks.check(data, origin)
            return True
        except Dropped as dropped:
            log.debug("dropped gossip from %s: %s", origin, dropped)
            return False

    def _on_message(self, message: GossipMessage) -> None:
        env, _ = parse(message.data)  # validated already
        if isinstance(env.body, Heartbeat):
            self.liveness.heard(env)
            self._dial.put((env.peer, tuple(env.body.addrs)))
        else:
            for listener in self.listeners:
                listener(env)
            self.wake.set()

    # --------------------------------------------------------------- heartbeat thread

    def _beat(self) -> None:
        while not self._stop.is_set():
            self.members.refresh()
            every_s = max(self.heartbeat_s, RESTING_HEARTBEAT_S) if self._resting else self.heartbeat_s
            body = Heartbeat(role=self.role, addrs=self.host.addrs, ipfs=self.ipfs_addrs, working=sorted(self.working),
                             every_s=every_s)
            try:
                self.host.publish(HEARTBEAT_TOPIC, envelope(self.account, self.peer_id, 0, body))
            except P2PError as exc:
                log.warning("heartbeat failed: %s", exc)
            self._rouse.wait(every_s)
            self._rouse.clear()

    # --------------------------------------------------------------- dialer thread

    def _dial_peers(self) -> None:
        """Dial the peers heard of that are not connected; fall back to the bootstrap nodes when alone. On a
        thread of its own: an address that never answers holds up other dials for a while, never a heartbeat."""
        while not self._stop.is_set():
            try:
                heard: tuple[str, tuple[str, ...]] | None = self._dial.get(timeout=self.heartbeat_s)
            except queue.Empty:
                heard = None
            try:
                connected = set(self.host.peers())
            except P2PError as exc:
                log.warning("cannot list peers: %s", exc)
                continue
            if not connected:
                self._connect_bootstrap()
            if heard is None or heard[0] == self.peer_id or heard[0] in connected:
                continue
            peer, addrs = heard
            for addr in addrs:
                try:
                    self.host.connect(f"{addr}/p2p/{peer}" if "/p2p/" not in addr else addr)
                    log.info("connected to peer %s (heard in gossip)", peer)
                    break
                except P2PError as exc:
                    log.debug("cannot dial %s: %s", addr, exc)

    def _connect_bootstrap(self) -> None:
        for addr in self.bootstrap:
            try:
                self.host.connect(addr)
            except P2PError as exc:
                log.warning("bootstrap peer unreachable: %s", exc)
