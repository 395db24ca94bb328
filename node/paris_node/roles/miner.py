"""A miner's round: train H local steps from an expert's checkpoint, commit to the trace, encode the delta.

The H steps run as H/k segments of `run_segment`, the unit validators replay. The state before every
segment and the final state are hashed into the trace (Merkle root on chain) and kept on disk, because any
of them may be challenged. The pseudo-gradient (base - final weights) is encoded with error feedback carried
from the miner's previous rounds on this expert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from paris_node.data.clips import ClipSet
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.delta import DeltaHeader, encode, pseudo_gradient
from paris_node.learning.jobspec import JobSpec, segment_spec
from paris_node.learning.reveal import Reveal, build_reveal, shown_leaves
from paris_node.learning.trace import merkle_root
from paris_node.learning.train import TrainState, run_segment, state_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundWork:
    job_id: int
    expert: int
    base_version: int
    delta: bytes
    digests: list[bytes]  # state hash at each segment boundary, start and final included
    losses: list[float]
    train_seconds: float
    lane: int = 0

    @property
    def trace_root(self) -> bytes:
        return merkle_root(self.digests)

    @property
    def segments(self) -> int:
        return len(self.digests) - 1


def state_file(states_dir: Path, leaf: int) -> Path:
    return states_dir / f"{leaf}.safetensors"


def load_state(states_dir: Path, leaf: int) -> TrainState:
    return TrainState.from_tensors(load_file(str(state_file(states_dir, leaf))))


def kept_reveal(states_dir: Path, digests: list[bytes], challenged: list[int], exact: bool = False) -> Reveal:
    """The reveal for `challenged` segments, built from the boundary states kept in `states_dir`; `exact` when
    a validator's CPU replay gives this miner's states bit for bit (it trained on CPU)."""
    states = {leaf: load_state(states_dir, leaf) for leaf in shown_leaves(challenged, len(digests) - 1, exact)}
    return build_reveal(states, digests, challenged, exact)


def train_round(spec: JobSpec, shard: ClipSet, base: Checkpoint, job_id: int, miner: str,
                error: dict[str, torch.Tensor] | None, states_dir: Path, device: str = "cpu", lane: int = 0,
                between: Callable[[], None] | None = None) -> tuple[RoundWork, dict[str, torch.Tensor]]:
    """Run H steps from `base` (on the data draws of `lane`), calling `between` after each segment but the last
    (the daemon answers challenges there); returns the round's work and the error feedback to carry on."""
    states_dir.mkdir(parents=True, exist_ok=True)
    state = TrainState({n: t.clone() for n, t in base.weights.items()})
    digests, losses = [state_hash(state)], []
    save_file(state.tensors(), str(state_file(states_dir, 0)))
    train_seconds = 0.0  # the segments' own time, not what `between` spends
    for segment in range(spec.segments):
        started = time.perf_counter()
        result = run_segment(spec.model, state, shard, segment_spec(spec, miner, base.expert, base.version, segment,
                                                                  lane), device)
        state = result.state
        losses += result.losses
        digests.append(state_hash(state))
        save_file(state.tensors(), str(state_file(states_dir, segment + 1)))
        train_seconds += time.perf_counter() - started
        log.info("job %d expert %d v%d lane %d: segment %d/%d, loss %.4f", job_id, base.expert, base.version,
                 lane, segment + 1, spec.segments, sum(result.losses) / len(result.losses))
        if between is not None and segment + 1 < spec.segments:
            between()
    header = DeltaHeader(job_id, base.expert, base.version, miner, spec.codec.chunk, spec.codec.k)
    delta, carried = encode(pseudo_gradient(base.weights, state.weights), header, spec.codec, error)
    return RoundWork(job_id, base.expert, base.version, delta, digests, losses, train_seconds, lane), carried
