"""A chain clock for tests that run daemons in real time: time jumps to the end of a window as soon as everything
that window waits for is on chain, and never past a window that still waits for something.

The windows are a revealed delta's three vote phases (commit: every validator of the test that is drawn for
its committee, or not staked yet, has sealed a vote; reveal: every sealed vote is opened; trap: the delta is
decided), a merge's dispute window (`grace_s` of wall time after the merge, for the validators' audits) and,
never skipped, an unrevealed delta's reveal window and a job's deadline. So a test can give its market vote
windows long enough for a slow machine, and waits through them only when a daemon really is that slow. A
disputed merge stops the pacer for good (a dispute's committee is not followed here).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from web3 import Web3

from paris_node.market.chain import ROLE_VALIDATOR, Chain, EventCursor
from paris_node.market.errors import ChainUnreachable
from paris_node.runtime.devnet import DEVNET_FILE, DevnetInfo

MARGIN_S = 2  # a jump lands this far before the next window that still waits, at the latest
EVENTS = {"JobCreated", "DeltaSubmitted", "Revealed", "VoteCommitted", "VoteRevealed", "DeltaDecided", "Slashed",
          "TrapExposed", "Released", "ExpertFinalized", "MergeDisputed"}


@dataclass
class _Delta:
    reveal_closes: int
    revealed_at: int = 0
    miner: str = ""
    sealed: set[str] = field(default_factory=set)
    opened: set[str] = field(default_factory=set)
    decided: bool = False


class Pacer:
    """Step it from a test's own loop, or run it as a context manager (a thread) around the part of a test whose
    daemons are processes. `devnet` may be a devnet directory whose devnet.json appears later (a devnet that a
    command under test starts); `voters` are the validators the test runs, `jobs` the jobs it paces (None: all).
    `jumps` lists the seconds skipped at each jump."""

    def __init__(self, devnet: DevnetInfo | Path, voters: set[str], jobs: set[int] | None = None,
                 grace_s: float = 3.0, poll_s: float = 0.25) -> None:
        self.devnet = devnet
        self.voters = {Web3.to_checksum_address(v) for v in voters}
        self.jobs = jobs
        self.grace_s, self.poll_s = grace_s, poll_s
        self._chain: Chain | None = None
        self.cursor = EventCursor()
        self.deltas: dict[int, _Delta] = {}
        self.merges: dict[tuple[int, int], tuple[int, float]] = {}  # (job, expert) -> (window end, seen at)
        self.deadlines: dict[int, int] = {}
        self.disputed = False
        self.jumps: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pacer", daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> Pacer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._error is not None and kind is None:
            raise self._error

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.poll_s):
                try:
                    self.step()
                except ChainUnreachable:  # the chain is stopping, or the test froze it
                    continue
        except BaseException as exc:  # raised again in the test's thread on exit
            self._error = exc

    @property
    def chain(self) -> Chain | None:
        """Its own connection (it may run in a thread of its own), once the devnet is up."""
        if self._chain is None:
            info = self.devnet
            if isinstance(info, Path):
                if not (info / DEVNET_FILE).exists():
                    return None
                info = DevnetInfo.read(info)
            self._chain = Chain(info.rpc_url, info.contract)
            self.cursor = EventCursor(info.deploy_block)
        return self._chain

    def step(self) -> None:
        """Read new events, then jump past every window end that waits for nothing more, up to the first that
        does (exactly: the next block's timestamp is set, not the clock pushed)."""
        chain = self.chain
        if chain is None:
            return
        for event in chain.events(self.cursor, EVENTS):
            self._read(chain, event.name, event.args)
        if self.disputed:
            return
        now = chain.timestamp()
        ends = [end for end in self._ends(chain, now) if end[0] >= now]
        blocked = min((at for at, ready in ends if not ready), default=now + 10**9)
        passable = [at for at, ready in ends if ready and at + 1 <= blocked - MARGIN_S]
        if passable and max(passable) + 1 > now:
            target = max(passable) + 1
            chain.w3.provider.make_request("evm_setNextBlockTimestamp", [target])  # type: ignore[arg-type]
            chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            self.jumps.append(target - now)

    def _read(self, chain: Chain, name: str, args: dict[str, Any]) -> None:
        if self.jobs is not None and args.get("jobId", 0) and args["jobId"] not in self.jobs:
            return
        if name == "JobCreated":
            self.deadlines[args["jobId"]] = chain.job(args["jobId"]).deadline
        elif name == "DeltaSubmitted":
            submitted = chain.delta(args["deltaId"])
            self.deltas[args["deltaId"]] = _Delta(submitted.submitted_at + chain.job(submitted.job_id).reveal_window)
        elif name == "ExpertFinalized":
            key = (args["jobId"], args["expert"])
            self.merges[key] = (chain.merge_settles_at(*key), time.monotonic())
        elif name == "MergeDisputed":
            self.disputed = True
        elif (delta := self.deltas.get(args["deltaId"])) is None:
            return
        elif name == "Revealed":
            record = chain.delta(args["deltaId"])
            delta.revealed_at, delta.miner = record.revealed_at, record.miner
        elif name == "VoteCommitted":
            delta.sealed.add(args["validator"])
        elif name == "VoteRevealed":
            delta.opened.add(args["validator"])
        else:  # decided, slashed (a withheld reveal), exposed as a trap or released: no phase waits any more
            delta.decided = True

    def _ends(self, chain: Chain, now: int) -> list[tuple[int, bool]]:
        """Every window end, with whether nothing is due in that window any more."""
        window = chain.vote_window
        ends = [(deadline, False) for deadline in self.deadlines.values()]
        ends += [(at, time.monotonic() - seen >= self.grace_s) for at, seen in self.merges.values()]
        for delta_id, delta in self.deltas.items():
            if not delta.revealed_at:
                ends.append((delta.reveal_closes, delta.decided))
                continue
            sealing = delta.revealed_at + window >= now and not delta.decided
            ends += [(delta.revealed_at + window, not sealing or self._sealed(chain, delta_id, delta)),
                     (delta.revealed_at + 2 * window, delta.sealed <= delta.opened or delta.decided),
                     (delta.revealed_at + 3 * window, delta.decided)]
        return ends

    def _sealed(self, chain: Chain, delta_id: int, delta: _Delta) -> bool:
        """Whether every voter that can still vote on the delta did: each drawn for its committee, and each not yet
        staked (it may stake and be drawn before the phase ends; the draw is by stake at the time of the vote)."""
        for voter in self.voters - delta.sealed - {delta.miner}:
            stake = chain.stake_of(voter)
            if not stake.roles & ROLE_VALIDATOR or chain.on_committee(delta_id, voter):
                return False
        return True
