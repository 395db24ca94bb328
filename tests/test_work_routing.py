"""Work that routes itself, on a devnet with real daemons: three miners started without `--job` or `--expert`
on a two-expert job spread over both experts once they hear each other; when one stops, the other two cover
every expert in the next round."""

from __future__ import annotations

import signal
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain, EventCursor
from paris_node.runtime.devnet import Devnet, DevnetInfo, devnet_account

from helpers.chain import TEST_MARKET
from helpers.jobs import open_job, tiny_spec
from helpers.processes import VALIDATOR, spawn
from helpers.wait import wait_for

pytestmark = [pytest.mark.devnet, pytest.mark.long]  # starts a devnet of its own; `make test-long`
ROUNDS = 3


@pytest.fixture
def net(tmp_path: Path) -> Iterator[DevnetInfo]:
    devnet = Devnet(tmp_path / "devnet", market=TEST_MARKET)
    try:
        yield devnet.start()
    finally:
        devnet.stop()


@pytest.mark.timeout(600)
def test_three_miners_spread_over_two_experts_and_cover_a_stopped_ones(net: DevnetInfo, tmp_path: Path) -> None:
    with IpfsStore(net.ipfs_api) as store:
        spec, _ = tiny_spec(store, "routing", 16, 9, experts=2)
        job_id = open_job(net, store, spec, rounds=ROUNDS)
    chain = Chain(net.rpc_url, net.contract, devnet_account(1))

    def miners_by_round() -> dict[tuple[int, int], set[str]]:
        seen: dict[tuple[int, int], set[str]] = defaultdict(set)
        for event in chain.events(EventCursor(net.deploy_block), {"DeltaSubmitted"}):
            seen[event.args["baseVersion"], event.args["expert"]].add(event.args["miner"])
        return seen

    def merged(version: int) -> bool:
        return all(chain.version_of(job_id, e) >= version for e in range(2))

    processes = [spawn(tmp_path, "aggregator", "aggregate", "--as", "aggregator", "--round-timeout", "60",
                       "--min-wait", "8", "--work-dir", str(tmp_path / "aggregator")),
                 spawn(tmp_path, "validator", "validate", "--as", "validator-1", "--work-dir",
                       str(tmp_path / "validator"), command=VALIDATOR)]
    miners = {role: spawn(tmp_path, role, "mine", "--as", role, "--work-dir", str(tmp_path / role))
              for role in ("miner-1", "miner-2", "miner-3")}
    processes += miners.values()
    try:
        wait_for(lambda: merged(2), 300, "two rounds merged", poll_s=1)
        spread = miners_by_round()
        # by the second round they hear each other: each trains one expert, and both experts are covered
        assert spread[1, 0] and spread[1, 1] and not spread[1, 0] & spread[1, 1], dict(spread)
        stopped = devnet_account(5).address
        miners["miner-1"].send_signal(signal.SIGTERM)
        miners["miner-1"].wait(timeout=60)
        wait_for(lambda: merged(ROUNDS), 360, "the last rounds merged without miner-1", poll_s=1)
        last = miners_by_round()
        assert all(last[ROUNDS - 1, e] and stopped not in last[ROUNDS - 1, e] for e in range(2)), dict(last)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
