"""How coherent the demo's samples are: coherence of generated clips / coherence of real clips (goal >= 0.8).

The demo's recipe is trained here in one process, without a devnet but with the network's own code: the
synthetic set clustered into one shard per expert, a router, miners running `train_round` (codec and error
feedback included) on each expert, the aggregator's outer step and EMA, round after round. Samples come
from the final checkpoints' EMA and, beside them, from the raw weights; real clips are held-out clips of the
same families. Each figure is the mean `learning.coherence` over the clips.

    .venv/bin/python benchmarks/sample_quality.py [--rounds 3] [--clips 48] [--samples 16]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from paris_node.data.shards import fit_shards, split_shards
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.coherence import coherence
from paris_node.learning.delta import decode
from paris_node.learning.jobspec import JobSpec
from paris_node.learning.merge import MergeInput, OuterParams, ema_step, outer_step
from paris_node.model.dit import VideoDiT, named_config
from paris_node.model.pipeline import Pipeline
from paris_node.model.router import train_router
from paris_node.roles.miner import train_round

from arguments import benchmark_parser

GOAL = 0.8


def train_expert(spec: JobSpec, shard, expert: int, miners: int, rounds: int, scratch: Path) -> Checkpoint:  # type: ignore[no-untyped-def]
    torch.manual_seed(expert)
    checkpoint = Checkpoint(spec.model, 0, expert, 0, dict(VideoDiT(spec.model).state_dict()), {})
    shapes = {n: tuple(t.shape) for n, t in checkpoint.weights.items()}
    errors: dict[str, dict | None] = {f"0xminer{m}": None for m in range(miners)}
    for version in range(rounds):
        inputs = []
        for m, miner in enumerate(errors):
            work, errors[miner] = train_round(spec, shard, checkpoint, 1, miner, errors[miner],
                                              scratch / f"e{expert}-v{version}-m{m}")
            _, update = decode(work.delta, shapes, spec.max_delta_bytes, spec.max_delta_norm,
                               spec.codec.version)
            inputs.append(MergeInput(m + 1, update, 1, 0))
        weights, momentum = outer_step(checkpoint.weights, checkpoint.momentum, inputs, spec.outer)
        ema = ema_step(checkpoint.ema or checkpoint.weights, weights, version + 1, spec.outer)
        checkpoint = Checkpoint(spec.model, 0, expert, version + 1, weights, momentum, ema)
    return checkpoint


def pipeline(checkpoints: list[Checkpoint], router, use_ema: bool) -> Pipeline:  # type: ignore[no-untyped-def]
    experts = []
    for checkpoint in checkpoints:
        model = VideoDiT(checkpoint.config)
        model.load_state_dict(checkpoint.sampling_weights if use_ema else checkpoint.weights)
        experts.append(model.eval())
    return Pipeline(experts, router)


def main() -> None:
    parser = benchmark_parser(__doc__, size="tiny")
    parser.add_argument("--experts", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--miners", type=int, default=3)
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--local-steps", type=int, default=20)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20, help="sampler steps")
    parser.add_argument("--ema-decay", type=float, default=0.99)
    args = parser.parse_args()

    config = named_config(args.size)
    clips = synthetic_set(args.clips, seed=0, frames=config.frames, size=config.size)
    real = synthetic_set(args.samples, seed=0, frames=config.frames, size=config.size, start=args.clips)
    _, shard_of = fit_shards(clips, args.experts, seed=0)
    shards = split_shards(clips, shard_of, args.experts)
    router = train_router(clips, shard_of, args.experts, seed=0) if args.experts > 1 else None
    spec = JobSpec(name="sample-quality", model=config, shards=("-",) * args.experts,
                   initial=("-",) * args.experts, job_seed=0, local_steps=args.local_steps, segment_steps=5,
                   batch=8, outer=OuterParams(ema_decay=args.ema_decay))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        checkpoints = [train_expert(spec, shards[k], k, args.miners, args.rounds, Path(scratch))
                       for k in range(args.experts)]
    trained = time.perf_counter() - started
    real_score = float(coherence(real.videos).mean())
    rows = []
    for label, use_ema in (("EMA", True), ("weights", False)):
        samples = pipeline(checkpoints, router, use_ema)(batch=args.samples, steps=args.steps, seed=1)
        rows.append((label, float(coherence(samples).mean())))
    print(f"the demo's recipe: {args.size}, {args.clips} clips in {args.experts} experts, {args.rounds} rounds x "
          f"{args.miners} miners x H={args.local_steps}, EMA decay {args.ema_decay}; trained in {trained:.0f}s; "
          f"{args.samples} samples, {args.steps} Heun steps")
    print(f"{'sampled from':<14}{'coherence':>10}{'vs real':>10}")
    print(f"{'real clips':<14}{real_score:>10.3f}{1.0:>10.2f}")
    for label, score in rows:
        print(f"{label:<14}{score:>10.3f}{score / real_score:>10.2f}")
    best = max(score for _, score in rows) / real_score
    print(f"goal: generated / real >= {GOAL}: {'met' if best >= GOAL else 'NOT met'} ({best:.2f})")


if __name__ == "__main__":
    main()
