"""Validators answer for their votes, on the devnet with real validator daemons.

An honest miner and a cheating one (its reveal is garbage) each submit a delta. Three validators vote on both:
an honest one with 3 ETH of stake, a lazy one that passes everything without fetching or replaying (the demo's)
and a Sybil that fails everything, with the minimum stake each. Votes are sealed, opened and decided by stake:
the honest miner's delta passes and is merged and paid, the cheat fails and is slashed, and the lazy validator
(it passed the cheat) and the Sybil (it failed the honest delta) each lose their whole stake.
"""

from __future__ import annotations

import time
from pathlib import Path

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain, DeltaState
from paris_node.market.index import MarketIndex
from paris_node.roles.aggregator import merge_round
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
                                           ("sybil", SybilValidator, ETH))}
    clock = validators["honest"].chain
    deadline = time.monotonic() + 180
    while True:
        for miner in (honest, cheat):
            miner.reveal(0)
        for validator in validators.values():
            validator.step()
        stages = [v.records[i].stage if i in v.records else "pending" for v in validators.values() for i in ids]
        if all(stage == "done" for stage in stages):
            break
        assert time.monotonic() < deadline, {n: [(r.stage, r.notes[-1:]) for r in v.records.values()]
                                             for n, v in validators.items()}
        if all(stage in ("committed", "opened", "done") for stage in stages):
            warp(clock, clock.vote_window // 2)  # every vote is sealed: on through the vote phases
        time.sleep(0.3)

    honest_id, cheat_id = ids
    assert clock.delta(honest_id).state == DeltaState.PASSED
    assert clock.delta(cheat_id).state == DeltaState.SLASHED
    assert cheat.chain.stake_of(cheat.address).slashed
    for name in ("lazy", "sybil"):
        stake = clock.stake_of(validators[name].address)
        assert stake.slashed and stake.amount == 0, name
        assert validators[name].slashed or validators[name].chain.stake_of(validators[name].address).slashed
    assert not clock.stake_of(validators["honest"].address).slashed
    notes = [n for r in validators["honest"].records.values() for n in r.notes]
    assert sum("slashed validator" in n for n in notes) == 2, notes
    assert clock.owed(validators["honest"].address) + _withdrawn(validators["honest"]) >= ETH  # half of each

    aggregator = Chain(devnet.rpc_url, devnet.contract, devnet_account(2))
    merged = merge_round(MarketIndex(aggregator, devnet.deploy_block), market.store, market.spec, market.job_id, 0)
    assert merged.args["mergedDeltaIds"] == [honest_id]
    warp(aggregator, aggregator.vote_window + 1)  # past the merge's dispute window
    aggregator.claim([honest_id])
    assert honest.chain.withdraw() == clock.delta(honest_id).payout > 0


def _withdrawn(validator: ValidatorDaemon) -> int:
    """What the validator daemon already withdrew (it withdraws what it is owed on every pass)."""
    return sum(e.args["amount"] for e in validator.chain.logs(0, validator.chain.w3.eth.block_number, ["Withdrawn"])
               if e.args["account"] == validator.address)
