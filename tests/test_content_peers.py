"""IPFS peering through gossip (`content_peers`), against a store that records what it is asked to dial."""

from __future__ import annotations

from typing import cast

import pytest

from paris_node.content.store import IpfsStore, StoreError, StoreUnreachable
from paris_node.net.content_peers import RESTING_REDIAL_S, ContentPeers
from paris_node.net.liveness import PeerState

OWN = "12D3KooWown"


class Dialing:
    """Answers `identity` (or fails while `down`) and `connect`, failing for the addresses in `unreachable`."""

    def __init__(self, addrs: list[str], unreachable: set[str] | None = None) -> None:
        self.addrs, self.unreachable, self.down = addrs, unreachable or set(), False
        self.dialed: list[str] = []

    def identity(self) -> tuple[str, list[str]]:
        if self.down:
            raise StoreUnreachable("identity: IPFS API is unreachable")
        return OWN, self.addrs

    def connect(self, multiaddr: str) -> None:
        self.dialed.append(multiaddr)
        if multiaddr in self.unreachable:
            raise StoreError(f"connecting to {multiaddr}: dial failed")


def peer(name: str, *ipfs: str, alive: bool = True) -> PeerState:
    return PeerState(f"0x{name}", f"p2p-{name}", "miner", (), ipfs, (), 0.0, alive, 2.0)


def peers_of(store: Dialing) -> ContentPeers:
    return ContentPeers(cast(IpfsStore, store), redial_s=30.0)


def test_a_node_announces_its_routable_addresses_and_asks_again_while_its_node_is_down() -> None:
    store = Dialing([f"/ip4/127.0.0.1/tcp/4001/p2p/{OWN}", *(f"/ip4/10.0.0.{i}/tcp/4001/p2p/{OWN}" for i in range(6))])
    store.down = True
    content = peers_of(store)
    assert content.own() == []
    store.down = False
    assert content.own() == [f"/ip4/10.0.0.{i}/tcp/4001/p2p/{OWN}" for i in range(4)]  # no loopback, at most 4
    assert peers_of(Dialing([f"/ip4/127.0.0.1/tcp/4001/p2p/{OWN}"])).own() == [f"/ip4/127.0.0.1/tcp/4001/p2p/{OWN}"]


def test_live_peers_ipfs_nodes_are_dialed_once_per_redial_interval_and_the_own_node_never() -> None:
    store = Dialing([f"/ip4/10.0.0.1/tcp/4001/p2p/{OWN}"])
    content = peers_of(store)
    content.own()
    live = peer("a", "/ip4/10.0.0.2/tcp/4001/p2p/A")
    shared = peer("b", f"/ip4/10.0.0.1/tcp/4001/p2p/{OWN}")  # a daemon on this same IPFS node
    dead = peer("c", "/ip4/10.0.0.3/tcp/4001/p2p/C", alive=False)
    content.meet([live, shared, dead, peer("d")], now=100.0)
    assert store.dialed == ["/ip4/10.0.0.2/tcp/4001/p2p/A"]
    content.meet([live], now=110.0)
    assert len(store.dialed) == 1
    content.meet([live], now=131.0)
    assert len(store.dialed) == 2 and content.met == {"A"}
    content.meet([live], now=170.0, resting=True)  # a resting daemon redials seldom
    assert len(store.dialed) == 2
    content.meet([live], now=131.0 + RESTING_REDIAL_S, resting=True)
    assert len(store.dialed) == 3


def test_an_unreachable_address_falls_back_to_the_next_and_a_silent_node_waits_for_the_interval(
        caplog: pytest.LogCaptureFixture) -> None:
    first, second = "/ip4/10.0.0.2/tcp/4001/p2p/A", "/ip4/10.0.1.2/tcp/4001/p2p/A"
    store = Dialing([], unreachable={first})
    content = peers_of(store)
    content.meet([peer("a", first, second)], now=0.0)
    assert store.dialed == [first, second] and content.met == {"A"}

    silent = "/ip4/10.0.0.9/tcp/4001/p2p/Z"
    store.unreachable.add(silent)
    content.meet([peer("z", silent)], now=0.0)
    assert "cannot reach the IPFS node 0xz announces" in caplog.text
    content.meet([peer("z", silent)], now=10.0)
    assert store.dialed.count(silent) == 1 and "Z" not in content.met
