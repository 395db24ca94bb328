"""Evaluation sets: clips held out of each shard when a job is made, never assigned to a miner, which the
useful-work score is measured on; and job specs that carry them (or, written before, do not)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from paris_node.data.shards import hold_out
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.jobspec import JobSpec, JobSpecError
from paris_node.model.dit import named_config
from paris_validator.checks import Submission
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.evaluate import clip_losses
from paris_node.model.dit import VideoDiT
from paris_validator.scoring import BaseLosses, held_out_clips, useful_work

SPEC = JobSpec(name="evals", model=named_config("tiny"), shards=("a", "b"), initial=("c", "d"), job_seed=1)


def test_one_clip_in_eight_of_every_shard_is_held_out_and_small_shards_keep_all() -> None:
    shards = [synthetic_set(17, 1), synthetic_set(8, 2, start=17)]
    kept, evals = hold_out(shards)
    assert [len(s) for s in kept] == [14, 7] and [len(e) for e in evals] == [3, 1]
    for shard, train, held in zip(shards, kept, evals, strict=True):
        assert set(train.names).isdisjoint(held.names) and set(train.names) | set(held.names) == set(shard.names)
    small = [synthetic_set(17, 1), synthetic_set(7, 2)]
    kept, evals = hold_out(small)
    assert kept is small and evals == []  # a shard of 7 has none to spare: no evaluation sets at all


def test_the_score_is_taken_on_the_evaluation_set_never_on_training_clips() -> None:
    shard, evals = synthetic_set(24, 3), synthetic_set(5, 3, start=24)
    sub = Submission(1, 1, 0, 0, "0x" + "11" * 20, "-", bytes(32), SPEC.segments)
    for seed in (bytes(32), bytes([7]) * 32):
        picked = held_out_clips(SPEC, shard, sub, seed, evals).videos
        assert len(picked) == 5 and all(any(torch.equal(p, e) for e in evals.videos) for p in picked)
    fallback = held_out_clips(dataclasses.replace(SPEC, local_steps=200), shard, sub, bytes(32))
    # a round that saw every clip: without an evaluation set, the shard itself
    assert len(fallback.indices) == 16 and not fallback.from_evals


def test_specs_carry_their_evaluation_sets_and_older_specs_have_none() -> None:
    spec = dataclasses.replace(SPEC, evals=("e", "f"))
    assert JobSpec.from_bytes(spec.to_bytes()) == spec
    older = json.loads(SPEC.to_bytes())
    del older["evals"]
    assert JobSpec.from_bytes(json.dumps(older).encode()).evals == ()
    with pytest.raises(JobSpecError, match="2 shards but 1 evaluation sets"):
        dataclasses.replace(SPEC, evals=("e",))
    with pytest.raises(JobSpecError, match="not a paris-job"):
        JobSpec.from_bytes(b"[1, 2, 3]")  # JSON, but not an object: refused, not a TypeError


def test_a_clips_loss_is_its_own_and_the_base_losses_are_shared_by_every_delta_on_that_base() -> None:
    torch.manual_seed(0)
    base = Checkpoint(SPEC.model, 1, 0, 0, dict(VideoDiT(SPEC.model).state_dict()), {})
    shard, evals = synthetic_set(24, 3), synthetic_set(12, 3, start=24)
    alone = clip_losses(SPEC.model, base.weights, evals.videos[3:4], [11], draws=1)
    batched = clip_losses(SPEC.model, base.weights, evals.videos[2:5], [5, 11, 7], draws=1)
    assert torch.allclose(alone, batched[1:2], rtol=1e-5) and not torch.allclose(batched[0], batched[1])
    update = {n: 1e-3 * torch.randn_like(w) for n, w in base.weights.items()}
    cache = BaseLosses(keep=1)
    subs = [Submission(1, 1, 0, 0, f"0x{m:040x}", "-", bytes(32), SPEC.segments) for m in (1, 2)]
    for sub, seed in zip(subs, (bytes(32), bytes([9]) * 32), strict=True):
        cold = useful_work(SPEC, shard, base, update, sub, seed, evals=evals)
        warm = useful_work(SPEC, shard, base, update, sub, seed, evals=evals, base_losses=cache)
        assert warm == cold and cold.loss_before > 0
    assert len(cache._losses) == 1 and len(next(iter(cache._losses.values()))) == 12  # one base, all 12 clips
    other = Submission(1, 1, 0, 1, subs[0].miner, "-", bytes(32), SPEC.segments)
    useful_work(SPEC, shard, base, update, other, bytes(32), evals=evals, base_losses=cache)
    assert list(cache._losses) == [(1, 0, 1, True, 1)]  # the older base is dropped past `keep`
