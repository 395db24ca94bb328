"""Two real py-libp2p hosts on loopback: gossip both ways, persistent identity, quick clean shutdown."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from pathlib import Path

import pytest

from paris_node.net.p2p import GossipMessage, P2PError, P2PHost, asyncio_handler, load_identity

TOPIC = "paris/test"


def _until_heard(sender: P2PHost, inbox: queue.Queue, data: bytes, timeout_s: float = 10.0) -> GossipMessage:
    """Publish until the mesh (formed at the first heartbeat) carries it, then return what arrived."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sender.publish(TOPIC, data)
        try:
            return inbox.get(timeout=0.5)
        except queue.Empty:
            continue
    raise AssertionError(f"{data!r} never arrived")


def _p2p_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "paris-p2p"}  # a devnet's bootstrap peer has one too


def test_two_hosts_gossip_both_ways_and_stop_cleanly(tmp_path: Path) -> None:
    before = _p2p_threads()
    a = P2PHost(tmp_path / "a.key").start()
    b = P2PHost(tmp_path / "b.key").start()
    try:
        inbox_a: queue.Queue = queue.Queue()
        inbox_b: queue.Queue = queue.Queue()
        a.subscribe(TOPIC, inbox_a.put)
        b.subscribe(TOPIC, inbox_b.put)
        assert b.connect(a.addrs[0]) == a.peer_id
        assert a.peer_id in b.peers()

        heard_by_b = _until_heard(a, inbox_b, b"from a")
        assert (heard_by_b.data, heard_by_b.sender, heard_by_b.topic) == (b"from a", a.peer_id, TOPIC)
        heard_by_a = _until_heard(b, inbox_a, b"from b")
        assert (heard_by_a.data, heard_by_a.sender) == (b"from b", b.peer_id)
        assert all(m.sender != a.peer_id for m in list(inbox_a.queue))  # never its own messages
    finally:
        started = time.monotonic()
        a.stop()
        b.stop()
        assert time.monotonic() - started < 3
    assert _p2p_threads() == before


def test_messages_reach_an_asyncio_consumer(tmp_path: Path) -> None:
    async def scenario() -> GossipMessage:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[GossipMessage] = asyncio.Queue()
        with P2PHost(tmp_path / "a.key") as a, P2PHost(tmp_path / "b.key") as b:
            b.subscribe(TOPIC, asyncio_handler(inbox, loop))
            a.subscribe(TOPIC, lambda m: None)
            await asyncio.to_thread(a.connect, b.addrs[0])
            for _ in range(40):
                await asyncio.to_thread(a.publish, TOPIC, b"async")
                try:
                    return await asyncio.wait_for(inbox.get(), 0.5)
                except TimeoutError:
                    continue
        raise AssertionError("no message reached the asyncio queue")

    assert asyncio.run(scenario()).data == b"async"


def test_identity_persists_across_restarts(tmp_path: Path) -> None:
    with P2PHost(tmp_path / "id.key") as first:
        peer_id = first.peer_id
    assert (tmp_path / "id.key").stat().st_mode & 0o777 == 0o600
    with P2PHost(tmp_path / "id.key") as again:
        assert again.peer_id == peer_id


def test_corrupt_identity_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.key").write_bytes(b"short")
    with pytest.raises(P2PError, match=r"bad.key holds 5 bytes"):
        load_identity(tmp_path / "bad.key")


def test_bad_multiaddr_and_dead_peer_give_clear_errors(tmp_path: Path) -> None:
    with P2PHost(tmp_path / "a.key") as a, P2PHost(tmp_path / "b.key") as b:
        with pytest.raises(P2PError, match="not a peer multiaddr"):
            a.connect("/ip4/127.0.0.1/tcp/1")
        dead = b.addrs[0]
    with P2PHost(tmp_path / "a.key") as a, pytest.raises(P2PError, match="cannot connect"):
        a.connect(dead)


def test_calls_on_a_stopped_host_are_refused(tmp_path: Path) -> None:
    host = P2PHost(tmp_path / "a.key").start()
    host.stop()
    with pytest.raises(P2PError, match="not running"):
        host.publish(TOPIC, b"late")
