"""Paris over office links: round and job wall time on the multi-host testbed with the compressed codec versus
dense deltas, per-host traffic, each miner's utilization, a late joiner, a killed host, and idle daemon CPU.
Goal: miner utilization >= 95 % with the compressed codec; a late joiner productive within one round.

Link rates follow a reference: a 1B-parameter model's dense fp32 delta (4 GB) takes 320 s on a 100 Mbit/s
office uplink, which is 320 / `--ref-round-s` of its round (default 300 s: H = 500 inner steps at 0.6 s). This
machine first times a round of the test model (`--local-steps` steps: T s), then gives each miner a link of
dense bits / (320 / ref-round-s x T), so that a dense delta of the test model takes the same share of its
round; the late joiner's host gets half that, the studio (requester and aggregator) and the validator four
times that. Each run is a fresh network (six hosts, every daemon a process on its host, found through the
bootstrap peer):

- compressed: the job's codec is the default (v2, 1.1 % of values), miners train `--lanes` deltas per
  checkpoint (the next while the last is checked; the job's staleness bound is `--staleness-bound`) and
  assist (`--assist`: with no lane left on their own experts, a delta of an expert dealt to the other miner);
- one-lane: compressed, but each miner trains one delta per checkpoint, does not assist, and waits for its merge;
- dense: codec v1 keeping every value (24 bits a value, the densest the protocol sends), `--lanes` lanes,
  assisting;
- churn: compressed, a third miner joining once every expert merged once, and miner-b's host pulled as soon as
  the newcomer's first delta is on chain (the round is open: miner-b's delta in it is not checked yet).

Utilization is a miner's training time over its wall time from its first training step to its last (its
start-up, spent fetching shards, is shown apart as `first step after`). A round's wall time runs from the
previous merge of its expert (the job's creation for the first) to its merge, in chain time. "Productive"
means a delta on chain. Idle CPU is each daemon process's (p2p host, status API and chain polling together)
over `--idle-s` once, after the job, every daemon's status API says it rests (nothing in flight: its last deltas
settled, checked or merged). Needs root (network namespaces).

    cd benchmarks && ../.venv/bin/python wan_round.py [--experts 2] [--rounds 2] [--local-steps 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import torch

from paris_node.content.store import IpfsStore
from paris_node.data.clips import ClipSet
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.codec import CodecParams
from paris_node.learning.jobspec import JobSpec
from paris_node.learning.merge import OuterParams
from paris_node.market.chain import Chain, EventCursor, JobTerms
from paris_node.model.dit import VideoDiT, named_config
from paris_node.roles.miner import train_round
from paris_node.runtime.devnet import DEVNET_MARKET, devnet_account
from paris_node.runtime.multihost import MultiHost
from paris_node.runtime.testbed import Child

from arguments import benchmark_parser

CLIPS = 8  # per expert
MINER_HOSTS = {"miner-1": "miner-a", "miner-2": "miner-b", "miner-3": "late"}
DAEMON = [sys.executable, "-c"]
MINER = [*DAEMON, "from paris_node.runtime.miner_cli import main; main()"]
VALIDATOR = [*DAEMON, "from paris_validator.cli import main; main()"]
TRAINED = re.compile(r"^(\S+ \S+) INFO paris_node\.roles\.miner_daemon: job \d+ expert \d+ v\d+: trained \d+ steps "
                     r"in ([\d.]+)s", re.M)
SUBMITTED = re.compile(r"^(\S+ \S+) INFO paris_node\.roles\.miner_daemon: .*submitted delta", re.M)


@dataclass
class Run:
    label: str
    job_s: float = 0.0
    rounds_s: list[float] = field(default_factory=list)
    traffic: dict[str, tuple[int, int]] = field(default_factory=dict)  # host -> (received, sent)
    utilization: dict[str, tuple[float, float]] = field(default_factory=dict)  # miner -> (share, first step after s)
    idle_cpu: dict[str, float] = field(default_factory=dict)  # daemon -> % of a core
    late_productive_s: float | None = None
    deltas: tuple[int, int, int] = (0, 0, 0)  # submitted, merged, merged from lanes >= 1
    after_kill_s: float | None = None  # until every unfinished expert merged again after the kill
    rest_after_s: float | None = None  # from the job's end until every daemon rests; None: not within a round


def _stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _utilization(log: Path, started: float) -> tuple[float, float]:
    trained = [(_stamp(when), float(seconds)) for when, seconds in TRAINED.findall(log.read_text())]
    if not trained:
        return 0.0, float("nan")
    first = trained[0][0] - trained[0][1]
    return sum(s for _, s in trained) / (trained[-1][0] - first), first - started


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user and system) the process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status(work_dir: Path) -> dict:
    """A daemon's status API answer; {} while it does not answer."""
    try:
        url = (work_dir / "status.url").read_text().strip()
        return httpx.get(f"{url}/status", timeout=5).json()
    except (OSError, httpx.HTTPError, ValueError):
        return {}


