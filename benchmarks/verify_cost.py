"""What verification costs and what it catches, side by side in one run.

1. CPU time (process time, all threads) of the validator's checks of one delta vs the miner's CPU time for
   that delta, at H steps in n = H/k segments with the last and c random others challenged (IPFS and chain
   excluded on both sides), for c = 1 (the SDK's default) and c = 2. The base checkpoint's held-out losses
   are computed once per base and shared by its deltas (`--deltas-per-base`).
2. Detection probability when a miner skips a fraction f of its segments (the skipped segment's end state
   is its start state), and when it forges only its final state (a final leaf of its choosing, so a delta
   of its choosing): exact formula, Monte Carlo over the contract's challenge draw, and the real checks run
   on real forged traces for a sample of seeds.
3. False positives: honest deltas (several miners, several merged rounds, error feedback carried) through
   every check.
4. Score noise: one delta scored under many noise seeds, with 1 and 4 noise draws per held-out clip.
(How the replay tolerance for mixed hardware is set: benchmarks/cross_device.py.)

    .venv/bin/python benchmarks/verify_cost.py [--size tiny] [--local-steps 200] [--segment-steps 2] [--challenges 1]
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import torch

from paris_node.data.shards import hold_out
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.codec import CodecParams
from paris_node.learning.jobspec import JobSpec, segment_spec
from paris_node.learning.merge import MergeInput, outer_step
from paris_node.learning.reveal import Reveal, build_reveal
from paris_node.learning.trace import challenged_segments, merkle_root
from paris_node.learning.train import TrainState, run_segment, state_hash
from paris_node.model.dit import VideoDiT, named_config
from paris_node.roles.miner import kept_reveal, train_round
from paris_validator.checks import (CheckFailed, Submission, check_delta_file, check_delta_matches, check_reveal,
                                    check_step_envelope, replay)
from paris_validator.scoring import DRAWS, HELD_OUT_CLIPS, BaseLosses, HeldOut, useful_work

from arguments import benchmark_parser

MINER = "0x" + "11" * 20


def verify(spec: JobSpec, shard, evals, base: Checkpoint, data: bytes, reveal: Reveal,  # type: ignore[no-untyped-def]
           sub: Submission, challenged: list[int], seed: bytes, error,  # type: ignore[no-untyped-def]
           losses: BaseLosses) -> tuple[int, dict, dict]:
    """Every check a validator runs on one delta; returns its score, the carried error and the update."""
    update = check_delta_file(data, sub, spec, base)
    check_reveal(reveal, sub, challenged, base)
    _, final = replay(spec, shard, reveal, sub, challenged, base)
    check_step_envelope(spec, base, final)
    carried = check_delta_matches(data, sub, spec, base, final, error)
    return useful_work(spec, shard, base, update, sub, seed, evals=evals, base_losses=losses).score, carried, update


def submission(spec: JobSpec, base: Checkpoint, miner: str, digests: list[bytes], cid: str = "-") -> Submission:
    return Submission(1, 1, base.expert, base.version, miner, cid, merkle_root(digests), spec.segments)


def cost(spec: JobSpec, shard, evals, base: Checkpoint, challenges: list[int], scratch: Path,  # type: ignore[no-untyped-def]
         seeds: int) -> tuple[float, dict[int, float], float, Submission, dict]:
    """The miner's CPU seconds for one delta; the validator's for each number of random challenges (median
    over `seeds` challenge draws); the base checkpoint's held-out losses, shared by every delta on that base."""
    started = time.process_time()
    work, _ = train_round(spec, shard, base, 1, MINER, None, scratch / "cost")
    kept_reveal(scratch / "cost", work.digests, challenged_segments(secrets.token_bytes(32), spec.segments,
                                                                    challenges[0])).to_bytes()
    miner_s = time.process_time() - started
    sub = submission(spec, base, MINER, work.digests)
    losses = BaseLosses()
    started = time.process_time()
    losses.of(spec, base, sub, HeldOut(evals, list(range(len(evals))), True), DRAWS)
    base_s = time.process_time() - started
    medians = {}
    for count in challenges:
        runs = []
        for _ in range(seeds):
            seed = secrets.token_bytes(32)
            challenged = challenged_segments(seed, spec.segments, count)
            reveal_bytes = kept_reveal(scratch / "cost", work.digests, challenged).to_bytes()
            started = time.process_time()
            update = verify(spec, shard, evals, base, work.delta, Reveal.from_bytes(reveal_bytes), sub, challenged,
                            seed, None, losses)[2]
            runs.append(time.process_time() - started)
        medians[count] = statistics.median(runs)
    return miner_s, medians, base_s, sub, update


