"""The miner daemon through real outages: the devnet's IPFS node and then its chain node frozen
(SIGSTOP) mid-round. Each pass logs what failed and carries on; the round resumes where it stopped
and the trained delta is neither lost nor submitted twice."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import torch

from paris_node.chain import Chain, DeltaState, EventCursor, JobTerms
from paris_node.checkpoint import Checkpoint
from paris_node.data.synthetic import synthetic_set
from paris_node.devnet import DevnetInfo, devnet_account
from paris_node.jobspec import JobSpec
from paris_node.miner_daemon import MinerDaemon
from paris_node.model.dit import VideoDiT, named_config
from paris_node.store import IpfsStore

from conftest import frozen

ETH = 10**18


def _stage(daemon: MinerDaemon, job_id: int) -> str:
    record = daemon.journal.get(job_id, 0, 0)
    return record.stage if record else ""


def test_miner_rides_out_ipfs_and_rpc_outages(devnet: DevnetInfo, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "paris_node.miner_daemon")
    store = IpfsStore(devnet.ipfs_api)
    torch.manual_seed(0)
    model = VideoDiT(named_config("tiny"))
    base = Checkpoint(model.config, 0, 0, 0, dict(model.state_dict()), {})
    spec = JobSpec(name="outage-test", model=model.config, shards=(str(store.add(synthetic_set(24, 4).to_bytes())),),
                   initial=(str(store.add(base.to_bytes())),), job_seed=5, local_steps=4, segment_steps=2, batch=4)
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    now = requester.w3.eth.get_block("latest")["timestamp"]
    job_id = requester.create_job(JobTerms(spec=store.add(spec.to_bytes()), experts=1, rounds=1,
                                           reward_per_round_wei=ETH, deadline=now + 3600,
                                           aggregator=devnet.address("aggregator"), quorum=1, challenges=1),
                                  escrow_wei=ETH)
    chain = Chain(devnet.rpc_url, devnet.contract, devnet_account(8), timeout_s=2.0)
    daemon = MinerDaemon(chain, IpfsStore(devnet.ipfs_api, timeout_s=2.0), tmp_path / "miner", devnet.deploy_block,
                         jobs={job_id})
    ipfs_pid = devnet.pids["ipfs"]

    with frozen(ipfs_pid):  # the job spec cannot be read: nothing to do yet, no crash
        daemon.step()
    assert job_id not in daemon.specs and _stage(daemon, job_id) == ""
    assert "cannot stake or read new jobs" in caplog.text and "no answer from IPFS /block/get within 2.0s" in caplog.text

    daemon._discover()  # the spec, shard and checkpoint are cached from here on
    daemon._advance_training(job_id, daemon.specs[job_id], 0)
    assert _stage(daemon, job_id) == "trained"
    delta_file = daemon.journal.round_dir(job_id, 0, 0) / "delta.bin"
    trained = delta_file.read_bytes()

    caplog.clear()
    with frozen(ipfs_pid):  # mid-round: the upload fails, the trained delta waits on disk
        daemon.step()
    assert _stage(daemon, job_id) == "trained" and delta_file.read_bytes() == trained
    assert f"delta of job {job_id} expert 0" in caplog.text and "will retry" in caplog.text

    caplog.clear()
    with frozen(devnet.pids["anvil"]):  # the RPC node hangs: every piece of work reports it and waits
        daemon.step()
    assert _stage(daemon, job_id) == "uploaded"  # IPFS is back: the upload went through, the submission waits
    assert f"no Ethereum node answers at {devnet.rpc_url}" in caplog.text

    for _ in range(30):  # both back: upload, submit, and reveal once the challenge seed is mined
        daemon.step()
        time.sleep(0.3)
        if _stage(daemon, job_id) == "revealed":
            break
    assert _stage(daemon, job_id) == "revealed"
    record = daemon.journal.get(job_id, 0, 0)
    assert store.get(record.delta_cid) == trained
    assert chain.delta(record.delta_id).state == DeltaState.SUBMITTED
    submissions = [e for e in chain.events(EventCursor(devnet.deploy_block), {"DeltaSubmitted"})
                   if e.args["jobId"] == job_id]
    assert len(submissions) == 1
    store.close()
