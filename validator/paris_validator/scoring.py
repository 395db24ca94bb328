"""Useful-work score: how much a delta lowers the expert's flow-matching loss on clips the miner did not
train on, with clips, noise and times drawn from the delta's challenge seed, unknown when it was submitted.

The held-out clips come from the expert's evaluation set when the job has one (clips held out of the shard
when the job was made, which no miner is ever assigned); otherwise they are those of the expert's shard that
were never in this miner's assigned batches this round. The seed picks `HELD_OUT_CLIPS` of them. The
score is the relative improvement (L(base) - L(base - delta)) / L(base) in units of 1/MAX_SCORE, at least 1
for a delta that passed (so it counts in the score-weighted merge), at most MAX_SCORE. A delta that makes
the loss more than `HARMFUL_RATIO` times worse fails: training that replays correctly cannot do that, a
poisoned update can.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from paris_node.data.assignment import assigned_indices
from paris_node.data.clips import ClipSet
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.evaluate import held_out_loss
from paris_node.learning.jobspec import JobSpec
from paris_validator.checks import CheckFailed, Submission

MAX_SCORE = 10_000
HELD_OUT_CLIPS = 16
DRAWS = 1  # noise/time draws per clip: both losses share them, so their difference is what varies (economics.md)
HARMFUL_RATIO = 1.5


@dataclass(frozen=True)
class UsefulWork:
    loss_before: float
    loss_after: float
    score: int


def held_out_clips(spec: JobSpec, shard: ClipSet, sub: Submission, seed: bytes,
                   evals: ClipSet | None = None) -> torch.Tensor:
    """Clips nobody trained on, chosen by the challenge seed: from the evaluation set when given, else the
    shard's clips outside this miner's round (the whole shard when the round saw every clip)."""
    if evals is not None:
        pool, candidates = evals, torch.arange(len(evals))
    else:
        seen: set[int] = set()
        for step in range(spec.local_steps):
            seen.update(assigned_indices(spec.job_seed, sub.miner, sub.expert, sub.base_version, step,
                                         len(shard), spec.batch).tolist())
        pool = shard
        candidates = torch.tensor([i for i in range(len(shard)) if i not in seen] or list(range(len(shard))))
    order = torch.randperm(len(candidates), generator=torch.Generator().manual_seed(_seed_int(seed)))
    return pool.videos[candidates[order[:HELD_OUT_CLIPS]]]


def _seed_int(seed: bytes) -> int:
    return int.from_bytes(seed[:8], "big")


def useful_work(spec: JobSpec, shard: ClipSet, base: Checkpoint, update: dict[str, torch.Tensor],
                sub: Submission, seed: bytes, draws: int = DRAWS, evals: ClipSet | None = None) -> UsefulWork:
    videos = held_out_clips(spec, shard, sub, seed, evals)
    after = {name: base.weights[name] - update[name] for name in base.weights}
    before_loss = held_out_loss(spec.model, base.weights, videos, _seed_int(seed[8:]), draws)
    after_loss = held_out_loss(spec.model, after, videos, _seed_int(seed[8:]), draws)
    if not after_loss <= HARMFUL_RATIO * before_loss:
        raise CheckFailed("harmful", f"held-out loss {before_loss:.4f} -> {after_loss:.4f} with the delta applied")
    improvement = (before_loss - after_loss) / before_loss
    return UsefulWork(before_loss, after_loss, max(1, min(MAX_SCORE, round(improvement * MAX_SCORE))))