def score_noise(spec: JobSpec, shard, evals, base: Checkpoint, sub: Submission, update: dict,  # type: ignore[no-untyped-def]
                seeds: int = 20) -> None:
    """One delta scored under many noise seeds (each clip's noise comes from the job seed and the base): the
    spread a miner sees from the draw alone."""
    print(f"\n4. one delta's score under {seeds} noise seeds ({min(HELD_OUT_CLIPS, len(evals))} clips of the "
          f"expert's evaluation set):")
    for draws in (DRAWS, 4 * DRAWS):
        started = time.process_time()
        scores = torch.tensor([float(useful_work(dataclasses.replace(spec, job_seed=job_seed), shard, base, update,
                                                 sub, secrets.token_bytes(32), draws, evals).score)
                               for job_seed in range(seeds)])
        seconds = (time.process_time() - started) / seeds
        print(f"   {draws} draw(s) per clip: mean {scores.mean():.0f}  std {scores.std():.0f} "
              f"({100 * scores.std() / scores.mean():.1f}%)  {seconds:.3f} CPU s per score (base losses included)")


def skipping_trace(spec: JobSpec, shard, base: Checkpoint, skipped: set[int]) -> list[TrainState]:  # type: ignore[no-untyped-def]
    """Boundary states of a miner that does no work in the `skipped` segments and trains the others."""
    states = [TrainState(dict(base.weights))]
    for segment in range(spec.segments):
        current = states[-1]
        if segment in skipped:
            states.append(dataclasses.replace(current, step=current.step + spec.segment_steps))
        else:
            states.append(run_segment(spec.model, current, shard,
                                      segment_spec(spec, MINER, base.expert, base.version, segment)).state)
    return states


