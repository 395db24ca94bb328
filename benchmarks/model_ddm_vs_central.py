"""K experts + router (DDM) vs one central model of the same size, at equal total training steps x batch.

Both are trained with `run_segment`, the unit miners run. The central model sees all clips for S steps;
the K experts see only their shards, with the S steps split in proportion to shard size (every clip is
visited as often as in the central run). Printed side by side, from one run, at each compute budget:
- held-out flow-matching loss (same clips, times and noise for every model), for the DDM both with the
  router's probability-weighted velocity (what sampling uses) and with oracle routing by shard;
- temporal coherence of samples (top-1 routing for the DDM) and of real held-out clips.
The goal the project holds itself to is DDM loss <= 1.00x the central model's.

    .venv/bin/python benchmarks/model_ddm_vs_central.py [--size tiny] [--budgets 800 1600 3200] [--experts 4]
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from paris_node.data.clips import ClipSet
from paris_node.data.ingest import to_uint8
from paris_node.data.shards import fit_shards, split_shards
from paris_node.data.synthetic import synthetic_set
from paris_node.data.video import write_video
from paris_node.learning.coherence import coherence
from paris_node.learning.train import SegmentSpec, TrainState, run_segment
from paris_node.model.dit import DiTConfig, VideoDiT, named_config
from paris_node.model.flow import logit_normal_t, noised
from paris_node.model.pipeline import Pipeline
from paris_node.model.router import Router, train_router

from arguments import benchmark_parser

SEGMENT = 50


def train(config: DiTConfig, clips: ClipSet, steps: int, batch: int, lr: float, expert: int) -> VideoDiT:
    state = TrainState.fresh(VideoDiT(config))
    for start in range(0, steps, SEGMENT):
        spec = SegmentSpec(job_seed=0, miner="benchmark", expert=expert, base_version=0, start_step=start,
                           steps=min(SEGMENT, steps - start), batch=batch, lr=lr)
        state = run_segment(config, state, clips, spec).state
    model = VideoDiT(config)
    model.load_state_dict(state.weights)
    return model.eval()


@torch.no_grad()
def held_out_losses(central: VideoDiT, experts: list[VideoDiT], router: Router, clips: ClipSet,
                    shard_of: torch.Tensor, draws: int) -> tuple[float, float, float]:
    """Mean velocity MSE of the central model, the router-weighted DDM and the oracle-routed DDM."""
    generator = torch.Generator().manual_seed(1234)
    totals = np.zeros(3)
    for _ in range(draws):
        t = logit_normal_t(len(clips), generator)
        noise = torch.randn(clips.videos.shape, generator=generator)
        x_t, target = noised(clips.videos, t, noise), clips.videos - noise
        velocities = torch.stack([e(x_t, t) for e in experts])  # (K, B, ...)
        probs = router.probs(x_t, t).T.reshape(len(experts), -1, 1, 1, 1, 1)
        mixture = (probs * velocities).sum(dim=0)
        oracle = velocities[shard_of, torch.arange(len(clips))]
        for i, prediction in enumerate((central(x_t, t), mixture, oracle)):
            totals[i] += torch.mean((prediction - target) ** 2).item()
    return tuple(totals / draws)


def compare(config: DiTConfig, train_clips: ClipSet, held_out: ClipSet, shards: list[ClipSet], router: Router,
            held_out_shards: torch.Tensor, budget: int, args) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Train both sides at `budget` total steps x batch; their losses, sample coherence and wall times."""
    per_expert = [round(budget * len(shard) / len(train_clips)) for shard in shards]
    started = time.perf_counter()
    central = train(config, train_clips, budget, args.batch, args.lr, expert=0)
    central_s = time.perf_counter() - started
    started = time.perf_counter()
    experts = [train(config, shard, steps, args.batch, args.lr, expert=k)
               for k, (shard, steps) in enumerate(zip(shards, per_expert, strict=True))]
    experts_s = time.perf_counter() - started
    with torch.no_grad():
        central_loss, mix_loss, oracle_loss = held_out_losses(central, experts, router, held_out, held_out_shards,
                                                              args.draws)
    central_samples = Pipeline([central])(steps=args.sample_steps, seed=7, batch=args.samples)
    ddm_samples = Pipeline(experts, router, combine="top1")(steps=args.sample_steps, seed=7, batch=args.samples)
    for name, samples in (("central", central_samples), ("ddm", ddm_samples)):
        write_video(np.concatenate(list(samples[:4]), axis=2), args.out / f"samples_{name}_{args.size}_{budget}.gif")
    return {"central": central_loss, "mix": mix_loss, "oracle": oracle_loss,
            "central_coh": float(coherence(central_samples).mean()), "ddm_coh": float(coherence(ddm_samples).mean()),
            "central_s": central_s, "experts_s": experts_s}


