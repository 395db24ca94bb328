"""Signed gossip on real libp2p hosts: three staked nodes in a line A - B - C on the devnet's chain.

A message from A reaches C through B; forged, replayed, oversized, foreign-peer and unstaked messages are
dropped (and counted) at B, so C never sees them; a stopped node is marked dead within the window.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from paris_node.market.chain import ROLE_MINER, Chain
from paris_node.net.gossip import (MAX_MESSAGE_BYTES, DeltaSubmitted, Dropped, Envelope, GossipChecks, Heartbeat,
                                   envelope, job_topic)
from paris_node.net import network
from paris_node.net.network import Members, Network
from paris_node.net.p2p import P2PHost
from paris_node.runtime.devnet import DevnetInfo

from helpers.chain import ETH, funded_chain
from helpers.wait import wait_for

HEARTBEAT_S = 0.3


def staked(devnet: DevnetInfo) -> Chain:
    chain = funded_chain(devnet)
    chain.stake(ROLE_MINER, wei=ETH)
    return chain


@pytest.fixture(scope="module")
def line(devnet: DevnetInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Network]]:
    """A, B, C with A and C connected only to B (until peer exchange), all following job 7."""
    tmp = tmp_path_factory.mktemp("gossip")
    nodes = []
    for name in "abc":
        chain = staked(devnet)
        node = Network(chain.account, tmp / f"{name}.key", "miner", Members(Chain(devnet.rpc_url, devnet.contract)),
                       heartbeat_s=HEARTBEAT_S, missed=3)
        nodes.append(node)
    a, b, c = nodes
    for node in nodes:
        node.join(7)  # before start, as a daemon restoring its state does
    b.start()
    for node in (a, c):
        node.bootstrap = tuple(f"{addr}/p2p/{b.peer_id}" if "/p2p/" not in addr else addr for addr in b.host.addrs)
        node.start()
    yield nodes
    for node in nodes:
        node.stop()


def test_a_message_reaches_c_through_b_and_heartbeats_exchange_peers(line: list[Network]) -> None:
    a, _, c = line
    got: list[Envelope] = []
    c.listeners.append(got.append)
    wait_for(lambda: c.liveness.alive(a.account.address), what="C hearing A's heartbeat through B")
    body = DeltaSubmitted(expert=0, base_version=1, delta_id="0xab", cid="bafy")
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:  # the topic's mesh forms within a gossipsub heartbeat or two
        a.publish(7, body)
        time.sleep(0.5)
    assert got and got[0].body == body and got[0].sender == a.account.address
    # Peer exchange: A and C learned of each other from heartbeats and dialled directly.
    wait_for(lambda: c.peer_id in a.host.peers(), what="A dialling C after hearing its heartbeat")


def test_forged_replayed_oversized_foreign_and_unstaked_messages_are_dropped(line: list[Network],
                                                                              devnet: DevnetInfo,
                                                                              tmp_path: Path) -> None:
    """An attacker's raw host (no checks of its own) connected only to B publishes on job 8."""
    a, b, c = line
    for node in line:
        node.join(8)
    got: list[Envelope] = []
    c.listeners.append(got.append)
    signer = staked(devnet).account  # staked, so its well-formed messages pass
    wait_for(lambda: b.members.is_member(signer.address), what="B looking up the signer's stake")
    with P2PHost(tmp_path / "attacker.key") as attacker:
        attacker.subscribe(job_topic(8), lambda m: None)
        attacker.connect(f"{b.host.addrs[0]}/p2p/{b.peer_id}" if "/p2p/" not in b.host.addrs[0] else b.host.addrs[0])

        def signed(body: DeltaSubmitted, account=signer, peer: str = attacker.peer_id) -> bytes:  # type: ignore[no-untyped-def]
            return envelope(account, peer, 8, body)

        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:  # until the mesh carries a valid message to C
            attacker.publish(job_topic(8), signed(DeltaSubmitted(expert=0, base_version=0, delta_id="0x0",
                                                                 cid="probe")))
            time.sleep(0.5)
        assert got, "no valid message reached C through B"
        time.sleep(0.5)
        got.clear()
        before_b, before_c = dict(b.checks.counts), dict(c.checks.counts)
        body = DeltaSubmitted(expert=0, base_version=1, delta_id="0x01", cid="bafy")
        good = signed(body)
        raw = json.loads(good)
        raw["body"]["delta_id"] = "0x02"  # the signature is for 0x01
        forged = json.dumps(raw).encode()
        unstaked = signed(body, account=Account.create())
        foreign = signed(body, peer=a.peer_id)  # claims to come from A's host
        oversized = signed(DeltaSubmitted(expert=0, base_version=1, delta_id="0x01", cid="x" * 128)) \
            .replace(b'"cid":"', b'"cid":"' + b"y" * MAX_MESSAGE_BYTES)
        for data in (forged, unstaked, foreign, oversized, good, good):  # the second `good` is a replay
            attacker.publish(job_topic(8), data)
        wait_for(lambda: b.checks.counts["replayed"] > before_b["replayed"], what="B dropping the replay")
        time.sleep(1.0)
    assert [e.body for e in got] == [body]
    drops = {k: b.checks.counts[k] - before_b[k] for k in b.checks.counts}
    assert all(drops[reason] >= 1 for reason in ("bad-signature", "unknown-sender", "peer-mismatch", "oversized",
                                                  "replayed")), drops
    assert {k: c.checks.counts[k] - before_c[k] for k in ("bad-signature", "unknown-sender", "peer-mismatch",
                                                           "oversized", "replayed")} == dict.fromkeys(
        ("bad-signature", "unknown-sender", "peer-mismatch", "oversized", "replayed"), 0)  # nothing bad forwarded


