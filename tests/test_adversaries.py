"""The adversary catalogue, on the devnet with the real validator daemon.

`Honest` is a miner that does what the protocol asks; each cheat is a small subclass that changes one
thing. Round 0: two honest miners, merged. Round 1: the same honest miners (their error feedback now
carries over) and every cheat, all on base version 1. The validator must pass the honest deltas, fail
every cheat with the check that names it, and slash it; the aggregator must merge only the honest ones.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
import torch
from multiformats import CID, multihash
from safetensors.torch import save_file

from paris_node.content import tensorfile
from paris_node.content.store import IpfsStore
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.delta import FORMATS, encode
from paris_node.learning.train import TrainState, state_hash
from paris_node.market.chain import Chain, DeltaState, cid_from_chain
from paris_node.market.index import MarketIndex
from paris_node.roles.aggregator import merge_round
from paris_node.roles.miner import RoundWork, load_state, state_file, train_round
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_validator.daemon import ValidatorDaemon

from helpers.chain import warp
from helpers.miners import REVEAL_WINDOW_S, Honest, Market, open_market

# ------------------------------------------------------------------ the catalogue: one cheat per class


class RandomDelta(Honest):
    """Posts noise shaped like the model instead of its update."""

    def delta(self, work: RoundWork, base: Checkpoint) -> bytes:
        noise = {n: 1e-3 * torch.randn(t.shape, generator=torch.Generator().manual_seed(1)) for n, t in
                 base.weights.items()}
        return encode(noise, self.header(base), self.market.spec.codec)[0]


class LazyMiner(Honest):
    """Claims k steps per segment but runs k - 1."""

    def train(self, base: Checkpoint) -> tuple[RoundWork, dict[str, torch.Tensor]]:
        spec = self.market.spec
        lazy = dataclasses.replace(spec, segment_steps=spec.segment_steps - 1,
                                   local_steps=spec.segments * (spec.segment_steps - 1))
        return train_round(lazy, synthetic_set(24, 4), base, self.market.job_id, self.address, self.error,
                           self.states_dir(base.version))


class CheapPrecision(Honest):
    """Runs the claimed steps in bf16 instead of the fp32 the job asks for (cheaper, and not the same training)."""

    def train(self, base: Checkpoint) -> tuple[RoundWork, dict[str, torch.Tensor]]:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return super().train(base)


class StaleBase(Honest):
    """Trains from an old checkpoint (version 0) and submits it as an update of the current one."""

    def train(self, base: Checkpoint) -> tuple[RoundWork, dict[str, torch.Tensor]]:
        old = self.market.checkpoints[0]
        relabelled = dataclasses.replace(old, version=base.version)
        return train_round(self.market.spec, synthetic_set(24, 4), relabelled, self.market.job_id, self.address,
                           self.error, self.states_dir(base.version))


class CopyCat(Honest):
    """Copies another miner's trace and states, posting the delta under its own name."""

    def __init__(self, market: Market, name: str, victim: Honest) -> None:
        super().__init__(market, name)
        self.victim = victim

    def train(self, base: Checkpoint) -> tuple[RoundWork, dict[str, torch.Tensor]]:
        _, work, states_dir = self.victim.rounds[base.version]
        mine = self.states_dir(base.version)
        mine.mkdir(parents=True, exist_ok=True)
        for leaf in range(work.segments + 1):
            state_file(mine, leaf).write_bytes(state_file(states_dir, leaf).read_bytes())
        return work, {}

    def delta(self, work: RoundWork, base: Checkpoint) -> bytes:
        return encode(self.final_update(work, base), self.header(base), self.market.spec.codec)[0]


class ScaledDelta(Honest):
    """Multiplies its honest update by 10 to weigh more in the merge."""

    def delta(self, work: RoundWork, base: Checkpoint) -> bytes:
        update = {n: 10 * t for n, t in self.final_update(work, base).items()}
        return encode(update, self.header(base), self.market.spec.codec)[0]


class PoisonedDelta(Honest):
    """Adds a targeted change (a backdoor-like spike on a few weights) to its honest update."""

    def delta(self, work: RoundWork, base: Checkpoint) -> bytes:
        update = self.final_update(work, base)
        name = sorted(update)[0]
        update[name].view(-1)[:8] += 0.5
        return encode(update, self.header(base), self.market.spec.codec)[0]