def main() -> None:
    parser = benchmark_parser(__doc__, size="tiny")
    parser.add_argument("--experts", type=int, default=4)
    parser.add_argument("--train-clips", type=int, default=512)
    parser.add_argument("--held-out", type=int, default=128)
    parser.add_argument("--budgets", type=int, nargs="+", default=[800, 1600, 3200],
                        help="total training steps x batch of each side, one comparison per budget")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--router-steps", type=int, default=300)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--sample-steps", type=int, default=20)
    parser.add_argument("--draws", type=int, default=4, help="noise draws per held-out clip for the loss")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"), help="where sample GIFs go")
    args = parser.parse_args()

    config = named_config(args.size)
    train_clips = synthetic_set(args.train_clips, seed=0, frames=config.frames, size=config.size)
    held_out = synthetic_set(args.held_out, seed=0, frames=config.frames, size=config.size, start=args.train_clips)
    sharding, shard_of = fit_shards(train_clips, args.experts, seed=0)
    shards = split_shards(train_clips, shard_of, args.experts)
    started = time.perf_counter()
    router = train_router(train_clips, shard_of, args.experts, steps=args.router_steps, seed=0)
    router_s = time.perf_counter() - started
    real = coherence(to_uint8(held_out.videos)).mean()
    print(f"model {args.size}, K={args.experts} experts, {args.train_clips} training clips "
          f"(shard sizes {[len(s) for s in shards]}), {args.held_out} held-out clips; batch {args.batch}, lr {args.lr};"
          f" experts get the budget in proportion to shard size; router {args.router_steps} steps ({router_s:.0f}s,"
          f" extra); real clips' coherence {real:.3f}")
    header = ("steps", "central loss", "DDM (router mix)", "DDM (oracle)", "mix / central", "coherence c / DDM",
              "wall time c / DDM")
    print("  ".join(header))
    results = {}
    for budget in args.budgets:
        r = results[budget] = compare(config, train_clips, held_out, shards, router,
                                      sharding.assign(held_out.videos), budget, args)
        print("  ".join(str(cell).ljust(len(head)) for cell, head in zip(
            (budget, f"{r['central']:.4f}", f"{r['mix']:.4f}", f"{r['oracle']:.4f}",
             f"{r['mix'] / r['central']:.2f}x", f"{r['central_coh']:.3f} / {r['ddm_coh']:.3f}",
             f"{r['central_s']:.0f}s / {r['experts_s']:.0f}s"), header, strict=True)), flush=True)
    largest = results[max(args.budgets)]
    verdict = "met" if largest["mix"] <= largest["central"] else "NOT met"
    trend = [f"{results[b]['mix'] / results[b]['central']:.2f}x" for b in args.budgets]
    print(f"goal DDM loss <= 1.00x central at the largest budget: {verdict} "
          f"({largest['mix'] / largest['central']:.2f}x); trend over budgets {' -> '.join(trend)}; "
          f"samples in {args.out}/")


if __name__ == "__main__":
    main()
