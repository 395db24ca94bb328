"""The miner daemon through real outages: the devnet's IPFS node and then its chain node frozen
(SIGSTOP) mid-round. What fails is said once, the passes back off, and work carries on; the round resumes
where it stopped and the trained delta is neither lost nor submitted twice."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain, DeltaState, EventCursor
from paris_node.roles.miner_daemon import MinerDaemon
from paris_node.runtime.devnet import DevnetInfo, devnet_account

from helpers.jobs import open_job, tiny_spec
from helpers.processes import frozen


def _stage(daemon: MinerDaemon, job_id: int) -> str:
    record = daemon.journal.get(job_id, 0, 0)
    return record.stage if record else ""


def test_miner_rides_out_ipfs_and_rpc_outages(devnet: DevnetInfo, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "paris_node.roles.miner_daemon")
    store = IpfsStore(devnet.ipfs_api)
    spec, _ = tiny_spec(store, "outage-test", 24, 5)
    job_id = open_job(devnet, store, spec)
    chain = Chain(devnet.rpc_url, devnet.contract, devnet_account(8), timeout_s=2.0)
    daemon = MinerDaemon(chain, IpfsStore(devnet.ipfs_api, timeout_s=2.0), tmp_path / "miner", devnet.deploy_block,
                         jobs={job_id})
    ipfs_pid = devnet.pids["ipfs"]

    with frozen(ipfs_pid):  # the job spec cannot be read: nothing to do yet, no crash
        daemon.step()
    assert job_id not in daemon.specs and _stage(daemon, job_id) == ""
    assert f"cannot read job {job_id}'s spec now" in caplog.text  # its own node's outage: not held against the job
    assert "no answer from IPFS /block/get within 2.0s" in caplog.text

    daemon.discover()  # the spec, shard and checkpoint are cached from here on
    daemon._advance_training(job_id, daemon.specs[job_id], daemon.chain.job(job_id), 0, 0)
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
        daemon.step()
    assert _stage(daemon, job_id) == "uploaded"  # IPFS is back: the upload went through, the submission waits
    said = [r.getMessage() for r in caplog.records if f"no Ethereum node answers at {devnet.rpc_url}" in r.getMessage()]
    assert said and len(said) == len(set(said))  # each failing piece of work says so once, not on every pass
    assert daemon.pause_s(1.0) == 4.0  # and the passes back off

    for _ in range(30):  # both back: upload, submit, and reveal once the challenge seed is mined
        daemon.step()
        time.sleep(0.3)
        if _stage(daemon, job_id) == "revealed":
            break
    assert _stage(daemon, job_id) == "revealed"
    assert daemon.pause_s(1.0) == 1.0 and "cannot stake or read new jobs and events: works again" in caplog.text
    record = daemon.journal.get(job_id, 0, 0)
    assert store.get(record.delta_cid) == trained
    assert chain.delta(record.delta_id).state == DeltaState.SUBMITTED
    submissions = [e for e in chain.events(EventCursor(devnet.deploy_block), {"DeltaSubmitted"})
                   if e.args["jobId"] == job_id]
    assert len(submissions) == 1
    store.close()