class NaNDelta(Honest):
    """A well-formed file whose scales are NaN."""

    def delta(self, work: RoundWork, base: Checkpoint) -> bytes:
        metadata, tensors = tensorfile.load(work.delta, FORMATS[self.market.spec.codec.version])
        tensors["scale"][0] = float("nan")
        return tensorfile.dump(tensors, metadata)


class OversizedDelta(Honest):
    """A file larger than the job's delta limit."""

    def delta(self, work: RoundWork, base: Checkpoint) -> bytes:
        return work.delta + bytes(self.market.spec.max_delta_bytes)


class MalformedDelta(Honest):
    """Bytes that are not a delta file at all."""

    def delta(self, work: RoundWork, base: Checkpoint) -> bytes:
        return b"definitely not safetensors" * 100


class CidMismatch(Honest):
    """Puts a CID on chain whose content is not what it uploaded (one digest byte changed)."""

    def publish(self, data: bytes) -> CID:
        cid = super().publish(data)
        digest = bytearray(cid.raw_digest)
        digest[0] ^= 0xFF
        return CID("base32", 1, cid.codec, multihash.wrap(bytes(digest), "sha2-256"))


class ForgedTrace(Honest):
    """Trains to a real final state but fabricates the intermediate states it claims (interpolation)."""

    def train(self, base: Checkpoint) -> tuple[RoundWork, dict[str, torch.Tensor]]:
        work, carried = super().train(base)
        states_dir = self.states_dir(base.version)
        first, last = load_state(states_dir, 0), load_state(states_dir, work.segments)
        digests = list(work.digests)
        for leaf in range(1, work.segments):
            w = leaf / work.segments
            fake = TrainState({n: (1 - w) * first.weights[n] + w * last.weights[n] for n in first.weights},
                              {n: w * t for n, t in last.moments.items()}, leaf * self.market.spec.segment_steps)
            save_file(fake.tensors(), str(state_file(states_dir, leaf)))
            digests[leaf] = state_hash(fake)
        return dataclasses.replace(work, digests=digests), carried


class ForgedFinal(Honest):
    """Trains honestly, then commits a final state of its choosing: base - 3 x its update (a delta worth 3x).
    Before the last segment was always challenged, this passed every check whenever it was not drawn."""

    def train(self, base: Checkpoint) -> tuple[RoundWork, dict[str, torch.Tensor]]:
        work, carried = super().train(base)
        states_dir = self.states_dir(base.version)
        final = load_state(states_dir, work.segments)
        forged = TrainState({n: base.weights[n] - 3 * (base.weights[n] - t) for n, t in final.weights.items()},
                            final.moments, final.step)
        save_file(forged.tensors(), str(state_file(states_dir, work.segments)))
        digests = list(work.digests)
        digests[work.segments] = state_hash(forged)
        return dataclasses.replace(work, digests=digests), carried

    def delta(self, work: RoundWork, base: Checkpoint) -> bytes:
        return encode(self.final_update(work, base), self.header(base), self.market.spec.codec)[0]


class WrongData(Honest):
    """Trains on clips assigned to another address, then signs the delta as itself."""

    def train(self, base: Checkpoint) -> tuple[RoundWork, dict[str, torch.Tensor]]:
        return train_round(self.market.spec, synthetic_set(24, 4), base, self.market.job_id,
                           devnet_account(0).address, self.error, self.states_dir(base.version))

    def delta(self, work: RoundWork, base: Checkpoint) -> bytes:
        return encode(self.final_update(work, base), self.header(base), self.market.spec.codec)[0]


class WithheldReveal(Honest):
    """Never reveals the challenged states."""

    def reveal(self, version: int) -> bool:
        return True


class MalformedReveal(Honest):
    """Reveals on time, but the revealed file is garbage."""

    def reveal_bytes(self, work: RoundWork, states_dir: Path, challenged: list[int]) -> bytes:
        return b"not a reveal"


CATALOGUE = {  # cheat -> the check that must catch it
    RandomDelta: "delta-vs-trace", LazyMiner: "replay", CheapPrecision: "replay", StaleBase: "base", CopyCat: "replay",
    ScaledDelta: "delta-vs-trace", PoisonedDelta: "delta-vs-trace", NaNDelta: "delta-file",
    OversizedDelta: "size", MalformedDelta: "delta-file", CidMismatch: "availability", ForgedTrace: "replay",
    ForgedFinal: "replay",
    WrongData: "replay", WithheldReveal: "withheld-reveal", MalformedReveal: "reveal-format",
}


