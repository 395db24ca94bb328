"""Validators answer for their votes, on the devnet with real validator daemons.

An honest miner and a cheating one (its reveal is garbage) each submit a delta. Three validators vote on both:
an honest one with 3 ETH of stake, a lazy one that passes everything without fetching or replaying (the demo's)
and a Sybil that fails everything, with the minimum stake each. Votes are sealed, opened and decided by stake:
the honest miner's delta passes and is merged and paid, the cheat fails and is slashed, and the lazy validator
(it passed the cheat) and the Sybil (it failed the honest delta) each lose their whole stake.

Then the aggregator records a checkpoint of its own for the honest delta: both honest validators rebuild the
merge and refute it, one disputes it on chain, the other's committee vote fails it, and the merge is rolled
back with the aggregator's bond slashed; a new aggregator merges again and the miner is paid.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain, DeltaState
from paris_node.market.index import MarketIndex
from paris_node.roles.aggregator import bond_as_aggregator, merge_round
from paris_node.roles.miner import RoundWork
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_sdk.demo_lazy_validator import LazyValidator
from paris_validator.checks import CheckFailed
from paris_validator.daemon import DeltaRecord, Pending, ValidatorDaemon

from helpers.chain import ETH, funded_chain, warp
from helpers.miners import Honest, open_market


class GarbageReveal(Honest):
    """Reveals on time, but the revealed file is garbage: any validator that opens it fails the delta."""

    def reveal_bytes(self, work: RoundWork, states_dir: Path, challenged: list[int]) -> bytes:
        return b"not a reveal"


class SybilValidator(ValidatorDaemon):
    """Fails every revealed delta, to slash honest miners and keep half their stake."""

    def _verify(self, record: DeltaRecord) -> int:
        if not record.reveal_cid:
            raise Pending("waiting for the reveal")
        raise CheckFailed("sybil", "fails every delta")


def test_lazy_and_sybil_validators_lose_their_stake_and_the_honest_miner_is_paid(devnet: DevnetInfo,
                                                                                 tmp_path: Path) -> None:
    market = open_market(devnet, tmp_path, rounds=1)
    honest, cheat = Honest(market, "honest"), GarbageReveal(market, "cheat")
    ids = {honest.submit(0): "honest", cheat.submit(0): "cheat"}
    validators = {name: cls(funded_chain(devnet), IpfsStore(devnet.ipfs_api, timeout_s=5.0), tmp_path / name,
                            devnet.deploy_block, jobs={market.job_id}, stake_wei=stake)
                  for name, cls, stake in (("honest", ValidatorDaemon, 3 * ETH), ("lazy", LazyValidator, ETH),
                                           ("sybil", SybilValidator, ETH), ("honest2", ValidatorDaemon, ETH))}
    clock = validators["honest"].chain
    _until_done(validators, list(ids), [honest, cheat])

    honest_id, cheat_id = ids
    assert clock.delta(honest_id).state == DeltaState.PASSED
    assert clock.delta(cheat_id).state == DeltaState.SLASHED
    assert cheat.chain.stake_of(cheat.address).slashed
    for name in ("lazy", "sybil"):
        stake = clock.stake_of(validators[name].address)
        assert stake.slashed and stake.amount == 0, name
        assert validators[name].slashed or validators[name].chain.stake_of(validators[name].address).slashed
    assert not clock.stake_of(validators["honest"].address).slashed
    notes = [n for name in ("honest", "honest2") for r in validators[name].records.values() for n in r.notes]
    assert sum("slashed validator" in n for n in notes) == 2, notes
    assert not clock.stake_of(validators["honest2"].address).slashed

    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    aggregator = funded_chain(devnet)  # a fresh account: the devnet's own aggregator serves the other tests
    requester.set_aggregator(market.job_id, aggregator.signer.address)
    bond_as_aggregator(aggregator)
    forged = dataclasses.replace(market.checkpoints[0], version=1)  # the miner's work dropped
    aggregator.finalize(market.job_id, 0, 1, market.store.add(forged.to_bytes()), [honest_id])
    del validators["lazy"], validators["sybil"]  # slashed: they act no more
    disputes = _until_disputed(validators, market.job_id)
    _until_done(validators, disputes, [])
    assert clock.version_of(market.job_id, 0) == 0  # the merge rolled back
    assert clock.delta(honest_id).state == DeltaState.PASSED and clock.stake_of(aggregator.signer.address).slashed
    outcomes = [v.records[disputes[0]].outcome for v in validators.values()]
    assert set(outcomes) == {"dispute upheld: the merge rolled back, its aggregator slashed"}, outcomes
    audits = [a.outcome for v in validators.values() for a in v.auditor.audits.values()]
    assert all(a.startswith("refuted (rebuilding v1 from v0") for a in audits) and len(audits) == 2, audits
    latest = clock.w3.eth.block_number
    (resolved,) = clock.logs(0, latest, ["DisputeResolved"])
    assert resolved.args["paidTo"] == validators["honest"].address  # the first to audit disputed
    assert resolved.args["amount"] == ETH + ETH // 2  # its bond back and half the aggregator's stake
    (collected,) = [e for e in clock.logs(0, latest, ["Collected"]) if e.args["deltaId"] == disputes[0]]
    assert (collected.args["validator"], collected.args["slashShare"]) == (validators["honest2"].address, ETH // 2)

    successor = funded_chain(devnet)
    requester.set_aggregator(market.job_id, successor.signer.address)
    merged = merge_round(MarketIndex(successor, devnet.deploy_block), market.store, market.spec, market.job_id, 0)
    assert merged.args["mergedDeltaIds"] == [honest_id]
    warp(successor, successor.vote_window + 1)  # past the merge's dispute window
    successor.claim([honest_id])
    assert honest.chain.withdraw() == clock.delta(honest_id).payout > 0


def _until_done(validators: dict[str, ValidatorDaemon], ids: list[int], miners: list[Honest]) -> None:
    """Step the miners and validators until every validator is done with `ids`, warping through vote phases."""
    clock = next(iter(validators.values())).chain
    deadline = time.monotonic() + 180
    while True:
        for miner in miners:
            miner.reveal(0)
        for validator in validators.values():
            validator.step()
        stages = [v.records[i].stage if i in v.records else "pending" for v in validators.values() for i in ids]
        if all(stage == "done" for stage in stages):
            return
        assert time.monotonic() < deadline, {n: [(r.stage, r.notes[-1:]) for r in v.records.values()]
                                             for n, v in validators.items()}
        if all(stage in ("committed", "opened", "done") for stage in stages):
            warp(clock, clock.vote_window // 2)  # every vote is sealed: on through the vote phases
        time.sleep(0.3)


def _until_disputed(validators: dict[str, ValidatorDaemon], job_id: int) -> list[int]:
    """Step the validators until one of them disputed the job's merge; the dispute's id."""
    deadline = time.monotonic() + 60
    while not (found := [d.delta_id for d in next(iter(validators.values())).index.disputes if d.job_id == job_id]):
        assert time.monotonic() < deadline, [a for v in validators.values() for a in v.auditor.audits.values()]
        for validator in validators.values():
            validator.step()
    return found

