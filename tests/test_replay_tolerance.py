"""Mixed hardware: a replay that is not bit-exact passes within the job's tolerance and fails beyond it."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.jobspec import JobSpec, segment_spec
from paris_node.learning.reveal import Reveal
from paris_node.learning.train import TrainState, identical, run_segment, state_drift, state_hash
from paris_node.model.dit import VideoDiT, named_config
from paris_node.roles.miner import kept_reveal, train_round
from paris_node.settings import SettingError
from paris_validator.checks import CheckFailed, Submission, check_reveal, replay

MINER = "0x" + "22" * 20


@pytest.fixture(scope="module")
def segment() -> tuple[JobSpec, object, TrainState, TrainState]:
    """A job with one 2-step segment, its shard, the segment's start and its honest end."""
    config = named_config("tiny")
    spec = JobSpec(name="t", model=config, shards=("-",), initial=("-",), job_seed=3, local_steps=2,
                   segment_steps=2, batch=4)
    shard = synthetic_set(12, 1)
    torch.manual_seed(0)
    start = TrainState.fresh(VideoDiT(config))
    end = run_segment(config, start, shard, segment_spec(spec, MINER, 0, 0, 0)).state
    return spec, shard, start, end


def nudged(start: TrainState, end: TrainState, fraction: float) -> TrainState:
    """`end` moved by `fraction` of the segment's update, in a direction of its own (like another device)."""
    generator = torch.Generator().manual_seed(7)

    def move(got: dict[str, torch.Tensor], origin: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        noise = {n: torch.randn(t.shape, generator=generator) for n, t in got.items()}
        scale = math.sqrt(sum(float((got[n] - origin.get(n, 0)).square().sum()) for n in got)
                          / sum(float(v.square().sum()) for v in noise.values()))
        return {n: got[n] + fraction * scale * noise[n] for n in got}
    return TrainState(move(end.weights, start.weights), move(end.moments, start.moments), end.step)


def check(spec: JobSpec, shard, start: TrainState, end: TrainState | None,  # type: ignore[no-untyped-def]
          digest: bytes = b"") -> float:
    """Replay the one segment from `start` (the base) against a revealed `end`, or, with none, its `digest`."""
    base = Checkpoint(spec.model, 1, 0, 0, start.weights, {})
    digests = {0: state_hash(start), 1: digest if end is None else state_hash(end)}
    reveal = Reveal(2, {} if end is None else {1: end}, digests, {})
    drift, final = replay(spec, shard, reveal, Submission(1, 1, 0, 0, MINER, "-", b"", 1), [0], base)
    assert end is None or final is end  # the revealed final state is the one checked further
    return drift


def test_state_drift_is_relative_to_the_update(segment) -> None:  # type: ignore[no-untyped-def]
    _, _, start, end = segment
    assert state_drift(start, end, end) == 0.0
    assert state_drift(start, end, nudged(start, end, 1e-6)) == pytest.approx(1e-6, rel=0.05)
    assert state_drift(start, end, nudged(start, end, 0.3)) == pytest.approx(0.3, rel=1e-3)
    assert state_drift(start, end, dataclasses.replace(end, step=end.step - 1)) == math.inf
    cut = {n: t[:1] for n, t in end.weights.items()}
    assert state_drift(start, end, TrainState(cut, end.moments, end.step)) == math.inf


def test_replay_passes_within_tolerance_and_fails_beyond(segment) -> None:  # type: ignore[no-untyped-def]
    spec, shard, start, end = segment
    assert check(spec, shard, start, end) == 0.0  # bit-exact
    assert check(spec, shard, start, nudged(start, end, 1e-5)) == pytest.approx(1e-5, rel=0.1)
    with pytest.raises(CheckFailed, match="tolerance") as failed:
        check(spec, shard, start, nudged(start, end, 1e-3))
    assert failed.value.check == "replay"
    exact = dataclasses.replace(spec, replay_tolerance=0.0)
    with pytest.raises(CheckFailed, match="replay"):
        check(exact, shard, start, nudged(start, end, 1e-6))
    poisoned = TrainState({n: t.clone() for n, t in end.weights.items()}, end.moments, end.step)
    next(iter(poisoned.weights.values())).view(-1)[0] = float("nan")
    with pytest.raises(CheckFailed, match="replay"):
        check(spec, shard, start, poisoned)


def test_without_a_revealed_end_the_replay_must_hash_to_the_committed_one(segment) -> None:  # type: ignore[no-untyped-def]
    spec, shard, start, end = segment
    assert check(spec, shard, start, None, digest=state_hash(end)) == 0.0
    with pytest.raises(CheckFailed, match="does not end in the committed state") as failed:
        check(spec, shard, start, None, digest=state_hash(nudged(start, end, 1e-6)))  # within tolerance, but unseen
    assert failed.value.check == "replay"


def test_a_lean_reveal_carries_only_the_challenged_starts_and_checks_the_same(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = named_config("tiny")
    spec = JobSpec(name="t", model=config, shards=("-",), initial=("-",), job_seed=3, local_steps=4,
                   segment_steps=1, batch=4)
    torch.manual_seed(0)
    base = Checkpoint(config, 1, 0, 0, dict(VideoDiT(config).state_dict()), {})
    shard = synthetic_set(12, 1)
    work, _ = train_round(spec, shard, base, 1, MINER, None, tmp_path)
    sub = Submission(1, 1, 0, 0, MINER, "-", work.trace_root, work.segments)
    for challenged, lean_states, full_states in (([3, 0], [3], [1, 3, 4]), ([3, 1], [1, 3], [1, 2, 3, 4])):
        full, lean = (kept_reveal(tmp_path, work.digests, challenged, exact) for exact in (False, True))
        assert (sorted(lean.states), sorted(full.states)) == (lean_states, full_states)
        finals = []
        for reveal in (full, lean):
            check_reveal(reveal, sub, challenged, base)
            drift, final = replay(spec, shard, Reveal.from_bytes(reveal.to_bytes()), sub, challenged, base)
            assert drift == 0.0
            finals.append(final)
        assert identical(*finals) and state_hash(finals[0]) == work.digests[-1]
        assert len(lean.to_bytes()) < 0.8 * len(full.to_bytes())
    withheld = dataclasses.replace(lean, states={3: lean.states[3]})
    with pytest.raises(CheckFailed, match=r"states of leaves \[1\] not revealed"):
        check_reveal(withheld, sub, [3, 1], base)
    padded = dataclasses.replace(lean, states={**lean.states, 2: full.states[2]})
    with pytest.raises(CheckFailed, match=r"states of leaves \[2\] revealed, which no challenged segment"):
        check_reveal(padded, sub, [3, 0], base)


@pytest.mark.parametrize("tolerance", [-1e-6, 0.05, float("nan")])
def test_a_job_spec_refuses_a_tolerance_a_lazy_miner_would_pass(tolerance: float) -> None:
    with pytest.raises(SettingError, match="replay_tolerance"):
        JobSpec(name="t", model=named_config("tiny"), shards=("-",), initial=("-",), job_seed=0,
                replay_tolerance=tolerance)