def detection(spec: JobSpec, shard, base: Checkpoint, challenges: int,  # type: ignore[no-untyped-def]
              trials: int) -> dict[str | float, float]:
    """Prints the table; returns the real checks' catch rate by fraction faked (or "final state")."""
    n = spec.segments
    measured = {}
    print(f"\n2. detection of skipped segments, n={n}, the last + c={challenges} random "
          f"(Monte Carlo: 20,000 seeds through the contract's draw; real: {trials} seeds through the real checks)")
    print(f"{'segments faked':>18s}{'segments':>10s}{'exact':>10s}{'Monte Carlo':>13s}{'real checks':>13s}")
    cases: list[tuple[str | float, set[int]]] = [("final state", {n - 1})]
    for fraction in (0.01, 0.05, 0.1, 0.25, 0.5, 1.0):  # spread over the segments, the last one only when all
        faked = max(1, round(fraction * n))
        cases.append((fraction, set(sorted(range(0, n, max(1, n // faked)))[:faked])))
    for fraction, skipped in cases:
        faked, others = len(skipped), n - 1
        draws = min(challenges, others)
        exact = 1.0 if n - 1 in skipped else 1 - math.comb(others - faked, draws) / math.comb(others, draws)
        hits = sum(bool(skipped & set(challenged_segments(secrets.token_bytes(32), n, challenges)))
                   for _ in range(20_000))
        real = ""
        if fraction in ("final state", 0.1, 1.0):
            states = skipping_trace(spec, shard, base, skipped)
            digests = [state_hash(s) for s in states]
            sub = submission(spec, base, MINER, digests)
            caught = 0
            for _ in range(trials):
                challenged = challenged_segments(secrets.token_bytes(32), n, challenges)
                reveal = build_reveal(dict(enumerate(states)), digests, challenged)
                try:
                    replay(spec, shard, reveal, sub, challenged, base)
                except CheckFailed:
                    caught += 1
            measured[fraction] = caught / trials
            real = f"{caught / trials:.3f}"
        shown = fraction if isinstance(fraction, str) else f"f = {fraction:.2f}"
        print(f"{shown:>18s}{faked:>10d}{exact:>10.3f}{hits / 20_000:>13.3f}{real:>13s}")
    return measured


def false_positives(config, shard, evals, miners: int, rounds: int,  # type: ignore[no-untyped-def]
                    scratch: Path) -> tuple[int, int]:
    spec = JobSpec(name="fp", model=config, shards=("-",), initial=("-",), job_seed=3, local_steps=4,
                   segment_steps=2, batch=4)
    torch.manual_seed(1)
    base = Checkpoint(config, 1, 0, 0, dict(VideoDiT(config).state_dict()), {})
    errors: dict[str, dict | None] = {f"0x{m + 1:040x}": None for m in range(miners)}  # the miners' own copies
    seen: dict[str, dict | None] = dict(errors)  # what the validator reconstructs
    checked = failed = 0
    for round_index in range(rounds):
        inputs, losses = [], BaseLosses()
        for m, miner in enumerate(errors):
            states_dir = scratch / f"fp-{round_index}-{m}"
            work, errors[miner] = train_round(spec, shard, base, 1, miner, errors[miner], states_dir)
            seed = secrets.token_bytes(32)
            challenged = challenged_segments(seed, spec.segments, 1)
            reveal = kept_reveal(states_dir, work.digests, challenged)
            try:
                score, seen[miner], update = verify(spec, shard, evals, base, work.delta, reveal,
                                                    submission(spec, base, miner, work.digests), challenged, seed,
                                                    seen[miner], losses)
                inputs.append(MergeInput(m + 1, update, score, 0))
            except CheckFailed as exc:
                failed += 1
                print(f"   FALSE POSITIVE: round {round_index} miner {m}: {exc}")
            checked += 1
        weights, momentum = outer_step(base.weights, base.momentum, inputs, spec.outer)
        base = Checkpoint(config, 1, 0, base.version + 1, weights, momentum)
    return checked, failed


def main() -> None:
    parser = benchmark_parser(__doc__, size="tiny")
    parser.add_argument("--local-steps", type=int, default=200)
    parser.add_argument("--segment-steps", type=int, default=2)
    parser.add_argument("--challenges", type=int, default=1, help="random segments besides the last")
    parser.add_argument("--honest-miners", type=int, default=10)
    parser.add_argument("--honest-rounds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=5, help="challenge draws the validator's cost is the median of")
    parser.add_argument("--deltas-per-base", type=int, default=10, help="deltas sharing one base's losses")
    args = parser.parse_args()

    config = named_config(args.size)
    (shard,), (evals,) = hold_out([synthetic_set(64, seed=0, frames=config.frames, size=config.size)])
    spec = JobSpec(name="bench", model=config, shards=("-",), initial=("-",), job_seed=0,
                   local_steps=args.local_steps, segment_steps=args.segment_steps, batch=8, codec=CodecParams())
    torch.manual_seed(0)
    base = Checkpoint(config, 1, 0, 0, dict(VideoDiT(config).state_dict()), {})
    print(f"model {args.size}, H={spec.local_steps}, k={spec.segment_steps}, n={spec.segments} segments, "
          f"c={args.challenges} challenged, batch {spec.batch}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as scratch:
        compared = sorted({args.challenges, 1, 2})
        miner_s, checks_s, base_s, sub, update = cost(spec, shard, evals, base, compared, Path(scratch), args.seeds)
        shared_s = base_s / args.deltas_per_base
        print(f"\n1. CPU seconds per delta: miner {miner_s:.2f}; validator: checks (median of {args.seeds} draws) "
              f"+ the base's held-out losses {base_s:.3f} / {args.deltas_per_base} deltas on that base")
        for count in compared:
            print(f"   c={count}: validator {checks_s[count] + shared_s:.3f}  ratio "
                  f"{100 * (checks_s[count] + shared_s) / miner_s:.2f}%  (replay alone (c+1)/n = "
                  f"{100 * (count + 1) / spec.segments:.1f}%)")
        ratio = (checks_s[args.challenges] + shared_s) / miner_s
        caught = detection(spec, shard, base, args.challenges, args.trials)
        checked, failed = false_positives(config, shard, evals, args.honest_miners, args.honest_rounds, Path(scratch))
    print(f"\n3. honest deltas checked: {checked}, flagged: {failed}")
    score_noise(spec, shard, evals, base, sub, update)
    full, final = caught[1.0], caught["final state"]
    print(f"\ngoals: validator cost <= 3% of the miner's at c={args.challenges}: "
          f"{'met' if ratio <= 0.03 else 'NOT met'} ({100 * ratio:.2f}%); "
          f"fully forged trace caught >= 99%: {'met' if full >= 0.99 else 'NOT met'} "
          f"({100 * full:.1f}% of {args.trials} seeds); forged final state caught every time: "
          f"{'met' if final == 1.0 else 'NOT met'} ({100 * final:.1f}%); "
          f">= 50 honest deltas, 0 false positives: {'met' if checked >= 50 and failed == 0 else 'NOT met'} "
          f"({checked} checked, {failed} flagged)")


if __name__ == "__main__":
    main()
