"""One training round on the devnet with the tiny model: miners train and submit, reveal their challenged
states, a test validator scores, the aggregator merges exactly the passing deltas, anyone can verify the
merge, and the miners are paid."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from multiformats import CID

from paris_node.content.store import IpfsStore
from paris_node.data.clips import ClipSet
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.jobspec import JobSpec
from paris_node.learning.merge import OuterParams
from paris_node.learning.reveal import Reveal
from paris_node.learning.trace import verify_proof
from paris_node.market.chain import (ROLE_MINER, ROLE_VALIDATOR, Chain, ContractRevert, DeltaState, EventCursor,
                                     JobTerms, cid_from_chain)
from paris_node.market.index import MarketIndex
from paris_node.model.dit import VideoDiT, named_config
from paris_node.roles.aggregator import bond_as_aggregator, merge_round, verify_merge
from paris_node.roles.aggregator_daemon import AggregatorDaemon
from paris_node.roles.miner import kept_reveal, train_round
from paris_node.roles.miner_daemon import MinerDaemon, Superseded
from paris_node.runtime.devnet import DevnetInfo, devnet_account

from helpers.chain import ETH, SALT, funded_chain, vote, warp, warp_to
from helpers.jobs import merge_one_round, open_job, tiny_spec
from helpers.wait import wait_for


def test_a_round_is_trained_merged_verified_and_paid(devnet: DevnetInfo, tmp_path: Path) -> None:
    requester, aggregator, validator, *miners = (Chain(devnet.rpc_url, devnet.contract, devnet_account(i))
                                                 for i in (1, 2, 4, 5, 6, 7))
    store = IpfsStore(devnet.ipfs_api)
    shard = synthetic_set(48, seed=3)
    torch.manual_seed(0)
    model = VideoDiT(named_config("tiny"))
    base = Checkpoint(model.config, job_id=0, expert=0, version=0, weights=dict(model.state_dict()), momentum={})
    spec = JobSpec(name="round-test", model=model.config, shards=(str(store.add(shard.to_bytes())),),
                   initial=(str(store.add(base.to_bytes())),), job_seed=9, local_steps=4, segment_steps=2, batch=4)
    spec_cid = store.add(spec.to_bytes(), name="spec.json")
    assert JobSpec.from_bytes(store.get(spec_cid)) == spec

    now = requester.w3.eth.get_block("latest")["timestamp"]
    job_id = requester.create_job(JobTerms(spec=spec_cid, experts=1, rounds=2, reward_per_round_wei=ETH,
                                           deadline=now + 3600, aggregator=aggregator.account.address,
                                           quorum=1, challenges=1), escrow_wei=2 * ETH)
    validator.stake(ROLE_VALIDATOR, wei=ETH)

    works, ids = [], []
    for index, miner in enumerate(miners):
        miner.stake(ROLE_MINER, wei=ETH)
        work, carried = train_round(spec, shard, base, job_id, miner.account.address, None, tmp_path / f"m{index}")
        assert work.segments == 2 and len(work.losses) == 4 and set(carried) == set(base.weights)
        delta_cid = store.add(work.delta)
        ids.append(miner.submit_delta(job_id, 0, 0, delta_cid, work.trace_root, work.segments))
        works.append(work)
    assert len({w.trace_root for w in works}) == 3  # each miner's assigned data differs

    requester.w3.provider.make_request("anvil_mine", [3])
    for index, (miner, work, delta_id) in enumerate(zip(miners, works, ids, strict=True)):
        miner.fix_challenge(delta_id)  # from the prevrandao of the block two after its submission
        challenged = miner.challenged_segments(delta_id)
        reveal_cid = store.add(kept_reveal(tmp_path / f"m{index}", work.digests, challenged).to_bytes())
        miner.reveal(delta_id, reveal_cid)
        reveal = Reveal.from_bytes(store.get(reveal_cid))
        for leaf, digest in reveal.digests.items():
            assert verify_proof(work.trace_root, digest, leaf, reveal.leaves, reveal.proofs[leaf])
    vote([(validator, ids[0], True, 1500), (validator, ids[1], True, 1000), (validator, ids[2], False, 0)])

    finalized = merge_round(MarketIndex(aggregator, devnet.deploy_block), store, spec, job_id, 0)
    assert finalized.args["mergedDeltaIds"] == sorted(ids[:2])
    assert aggregator.version_of(job_id, 0) == 1
    assert aggregator.delta(ids[2]).state == DeltaState.FAILED

    check = verify_merge(MarketIndex(requester, devnet.deploy_block), store, spec, job_id, 0, 1)
    assert check.matches and check.merged == sorted(ids[:2])
    other_outer = dataclasses.replace(spec, outer=OuterParams(lr=0.5))
    assert not verify_merge(MarketIndex(requester, devnet.deploy_block), store, other_outer, job_id, 0, 1).matches

    warp(requester, requester.vote_window + 1)  # past the merge's dispute window
    requester.claim(ids[:2])
    payouts = [requester.delta(i).payout for i in ids[:2]]
    assert payouts == [ETH * 3 // 5, ETH * 2 // 5]
    assert [m.withdraw() for m in miners[:2]] == payouts
    store.close()


def test_a_passed_delta_that_cannot_be_read_is_paid_left_out_of_the_checkpoint_and_no_omission(
        devnet: DevnetInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    requester, aggregator, validator = (Chain(devnet.rpc_url, devnet.contract, devnet_account(i)) for i in (1, 2, 4))
    store = IpfsStore(devnet.ipfs_api, timeout_s=2.0)
    spec, base = tiny_spec(store, "one delta gone", 16, 21)
    job_id = open_job(devnet, store, spec)
    if not validator.stake_of(validator.signer.address).roles & ROLE_VALIDATOR:  # the devnet's validator-1
        validator.stake(ROLE_VALIDATOR, wei=ETH)
    honest, vanished = funded_chain(devnet), funded_chain(devnet)
    shard = ClipSet.from_bytes(store.get(spec.shards[0]))
    ids = []
    for index, miner in enumerate((honest, vanished)):
        miner.stake(ROLE_MINER, wei=ETH)
        work, _ = train_round(spec, shard, base, job_id, miner.account.address, None, tmp_path / f"m{index}")
        cid = store.add(work.delta) if miner is honest else CID(  # published elsewhere, never reachable from here
            "base32", 1, "raw", ("sha2-256", hashlib.sha256(work.delta).digest()))
        ids.append(miner.submit_delta(job_id, 0, 0, cid, work.trace_root, work.segments))
    requester.w3.provider.make_request("anvil_mine", [3])
    for miner, delta_id in zip((honest, vanished), ids, strict=True):
        miner.reveal(delta_id, store.add(b"states"))
    vote([(validator, delta_id, True, 1000) for delta_id in ids])  # both passed (it could be read when checked)

    with caplog.at_level(logging.WARNING):
        finalized = merge_round(MarketIndex(aggregator, devnet.deploy_block), store, spec, job_id, 0)
    assert (finalized.args["mergedDeltaIds"], finalized.args["unavailable"]) == (ids, 1)  # listed last, on chain
    assert [requester.delta(i).payout for i in ids] == [ETH // 2] * 2  # paid for the work its committee checked
    assert any(f"leaving out passed delta {ids[1]:#x}" in r.getMessage() for r in caplog.records)
    checkpoint = cid_from_chain(finalized.args["checkpointDigest"], finalized.args["checkpointCodec"])
    with pytest.raises(ContractRevert, match="NotOmitted"):  # hiding its own delta baits no omission report
        vanished.report_omission(ids[1], checkpoint, ids)
    check = verify_merge(MarketIndex(requester, devnet.deploy_block), store, spec, job_id, 0, 1)
    assert check.matches and check.merged == [ids[0]]  # the checkpoint merged what could be read
    store.close()


def test_a_miner_daemon_reports_a_merge_that_left_out_its_passed_delta_and_drops_work_on_it(
        devnet: DevnetInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="paris_node.roles.miner_daemon")
    requester, validator = (Chain(devnet.rpc_url, devnet.contract, devnet_account(i)) for i in (1, 4))
    store = IpfsStore(devnet.ipfs_api)
    spec, base = tiny_spec(store, "left out", 16, 23)
    job_id = open_job(devnet, store, spec, rounds=2)
    if not validator.stake_of(validator.signer.address).roles & ROLE_VALIDATOR:  # the devnet's validator-1
        validator.stake(ROLE_VALIDATOR, wei=ETH)
    liar, friend = funded_chain(devnet), funded_chain(devnet)
    requester.set_aggregator(job_id, liar.signer.address)  # not the devnet's aggregator: it is slashed here
    bond_as_aggregator(liar)
    miner = MinerDaemon(funded_chain(devnet), store, tmp_path / "miner", devnet.deploy_block, {job_id})

    def revealed() -> bool:
        miner.step()
        record = miner.journal.get(job_id, 0, 0)
        return record is not None and record.at_least("revealed")

    wait_for(revealed, 120, "the miner daemon to reveal", poll_s=0.2)
    honest_id = miner.journal.get(job_id, 0, 0).delta_id  # type: ignore[union-attr]

    friend_id = _trained_and_revealed(friend, store, spec, base, job_id, tmp_path / "friend")
    vote([(validator, delta_id, True, 1000) for delta_id in (honest_id, friend_id)])
    warp(liar, liar.vote_window + 1)  # both decidable a whole window before the merge
    friends_merge = store.add(dataclasses.replace(base, version=1).to_bytes())
    liar.finalize(job_id, 0, 1, friends_merge, [friend_id])  # the friend takes the whole share

    wait_for(lambda: miner.step() or requester.stake_of(liar.signer.address).slashed, 60, "the omission report",
             poll_s=0.2)
    assert requester.version_of(job_id, 0) == 0  # the merge rolled back
    (reported,) = [e for e in requester.logs(devnet.deploy_block, requester.w3.eth.block_number, ["OmissionReported"])
                   if e.args["deltaId"] == honest_id]
    assert reported.args["reporter"] == miner.address
    assert [requester.delta(i).state for i in (honest_id, friend_id)] == [DeltaState.PASSED] * 2  # merged again later
    # It trained on the liar's merge while that could still be undone, held the delta back, and dropped it once
    # the merge was rolled back: it trains again when version 1 is merged anew.
    on_v1 = [r.getMessage().split(":")[1].split(" in ")[0] for r in caplog.records
             if r.getMessage().startswith(f"job {job_id} expert 0 v1:")]
    # (its rebuild of the liar's checkpoint from the deltas the merge lists did not give the merged CID)
    assert on_v1[0].startswith(" the rebuilt checkpoint is ") and on_v1[1:] == [
        " trained 4 steps", " the merge it trained on was rolled back; training again"], on_v1
    assert miner.journal.get(job_id, 0, 1) is None
    assert requester.delta(requester.delta_id_of(job_id, 0, 1, miner.address)).state == DeltaState.NONE
    store.close()


def test_the_aggregator_daemon_decides_what_validators_left_undecided_and_merges_it(devnet: DevnetInfo,
                                                                                    tmp_path: Path) -> None:
    requester, validator = (Chain(devnet.rpc_url, devnet.contract, devnet_account(i)) for i in (1, 4))
    if not validator.stake_of(validator.signer.address).roles & ROLE_VALIDATOR:  # the devnet's validator-1
        validator.stake(ROLE_VALIDATOR, wei=ETH)
    store = IpfsStore(devnet.ipfs_api)
    spec, base = tiny_spec(store, "undecided", 16, 29)
    job_id = open_job(devnet, store, spec)
    aggregator = funded_chain(devnet)
    requester.set_aggregator(job_id, aggregator.signer.address)  # the daemon follows the job's new aggregator
    delta_id = _trained_and_revealed(funded_chain(devnet), store, spec, base, job_id, tmp_path / "miner")
    validator.commit_vote(delta_id, True, 1000, SALT)
    revealed_at = requester.delta(delta_id).revealed_at
    warp_to(requester, revealed_at + requester.vote_window + 1)
    validator.reveal_vote(delta_id, True, 1000, SALT)
    warp_to(requester, revealed_at + 2 * requester.vote_window + 1)  # decidable; nobody decided it
    assert requester.delta(delta_id).state == DeltaState.SUBMITTED

    daemon = AggregatorDaemon(aggregator, store, tmp_path / "aggregator", devnet.deploy_block, {job_id})
    wait_for(lambda: daemon.step() or requester.version_of(job_id, 0) == 1, 60, "the merge", poll_s=0.2)
    assert requester.delta(delta_id).state == DeltaState.MERGED
    store.close()


def test_a_miner_trains_a_second_lane_while_its_delta_is_checked_and_both_are_merged(devnet: DevnetInfo,
                                                                                    tmp_path: Path) -> None:
    store = IpfsStore(devnet.ipfs_api)
    spec, _ = tiny_spec(store, "lanes", 16, 31)
    job_id = open_job(devnet, store, spec, rounds=2)
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    miner = merge_one_round(devnet, requester, job_id, tmp_path, timeout_s=300, version=2)
    cursor = EventCursor(devnet.deploy_block)
    submitted = {(e.args["baseVersion"], e.args["lane"]): e.args for e in requester.events(cursor, {"DeltaSubmitted"})
                 if e.args["jobId"] == job_id and e.args["miner"] == miner.address}
    # A second delta on v0 while the first was checked; none on v1, the last version, which no later merge takes.
    assert set(submitted) == {(0, 0), (0, 1), (1, 0)}
    assert len({a["traceRoot"] for a in submitted.values()}) == 3  # lane 1 trained on other data draws
    merged = [d for e in requester.events(EventCursor(devnet.deploy_block), {"ExpertFinalized"})
              if e.args["jobId"] == job_id for d in e.args["mergedDeltaIds"]]
    assert sorted(merged) == sorted(a["deltaId"] for a in submitted.values())  # each merged once, lane 1 too
    assert requester.delta(submitted[(0, 1)]["deltaId"]).lane == 1
    store.close()


def test_a_miner_stops_a_delta_no_merge_can_take_and_comes_to_rest(devnet: DevnetInfo, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="paris_node.roles.miner_daemon")
    store = IpfsStore(devnet.ipfs_api)
    spec, _ = tiny_spec(store, "superseded", 16, 37)
    job_id = open_job(devnet, store, spec)  # one round: its first merge finishes the job
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    stopped: list[Superseded] = []

    def trainer(*args: Any) -> Any:
        *head, between = args

        def others_merged_first() -> None:  # after the first of two segments, another miner's delta merges
            merge_one_round(devnet, requester, job_id, tmp_path / "others")
            between()  # the merge may still be disputed: training goes on
            warp(requester, requester.vote_window + 1)  # now it can no longer roll back
            between()

        try:
            return train_round(*head, others_merged_first)
        except Superseded as exc:
            stopped.append(exc)
            raise

    miner = MinerDaemon(funded_chain(devnet), store, tmp_path / "miner", devnet.deploy_block, {job_id},
                        trainer=trainer)
    wait_for(lambda: miner.step() or stopped, 300, "the miner's training to stop", poll_s=0.2)
    assert requester.version_of(job_id, 0) == 1
    assert len(stopped) == 1 and "the expert is at v1 of 1 rounds" in str(stopped[0])  # nor started again
    assert miner.journal.get(job_id, 0, 0) is None and not miner.journal.round_dir(job_id, 0, 0, 0).exists()
    assert any("stopped training lane 0, no merge can take it" in r.getMessage() for r in caplog.records)
    assert requester.delta(requester.delta_id_of(job_id, 0, 0, miner.address)).state == DeltaState.NONE
    miner.step()  # reads the merge's events
    miner.step()
    assert miner.at_rest() and miner.quiet_passes > 0 and miner.training is None
    store.close()


def _trained_and_revealed(miner: Chain, store: IpfsStore, spec: JobSpec, base: Checkpoint, job_id: int,
                          work_dir: Path) -> int:
    """Stake, train a round honestly on expert 0, submit it and reveal what is challenged; the delta's id."""
    miner.stake(ROLE_MINER, wei=ETH)
    work, _ = train_round(spec, ClipSet.from_bytes(store.get(spec.shards[0])), base, job_id, miner.signer.address,
                          None, work_dir)
    delta_id = miner.submit_delta(job_id, 0, 0, store.add(work.delta), work.trace_root, work.segments)
    miner.w3.provider.make_request("anvil_mine", [3])
    miner.fix_challenge(delta_id)
    challenged = miner.challenged_segments(delta_id)
    miner.reveal(delta_id, store.add(kept_reveal(work_dir, work.digests, challenged).to_bytes()))
    return delta_id
