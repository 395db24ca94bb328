"""A py-libp2p host with gossipsub, running in its own `trio.run` thread.

The rest of Paris is synchronous or asyncio; py-libp2p is trio. The host therefore lives in one thread and
the public methods cross into it with `trio.from_thread.run` (TrioToken.run_sync_soon underneath).
Received messages go to handlers called on the trio thread; `asyncio_handler` forwards them into an
asyncio queue with `loop.call_soon_threadsafe`. Known py-libp2p pitfalls handled here: gossipsub's
default 10 msg/s per peer and topic cap, the 60 s redial block after a failed dial, the 250 ms dial delay
with several connections per peer, the `libp2p` logger not propagating, and the seen-message cache
thread left running after shutdown, and the 32-message subscription buffer past which bursts are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.network import auto_connector
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub import pubsub as pubsub_module
from libp2p.pubsub.gossipsub import PROTOCOL_ID, GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

log = logging.getLogger(__name__)
logging.getLogger("libp2p").propagate = True
# This module pins its own logger to INFO at import and then logs every auto-dial round.
auto_connector.logger.setLevel(logging.WARNING)
# A subscriber's queue holds 32 messages by default; a burst beyond that is dropped before our reader runs.
pubsub_module.SUBSCRIPTION_CHANNEL_SIZE = 1024

START_TIMEOUT_S = 15.0
CALL_TIMEOUT_S = 15.0


class P2PError(RuntimeError):
    """A p2p operation failed; the message names the peer, address or topic."""


@dataclass(frozen=True)
class GossipMessage:
    topic: str
    data: bytes
    sender: str  # base58 peer id of the publisher


Handler = Callable[[GossipMessage], None]
Validator = Callable[[bytes, str], bool]


def load_identity(path: Path) -> KeyPair:
    """The node's persistent ed25519 identity: a 32-byte seed in `path` (mode 0600), made on first use."""
    if path.exists():
        seed = path.read_bytes()
        if len(seed) != 32:
            raise P2PError(f"identity file {path} holds {len(seed)} bytes, not a 32-byte ed25519 seed")
    else:
        seed = os.urandom(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(seed)
    return create_new_key_pair(seed)


def peer_id_of(identity: Path) -> str:
    """The base58 peer id a host started with `identity` has (the identity is made on first use)."""
    return ID.from_pubkey(load_identity(identity).public_key).to_base58()


def asyncio_handler(queue: asyncio.Queue[GossipMessage], loop: asyncio.AbstractEventLoop) -> Handler:
    """A handler that hands each message to an asyncio queue owned by `loop`."""
    def hand_over(message: GossipMessage) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, message)

    return hand_over


