"""A daemon with nothing in flight rests: its passes stretch up to IDLE_POLL_S, ask the chain only for new
events (its stake, and a validator what it is owed, are read again once every RECHECK_S or after activity), its
heartbeats slow down, and a new job on chain brings it back to work on the next pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from paris_node.content.store import IpfsStore
from paris_node.market.chain import ROLE_MINER, Chain
from paris_node.roles.daemon import IDLE_POLL_S, RECHECK_S
from paris_node.roles.miner_daemon import MinerDaemon
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_validator.daemon import ValidatorDaemon

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
    sent: list[str] = []  # the JSON-RPC methods that reach the chain's node
    provider = daemon.chain.w3.provider
    send = provider._make_request  # type: ignore[attr-defined]
    provider._make_request = lambda method, data: sent.append(method) or send(method, data)  # type: ignore
    stake_reads = []
    ensure_stake = daemon.ensure_stake
    daemon.ensure_stake = lambda: stake_reads.append(len(sent)) or ensure_stake()  # type: ignore[method-assign]
    pauses, sent_by = [], []
    for _ in range(5):
        daemon.step()
        pauses.append(daemon.pause_s(1.0))
        sent_by.append(len(sent))
    assert pauses == [2.0, 4.0, IDLE_POLL_S, IDLE_POLL_S, IDLE_POLL_S]
    assert requester.stake_of(daemon.address).roles & ROLE_MINER  # the first pass staked
    assert len(stake_reads) == 1  # and no resting pass read the stake again
    resting = sent[sent_by[1]:]  # the passes after the second: no stake, no job, no chain id read, new events only
    assert resting and set(resting) <= {"eth_blockNumber", "eth_getLogs"}, resting
    daemon.alerted_at -= RECHECK_S
    daemon.step()
    last = sent[sent_by[-1]:]
    assert len(stake_reads) == 2 and last.count("eth_call") == 1 and "eth_chainId" not in last  # chain id known
    assert daemon.pause_s(1.0) == IDLE_POLL_S
    assert open_job(devnet, store, spec) == job_id
    daemon.step()  # the job's creation is an event: the stake is read, back to every second, the job keeps it there
    assert len(stake_reads) == 3 and daemon.pause_s(1.0) == 1.0 and job_id in daemon.specs
    daemon.step()
    assert daemon.pause_s(1.0) == 1.0 and not daemon.finished(job_id)
    store.close()


def test_a_resting_validator_asks_what_it_is_owed_only_on_an_alert_pass(devnet: DevnetInfo, tmp_path: Path) -> None:
    chain = Chain(devnet.rpc_url, devnet.contract, devnet_account(9))
    validator = ValidatorDaemon(chain, IpfsStore(devnet.ipfs_api), tmp_path / "validator", devnet.deploy_block,
                                jobs=set())  # never stepped: it does not stake, so no committee draws it
    asked = []
    owed = chain.owed
    chain.owed = lambda address: asked.append(address) or owed(address)  # type: ignore[method-assign]
    validator.alert = False
    validator.work()
    assert asked == []
    validator.alert = True
    validator.work()
    assert asked == [validator.address]
    validator.store.close()
