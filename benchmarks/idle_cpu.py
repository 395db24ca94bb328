"""Idle CPU of the daemons: a devnet on loopback, a miner, a validator and an aggregator (each its own process,
with its p2p host, status API and chain polling every `--poll` seconds), and no job in flight. Goal: at most 1 %
of a core per idle daemon. A daemon with nothing in flight stretches its passes up to `IDLE_POLL_S` and its
heartbeats to `RESTING_HEARTBEAT_S`; gossip, or a new event on its next pass, brings it back at once.

    .venv/bin/python benchmarks/idle_cpu.py [--seconds 30] [--warmup 40] [--poll 1]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from paris_node.roles.daemon import IDLE_POLL_S
from paris_node.runtime.devnet import DEVNET_PASSWORD, Devnet

from arguments import benchmark_parser
from wan_round import cpu_seconds

COMMANDS = {"miner-1": ("paris_node.runtime.miner_cli", "mine"), "validator-1": ("paris_validator.cli", "validate"),
            "aggregator": ("paris_node.runtime.miner_cli", "aggregate")}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long CPU time is counted")
    parser.add_argument("--warmup", type=float, default=40.0, help="seconds from start to the first count")
    parser.add_argument("--poll", default="1")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="paris-idle-"))
    devnet = Devnet(scratch / "devnet")
    info = devnet.start()
    daemons: dict[str, subprocess.Popen] = {}
    try:
        for role, (module, verb) in COMMANDS.items():
            daemons[role] = subprocess.Popen(
                [sys.executable, "-c", f"from {module} import main; main()", verb, "--as", role, "--work-dir",
                 str(scratch / role), "--dir", str(scratch / "devnet"), "--poll", args.poll],
                stdout=(scratch / f"{role}.log").open("wb"), stderr=subprocess.STDOUT,
                env={**os.environ, "PARIS_KEYSTORE_PASSWORD": DEVNET_PASSWORD})
        time.sleep(args.warmup)
        pids = {**{role: d.pid for role, d in daemons.items()}, "ipfs": info.pids["ipfs"], "anvil": info.pids["anvil"]}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        time.sleep(args.seconds)
        print(f"idle CPU over {args.seconds:.0f} s, passes every {args.poll} s at work and up to {IDLE_POLL_S:.0f} s "
              f"at rest (logs in {scratch})")
        for name, pid in pids.items():
            share = 100 * (cpu_seconds(pid) - before[name]) / args.seconds
            goal = f"  (goal <= 1 %: {'met' if share <= 1 else 'NOT met'})" if name in daemons else ""
            print(f"  {name:<12} {share:5.2f} % of a core{goal}")
    finally:
        for process in daemons.values():
            process.terminate()
        for process in daemons.values():
            process.wait(30)
        devnet.stop()


if __name__ == "__main__":
    main()
