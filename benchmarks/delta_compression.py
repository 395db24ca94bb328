"""Compressed vs dense pseudo-gradients over the same DiLoCo rounds: bytes on the wire and final loss.

M miners train H steps per round from the current checkpoint (`train_round`, the miners' own code) and the
aggregator's outer step merges them. The dense run merges the exact pseudo-gradients; the compressed run
merges what the codec (top-k per chunk, int8, error feedback kept per miner) lets through. Same seeds,
same data. Goals: >= 250x fewer bytes than dense fp32, <= 2% held-out loss penalty.

    .venv/bin/python benchmarks/delta_compression.py [--rounds 8] [--miners 2] [--local-steps 20]
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import torch

from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.delta import CodecParams, decode, pseudo_gradient
from paris_node.learning.evaluate import held_out_loss
from paris_node.learning.jobspec import JobSpec
from paris_node.learning.merge import MergeInput, outer_step
from paris_node.model.dit import VideoDiT, named_config
from paris_node.roles.miner import load_state, train_round

from arguments import benchmark_parser


def run(spec: JobSpec, shard, held_out, miners: int, rounds: int, compressed: bool,  # type: ignore[no-untyped-def]
        scratch: Path) -> tuple[float, int, int]:
    torch.manual_seed(0)
    model = VideoDiT(spec.model)
    checkpoint = Checkpoint(spec.model, 0, 0, 0, dict(model.state_dict()), {})
    shapes = {n: tuple(t.shape) for n, t in checkpoint.weights.items()}
    errors: dict[str, dict | None] = {f"0xminer{m}": None for m in range(miners)}
    sent_bytes = dense_bytes = 0
    for round_index in range(rounds):
        inputs = []
        for m, miner in enumerate(errors):
            work, carried = train_round(spec, shard, checkpoint, 1, miner, errors[miner],
                                        scratch / f"{compressed}-{round_index}-{m}")
            if compressed:
                errors[miner] = carried
                _, update = decode(work.delta, shapes, spec.max_delta_bytes, spec.max_delta_norm)
                sent_bytes += len(work.delta)
            else:  # the exact pseudo-gradient, from the miner's kept final state
                final = load_state(scratch / f"{compressed}-{round_index}-{m}", work.segments)
                update = pseudo_gradient(checkpoint.weights, final.weights)
                sent_bytes += sum(math.prod(s) for s in shapes.values()) * 4
            dense_bytes += sum(math.prod(s) for s in shapes.values()) * 4
            inputs.append(MergeInput(m + 1, update, 1, 0))
        weights, momentum = outer_step(checkpoint.weights, checkpoint.momentum, inputs, spec.outer)
        checkpoint = Checkpoint(spec.model, 0, 0, round_index + 1, weights, momentum)
    return held_out_loss(spec.model, checkpoint.weights, held_out.videos, seed=99), sent_bytes, dense_bytes


def main() -> None:
    parser = benchmark_parser(__doc__, size="tiny")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--miners", type=int, default=2)
    parser.add_argument("--local-steps", type=int, default=20)
    parser.add_argument("--k", type=int, default=16, help="values kept per 4096-value chunk")
    args = parser.parse_args()

    config = named_config(args.size)
    shard = synthetic_set(256, seed=0, frames=config.frames, size=config.size)
    held_out = synthetic_set(64, seed=0, frames=config.frames, size=config.size, start=256)
    spec = JobSpec(name="bench", model=config, shards=("-",), initial=("-",), job_seed=0,
                   local_steps=args.local_steps, segment_steps=args.local_steps // 2, batch=8, lr=1e-3,
                   codec=CodecParams(chunk=4096, k=args.k))
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        dense_loss, _, dense_bytes = run(spec, shard, held_out, args.miners, args.rounds, False, Path(scratch))
        compressed_loss, sent, _ = run(spec, shard, held_out, args.miners, args.rounds, True, Path(scratch))
        elapsed = time.perf_counter() - started
    initial = held_out_loss(config, dict(VideoDiT(config).state_dict()), held_out.videos, seed=99)
    print(f"model {args.size}, {args.miners} miners x {args.rounds} rounds x H={args.local_steps} steps, "
          f"codec top-{args.k} of 4096 (int8), outer lr {spec.outer.lr} Nesterov {spec.outer.momentum}; {elapsed:.0f}s")
    print(f"{'':32s}{'dense DiLoCo':>14s}{'compressed':>14s}{'ratio':>10s}")
    print(f"{'bytes sent per delta':32s}{dense_bytes / (args.rounds * args.miners):>14,.0f}"
          f"{sent / (args.rounds * args.miners):>14,.0f}{dense_bytes / sent:>9.0f}x")
    print(f"{'held-out loss after training':32s}{dense_loss:>14.4f}{compressed_loss:>14.4f}"
          f"{compressed_loss / dense_loss:>9.3f}x")
    print(f"(untrained model's held-out loss: {initial:.4f})")
    size_goal = "met" if dense_bytes / sent >= 250 else "NOT met"
    loss_goal = "met" if compressed_loss <= 1.02 * dense_loss else "NOT met"
    print(f"goals: >= 250x smaller: {size_goal} ({dense_bytes / sent:.0f}x); <= 2% loss penalty: {loss_goal} "
          f"({100 * (compressed_loss / dense_loss - 1):+.1f}%)")


if __name__ == "__main__":
    main()
