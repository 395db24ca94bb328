"""The checks of one delta, in the order a validator runs them. Each raises `CheckFailed` naming the check
and what it found; none touches the chain or IPFS, so the daemon, the tests and the cost benchmark share them.

1. `check_delta_file`: size, format, shapes, finiteness, norm bound, and a header that matches the chain.
2. `check_reveal`: the revealed states and digests are in the committed trace (Merkle proofs), each state
   hashes to its digest, and leaf 0 is the base checkpoint the delta claims.
3. `replay`: each challenged segment (the last one always), rerun with `run_segment` on this miner's
   assigned data, ends in the committed state: one that hashes to the committed digest, or, when the miner
   revealed the end, within the job's tolerance of it. It gives the final state the next checks use.
4. `check_step_envelope`: no weight of the revealed final state lies further from the base than H AdamW
   steps can move it (`step_envelope`), which bounds what a forged middle segment can inject.
5. `check_delta_matches`: re-encoding (base - revealed final state) with the miner's carried error feedback
   gives the posted file byte for byte.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paris_node.data.clips import ClipSet
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.delta import DeltaError, DeltaHeader, decode, encode, pseudo_gradient, read_header
from paris_node.learning.jobspec import JobSpec, segment_spec
from paris_node.learning.reveal import Reveal, proved_leaves
from paris_node.learning.trace import verify_proof
from paris_node.learning.train import SegmentSpec, TrainState, identical, run_segment, state_drift, state_hash

ENVELOPE_SLACK = 1e-3  # relative room for replays within the tolerance on other hardware


class CheckFailed(Exception):
    """A delta failed a check; `check` is a short stable name, `detail` says what was found."""

    def __init__(self, check: str, detail: str) -> None:
        self.check, self.detail = check, detail
        super().__init__(f"{check}: {detail}")


@dataclass(frozen=True)
class Submission:
    """What the chain recorded about a delta (its DeltaSubmitted event)."""

    delta_id: int
    job_id: int
    expert: int
    base_version: int
    miner: str
    delta_cid: str
    trace_root: bytes
    segments: int
    lane: int = 0  # which of the miner's deltas on this base it is (its data draws depend on it)


def expected_header(sub: Submission, spec: JobSpec) -> DeltaHeader:
    return DeltaHeader(sub.job_id, sub.expert, sub.base_version, sub.miner, spec.codec.chunk, spec.codec.k)


def check_delta_file(data: bytes, sub: Submission, spec: JobSpec, base: Checkpoint) -> dict[str, torch.Tensor]:
    """The decoded update, if the file is well formed and its header matches the on-chain submission."""
    if sub.segments != spec.segments:
        raise CheckFailed("segments", f"{sub.segments} segments committed, the job spec has {spec.segments}")
    try:
        header = read_header(data, spec.codec.version)
        if header != expected_header(sub, spec):
            raise CheckFailed("header", f"file header {header} does not match the submission "
                                        f"{expected_header(sub, spec)}")
        _, update = decode(data, {n: tuple(t.shape) for n, t in base.weights.items()}, spec.max_delta_bytes,
                           spec.max_delta_norm, spec.codec.version)
    except DeltaError as exc:
        raise CheckFailed("delta-file", str(exc)) from exc
    return update


def check_reveal(reveal: Reveal, sub: Submission, challenged: list[int], base: Checkpoint) -> None:
    """Everything a replay and the delta check rely on is committed to by the trace root on chain."""
    final = sub.segments
    if reveal.leaves != final + 1:
        raise CheckFailed("reveal", f"reveal is for a {reveal.leaves}-leaf trace, the submission has {final + 1}")
    needed_digests = set(proved_leaves(challenged, final))
    if missing := sorted({i for i in challenged if i > 0} - reveal.states.keys()):
        raise CheckFailed("reveal", f"states of leaves {missing} not revealed")
    if extra := sorted(reveal.states.keys() - needed_digests):
        raise CheckFailed("reveal", f"states of leaves {extra} revealed, which no challenged segment starts or ends")
    if missing := sorted(needed_digests - reveal.digests.keys() | needed_digests - reveal.proofs.keys()):
        raise CheckFailed("reveal", f"digests or proofs of leaves {missing} not revealed")
    for leaf in sorted(needed_digests):
        if not verify_proof(sub.trace_root, reveal.digests[leaf], leaf, reveal.leaves, reveal.proofs[leaf]):
            raise CheckFailed("merkle-proof", f"leaf {leaf} is not in the committed trace")
    for leaf in sorted(reveal.states):
        if state_hash(reveal.states[leaf]) != reveal.digests[leaf]:
            raise CheckFailed("state-hash", f"the revealed state of leaf {leaf} does not hash to its digest")
    if reveal.digests[0] != state_hash(TrainState(dict(base.weights))):
        raise CheckFailed("base", f"leaf 0 of the trace is not checkpoint v{base.version} (stale or foreign base)")


def replay(spec: JobSpec, shard: ClipSet, reveal: Reveal, sub: Submission, challenged: list[int],
           base: Checkpoint) -> tuple[float, TrainState]:
    """Rerun each challenged segment on CPU from its revealed start (leaf 0: the base with fresh moments). The
    replay must hash to the committed end, or, where the miner revealed the end (other hardware), lie within
    the job's replay tolerance of it. Returns the largest drift seen (0.0 when every replay was bit-exact)
    and the final state (the revealed one where given). Relies on `check_reveal` having tied the revealed
    states and digests to the trace."""
    worst, final = 0.0, None
    for segment in challenged:
        start = reveal.states[segment] if segment else TrainState(dict(base.weights))
        result = run_segment(spec.model, start, shard, segment_spec(spec, sub.miner, sub.expert, sub.base_version,
                                                                    segment, sub.lane))
        claimed = reveal.states.get(segment + 1)
        end = result.state if claimed is None else claimed
        if segment + 1 == sub.segments:
            final = end
        if claimed is None:
            if state_hash(result.state) != reveal.digests[segment + 1]:
                raise CheckFailed("replay", f"segment {segment} replayed from its revealed start does not end in the "
                                            f"committed state, and its end was not revealed to compare within the "
                                            f"tolerance: steps skipped, other data, or forged states")
            continue
        if identical(result.state, claimed):
            continue
        drift = state_drift(start, result.state, claimed)
        if not drift <= spec.replay_tolerance:  # NaN fails too
            raise CheckFailed("replay", f"segment {segment} replayed from its revealed start ends {drift:.2e} away "
                                        f"from the committed state (tolerance {spec.replay_tolerance:.0e}): steps "
                                        f"skipped, other data, lower precision, or forged states")
        worst = max(worst, drift)
    if final is None:
        raise CheckFailed("reveal", f"the last segment ({sub.segments - 1}) was not among those replayed")
    return worst, final


def step_envelope(lr: float, steps: int, betas: tuple[float, float] = SegmentSpec.betas) -> float:
    """The most `steps` AdamW steps from fresh moments (no weight decay) can move one weight, whatever the
    gradients: lr times the sum over steps t of the bound on |m_t / sqrt(v_t)| with bias correction, which
    Cauchy-Schwarz gives as (1 - b1) / sqrt(1 - b2) * sqrt((1 - r^t) / (1 - r)) * sqrt(1 - b2^t) / (1 - b1^t),
    r = b1^2 / b2 (1 at t = 1, about 7.3 for large t at the default betas)."""
    b1, b2 = betas
    r = b1 * b1 / b2
    return lr * sum((1 - b1) / math.sqrt(1 - b2) * math.sqrt((1 - r**t) / (1 - r)) * math.sqrt(1 - b2**t)
                    / (1 - b1**t) for t in range(1, steps + 1))


def check_step_envelope(spec: JobSpec, base: Checkpoint, final: TrainState) -> None:
    """Every weight of the final state within `step_envelope` of the base: no honest training goes further."""
    envelope = step_envelope(spec.lr, spec.local_steps) * (1 + ENVELOPE_SLACK)
    for name, start in base.weights.items():
        if not start.numel():
            continue
        moved = float((final.weights[name].double() - start.double()).abs().max())
        rounding = spec.local_steps * 2.0**-23 * float(start.abs().max())  # float32 rounding of each step
        bound = envelope + rounding
        if not moved <= bound:  # NaN fails too
            raise CheckFailed("step-envelope", f"{name} moved by {moved:.3e} in {spec.local_steps} steps; AdamW "
                                               f"at lr {spec.lr:g} moves a weight by at most {bound:.3e}")


def check_delta_matches(data: bytes, sub: Submission, spec: JobSpec, base: Checkpoint, final: TrainState,
                        error: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """The posted file must be exactly encode(base - final, carried error); returns the error carried on."""
    expected, carried = encode(pseudo_gradient(base.weights, final.weights), expected_header(sub, spec),
                               spec.codec, error)
    if expected != data:
        raise CheckFailed("delta-vs-trace", "the posted delta is not the encoding of (base - revealed final "
                                            "state) with the miner's carried error (scaled, poisoned or copied)")
    return carried
