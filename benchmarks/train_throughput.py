"""Training throughput of the video DiT: clips/s per model size, and on a GPU the step time and MFU.

On CPU it times `run_segment` (the deterministic unit miners run and validators replay) for `tiny` and
`small`. With CUDA it also times the `base` model's training step (bf16 autocast, fused AdamW,
optionally torch.compile) and prints model FLOPs utilization against the card's dense bf16 peak
(goal: >= 35% on an H100).

    .venv/bin/python benchmarks/train_throughput.py [--sizes tiny small] [--steps 20] [--batch 8]
"""

from __future__ import annotations

import time

import torch

from paris_node.data.synthetic import synthetic_set
from paris_node.learning.train import SegmentSpec, TrainState, run_segment
from paris_node.model.dit import DiTConfig, VideoDiT, named_config
from paris_node.model.flow import flow_matching_loss

from arguments import benchmark_parser

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense, SXM


def train_flops_per_clip(config: DiTConfig, frames: int) -> float:
    """Matmul FLOPs of one clip's forward + backward (3x forward): token-wise linears plus attention."""
    tokens_per_frame = config.tokens_per_frame
    tokens = frames * tokens_per_frame
    d, hidden = config.dim, int(config.dim * config.mlp_ratio)
    per_token_params = config.depth * (2 * 4 * d * d + 2 * d * hidden)  # 2 attentions (qkv+proj) + MLP
    per_token_params += config.channels * config.patch**2 * d * 2  # patch embed + output projection
    attention = config.depth * 4 * d * (frames * tokens_per_frame**2 + tokens_per_frame * frames**2)
    return 3 * (2 * per_token_params * tokens + attention)


def cpu_clips_per_s(config: DiTConfig, steps: int, batch: int, threads: int) -> tuple[float, float]:
    clips = synthetic_set(64, seed=0, frames=config.frames, size=config.size)
    state = TrainState.fresh(VideoDiT(config))
    spec = SegmentSpec(job_seed=0, miner="bench", expert=0, base_version=0, start_step=0, steps=2, batch=batch,
                       threads=threads)
    state = run_segment(config, state, clips, spec).state  # warm-up
    started = time.perf_counter()
    run_segment(config, state, clips, SegmentSpec(**{**spec.__dict__, "steps": steps, "start_step": 2}))
    elapsed = time.perf_counter() - started
    return steps * batch / elapsed, elapsed / steps


def gpu_step(config: DiTConfig, steps: int, batch: int, compile_model: bool) -> tuple[float, float]:
    device = torch.device("cuda")
    model = VideoDiT(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    forward = torch.compile(model) if compile_model else model
    clips = synthetic_set(batch, seed=0, frames=config.frames, size=config.size).videos.to(device)
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = flow_matching_loss(forward, clips, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / steps
    return seconds, train_flops_per_clip(config, config.frames) * batch / seconds


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gpu-batch", type=int, default=16)
    parser.add_argument("--compile", action="store_true", help="torch.compile the base model on the GPU")
    args = parser.parse_args()

    print(f"CPU: torch {torch.__version__}, {args.threads} threads, batch {args.batch}, run_segment (deterministic)")
    results = {}
    for name in args.sizes:
        config = named_config(name)
        params = sum(p.numel() for p in VideoDiT(config).parameters())
        clips_s, step_s = cpu_clips_per_s(config, args.steps, args.batch, args.threads)
        results[name] = clips_s
        flops = train_flops_per_clip(config, config.frames) * clips_s
        print(f"  {name:6s} {params / 1e6:7.2f}M params  {clips_s:8.1f} clips/s  {step_s * 1000:8.1f} ms/step"
              f"  {flops / 1e9:6.1f} GFLOP/s")
    if "tiny" in results and "small" in results:
        print(f"  small/tiny throughput ratio: {results['small'] / results['tiny']:.2f}x")

    if not torch.cuda.is_available():
        print("GPU: none here; the base model's step time and MFU are measured on a CUDA machine")
        return
    name = torch.cuda.get_device_name()
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    config = named_config("base")
    seconds, flops = gpu_step(config, args.steps, args.gpu_batch, args.compile)
    mfu = f"{100 * flops / (peak * 1e12):.1f}% of {peak:.0f} TFLOP/s" if peak else "unknown peak"
    print(f"GPU {name}: base, batch {args.gpu_batch}, bf16{' + compile' if args.compile else ''}: "
          f"{seconds * 1000:.1f} ms/step, {args.gpu_batch / seconds:.1f} clips/s, "
          f"{flops / 1e12:.1f} TFLOP/s, MFU {mfu} (goal >= 35% on an H100)")


if __name__ == "__main__":
    main()
