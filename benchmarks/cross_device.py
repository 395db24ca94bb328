"""Replay drift across hardware: how the validator's replay tolerance for mixed hardware is set.

One training segment is run from the same state on the CPU a validator replays with (2 threads), and as
another machine would run it: CPU with 1 thread, CUDA in fp32 (twice: is a GPU bit-exact with itself?),
CUDA with TF32 matmuls, CUDA under bf16 autocast (a cheaper precision than the job asks for), and the
CPU with one step skipped (the lazy cheat). Each is measured with `state_drift` (the validator's metric:
distance to the CPU replay relative to the segment's own update), with run_segment's time per step.

    python benchmarks/cross_device.py [--sizes tiny small] [--segment-steps 2 8]
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch

from paris_node.data.synthetic import synthetic_set
from paris_node.learning.train import SegmentSpec, TrainState, run_segment, state_drift, state_hash
from paris_node.model.dit import VideoDiT, named_config

from arguments import benchmark_parser


@contextmanager
def tf32() -> Iterator[None]:
    """TF32 matmuls and convolutions for the duration of one run."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def variants(cuda: bool) -> list[tuple[str, str, Callable[[], AbstractContextManager[None]], dict[str, int]]]:
    """(label, device, context, spec changes) of each way another machine might run the segment."""
    rows = [("CPU, 1 thread", "cpu", nullcontext, {"threads": 1})]
    if cuda:
        rows += [("CUDA fp32", "cuda", nullcontext, {}),
                 ("CUDA fp32, second run", "cuda", nullcontext, {}),
                 ("CUDA TF32 matmuls", "cuda", tf32, {}),
                 ("CUDA bf16 autocast", "cuda",
                  lambda: torch.autocast("cuda", dtype=torch.bfloat16), {})]
    rows.append(("CPU, one step skipped (lazy)", "cpu", nullcontext, {"skip": 1}))
    return rows


def timed(config, start: TrainState, clips, spec: SegmentSpec, device: str,  # type: ignore[no-untyped-def]
          context: Callable[[], AbstractContextManager[None]]) -> tuple[TrainState, float]:
    with context():
        started = time.perf_counter()
        state = run_segment(config, start, clips, spec, device).state
        if device == "cuda":
            torch.cuda.synchronize()
        return state, (time.perf_counter() - started) / max(spec.steps, 1)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    parser.add_argument("--segment-steps", nargs="+", type=int, default=[2, 8])
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    where = torch.cuda.get_device_name() if cuda else "no GPU here (CPU rows only)"
    print(f"torch {torch.__version__}; {where}; batch {args.batch}; drift = ||other - cpu|| / ||cpu - start|| "
          f"(max of weights and AdamW moments)")
    for name in args.sizes:
        config = named_config(name)
        torch.manual_seed(0)
        clips = synthetic_set(64, seed=0, frames=config.frames, size=config.size)
        base = SegmentSpec(job_seed=0, miner="0x" + "11" * 20, expert=0, base_version=0, start_step=0, steps=4,
                           batch=args.batch)
        start = run_segment(config, TrainState.fresh(VideoDiT(config)), clips, base).state  # non-zero moments
        if cuda:  # warm up kernels and allocator before timing
            run_segment(config, start, clips, dataclasses.replace(base, steps=1), "cuda")
        for k in args.segment_steps:
            spec = dataclasses.replace(base, start_step=4, steps=k)
            reference, cpu_s = timed(config, start, clips, spec, "cpu", nullcontext)
            print(f"\n{name}, k={k}: validator replay (CPU, 2 threads) {cpu_s * 1000:.1f} ms/step")
            first_gpu: TrainState | None = None
            print(f"  {'run':32s} {'drift':>10s}  {'bit-exact':>9s}  {'ms/step':>8s}  {'vs CPU':>7s}")
            for label, device, context, changes in variants(cuda):
                steps = k - changes.get("skip", 0)
                other = dataclasses.replace(spec, steps=steps, threads=changes.get("threads", spec.threads))
                try:
                    state, seconds = timed(config, start, clips, other, device, context)
                except RuntimeError as exc:  # e.g. an op with no deterministic CUDA kernel
                    print(f"  {label:32s} failed: {exc}")
                    continue
                if "skip" in changes:  # the lazy miner claims k steps: same step counter as the honest one
                    state = TrainState(state.weights, state.moments, reference.step)
                drift = state_drift(start, state, reference)
                exact = state_hash(state) == state_hash(reference)
                print(f"  {label:32s} {drift:10.2e}  {exact!s:>9s}  {seconds * 1000:8.1f}  {cpu_s / seconds:6.1f}x")
                if label == "CUDA fp32":
                    first_gpu = state
                if label == "CUDA fp32, second run" and first_gpu is not None:
                    print(f"  {'  (vs the first CUDA run)':32s} {state_drift(start, state, first_gpu):10.2e}  "
                          f"{state_hash(state) == state_hash(first_gpu)!s:>9s}")


if __name__ == "__main__":
    main()
