"""A miner's round wall time vs the pure training time of the same steps, on a local devnet.

The round: fetch the checkpoint from IPFS, train H steps as traced segments (state hashes, boundary states
kept on disk), encode the delta, put it on IPFS, submit it on chain, and reveal the challenged states once
the challenge seed exists (the wait for that block is reported apart: it is idle time, not work). Pure
training: the same `run_segment` calls on the same data, nothing else. Goal: round / training <= 1.05.

    .venv/bin/python benchmarks/miner_overhead.py [--size small] [--local-steps 100] [--segment-steps 25]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from paris_node.content.store import IpfsStore
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.jobspec import JobSpec, segment_spec
from paris_node.learning.train import TrainState, run_segment
from paris_node.market.chain import ROLE_MINER, Chain, ContractRevert, JobTerms
from paris_node.model.dit import VideoDiT, named_config
from paris_node.roles.miner import kept_reveal, train_round
from paris_node.runtime.devnet import Devnet, devnet_account

from arguments import benchmark_parser


def main() -> None:
    parser = benchmark_parser(__doc__, size="small")
    parser.add_argument("--local-steps", type=int, default=100, help="H: DiLoCo rounds are long by design")
    parser.add_argument("--segment-steps", type=int, default=25)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        devnet = Devnet(Path(scratch) / "devnet")
        info = devnet.start()
        try:
            measure(info, Path(scratch), args)
        finally:
            devnet.stop()


def measure(info, scratch: Path, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    config = named_config(args.size)
    store = IpfsStore(info.ipfs_api)
    shard = synthetic_set(128, seed=0, frames=config.frames, size=config.size)
    torch.manual_seed(0)
    base = Checkpoint(config, 0, 0, 0, dict(VideoDiT(config).state_dict()), {})
    base_cid = store.add(base.to_bytes())
    spec = JobSpec(name="overhead", model=config, shards=(str(store.add(shard.to_bytes())),), initial=(str(base_cid),),
                   job_seed=0, local_steps=args.local_steps, segment_steps=args.segment_steps, batch=args.batch)
    requester, miner = (Chain(info.rpc_url, info.contract, devnet_account(i)) for i in (1, 5))
    now = requester.w3.eth.get_block("latest")["timestamp"]
    job_id = requester.create_job(JobTerms(spec=store.add(spec.to_bytes()), experts=1, rounds=1,
                                           reward_per_round_wei=10**18, deadline=now + 3600,
                                           aggregator=info.address("aggregator"), challenges=2), escrow_wei=10**18)
    miner.stake(ROLE_MINER, wei=10**18)

    def pure_training() -> float:
        state = TrainState({n: t.clone() for n, t in base.weights.items()})
        started = time.perf_counter()
        for segment in range(spec.segments):
            state = run_segment(config, state, shard, segment_spec(spec, miner.account.address, 0, 0, segment)).state
        return time.perf_counter() - started

    run_segment(config, TrainState(dict(base.weights)), shard, segment_spec(spec, miner.account.address, 0, 0, 0))
    pure_before = pure_training()  # measured before and after the round, so machine drift cancels out

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    fetched = Checkpoint.from_bytes(store.get(base_cid))
    lap("fetch checkpoint (IPFS, verified)")
    work, _ = train_round(spec, shard, fetched, job_id, miner.account.address, None, scratch / "states")
    lap("train H steps + trace + encode")
    delta_id = miner.submit_delta(job_id, 0, 0, store.add(work.delta), work.trace_root, work.segments)
    lap("delta to IPFS + submitDelta")
    waited = time.perf_counter()
    while True:
        try:
            miner.fix_challenge(delta_id)
            challenged = miner.challenged_segments(delta_id)
            break
        except ContractRevert:
            time.sleep(0.05)
    idle = time.perf_counter() - waited
    clock = time.perf_counter()
    miner.reveal(delta_id, store.add(kept_reveal(scratch / "states", work.digests, challenged).to_bytes()))
    lap("reveal to IPFS + reveal tx")
    total = sum(timings.values())
    pure_after = pure_training()
    pure = (pure_before + pure_after) / 2

    print(f"model {args.size}, H={args.local_steps} steps in segments of {args.segment_steps}, batch {args.batch}, "
          f"delta {len(work.delta):,} bytes")
    for name, seconds in timings.items():
        print(f"  {name:36s} {seconds:7.2f}s")
    print(f"  {'(waiting for the challenge block)':36s} {idle:7.2f}s  not counted")
    print(f"pure training of the same steps: {pure_before:.2f}s before, {pure_after:.2f}s after the round")
    print(f"miner round {total:.2f}s vs pure training {pure:.2f}s = {total / pure:.3f}x "
          f"(goal <= 1.05: {'met' if total / pure <= 1.05 else 'NOT met'})")
    store.close()


if __name__ == "__main__":
    main()
