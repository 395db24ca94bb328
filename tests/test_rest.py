"""A daemon with nothing in flight rests: its passes stretch up to IDLE_POLL_S and its heartbeats slow down,
and a new job on chain brings it back to work on the next pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain
from paris_node.roles.daemon import IDLE_POLL_S
from paris_node.roles.miner_daemon import MinerDaemon
from paris_node.runtime.devnet import DevnetInfo, devnet_account

from helpers.jobs import open_job, tiny_spec

pytestmark = pytest.mark.devnet


def test_a_daemon_rests_while_nothing_is_in_flight_and_a_new_job_wakes_it(devnet: DevnetInfo,
                                                                         tmp_path: Path) -> None:
    store = IpfsStore(devnet.ipfs_api)
    spec, _ = tiny_spec(store, "rest-test", 24, 11)
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    job_id = requester.call("jobCount") + 1  # followed before it exists: nothing to do until it is created
    daemon = MinerDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(9)), store, tmp_path / "miner",
                         devnet.deploy_block, jobs={job_id})
    pauses = []
    for _ in range(5):
        daemon.step()
        pauses.append(daemon.pause_s(1.0))
    assert pauses == [2.0, 4.0, IDLE_POLL_S, IDLE_POLL_S, IDLE_POLL_S]
    assert open_job(devnet, store, spec) == job_id
    daemon.step()  # the job's creation is an event: back to every second, and the job keeps it there
    assert daemon.pause_s(1.0) == 1.0 and job_id in daemon.specs
    daemon.step()
    assert daemon.pause_s(1.0) == 1.0 and not daemon.finished(job_id)
    store.close()
