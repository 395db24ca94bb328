"""A miner whose own experts wait on merges assists: with `assist` it trains a delta of an expert dealt to
another live miner (here one that stalls), and without it it waits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain, EventCursor
from paris_node.net.network import Members, Network
from paris_node.net.presence import Presence
from paris_node.roles.miner_daemon import MinerDaemon
from paris_node.roles.routing import dealt
from paris_node.runtime.devnet import DevnetInfo, devnet_account

from helpers.chain import funded_chain
from helpers.jobs import open_job, tiny_spec
from helpers.wait import wait_for

pytestmark = pytest.mark.devnet


def test_an_assisting_miner_trains_the_expert_of_a_stalled_one_after_its_own(devnet: DevnetInfo,
                                                                             tmp_path: Path) -> None:
    store = IpfsStore(devnet.ipfs_api)
    spec, _ = tiny_spec(store, "assist", 16, 41, experts=2)
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    job_id = requester.call("jobCount") + 1
    chains = [funded_chain(devnet), funded_chain(devnet)]
    nets = [Network(c.account, tmp_path / f"{i}.key", "miner", Members(Chain(devnet.rpc_url, devnet.contract)),
                    bootstrap=devnet.bootstrap, heartbeat_s=0.5).start() for i, c in enumerate(chains)]
    helper, stalled = (MinerDaemon(c, store, tmp_path / f"miner-{i}", devnet.deploy_block, {job_id}, lanes=1,
                                   presence=Presence(n)) for i, (c, n) in enumerate(zip(chains, nets, strict=True)))
    try:
        stalled.step()  # staked, then never steps again: the expert dealt to it gets no delta from it
        wait_for(lambda: any(p.alive and p.address == stalled.address for p in helper.presence.peers()), 60,
                 "the miners to hear each other")
        (own,) = dealt(job_id, 2, helper.address, {stalled.address})
        assert open_job(devnet, store, spec) == job_id

        def experts_submitted() -> list[int]:
            return sorted(e.args["expert"] for e in requester.events(EventCursor(devnet.deploy_block),
                                                                     {"DeltaSubmitted"})
                          if e.args["jobId"] == job_id and e.args["miner"] == helper.address)

        def stepped_until(condition: Callable[[], bool], what: str) -> None:
            def stepped() -> bool:
                helper.step()
                return condition()
            wait_for(stepped, 60, what, poll_s=0.2)

        stepped_until(lambda: experts_submitted() == [own], "its own expert's delta (one round, one lane)")
        for _ in range(3):  # then nothing to do: it waits
            helper.step()
        assert experts_submitted() == [own] and helper.mine[job_id] == {own}
        helper.assist = True
        stepped_until(lambda: experts_submitted() == [0, 1], "a delta of the stalled miner's expert")
        assert helper.mine[job_id] == {own}  # still dealt to the stalled miner
    finally:
        for net in nets:
            net.stop()
        store.close()