def _hear_each_other(work: list[Path], timeout_s: float = 120) -> None:
    """Wait until each miner's status API lists every other miner alive."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        heard = [sum(p["role"] == "miner" and p["alive"] for p in _status(d).get("peers", [])) for d in work]
        if heard and all(n == len(work) - 1 for n in heard):
            return
        time.sleep(1)
    raise TimeoutError("the miners did not hear each other")


def _spec(add: Callable[[bytes], str], experts: int, steps: int, codec: CodecParams,
          staleness_bound: int = 1) -> JobSpec:
    """The job: `experts` shards of synthetic clips and their initial checkpoints, stored through `add`."""
    torch.manual_seed(0)
    model = VideoDiT(named_config("tiny"))
    base = Checkpoint(model.config, 0, 0, 0, dict(model.state_dict()), {})
    return JobSpec(name="wan", model=model.config, job_seed=1, local_steps=steps, segment_steps=steps // 10, batch=4,
                   shards=tuple(add(synthetic_set(CLIPS, e, start=e * CLIPS).to_bytes()) for e in range(experts)),
                   initial=tuple(add(dataclasses.replace(base, expert=e).to_bytes()) for e in range(experts)),
                   codec=codec, outer=OuterParams(staleness_bound=staleness_bound))


def round_seconds(steps: int, scratch: Path) -> float:
    """One round of expert 0 trained here on one thread, as each daemon trains."""
    kept: dict[str, bytes] = {}

    def add(data: bytes) -> str:
        kept[str(len(kept))] = data
        return str(len(kept) - 1)

    spec = _spec(add, 1, steps, CodecParams())
    shard, base = ClipSet.from_bytes(kept[spec.shards[0]]), Checkpoint.from_bytes(kept[spec.initial[0]])
    started = time.monotonic()
    train_round(spec, shard, base, 1, devnet_account(5).address, None, scratch / "calibration")
    return time.monotonic() - started


def run(label: str, scratch: Path, rates: dict[str, float], codec: CodecParams, args: argparse.Namespace,
        lanes: int, churn: bool = False) -> Run:
    experts, rounds, steps = args.experts, args.rounds, args.local_steps
    market = dataclasses.replace(DEVNET_MARKET, vote_window_s=args.vote_window)
    result = Run(label)
    with MultiHost(scratch / label, rates, market=market) as net:
        assert net.bed is not None
        studio = net.info("studio")
        flags = ["--dir", str(scratch / "none"), "--poll", "1"]
        mining = ["--lanes", str(lanes), *(["--assist"] if lanes > 1 else []), *flags]  # one lane: it waits
        work = {name: scratch / label / "work" / name for name in ("aggregator", "validator", *MINER_HOSTS)}
        daemons: dict[str, Child] = {
            "aggregator": net.run("studio", "aggregator", [*MINER, "aggregate", "--round-timeout", "120", "--min-wait",
                                                           "5", "--work-dir", str(work["aggregator"]),
                                                           *flags], "aggregator"),
            "validator": net.run("validator", "validator", [*VALIDATOR, "validate", "--work-dir",
                                                            str(work["validator"]), *flags],
                                 "validator-1")}
        started = joined = time.time()
        for role in ("miner-1", "miner-2"):
            daemons[role] = net.run(MINER_HOSTS[role], "miner", [*MINER, "mine", "--work-dir", str(work[role]),
                                                                 *mining], role)
        _hear_each_other([work["miner-1"], work["miner-2"]])
        requester = Chain(studio.rpc_url, studio.contract, devnet_account(1))
        with IpfsStore(studio.ipfs_api) as store:
            spec = _spec(lambda data: str(store.add(data)), experts, steps, codec, args.staleness_bound)
            now = requester.timestamp()
            job_id = requester.create_job(JobTerms(spec=store.add(spec.to_bytes()), experts=experts, rounds=rounds,
                                                   reward_per_round_wei=10**18, deadline=now + 7200,
                                                   aggregator=studio.address("aggregator"), quorum=1, challenges=1,
                                                   staleness_bound=args.staleness_bound),
                                          escrow_wei=rounds * 10**18)
        created, opened = time.monotonic(), requester.timestamp()

        def versions() -> list[int]:
            return [requester.version_of(job_id, e) for e in range(experts)]

        def wait(condition: Callable[[], object], timeout_s: float, what: str) -> None:
            deadline = time.monotonic() + timeout_s
            while not condition():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{label}: {what} within {timeout_s:.0f}s; logs in {scratch / label}")
                time.sleep(1)

        round_s = 4 * market.vote_window_s + lanes * steps + 300  # the longest a round may take (a step: < 1 s)
        if churn:
            wait(lambda: min(versions()) >= 1, round_s, "every expert merged once")
            joined = time.time()
            daemons["miner-3"] = net.run("late", "miner", [*MINER, "mine", "--work-dir", str(work["miner-3"]),
                                                           *mining], "miner-3")
            late_log = scratch / label / "late-miner.log"
            wait(lambda: late_log.exists() and SUBMITTED.search(late_log.read_text()), round_s,
                 "the late miner submitting")
            first = SUBMITTED.search(late_log.read_text())
            assert first is not None
            result.late_productive_s = _stamp(first.group(1)) - joined
            # the round the late miner joined is still open: miner-b's delta in it is not yet checked or merged
            left = {e for e, v in enumerate(versions()) if v < rounds}
            killed, at = versions(), time.monotonic()
            net.bed.remove("miner-b")
            del daemons["miner-2"]
            wait(lambda: all(v > killed[e] for e, v in enumerate(versions()) if e in left), 2 * round_s,
                 "every unfinished expert merged after the kill")
            result.after_kill_s = time.monotonic() - at
        wait(lambda: min(versions()) >= rounds, rounds * round_s, "the job finished")
        result.job_s = time.monotonic() - created
        merges: dict[int, list[float]] = {}
        for event in requester.events(EventCursor(studio.deploy_block), {"ExpertFinalized"}):
            if event.args["jobId"] == job_id:
                stamp = requester.w3.eth.get_block(event.block)["timestamp"]
                merges.setdefault(event.args["expert"], [float(opened)]).append(float(stamp))
        result.rounds_s = [b - a for times in merges.values() for a, b in itertools.pairwise(times)]
        cursor = EventCursor(studio.deploy_block)
        lane_of = {e.args["deltaId"]: e.args["lane"] for e in requester.events(cursor, {"DeltaSubmitted"})
                   if e.args["jobId"] == job_id}
        merged = [d for e in requester.events(EventCursor(studio.deploy_block), {"ExpertFinalized"})
                  if e.args["jobId"] == job_id for d in e.args["mergedDeltaIds"]]
        result.deltas = (len(lane_of), len(merged), sum(lane_of.get(d, 0) > 0 for d in merged))
        for role, host in MINER_HOSTS.items():
            log = scratch / label / f"{host}-miner.log"
            if log.exists():
                result.utilization[role] = _utilization(log, joined if role == "miner-3" else started)
        result.traffic = {host: net.bed.traffic(host) for host in net.bed.hosts}
        ended = time.monotonic()
        while not (resting := all(_status(work[name]).get("resting") for name in daemons)) \
                and time.monotonic() < ended + round_s:
            time.sleep(1)
        result.rest_after_s = time.monotonic() - ended if resting else None
        before = {name: cpu_seconds(d.proc.pid) for name, d in daemons.items()}
        time.sleep(args.idle_s)
        result.idle_cpu = {name: 100 * (cpu_seconds(d.proc.pid) - before[name]) / args.idle_s
                           for name, d in daemons.items()}
    return result


def report(runs: list[Run], rates: dict[str, float], seconds: float, args: argparse.Namespace) -> None:
    print(f"tiny model, {args.experts} experts, {args.rounds} rounds, H={args.local_steps} "
          f"(T = {seconds:.1f}s a round here), vote windows {args.vote_window}s, reference round "
          f"{args.ref_round_s:.0f}s, {args.lanes} lanes (staleness bound {args.staleness_bound})")
    print("links (Mbit/s each way): " + ", ".join(f"{h} {r:.2f}" for h, r in rates.items()))
    names = [r.label for r in runs]
    print(f"\n{'':34}" + "".join(f"{n:>16}" for n in names))

    def row(title: str, cells: list[str]) -> None:
        print(f"{title:34}" + "".join(f"{c:>16}" for c in cells))

    row("job wall time (s)", [f"{r.job_s:.0f}" for r in runs])
    row("round wall time, median (s)", [f"{statistics.median(r.rounds_s):.0f}" for r in runs])
    row("round wall time, max (s)", [f"{max(r.rounds_s):.0f}" for r in runs])
    row("deltas submitted / merged", [f"{r.deltas[0]}/{r.deltas[1]}" for r in runs])
    row("  merged from lanes >= 1", [f"{r.deltas[2]}" for r in runs])
    for role in MINER_HOSTS:
        row(f"{role} utilization", [f"{100 * r.utilization[role][0]:.1f}%" if role in r.utilization else "-"
                                    for r in runs])
        row(f"{role} first step after (s)", [f"{r.utilization[role][1]:.0f}" if role in r.utilization else "-"
                                             for r in runs])
    for host in rates:
        row(f"{host} received / sent (MB)", [f"{r.traffic[host][0] / 1e6:.1f}/{r.traffic[host][1] / 1e6:.1f}"
                                             if host in r.traffic else "gone" for r in runs])
    row("every daemon at rest after (s)", [f"{r.rest_after_s:.0f}" if r.rest_after_s is not None else "not yet"
                                            for r in runs])
    for name in ("aggregator", "validator", *MINER_HOSTS):
        row(f"idle CPU, {name} (% of a core)", [f"{r.idle_cpu[name]:.2f}" if name in r.idle_cpu else "-"
                                                 for r in runs])
    churn = next((r for r in runs if r.label == "churn"), Run("churn"))
    if churn.late_productive_s is not None and churn.after_kill_s is not None:
        median = statistics.median(churn.rounds_s)
        print(f"\nchurn: the late miner's first delta on chain {churn.late_productive_s:.0f}s after it started "
              f"(a round: {median:.0f}s; goal within one round: "
              f"{'met' if churn.late_productive_s <= median else 'NOT met'})")
        print(f"churn: after miner-b's host was pulled, every unfinished expert merged again within "
              f"{churn.after_kill_s:.0f}s")
    idle = [(share, name, r.label) for r in runs for name, share in r.idle_cpu.items()]
    if idle:
        share, name, label = max(idle)
        print(f"idle CPU at rest: highest {share:.2f}% of a core ({name}, {label}; goal <= 1%: "
              f"{'met' if share <= 1 else 'NOT met'})")
    compressed = next((r.utilization for r in runs if r.label == "compressed"), {})
    if not compressed:
        return
    worst = min(share for share, _ in compressed.values())
    verdict = "met" if worst >= 0.95 else "NOT met"
    print(f"compressed: lowest miner utilization {100 * worst:.1f}% (goal >= 95%: {verdict})")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--experts", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--local-steps", type=int, default=20)
    parser.add_argument("--vote-window", type=int, default=150, help="seconds; a validator must fetch each reveal "
                        "(the challenged segments' start states, 3 dense deltas' worth each) from the miners and "
                        "replay it within one")
    parser.add_argument("--ref-round-s", type=float, default=300.0,
                        help="the reference 1B round in seconds, which its 320 s dense delta is a share of")
    parser.add_argument("--lanes", type=int, default=2, help="deltas a miner trains per checkpoint")
    parser.add_argument("--staleness-bound", type=int, default=1)
    parser.add_argument("--idle-s", type=float, default=60.0)
    parser.add_argument("--runs", default="compressed,one-lane,dense,churn")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # through the testbed's teardown, as Ctrl-C is
    os.environ["OMP_NUM_THREADS"] = "1"  # every daemon trains on one thread: two miners share two cores
    torch.set_num_threads(1)
    scratch = Path(tempfile.mkdtemp(prefix="paris-wan-"))
    print(f"logs in {scratch}", flush=True)
    seconds = round_seconds(args.local_steps, scratch)
    dense_bits = 32 * sum(p.numel() for p in VideoDiT(named_config("tiny")).parameters())
    ref = dense_bits / (320 / args.ref_round_s * seconds) / 1e6
    rates = {"studio": 4 * ref, "validator": 4 * ref, "miner-a": ref, "miner-b": ref, "late": ref / 2}
    dense = CodecParams(version=1, chunk=4096, k=4096)
    codecs = {"compressed": CodecParams(), "one-lane": CodecParams(), "dense": dense, "churn": CodecParams()}
    runs = []
    for name in args.runs.split(","):
        try:
            runs.append(run(name, scratch, rates, codecs[name], args, 1 if name == "one-lane" else args.lanes,
                            churn=name == "churn"))
        except TimeoutError as exc:
            print(f"{name}: {exc}", flush=True)
            continue
        print(f"\n=== after the {name} run", flush=True)  # the runs so far: a long benchmark cut short keeps them
        report(runs, rates, seconds, args)
        sys.stdout.flush()

if __name__ == "__main__":
    main()
