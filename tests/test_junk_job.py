"""Junk on the market stops nobody: beside a real job, a job whose spec was never published, one whose spec is
malformed, one whose spec sets no local steps, one whose spec's staleness bound is not its terms', and a delta
whose content never appears; the real job still trains, is checked and merges on schedule, and each junk job is
reported once, not fetched again on every pass."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path

import pytest
from multiformats import CID

from paris_node.content.store import IpfsStore
from paris_node.market.chain import ROLE_MINER, Chain, DeltaState, EventCursor, JobTerms
from paris_node.roles.aggregator_daemon import AggregatorDaemon
from paris_node.roles.miner_daemon import MinerDaemon
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_validator.daemon import ValidatorDaemon

from helpers.chain import ETH, funded_chain, warp
from helpers.jobs import open_job, tiny_spec


def _never_published(label: str) -> CID:
    return CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(label.encode()).digest()))


def test_junk_jobs_and_a_junk_delta_leave_a_real_job_training_validated_and_merged(
        devnet: DevnetInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = IpfsStore(devnet.ipfs_api, timeout_s=2.0)
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    start = requester.w3.eth.block_number + 1
    now = requester.timestamp()

    def junk_job(spec: CID) -> int:  # 1 wei, naming the devnet's aggregator
        return requester.create_job(JobTerms(spec=spec, experts=1, rounds=1, reward_per_round_wei=0,
                                             deadline=now + 3600, aggregator=devnet.address("aggregator")),
                                    escrow_wei=1)

    missing = junk_job(_never_published("a spec nobody published"))
    malformed = junk_job(store.add(b"[1, 2, 3]"))
    spec, _ = tiny_spec(store, "beside the junk", 8, 15)
    raw = json.loads(spec.to_bytes())
    no_steps = junk_job(store.add(json.dumps({**raw, "local_steps": 0}).encode()))  # well-formed, no work to do
    stale = requester.create_job(JobTerms(spec=store.add(dataclasses.replace(spec, name="stale").to_bytes()),
                                          experts=1, rounds=3, reward_per_round_wei=0, deadline=now + 3600,
                                          aggregator=devnet.address("aggregator"), staleness_bound=2), escrow_wei=1)
    real = open_job(devnet, store, spec)
    liar = funded_chain(devnet)
    liar.stake(ROLE_MINER, wei=ETH)
    junk_delta = liar.submit_delta(real, 0, 0, _never_published("a delta nobody published"), b"\x05" * 32, segments=2)

    miner = MinerDaemon(funded_chain(devnet), store, tmp_path / "miner", start)
    validator = ValidatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(4)), store,
                                tmp_path / "validator", start)
    aggregator = AggregatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(2)), store,
                                  tmp_path / "aggregator", start, round_timeout_s=10.0)
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    honest = requester.delta_id_of(real, 0, 0, miner.address)
    while requester.version_of(real, 0) < 1:
        assert time.monotonic() - started < 180, "the real job never merged its round"
        for daemon in (miner, validator, aggregator):
            daemon.step()
        if honest in validator.records and validator.records[honest].stage in ("committed", "opened"):
            warp(requester, requester.vote_window // 2)  # its vote is sealed: on through the vote phases
        time.sleep(0.2)

    merge = next(e for e in requester.events(EventCursor(start), {"ExpertFinalized"}) if e.args["jobId"] == real)
    assert merge.args["mergedDeltaIds"] == [honest] and requester.delta(honest).state == DeltaState.MERGED
    assert requester.delta(junk_delta).state == DeltaState.SUBMITTED  # never revealed: slashable once its window ends
    assert real in miner.specs and not {missing, malformed, no_steps, stale} & set(miner.specs)
    assert stale not in aggregator.specs
    assert real in aggregator.specs and missing not in aggregator.specs
    record = validator.records[junk_delta]
    assert record.stage == "pending" and "not retrievable yet" in record.notes[-1]
    assert any("local_steps 0: must be at least 1" in r.getMessage() for r in caplog.records)
    assert any(f"job {stale}: its spec's staleness bound (1) is not the one its terms set on chain (2)"
               in r.getMessage() for r in caplog.records)  # an honest aggregator would be refuted merging it
    for job, times in ((missing, 2), (malformed, 1), (no_steps, 1), (stale, 1)):  # missing: a try and a retry at most
        said = [r for r in caplog.records if r.getMessage().startswith(f"job {job}: its spec")]
        assert {r.name for r in said} == {"paris_node.roles.miner_daemon", "paris_node.roles.aggregator_daemon"}
        assert all(sum(r.name == name for r in said) <= times for name in {r.name for r in said})


def test_a_job_whose_initial_checkpoint_names_another_expert_is_skipped_not_trained(
        devnet: DevnetInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A delta on such a checkpoint would carry the wrong expert in its header and fail: a honeypot."""
    store = IpfsStore(devnet.ipfs_api)
    spec, base = tiny_spec(store, "wrong-expert", 16, 11)
    lying = dataclasses.replace(spec, initial=(str(store.add(dataclasses.replace(base, expert=3).to_bytes())),))
    job_id = open_job(devnet, store, lying)
    miner = MinerDaemon(funded_chain(devnet), store, tmp_path / "miner", devnet.deploy_block, {job_id})
    with caplog.at_level(logging.WARNING, logger="paris_node.roles.miner_daemon"):
        miner.step()
        miner.step()
    assert "says it is expert 3 v0" in miner.skipped[job_id] and job_id not in miner.specs
    assert sum("says it is expert 3" in r.getMessage() for r in caplog.records) == 1  # said once
    assert miner.journal.open_rounds() == [] and not miner.chain.stake_of(miner.address).slashed
