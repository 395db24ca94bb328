"""Compressed vs dense pseudo-gradients over the same DiLoCo rounds: bytes on the wire and held-out loss.

M miners train H steps per round from the current checkpoint (`train_round`, the miners' own code) and the
outer step merges what reaches the aggregator. Rows, all with the same seeds and data:
- dense DiLoCo: the exact pseudo-gradients, outer lr 0.7 with Nesterov 0.9 (the DiLoCo paper's setting);
- synchronous: one model trained M x H steps a round on M x the batch, no compression (same total steps);
- SparseLoCo (reference, written from arXiv 2508.15706): error feedback decayed by 0.95, top-k per 4096-value
  chunk, 2-bit values (a sign and one of two magnitudes per chunk), 12-bit positions, outer lr 1 without
  momentum, its k set so its bytes match codec v2's at the default density;
- codec v1 (the previous codec, int8 values, uint16 positions) with the Nesterov outer step it shipped with;
- codec v2 (sign bits, Elias-Fano positions, decayed error feedback, outer lr 3 without momentum) at
  several densities, through the real delta files.
Goals on the long horizon, codec v2 at its default density: >= 250x fewer bytes than dense fp32, <= 2%
held-out loss penalty vs dense DiLoCo, a lower loss than SparseLoCo at equal bytes, and a loss that falls
from each evaluation point to the next.

    .venv/bin/python benchmarks/delta_compression.py [--rounds 50] [--marks 8,20,30,40,50] [--ks 23,46,92]
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from paris_node.content import tensorfile
from paris_node.data.clips import ClipSet
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.codec import CodecParams, scatter, top_k
from paris_node.learning.delta import FORMATS, DeltaHeader, decode, encode, flatten, pseudo_gradient
from paris_node.learning.delta import unflatten
from paris_node.learning.evaluate import held_out_loss
from paris_node.learning.jobspec import JobSpec
from paris_node.learning.merge import MergeInput, OuterParams, outer_step
from paris_node.learning.train import SegmentSpec, TrainState, run_segment
from paris_node.model.dit import VideoDiT, named_config
from paris_node.roles.miner import RoundWork, load_state, train_round

from arguments import benchmark_parser

DILOCO = OuterParams(lr=0.7, momentum=0.9)
SPARSELOCO = OuterParams(lr=1.0, momentum=0.0)
REFERENCE_BITS = 2 + 12  # SparseLoCo's value and position bits
Update = dict[str, torch.Tensor]
Transmit = Callable[[int, RoundWork, Update], tuple[Update, int]]  # (miner, work, exact) -> (sent, bytes)


@dataclasses.dataclass
class Row:
    name: str
    bytes_per_delta: float
    losses: dict[int, float]


def initial_weights(spec: JobSpec) -> Update:
    torch.manual_seed(0)
    return dict(VideoDiT(spec.model).state_dict())


def run_rounds(spec: JobSpec, shard: ClipSet, held_out: ClipSet, miners: int, marks: list[int],
               transmit: Transmit, scratch: Path) -> tuple[dict[int, float], float]:
    """Held-out loss at each mark and mean bytes per delta, merging what `transmit` lets through each round."""
    checkpoint = Checkpoint(spec.model, 0, 0, 0, initial_weights(spec), {})
    errors: list[Update | None] = [None] * miners
    losses, sent_bytes = {}, 0
    for round_index in range(max(marks)):
        inputs = []
        for m in range(miners):
            states = scratch / f"{round_index}-{m}"
            work, errors[m] = train_round(spec, shard, checkpoint, 1, f"0xminer{m}", errors[m], states)
            exact = pseudo_gradient(checkpoint.weights, load_state(states, work.segments).weights)
            update, size = transmit(m, work, exact)
            sent_bytes += size
            inputs.append(MergeInput(m + 1, update, 1, 0))
        weights, momentum = outer_step(checkpoint.weights, checkpoint.momentum, inputs, spec.outer)
        checkpoint = Checkpoint(spec.model, 0, 0, round_index + 1, weights, momentum)
        if round_index + 1 in marks:
            losses[round_index + 1] = held_out_loss(spec.model, weights, held_out.videos, seed=99)
    return losses, sent_bytes / (max(marks) * miners)


def dense_bytes(spec: JobSpec) -> int:
    return sum(t.numel() for t in initial_weights(spec).values()) * 4


def codec_transmit(spec: JobSpec) -> Transmit:
    shapes = {n: tuple(t.shape) for n, t in initial_weights(spec).items()}

    def transmit(_: int, work: RoundWork, __: Update) -> tuple[Update, int]:
        _, update = decode(work.delta, shapes, spec.max_delta_bytes, spec.max_delta_norm, spec.codec.version)
        return update, len(work.delta)
    return transmit


def sparseloco_transmit(spec: JobSpec, k: int, header_bytes: int, decay: float = 0.95) -> Transmit:
    """The reference compressor, applied to the exact pseudo-gradient with its own per-miner error feedback."""
    params = CodecParams(chunk=4096, k=k)
    shapes = {n: tuple(t.shape) for n, t in initial_weights(spec).items()}
    errors: dict[int, torch.Tensor] = {}

    def transmit(miner: int, _: RoundWork, exact: Update) -> tuple[Update, int]:
        corrected = flatten(exact) + decay * errors.get(miner, torch.zeros(1))
        idx, kept = top_k(corrected, params)
        magnitude = kept.abs()
        large = magnitude > magnitude.mean(dim=1, keepdim=True)
        big = (magnitude * large).sum(1, keepdim=True) / large.sum(1, keepdim=True).clamp(min=1)
        small = (magnitude * ~large).sum(1, keepdim=True) / (~large).sum(1, keepdim=True).clamp(min=1)
        sent = scatter(idx, kept.sign() * torch.where(large, big, small), corrected.numel(), params)
        errors[miner] = corrected - sent
        return unflatten(sent, shapes), sparseloco_bytes(idx.shape[0], k, header_bytes)
    return transmit


def header_bytes(spec: JobSpec) -> int:
    """What a delta file spends on anything but its compressed tensors (safetensors and Paris headers)."""
    update = {n: torch.randn(t.shape) for n, t in initial_weights(spec).items()}
    data, _ = encode(update, DeltaHeader(1, 0, 0, "0xminer0", spec.codec.chunk, spec.codec.k), spec.codec)
    _, tensors = tensorfile.load(data, FORMATS[spec.codec.version])
    return len(data) - sum(t.numel() * t.element_size() for t in tensors.values())


def sparseloco_bytes(rows: int, k: int, header_bytes: int) -> int:
    return header_bytes + math.ceil(rows * (k * REFERENCE_BITS + 2 * 16) / 8)  # two float16 magnitudes a chunk


def run_synchronous(spec: JobSpec, shard: ClipSet, held_out: ClipSet, miners: int,
                    marks: list[int]) -> dict[int, float]:
    state, losses = TrainState(initial_weights(spec)), {}
    for round_index in range(max(marks)):
        step = SegmentSpec(job_seed=spec.job_seed, miner="0xsynchronous", expert=0, base_version=0,
                           start_step=round_index * spec.local_steps, steps=spec.local_steps,
                           batch=spec.batch * miners, lr=spec.lr)
        state = run_segment(spec.model, state, shard, step).state
        if round_index + 1 in marks:
            losses[round_index + 1] = held_out_loss(spec.model, state.weights, held_out.videos, seed=99)
    return losses


def main() -> None:
    parser = benchmark_parser(__doc__, size="tiny")
    parser.add_argument("--rounds", type=int, default=50, help="the long horizon")
    parser.add_argument("--marks", default="8,20,30,40", help="rounds at which loss is also measured")
    parser.add_argument("--miners", type=int, default=2)
    parser.add_argument("--local-steps", type=int, default=20)
    parser.add_argument("--ks", default="23,46,92", help="codec v2 values kept per 4096-value chunk")
    args = parser.parse_args()

    config = named_config(args.size)
    shard = synthetic_set(256, seed=0, frames=config.frames, size=config.size)
    held_out = synthetic_set(64, seed=0, frames=config.frames, size=config.size, start=256)
    v2 = JobSpec(name="bench", model=config, shards=("-",), initial=("-",), job_seed=0,
                 local_steps=args.local_steps, segment_steps=args.local_steps // 2, batch=8, lr=1e-3)
    marks = sorted({*(int(m) for m in args.marks.split(",") if int(m) < args.rounds), args.rounds})
    dense = dense_bytes(v2)
    ks = [int(k) for k in args.ks.split(",")]
    default_k = v2.codec.k if v2.codec.k in ks else ks[len(ks) // 2]
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as scratch:
        def market(name: str, spec: JobSpec, transmit: Transmit) -> Row:
            losses, size = run_rounds(spec, shard, held_out, args.miners, marks, transmit, Path(scratch) / name)
            print(f"  {name}: {losses} ({time.perf_counter() - started:.0f}s)", flush=True)
            return Row(name, size, losses)

        diloco = dataclasses.replace(v2, outer=DILOCO)
        rows.append(market("dense DiLoCo", diloco, lambda _, __, exact: (exact, dense)))
        rows.append(Row("synchronous", dense, run_synchronous(v2, shard, held_out, args.miners, marks)))
        v2_rows = {}
        for k in ks:
            spec = dataclasses.replace(v2, codec=CodecParams(k=k))
            v2_rows[k] = market(f"codec v2, k={k}", spec, codec_transmit(spec))
        v2_default = v2_rows[default_k]
        numel_rows = math.ceil(dense / 4 / 4096)
        header = header_bytes(dataclasses.replace(v2, codec=CodecParams(k=default_k)))
        reference_k = max(k for k in range(1, 4096)
                          if sparseloco_bytes(numel_rows, k, header) <= v2_default.bytes_per_delta)
        reference = market(f"SparseLoCo, k={reference_k}", dataclasses.replace(v2, outer=SPARSELOCO),
                           sparseloco_transmit(v2, reference_k, header))
        v1 = dataclasses.replace(v2, codec=CodecParams(version=1, chunk=4096, k=16, decay=1.0), outer=DILOCO)
        rows += [reference, market("codec v1, k=16", v1, codec_transmit(v1)), *v2_rows.values()]
    print(f"\nmodel {args.size}, {args.miners} miners x {args.rounds} rounds x H={args.local_steps} steps, "
          f"{time.perf_counter() - started:.0f}s; held-out loss after each number of rounds")
    base = rows[0].losses
    print(f"{'':24s}{'bytes/delta':>12s}{'vs fp32':>9s}" + "".join(f"{f'r{m}':>9s}" for m in marks)
          + f"{'vs dense':>10s}")
    for row in rows:
        print(f"{row.name:24s}{row.bytes_per_delta:>12,.0f}{dense / row.bytes_per_delta:>8.0f}x"
              + "".join(f"{row.losses[m]:>9.4f}" for m in marks)
              + f"{row.losses[args.rounds] / base[args.rounds]:>9.3f}x")
    final, ratio = v2_default.losses[args.rounds], dense / v2_default.bytes_per_delta
    falls = all(v2_default.losses[a] > v2_default.losses[b] for a, b in itertools.pairwise(marks))
    verdict = {True: "met", False: "NOT met"}
    print(f"goals (codec v2, k={default_k}, round {args.rounds}): >= 250x smaller: {verdict[ratio >= 250]} "
          f"({ratio:.0f}x); <= 2% over dense DiLoCo: {verdict[final <= 1.02 * base[args.rounds]]} "
          f"({100 * (final / base[args.rounds] - 1):+.1f}%); below SparseLoCo at equal bytes: "
          f"{verdict[final < reference.losses[args.rounds]]} ({final:.4f} vs {reference.losses[args.rounds]:.4f}); "
          f"falls at every mark: {verdict[falls]}")


if __name__ == "__main__":
    main()
