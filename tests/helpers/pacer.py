"""A chain clock for tests that run daemons in real time: time jumps past a window as soon as nothing is due in it
any more, and never into a window in which something is still due.

The windows are a revealed delta's three vote phases (commit: every validator of the test that is drawn for
its committee, or not staked yet, has sealed a vote; reveal: every sealed vote is opened; trap: the delta is
decided and its job has no sealed traps), an unrevealed delta's reveal window (until it is revealed), a merge's
dispute window (`grace_s` of wall time after the merge, for the validators' audits and the miners' omission
reports: a paced test shows neither a refuted merge disputed nor an omission reported) and a job's deadline
(never passed). So a test can give its market vote windows long enough for a slow machine, and waits through
them only when a daemon really is that slow. A jump goes at most half a vote window ahead, so a reveal mined
while the pacer decides keeps half its commit phase. A disputed merge stops the pacer for good (a dispute's
committee is not followed here).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from web3 import Web3

from paris_node.market.chain import ROLE_VALIDATOR, Chain, EventCursor
from paris_node.market.errors import ChainUnreachable
from paris_node.runtime.devnet import DEVNET_FILE, DevnetError, DevnetInfo

log = logging.getLogger(__name__)

DEADLINE_MARGIN_S = 60  # a jump lands at least this long before a job's deadline
EVENTS = {"JobCreated", "DeltaSubmitted", "Revealed", "VoteCommitted", "VoteRevealed", "DeltaDecided", "Slashed",
          "TrapsCommitted", "TrapExposed", "Released", "ExpertFinalized", "MergeDisputed"}


@dataclass(frozen=True)
class Window:
    """Chain seconds [start, end] in which something may be due; `ready`: nothing is due in it any more."""

    start: int
    end: int
    ready: bool
    deadline: bool = False  # time inside it may be skipped, its end never


def jump_target(windows: list[Window], now: int, most: int) -> int | None:
    """The time to jump to: just past the last window that is ready, never into one that is not (from its start;
    a deadline from DEADLINE_MARGIN_S before its end), at most `most` seconds ahead; None: no jump."""
    ahead = [w for w in windows if w.end >= now]
    limit = min((w.end - DEADLINE_MARGIN_S if w.deadline else w.start for w in ahead if not w.ready),
                default=max(w.end + 1 for w in ahead) if ahead else now)
    passable = [w.end + 1 for w in ahead if w.ready and w.end + 1 <= limit]
    if not passable:
        return None
    target = min(max(passable), now + most)
    return target if target > now else None


@dataclass
class _Delta:
    job_id: int
    submitted_at: int
    reveal_closes: int
    revealed_at: int = 0
    miner: str = ""
    sealed: set[str] = field(default_factory=set)
    opened: set[str] = field(default_factory=set)
    decided: bool = False


class Pacer:
    """Step it from a test's own loop, or run it as a context manager (a thread) around the part of a test whose
    daemons are processes. `devnet` may be a devnet directory whose devnet.json appears later (a devnet that a
    command under test starts); `voters` are the validators the test runs, `jobs` the jobs it paces (None: all)."""

    def __init__(self, devnet: DevnetInfo | Path, voters: set[str], jobs: set[int] | None = None,
                 grace_s: float = 3.0, poll_s: float = 0.25) -> None:
        self.devnet = devnet
        self.voters = {Web3.to_checksum_address(v) for v in voters}
        self.jobs = jobs
        self.grace_s, self.poll_s = grace_s, poll_s
        self._chain: Chain | None = None
        self.cursor = EventCursor()
        self.deltas: dict[int, _Delta] = {}
        self.merges: dict[tuple[int, int], tuple[int, int, float]] = {}  # (job, expert) -> (merged at, end, seen)
        self.deadlines: dict[int, int] = {}
        self.trapped: set[int] = set()  # jobs whose requester sealed traps: exposed in a delta's trap window
        self.disputed = False
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
        while not self._stop.wait(self.poll_s):
            try:
                self.step()
            except (ChainUnreachable, DevnetError):  # the devnet is starting or stopping, or the test froze it
                continue
            except Exception as exc:  # said now, and raised in the test's thread on exit
                log.exception("the pacer stopped")
                self._error = exc
                return

    def _connect(self) -> Chain | None:
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
        """Read the events up to the latest block, then jump if `jump_target` says so and no event came since."""
        chain = self._connect()
        if chain is None:
            return
        latest = chain.w3.eth.block_number
        for event in chain.events(self.cursor, EVENTS, to_block=latest):
            self._read(chain, event.name, event.args)
        if self.disputed:
            return
        now = int(chain.w3.eth.get_block(latest)["timestamp"])
        target = jump_target(self._windows(chain, now), now, chain.vote_window // 2)
        if target is None or any(chain.events(EventCursor(latest + 1), EVENTS)):
            return  # nothing to skip, or something happened meanwhile: read it first
        provider = chain.w3.provider
        if "error" not in provider.make_request("evm_setNextBlockTimestamp", [target]):  # type: ignore[arg-type]
            provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def _read(self, chain: Chain, name: str, args: dict[str, Any]) -> None:
        if self.jobs is not None and "jobId" in args and args["jobId"] not in self.jobs:
            return
        if name == "JobCreated":
            self.deadlines[args["jobId"]] = chain.job(args["jobId"]).deadline
        elif name == "TrapsCommitted":
            self.trapped.add(args["jobId"])
        elif name == "DeltaSubmitted":
            submitted = chain.delta(args["deltaId"])
            self.deltas[args["deltaId"]] = _Delta(submitted.job_id, submitted.submitted_at, submitted.submitted_at
                                                  + chain.job(submitted.job_id).reveal_window)
        elif name == "ExpertFinalized":
            key = (args["jobId"], args["expert"])
            ends = chain.merge_settles_at(*key)
            self.merges[key] = (ends - chain.vote_window, ends, time.monotonic())
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
        else:  # decided, slashed (a withheld reveal), exposed as a trap or released: no vote is due any more
            delta.decided = True

    def _windows(self, chain: Chain, now: int) -> list[Window]:
        w = chain.vote_window
        windows = [Window(now, deadline, False, deadline=True) for deadline in self.deadlines.values()]
        windows += [Window(start, end, time.monotonic() - seen >= self.grace_s)
                    for start, end, seen in self.merges.values()]
        for delta_id, delta in self.deltas.items():
            if not delta.revealed_at:
                windows.append(Window(delta.submitted_at, delta.reveal_closes, delta.decided))
                continue
            at = delta.revealed_at
            sealing = at <= now <= at + w and not delta.decided
            windows += [Window(at, at + w, not sealing or self._sealed(chain, delta_id, delta)),
                        Window(at + w + 1, at + 2 * w, delta.sealed <= delta.opened or delta.decided),
                        Window(at + 2 * w + 1, at + 3 * w, delta.decided and delta.job_id not in self.trapped)]
        return windows

    def _sealed(self, chain: Chain, delta_id: int, delta: _Delta) -> bool:
        """Whether every voter that can still vote on the delta did: each drawn for its committee, and each not yet
        staked (it may stake and be drawn before the phase ends; the draw is by stake at the time of the vote)."""
        for voter in self.voters - delta.sealed - {delta.miner}:
            stake = chain.stake_of(voter)
            if not stake.roles & ROLE_VALIDATOR or chain.on_committee(delta_id, voter):
                return False
        return True
