"""A miner following several jobs trains first where a second of its compute earns most: the better paying job
while it is alone on it, the other once another live miner announces it trains the better paying one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paris_node.content.store import IpfsStore
from paris_node.market.chain import ROLE_MINER, Chain
from paris_node.net.network import Members, Network
from paris_node.net.presence import Presence
from paris_node.roles.miner import train_round
from paris_node.roles.miner_daemon import MinerDaemon
from paris_node.runtime.devnet import DevnetInfo

from helpers.chain import ETH, funded_chain
from helpers.jobs import open_job, tiny_spec
from helpers.wait import wait_for

pytestmark = pytest.mark.devnet


def test_a_miner_trains_the_better_paying_job_first_and_the_other_once_that_one_is_crowded(
        devnet: DevnetInfo, tmp_path: Path) -> None:
    store = IpfsStore(devnet.ipfs_api)
    cheap = open_job(devnet, store, tiny_spec(store, "cheap", 16, 51)[0])  # 1 ETH a round, the lower job id
    rich = open_job(devnet, store, tiny_spec(store, "rich", 16, 52)[0], reward_wei=3 * ETH // 2)
    crowd_chain = funded_chain(devnet)
    crowd_chain.stake(ROLE_MINER, wei=ETH)
    crowd = Network(crowd_chain.account, tmp_path / "crowd.key", "miner", Members(Chain(devnet.rpc_url,
                                                                                        devnet.contract)),
                    bootstrap=devnet.bootstrap, heartbeat_s=0.5)
    crowd.working = {(rich, 0, 0)}  # "training the rich job's checkpoint": shared two ways, it pays 0.75 ETH
    chain = funded_chain(devnet)
    net = Network(chain.account, tmp_path / "miner.key", "miner", Members(Chain(devnet.rpc_url, devnet.contract)),
                  bootstrap=devnet.bootstrap, heartbeat_s=0.5)

    def first_trained(miner: MinerDaemon, order: list[int]) -> list[int]:
        wait_for(lambda: miner.step() or len(order) == 2, 120, "a delta of each job", poll_s=0.2)
        return order

    def recording(order: list[int]) -> Any:
        def trainer(*args: Any) -> Any:
            order.append(args[3])  # the job id
            return train_round(*args)
        return trainer

    alone: list[int] = []
    miner = MinerDaemon(funded_chain(devnet), store, tmp_path / "alone", devnet.deploy_block, {cheap, rich},
                        lanes=1, trainer=recording(alone))
    assert first_trained(miner, alone) == [rich, cheap]
    crowd.start()
    net.start()
    try:
        crowded: list[int] = []
        miner = MinerDaemon(chain, store, tmp_path / "crowded", devnet.deploy_block, {cheap, rich}, lanes=1,
                            trainer=recording(crowded), presence=Presence(net))
        wait_for(lambda: net.liveness.training(rich, 0, 0) == {crowd_chain.account.address}, 60,
                 "the miner hearing the crowd train the rich job")
        assert first_trained(miner, crowded) == [cheap, rich]
        assert miner.delta_s.keys() == {cheap, rich} and all(s > 0 for s in miner.delta_s.values())
    finally:
        net.stop()
        crowd.stop()
        store.close()