BACKLOG = 2  # reveals waiting for a check: the validator checks one a pass, each within its 8 s commit phase


def _run_until(validator: ValidatorDaemon, miners: list[Honest], version: int, ids: set[int], timeout_s: float,
               late: frozenset[int] = frozenset()) -> None:
    """Drive reveals and validator passes until every delta in `ids` is done. `late` deltas can only be decided
    once their windows are over (a withheld reveal, content never published): when everything else is done,
    the chain's clock moves past twice the reveal window, as a real chain's would while they wait. Once every
    other vote is sealed, the clock moves on through the vote phases in the same way."""
    deadline = time.monotonic() + timeout_s
    warped = not late
    while time.monotonic() < deadline:
        seen = {i for i, r in validator.records.items() if r.reveal_cid}  # reveals the validator has read
        waiting = sum(validator.records[i].stage == "pending" for i in seen)
        revealing = [m for m in miners if version in m.rounds and m.rounds[version][0] not in seen]
        for miner in revealing[:max(0, BACKLOG - waiting)]:  # as fast as they are checked: none misses its window
            miner.reveal(version)
        validator.step()
        records = validator.records
        if ids <= records.keys() and all(records[i].stage == "done" for i in ids):
            return
        if not warped and ids <= records.keys() and all(records[i].stage == "done" for i in ids - late):
            warp(validator.chain, 2 * REVEAL_WINDOW_S + 1)
            warped = True
        elif ids <= records.keys() and all(records[i].stage in ("committed", "opened", "done") for i in ids - late):
            warp(validator.chain, validator.chain.vote_window // 2)  # every vote is sealed: on to the next phase
        time.sleep(0.3)
    raise AssertionError("timed out; records: " + "; ".join(
        f"{r.miner} {r.stage} {r.check} {r.notes[-1:] }" for r in validator.records.values()))


@pytest.fixture
def market(devnet: DevnetInfo, tmp_path: Path) -> Market:
    return open_market(devnet, tmp_path, rounds=2)


def test_every_cheat_is_caught_slashed_and_never_merged(market: Market) -> None:
    devnet = market.devnet
    validator = ValidatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(3)),
                                IpfsStore(devnet.ipfs_api, timeout_s=1.0), market.work_dir / "validator",
                                devnet.deploy_block, jobs={market.job_id})
    aggregator = Chain(devnet.rpc_url, devnet.contract, devnet_account(2))
    index = MarketIndex(aggregator, devnet.deploy_block)
    honest = [Honest(market, "honest-a"), Honest(market, "honest-b")]

    round0 = {miner.submit(0) for miner in honest}
    _run_until(validator, honest, 0, round0, 60)
    merged0 = merge_round(index, market.store, market.spec, market.job_id, 0)
    assert sorted(merged0.args["mergedDeltaIds"]) == sorted(round0)
    market.checkpoints[1] = Checkpoint.from_bytes(market.store.get(
        cid_from_chain(merged0.args["checkpointDigest"], merged0.args["checkpointCodec"])))

    cheats = [cls(market, cls.__name__, honest[0]) if cls is CopyCat else cls(market, cls.__name__)
              for cls in CATALOGUE]
    warp(aggregator, aggregator.vote_window + 1)  # deltas on checkpoint 1 wait until its merge is settled
    honest_ids = {miner.submit(1) for miner in honest}
    cheat_ids = {cheat.submit(1): cheat for cheat in cheats}
    everyone = honest_ids | cheat_ids.keys()
    late = frozenset(i for i, cheat in cheat_ids.items() if isinstance(cheat, WithheldReveal))
    _run_until(validator, [*honest, *cheats], 1, everyone, 150, late)

    for delta_id in honest_ids:
        record = validator.records[delta_id]
        assert record.passed and record.score >= 1, record
        assert validator.chain.delta(delta_id).state == DeltaState.PASSED
    for delta_id, cheat in cheat_ids.items():
        record = validator.records[delta_id]
        assert (record.passed, record.check) == (False, CATALOGUE[type(cheat)]), (type(cheat).__name__, record)
        assert record.outcome == "failed; slashed" and record.evidence_cid
        assert validator.chain.delta(delta_id).state == DeltaState.SLASHED, type(cheat).__name__
        assert cheat.chain.stake_of(cheat.address).slashed

    merged1 = merge_round(index, market.store, market.spec, market.job_id, 0)
    assert sorted(merged1.args["mergedDeltaIds"]) == sorted(honest_ids)
