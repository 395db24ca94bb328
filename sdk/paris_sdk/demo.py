"""`paris demo`: the whole market on a local devnet, as the README's first command shows it.

A requester opens a job on the built-in synthetic set (K experts, several rounds) through the SDK; honest
miners, one cheating miner (`demo_cheater`: it skips a step in every segment), an honest validator (2 ETH of
stake), a lazy one (`demo_lazy_validator`: it passes every delta unchecked, with the minimum stake) and the
aggregator run as separate daemon processes that find each other over libp2p. The demo follows the job's
chain events, waits for payouts and both slashes (the cheater's, and the lazy validator's for passing the
cheat), samples a video from the trained experts and tallies what every participant earned or lost. A live
dashboard of the job is served while it runs (its URL is printed).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from paris_node.market.chain import Chain, EventCursor, SlashReason
from paris_node.runtime.devnet import DEVNET_PASSWORD, DevnetInfo, die_with_parent
from paris_node.runtime.keys import PASSWORD_ENV
from paris_sdk.client import (Client, Collected, Decided, JobError, JobFeed, JobRequest, Merged, Paid, Progress,
                              Slashed, Submitted, ValidatorSlashed)
from paris_sdk.dashboard import serve_dashboard

MINER = [sys.executable, "-c", "from paris_node.runtime.miner_cli import main; main()"]
VALIDATOR = [sys.executable, "-c", "from paris_validator.cli import main; main()"]
CHEATER = [sys.executable, "-m", "paris_sdk.demo_cheater"]
LAZY = [sys.executable, "-m", "paris_sdk.demo_lazy_validator"]
SETTLE_TIMEOUT_S = 180.0  # after the last round: votes settle three vote windows after their reveal


@dataclass(frozen=True)
class DemoSettings:
    experts: int = 2
    rounds: int = 3
    miners: int = 3  # honest ones; one more cheats
    clips: int = 48
    local_steps: int = 20
    segment_steps: int = 5
    batch: int = 8
    reward_eth: float = 1.0
    timeout_s: float = 480.0  # for the training itself
    dashboard_port: int = 0  # 0: any free port (the URL is printed)
    private: bool = False  # encrypt the job; every demo daemon is admitted


@dataclass
class Participant:
    role: str
    address: str
    kind: str  # miner, cheater, validator, lazy validator, aggregator
    submitted: int = 0
    passed: int = 0
    failed: int = 0
    earned_wei: int = 0  # payouts, validator fees and slashing rewards credited
    slashed_wei: int = 0
    withdrawn_wei: int = 0


@dataclass
class DemoReport:
    job_id: int
    versions: tuple[int, ...]
    participants: list[Participant]
    sample: Path
    seconds: float
    logs: Path
    cheater_slashed: bool = field(default=False)
    lazy_slashed: bool = field(default=False)


def run_demo(devnet_dir: Path, work: Path, settings: DemoSettings, say: Callable[[str], None]) -> DemoReport:
    """Create the job, run the daemons and the dashboard until the job is done and settled; tally the result."""
    started = time.monotonic()
    if settings.miners + 1 > 5:
        raise JobError("the devnet has 5 miner accounts: at most 4 honest miners besides the cheater")
    info = DevnetInfo.read(devnet_dir)
    client = Client.from_devnet(devnet_dir)
    honest = [f"miner-{i + 1}" for i in range(settings.miners)]
    cheater = f"miner-{settings.miners + 1}"
    nodes = ["validator-1", "validator-2", *honest, cheater]
    if settings.private:  # the daemons would register their keys when they start; the job needs them now
        for role in ["aggregator", *nodes]:
            Client.from_devnet(devnet_dir, role).register_key()
    say(f"creating a {'private' if settings.private else 'public'} job: {settings.clips} synthetic clips clustered "
        f"into {settings.experts} experts, {settings.rounds} rounds, {settings.reward_eth} ETH per round")
    job_id = client.create_job(JobRequest(
        experts=settings.experts, rounds=settings.rounds, reward_eth=settings.reward_eth,
        synthetic_clips=settings.clips, local_steps=settings.local_steps, segment_steps=settings.segment_steps,
        batch=settings.batch, aggregator=info.address("aggregator"), reveal_window_s=600, private=settings.private,
        admit=[info.address(role) for role in nodes] if settings.private else ()))
    logs = work / "logs"
    for stale in (logs, work / "dashboard", work / "aggregator", *(work / r for r in nodes)):  # an earlier chain's
        shutil.rmtree(stale, ignore_errors=True)
    logs.mkdir(parents=True)
    common = ["--dir", str(devnet_dir), "--poll", "0.5"]
    commands = {"aggregator": [*MINER, "aggregate", "--as", "aggregator", "--job", str(job_id), "--min-wait", "5",
                               "--round-timeout", "90", "--work-dir", str(work / "aggregator"), *common],
                "validator-1": [*VALIDATOR, "validate", "--as", "validator-1", "--job", str(job_id), "--stake", "2",
                                "--work-dir", str(work / "validator-1"), *common],
                "validator-2": [*LAZY, "--as", "validator-2", "--work-dir", str(work / "validator-2"),
                                "--dir", str(devnet_dir)],
                **{role: [*MINER, "mine", "--as", role, "--job", str(job_id), "--work-dir", str(work / role),
                          *common] for role in honest},
                cheater: [*CHEATER, "--as", cheater, "--work-dir", str(work / cheater), "--dir", str(devnet_dir)]}
    # Several daemons share this machine's cores: idle OpenMP threads must sleep, not spin.
    env = {**os.environ, PASSWORD_ENV: os.environ.get(PASSWORD_ENV, DEVNET_PASSWORD), "OMP_WAIT_POLICY": "PASSIVE"}
    processes = {name: subprocess.Popen(argv, stdout=(logs / f"{name}.log").open("wb"), stderr=subprocess.STDOUT,
                                        env=env, preexec_fn=die_with_parent) for name, argv in commands.items()}
    say(f"started the aggregator, validator-1, a lazy validator (validator-2), {len(honest)} honest miners and a "
        f"cheating miner ({cheater}); logs in {logs}")
    dashboard = serve_dashboard(client, job_id, work / "dashboard", info.bootstrap, settings.dashboard_port)
    say(f"dashboard: {dashboard.url}")
    try:
        versions: tuple[int, ...] = ()
        for event in client.follow(job_id, poll_s=1.0, timeout_s=settings.timeout_s):
            say(str(event))
            versions = getattr(event, "versions", versions)
            for name, process in processes.items():
                if process.poll() is not None:
                    raise JobError(f"{name} exited with code {process.returncode}; see {logs / name}.log")
        ledger = Ledger(client.chain, job_id, info.deploy_block)
        _wait_for_settlement(ledger, info.address(cheater), info.address("validator-2"))
        say("sampling a clip from the trained experts...")
        sample = client.sample(job_id, work / "sample.gif")
        say(str(client.sample_quality(job_id, work / "real-vs-generated.png")))
    finally:
        dashboard.stop()
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    roles = {"aggregator": "aggregator", "validator-1": "validator", "validator-2": "lazy validator",
             cheater: "cheater", **dict.fromkeys(honest, "miner")}
    ledger.update()  # what happened while the daemons stopped (a last withdrawal)
    participants = _tally(ledger, info, roles)
    slashed = {p.kind for p in participants if p.slashed_wei}
    return DemoReport(job_id, versions, participants, sample, time.monotonic() - started, logs,
                      "cheater" in slashed, "lazy validator" in slashed)


class Ledger:
    """What the chain says about the job (its Progress events) and what each account withdrew, read
    incrementally."""

    def __init__(self, chain: Chain, job_id: int, from_block: int) -> None:
        self.chain = chain
        self.feed = JobFeed(chain, job_id, from_block)
        self.withdrawals = EventCursor(from_block)
        self.history: list[Progress] = []
        self.withdrawn: dict[str, int] = {}

    def update(self) -> None:
        self.history += self.feed.poll()
        for event in self.chain.events(self.withdrawals, {"Withdrawn"}):
            account = event.args["account"]
            self.withdrawn[account] = self.withdrawn.get(account, 0) + event.args["amount"]

    def settled(self, cheater: str, lazy: str) -> bool:
        """Every merged delta is paid, the cheater is slashed and its fail voters collected their share, the lazy
        validator is slashed, and every paid miner withdrew."""
        merged = {d for e in self.history if isinstance(e, Merged) for d in e.deltas}
        paid = {e.delta_id: e.miner for e in self.history if isinstance(e, Paid)}
        slashes = [e for e in self.history if isinstance(e, Slashed)]
        shared = {e.delta_id for e in self.history if isinstance(e, Collected) and e.slash_share}
        lazy_slashed = any(isinstance(e, ValidatorSlashed) and e.validator == lazy for e in self.history)
        return merged <= paid.keys() and cheater in {e.miner for e in slashes} and lazy_slashed \
            and {e.delta_id for e in slashes if e.wei} <= shared and set(paid.values()) <= self.withdrawn.keys()


def _wait_for_settlement(ledger: Ledger, cheater: str, lazy: str) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        ledger.update()
        if ledger.settled(cheater, lazy):
            return
        if time.monotonic() > deadline:
            raise JobError(f"payouts or the slashes were not settled within {SETTLE_TIMEOUT_S:.0f}s after the "
                           f"last round")
        time.sleep(1.0)


def _tally(ledger: Ledger, info: DevnetInfo, roles: dict[str, str]) -> list[Participant]:
    people = {info.address(role): Participant(role, info.address(role), kind) for role, kind in roles.items()}
    miner_of = {e.delta_id: e.miner for e in ledger.history if isinstance(e, Submitted)}
    for event in ledger.history:
        if isinstance(event, Submitted) and event.miner in people:
            people[event.miner].submitted += 1
        elif isinstance(event, Decided) and miner_of[event.delta_id] in people:
            miner = people[miner_of[event.delta_id]]
            if event.passed:
                miner.passed += 1
            else:
                miner.failed += 1
        elif isinstance(event, Paid) and event.miner in people:
            people[event.miner].earned_wei += event.wei
        elif isinstance(event, Collected) and event.validator in people:
            people[event.validator].earned_wei += event.fee + event.slash_share
        elif isinstance(event, Slashed):
            if event.miner in people:
                people[event.miner].slashed_wei += event.wei
            if event.reason == SlashReason.WITHHELD_REVEAL and event.reporter in people:
                people[event.reporter].earned_wei += event.wei // 2  # fail voters collect theirs instead
        elif isinstance(event, ValidatorSlashed):
            if event.validator in people:
                people[event.validator].slashed_wei += event.wei
            if event.reporter in people:
                people[event.reporter].earned_wei += event.to_reporter
    for account, wei in ledger.withdrawn.items():
        if account in people:
            people[account].withdrawn_wei += wei
    return list(people.values())
