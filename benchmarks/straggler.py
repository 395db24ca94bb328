"""An expert's round time with one 10x-slower miner vs all miners fast. Goal: <= 1.2x.

Real `MinerDaemon`s and an `AggregatorDaemon` run (in threads) against a local devnet; this script plays
the validator, passing every revealed delta (sealing, opening and deciding its vote as the court's phases
allow: the vote phases add the same 2 x VOTE_WINDOW to every round, fast or slow). The slow machine is
emulated: its daemon sleeps after training until its round took 10x as long. Round time runs from the job's
creation to its ExpertFinalized event. The aggregator keeps a round open `--min-wait` seconds for submissions,
then merges what is decided without waiting for miners that have not submitted.

    .venv/bin/python benchmarks/straggler.py [--miners 3] [--min-wait 4]
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path

import torch

from paris_node.content.store import IpfsStore
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.jobspec import JobSpec
from paris_node.market.chain import ROLE_VALIDATOR, Chain, EventCursor, JobTerms
from paris_node.model.dit import VideoDiT, named_config
from paris_node.roles.aggregator_daemon import AggregatorDaemon
from paris_node.roles.miner_daemon import MinerDaemon
from paris_node.runtime.devnet import Devnet, devnet_account

from arguments import benchmark_parser

MINER_ACCOUNTS = (5, 6, 7, 8)
SLOWDOWN = 10.0


class SlowMinerDaemon(MinerDaemon):
    """Emulates a machine SLOWDOWN times slower: training takes that much longer in wall time."""

    def _advance_training(self, job_id: int, spec: JobSpec, expert: int) -> None:
        started = time.monotonic()
        before = self.journal.get(job_id, expert, self.chain.version_of(job_id, expert))
        super()._advance_training(job_id, spec, expert)
        if before is None and self.journal.get(job_id, expert, self.chain.version_of(job_id, expert)):
            time.sleep((SLOWDOWN - 1) * (time.monotonic() - started))


def round_time(info, store: IpfsStore, spec_cid, miners: int, slow: bool, min_wait: float,  # type: ignore[no-untyped-def]
               scratch: Path) -> float:
    requester, validator = (Chain(info.rpc_url, info.contract, devnet_account(i)) for i in (1, 3))
    aggregator = Chain(info.rpc_url, info.contract, devnet_account(2))
    now = requester.w3.eth.get_block("latest")["timestamp"]
    started = time.monotonic()
    job_id = requester.create_job(JobTerms(spec=spec_cid, experts=1, rounds=1, reward_per_round_wei=10**18,
                                           deadline=now + 3600, aggregator=aggregator.account.address,
                                           challenges=1), escrow_wei=10**18)
    stop = threading.Event()
    daemons = [(SlowMinerDaemon if slow and i == 0 else MinerDaemon)(
        Chain(info.rpc_url, info.contract, devnet_account(account)), store, scratch / f"job{job_id}-m{i}",
        info.deploy_block, jobs={job_id}) for i, account in enumerate(MINER_ACCOUNTS[:miners])]
    daemons.append(AggregatorDaemon(aggregator, store, scratch / f"job{job_id}-aggregator", info.deploy_block, {job_id},
                                    round_timeout_s=600, min_wait_s=min_wait))
    threads = [threading.Thread(target=d.run, args=(stop, 0.2), daemon=True) for d in daemons]
    for thread in threads:
        thread.start()
    stage: dict[int, int] = {}  # delta id -> court steps taken: 1 sealed, 2 opened, 3 decided
    salt = b"\x5a" * 32
    try:
        while requester.version_of(job_id, 0) < 1:
            for event in validator.events(EventCursor(info.deploy_block), {"DeltaSubmitted"}):
                delta_id, delta = event.args["deltaId"], validator.delta(event.args["deltaId"])
                if event.args["jobId"] != job_id or not delta.revealed:
                    continue
                elapsed, steps = validator.timestamp() - delta.revealed_at, stage.get(delta_id, 0)
                if steps == 0:
                    validator.commit_vote(delta_id, True, 1000, salt)
                elif steps == 1 and elapsed > validator.vote_window:
                    validator.reveal_vote(delta_id, True, 1000, salt)
                elif steps == 2 and elapsed > 2 * validator.vote_window:
                    validator.decide(delta_id)
                else:
                    continue
                stage[delta_id] = steps + 1
            time.sleep(0.2)
        return time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--miners", type=int, default=3, choices=range(2, len(MINER_ACCOUNTS) + 1))
    parser.add_argument("--min-wait", type=float, default=4.0)
    parser.add_argument("--local-steps", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as scratch:
        devnet = Devnet(Path(scratch) / "devnet")
        info = devnet.start()
        try:
            store = IpfsStore(info.ipfs_api)
            config = named_config("tiny")
            torch.manual_seed(0)
            base = Checkpoint(config, 0, 0, 0, dict(VideoDiT(config).state_dict()), {})
            spec = JobSpec(name="straggler", model=config, shards=(str(store.add(synthetic_set(64, 0).to_bytes())),),
                           initial=(str(store.add(base.to_bytes())),), job_seed=0, local_steps=args.local_steps,
                           segment_steps=args.local_steps // 2, batch=4)
            spec_cid = store.add(spec.to_bytes())
            Chain(info.rpc_url, info.contract, devnet_account(3)).stake(ROLE_VALIDATOR, wei=10**18)
            fast = round_time(info, store, spec_cid, args.miners, False, args.min_wait, Path(scratch))
            slow = round_time(info, store, spec_cid, args.miners, True, args.min_wait, Path(scratch))
        finally:
            devnet.stop()
    print(f"{args.miners} miners (tiny, H={args.local_steps}), aggregator min-wait {args.min_wait}s; "
          f"the slow miner is emulated at {SLOWDOWN:.0f}x")
    print(f"  round time, all miners fast:        {fast:6.1f}s")
    print(f"  round time, one miner {SLOWDOWN:.0f}x slower:    {slow:6.1f}s")
    print(f"  ratio {slow / fast:.2f}x (goal <= 1.2: {'met' if slow / fast <= 1.2 else 'NOT met'})")


if __name__ == "__main__":
    main()
