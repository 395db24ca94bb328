"""Useful-work score: how much a delta lowers the expert's flow-matching loss on clips the miner did not
train on, with the clips drawn from the delta's challenge seed, unknown when it was submitted.

The held-out clips come from the expert's evaluation set when the job has one (clips held out of the shard
when the job was made, which no miner is ever assigned); otherwise they are those of the expert's shard that
were never in this miner's assigned batches this round. The seed picks `HELD_OUT_CLIPS` of them. Each clip's
noise and times come from the clip and the base checkpoint, not from the delta, so the base's loss on a clip
is computed once (`BaseLosses`) and shared by every delta scored on that base: a delta costs one forward
pass of its own. The score is the relative improvement (L(base) - L(base - delta)) / L(base) in units of
1/MAX_SCORE, at least 1 for a delta that passed (so it counts in the score-weighted merge), at most MAX_SCORE.
A delta that makes the loss more than `HARMFUL_RATIO` times worse fails: training that replays correctly
cannot do that, a poisoned update can.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import torch

from paris_node.data.assignment import assigned_indices
from paris_node.data.clips import ClipSet
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.evaluate import clip_losses
from paris_node.learning.jobspec import JobSpec, lane_steps
from paris_validator.checks import CheckFailed, Submission

MAX_SCORE = 10_000
HELD_OUT_CLIPS = 16
DRAWS = 1  # noise/time draws per clip: both losses share them, so their difference is what varies (economics.md)
HARMFUL_RATIO = 1.5
CHUNK = 8  # base losses are computed over fixed runs of the pool's clips, so their batches never depend on a delta


@dataclass(frozen=True)
class UsefulWork:
    loss_before: float
    loss_after: float
    score: int


@dataclass(frozen=True)
class HeldOut:
    """The clips a delta is scored on: indices into `pool`, which is the evaluation set or the shard."""

    pool: ClipSet
    indices: list[int]
    from_evals: bool

    @property
    def videos(self) -> torch.Tensor:
        return self.pool.videos[self.indices]


def held_out_clips(spec: JobSpec, shard: ClipSet, sub: Submission, seed: bytes,
                   evals: ClipSet | None = None) -> HeldOut:
    """Clips nobody trained on, chosen by the challenge seed: from the evaluation set when given, else the
    shard's clips outside this miner's round (the whole shard when the round saw every clip)."""
    if evals is not None:
        pool, candidates = evals, list(range(len(evals)))
    else:
        seen: set[int] = set()
        for step in lane_steps(spec, sub.lane):
            seen.update(assigned_indices(spec.job_seed, sub.miner, sub.expert, sub.base_version, step,
                                         len(shard), spec.batch).tolist())
        pool = shard
        candidates = [i for i in range(len(shard)) if i not in seen] or list(range(len(shard)))
    order = torch.randperm(len(candidates), generator=torch.Generator().manual_seed(int.from_bytes(seed[:8], "big")))
    return HeldOut(pool, sorted(candidates[i] for i in order[:HELD_OUT_CLIPS].tolist()), evals is not None)


def clip_seeds(spec: JobSpec, sub: Submission, held: HeldOut, indices: list[int]) -> list[int]:
    """Each clip's noise seed: its place in the pool and the base checkpoint, the same for every delta."""
    pool = "evals" if held.from_evals else "shard"
    return [int.from_bytes(hashlib.sha256(f"paris/eval/v1/{spec.job_seed}/{sub.expert}/{sub.base_version}/"
                                          f"{pool}/{i}".encode()).digest()[:8], "big") for i in indices]


class BaseLosses:
    """Per-clip losses of the base checkpoints scored most recently (at most `keep` of them)."""

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self._losses: OrderedDict[tuple[int, int, int, bool, int], dict[int, float]] = OrderedDict()

    def of(self, spec: JobSpec, base: Checkpoint, sub: Submission, held: HeldOut, draws: int) -> torch.Tensor:
        """The base's loss on each of `held`'s clips, computing only the pool's chunks not seen before."""
        key = (sub.job_id, sub.expert, sub.base_version, held.from_evals, draws)
        known = self._losses.setdefault(key, {})
        self._losses.move_to_end(key)
        while len(self._losses) > self.keep:
            self._losses.popitem(last=False)
        for start in sorted({i - i % CHUNK for i in held.indices if i not in known}):
            chunk = list(range(start, min(start + CHUNK, len(held.pool))))
            losses = clip_losses(spec.model, base.weights, held.pool.videos[chunk],
                                 clip_seeds(spec, sub, held, chunk), draws)
            known.update(zip(chunk, losses.tolist(), strict=True))
        return torch.tensor([known[i] for i in held.indices], dtype=torch.float64)


def useful_work(spec: JobSpec, shard: ClipSet, base: Checkpoint, update: dict[str, torch.Tensor],
                sub: Submission, seed: bytes, draws: int = DRAWS, evals: ClipSet | None = None,
                base_losses: BaseLosses | None = None) -> UsefulWork:
    held = held_out_clips(spec, shard, sub, seed, evals)
    after = {name: base.weights[name] - update[name] for name in base.weights}
    before_loss = float((base_losses or BaseLosses()).of(spec, base, sub, held, draws).mean())
    after_loss = float(clip_losses(spec.model, after, held.videos, clip_seeds(spec, sub, held, held.indices),
                                   draws).mean())
    if not after_loss <= HARMFUL_RATIO * before_loss:
        raise CheckFailed("harmful", f"held-out loss {before_loss:.4f} -> {after_loss:.4f} with the delta applied")
    improvement = (before_loss - after_loss) / before_loss
    return UsefulWork(before_loss, after_loss, max(1, min(MAX_SCORE, round(improvement * MAX_SCORE))))