class P2PHost:
    """One libp2p host: connect to peers, publish and subscribe on gossipsub topics."""

    def __init__(self, identity: Path, listen: str = "/ip4/127.0.0.1/tcp/0",
                 max_messages_per_topic_per_s: float = 1000.0, heartbeat_s: int = 1) -> None:
        self._key_pair = load_identity(identity)
        self._listen = multiaddr.Multiaddr(listen)
        self._rate = max_messages_per_topic_per_s
        self._heartbeat_s = heartbeat_s
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self.peer_id = ""
        self.addrs: list[str] = []

    def start(self) -> P2PHost:
        self._thread = threading.Thread(target=trio.run, args=(self._main,), name="paris-p2p", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or self._error is not None:
            raise P2PError(f"libp2p host on {self._listen} did not start: {self._error or 'timed out'}")
        log.info("p2p host %s listening on %s", self.peer_id, ", ".join(self.addrs))
        return self

    async def _main(self) -> None:
        host = new_host(key_pair=self._key_pair, listen_addrs=[self._listen],
                        connection_config=ConnectionConfig(max_connections_per_peer=1, min_connections=0,
                                                           low_watermark=0))
        router = GossipSub(protocols=[PROTOCOL_ID], degree=6, degree_low=4, degree_high=12,
                           heartbeat_interval=self._heartbeat_s,
                           max_messages_per_topic_per_second=self._rate)
        pubsub = Pubsub(host, router)
        self._host, self._pubsub = host, pubsub
        try:
            async with host.run(listen_addrs=[self._listen]), background_trio_service(pubsub), \
                    background_trio_service(router), trio.open_nursery() as nursery:
                await pubsub.wait_until_ready()
                self._nursery = nursery
                self._token = trio.lowlevel.current_trio_token()
                self._stop = trio.Event()
                self.peer_id = host.get_id().to_base58()
                self.addrs = [str(a) for a in host.get_addrs()]
                self._ready.set()
                await self._stop.wait()
                nursery.cancel_scope.cancel()
        except BaseException as exc:  # reported to start() or stop(); trio needs BaseException here
            self._error = exc
            self._ready.set()
        finally:
            pubsub.seen_messages.stop()

    def _run(self, fn: Callable[..., Awaitable[Any]], *args: Any, what: str) -> Any:
        """Run `fn(*args)` on the trio thread and wait for it, with a timeout."""
        if self._token is None or self._thread is None or not self._thread.is_alive():
            raise P2PError(f"{what}: the p2p host is not running")

        async def bounded() -> Any:
            with trio.fail_after(CALL_TIMEOUT_S):
                return await fn(*args)

        try:
            return trio.from_thread.run(bounded, trio_token=self._token)
        except trio.TooSlowError as exc:
            raise P2PError(f"{what}: no result within {CALL_TIMEOUT_S}s") from exc

    def connect(self, addr: str) -> str:
        """Dial a peer by its full multiaddr (…/p2p/<peer id>); returns the peer id."""
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
        except Exception as exc:  # multiaddr raises several types for malformed input
            raise P2PError(f"{addr!r} is not a peer multiaddr ending in /p2p/<peer id>: {exc}") from exc

        async def dial() -> None:
            network: Any = self._host.get_network()  # the swarm; its interface does not declare unblock_peer
            network.unblock_peer(info.peer_id)  # a past failure must not block for 60 s
            await self._host.connect(info)

        try:
            self._run(dial, what=f"connect {addr}")
        except P2PError:
            raise
        except Exception as exc:
            raise P2PError(f"cannot connect to {addr}: {exc}") from exc
        return info.peer_id.to_base58()

    def peers(self) -> list[str]:
        async def connected() -> list[str]:
            return [p.to_base58() for p in self._host.get_network().connections]
        return self._run(connected, what="peers")

    def subscribe(self, topic: str, handler: Handler, validator: Validator | None = None) -> None:
        """Call `handler` (on the p2p thread; keep it quick) for every message others publish on `topic`.

        With a `validator(data, origin peer id) -> bool`, gossipsub drops what it refuses before delivering
        or forwarding it (messages this host publishes are validated too)."""
        if validator is not None:
            def check(_forwarder: ID, message: Any) -> bool:
                return validator(message.data, ID(message.from_id).to_base58())
            self._pubsub.set_topic_validator(topic, check, False)

        async def start_reader() -> None:
            subscription = await self._pubsub.subscribe(topic)
            self._nursery.start_soon(self._read, topic, subscription, handler)
        self._run(start_reader, what=f"subscribe {topic}")

    async def _read(self, topic: str, subscription: Any, handler: Handler) -> None:
        own_id = self._host.get_id().to_bytes()
        while True:
            message = await subscription.get()
            if message.from_id == own_id:  # gossipsub hands a subscriber its own messages too
                continue
            try:
                handler(GossipMessage(topic, message.data, ID(message.from_id).to_base58()))
            except Exception:
                log.exception("gossip handler for %s failed", topic)

    def publish(self, topic: str, data: bytes) -> None:
        self._run(self._pubsub.publish, topic, data, what=f"publish on {topic}")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._token is not None and self._stop is not None and self._thread and self._thread.is_alive():
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise P2PError(f"p2p host {self.peer_id} did not stop within {timeout_s}s")

    def __enter__(self) -> P2PHost:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