def test_a_stopped_peer_is_marked_dead_within_the_window(devnet: DevnetInfo, tmp_path: Path) -> None:
    nodes = [Network(staked(devnet).account, tmp_path / f"{i}.key", "miner",
                     Members(Chain(devnet.rpc_url, devnet.contract)), heartbeat_s=HEARTBEAT_S, missed=3)
             for i in range(2)]
    first, second = nodes
    first.start()
    second.bootstrap = tuple(first.host.addrs)
    second.start()
    try:
        wait_for(lambda: first.liveness.alive(second.account.address), what="a first heartbeat")
        second.working = {(1, 0, 4)}
        wait_for(lambda: first.liveness.training(1, 0, 4) == {second.account.address}, what="its work")
        second.stop()
        stopped = time.monotonic()
        wait_for(lambda: not first.liveness.alive(second.account.address), timeout_s=10, what="death")
        assert time.monotonic() - stopped <= first.liveness.dead_after_s + 2 * HEARTBEAT_S
        assert first.liveness.training(1, 0, 4) == set()
    finally:
        first.stop()


def test_a_resting_peer_beats_slower_stays_alive_and_beats_at_once_when_back_at_work(
        devnet: DevnetInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(network, "RESTING_HEARTBEAT_S", 4 * HEARTBEAT_S)
    first, second = [Network(staked(devnet).account, tmp_path / f"{i}.key", "miner",
                             Members(Chain(devnet.rpc_url, devnet.contract)), heartbeat_s=HEARTBEAT_S, missed=3)
                     for i in range(2)]
    first.start()
    second.bootstrap = tuple(first.host.addrs)
    second.rest(True)
    second.start()

    def announced() -> float | None:
        return next((p.every_s for p in first.liveness.peers() if p.address == second.account.address), None)

    try:
        wait_for(lambda: announced() == 4 * HEARTBEAT_S, what="a resting heartbeat")
        until = time.monotonic() + 2 * first.liveness.dead_after_s  # longer than a busy peer may stay silent
        while time.monotonic() < until:
            assert first.liveness.alive(second.account.address), "a resting peer was taken for dead"
            time.sleep(0.05)
        woken = time.monotonic()
        second.rest(False)
        wait_for(lambda: announced() == HEARTBEAT_S, timeout_s=2, what="a heartbeat at work")
        assert time.monotonic() - woken < 2 * HEARTBEAT_S  # at once, not at the end of the resting interval
    finally:
        for node in (first, second):
            node.stop()


def test_checks_name_each_reason_without_a_network() -> None:
    account = Account.create()
    checks = GossipChecks(lambda address: address == account.address, max_skew_s=30)
    good = envelope(account, "PEER", 0, Heartbeat(role="miner", addrs=[]))
    now = json.loads(good)["ts"]
    assert checks.check(good, "PEER", now).sender == account.address
    cases = [(b"not json", "malformed"), (good.replace(b'"miner"', b'"king"'), "malformed"),
             (good, "replayed")]
    for data, reason in cases:
        with pytest.raises(Dropped) as dropped:
            checks.check(data, "PEER", now)
        assert dropped.value.reason == reason
    late = envelope(account, "PEER", 0, Heartbeat(role="miner", addrs=[]))
    with pytest.raises(Dropped, match="stale"):
        checks.check(late, "PEER", now + 120)
    assert checks.counts == {"accepted": 1, "malformed": 2, "oversized": 0, "bad-signature": 0,
                             "peer-mismatch": 0, "unknown-sender": 0, "stale": 1, "replayed": 1}


def test_an_address_that_never_answers_delays_no_heartbeat(devnet: DevnetInfo, tmp_path: Path) -> None:
    """A peer's heartbeat may carry an address that accepts TCP and then says nothing (a black hole, here on
    loopback): dialling it hangs until the call's timeout, and must not hold up this node's own heartbeats."""
    nodes = [Network(staked(devnet).account, tmp_path / f"{i}.key", "miner",
                     Members(Chain(devnet.rpc_url, devnet.contract)), heartbeat_s=HEARTBEAT_S, missed=3)
             for i in range(3)]
    first, second, gone = nodes
    gone.start()
    gone.stop()  # a real peer id, now nowhere
    black_hole = socket.create_server(("127.0.0.1", 0))  # the kernel completes the handshake; nobody speaks
    first.start()
    second.bootstrap = tuple(first.host.addrs)
    second.start()
    try:
        wait_for(lambda: second.liveness.alive(first.account.address), what="a first heartbeat")
        for _ in range(3):
            first._dial.put((gone.peer_id, (f"/ip4/127.0.0.1/tcp/{black_hole.getsockname()[1]}",)))
        until = time.monotonic() + 3 * first.liveness.dead_after_s + 2.0
        while time.monotonic() < until:  # first is dialling the black hole all along
            assert second.liveness.alive(first.account.address), "first fell silent while dialling"
            time.sleep(0.05)
    finally:
        black_hole.close()
        for node in (first, second):
            node.stop()
