"""The skeleton every role's daemon is built on (miner, validator, aggregator).

A daemon holds a signing account, the market index (its cursor persisted in the work directory), a CID
cache, the keyrings of private jobs and its presence on the p2p network. Each pass of `step` first does the
upkeep every role needs (publish its X25519 key, read new chain events, follow new jobs, keep its stake),
then its own `work`. A resting daemon (nothing in flight, nothing new) asks the chain only for new events on
each pass; what changes only with activity (its stake, fees owed) is read again once every RECHECK_S.
Failures that a later pass can get past (an unreachable node, a revert, content not there yet) are logged and
retried; `guard` keeps one job's or one delta's failure from stopping the others, and a job whose spec cannot
be read is skipped (`job_spec`) while the others go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TypeVar

from paris_node.content.cache import CidCache
from paris_node.content.store import IpfsStore, StoreError
from paris_node.market.chain import Chain, ChainError, Event
from paris_node.learning.jobspec import JobSpec
from paris_node.market.index import JobRefused, MarketIndex, MarketIndexError
from paris_node.market.keyring import Keyrings
from paris_node.net.presence import Presence
from paris_node.net.status_api import Status

T = TypeVar("T")

RECOVERABLE = (ChainError, StoreError, MarketIndexError, OSError, ValueError)
UPKEEP = "cannot stake or read new jobs and events"
MAX_BACKOFF_S = 30.0
IDLE_POLL_S = 4.0  # the longest pause of a daemon with nothing in flight; gossip still wakes it at once
RECHECK_S = 60.0  # a resting daemon re-reads its stake (and a validator what it is owed) this seldom
INDEX_FILE = "market-index.jsonl"


class Daemon:
    """Shared construction, upkeep and run loop; subclasses name their role and implement `work`."""

    role: ClassVar[str]
    recoverable: ClassVar[tuple[type[Exception], ...]] = RECOVERABLE  # what `guard` logs and retries
    stake_role: ClassVar[int] = 0  # the market role bonded when missing (ROLE_MINER, ROLE_VALIDATOR); 0: none

    def __init__(self, chain: Chain, store: IpfsStore, work_dir: Path, from_block: int,
                 jobs: set[int] | None = None, stake_wei: int = 0, presence: Presence | None = None) -> None:
        if chain.account is None:
            raise ChainError(f"a {self.role} needs a signing account")
        self.chain, self.store, self.work_dir = chain, store, work_dir
        self.address: str = chain.account.address
        self.stake_wei = stake_wei
        self.cache = CidCache(store, work_dir / "cache")
        self.keyrings = Keyrings(chain, self.cache.get, chain.account)
        self.index = MarketIndex(chain, from_block, work_dir / INDEX_FILE, jobs)
        self.slashed = False
        self.unfollowed: dict[int, str] = {}  # jobs not followed now, and why (see `job_spec`)
        self.presence = presence or Presence()
        self.presence.watch_store(store)
        self.log = logging.getLogger(type(self).__module__)  # logs name the role's module, not this one
        self.failing: dict[str, str] = {}  # what fails now -> why, said once (see `guard`)
        self.failed_passes = 0  # passes in a row whose upkeep failed: the next pause backs off
        self.quiet_passes = 0  # passes in a row with no new event and nothing in flight: the next pause stretches
        self.over: set[int] = set()  # jobs with nothing left to do (see `finished`)
        self.asked_at: dict[int, float] = {}  # job -> when `finished` last asked the chain about it
        self.alert = True  # whether this pass reads what changes only with activity (see `step`)
        self.alerted_at = 0.0  # time.monotonic() of the last such pass

    def step(self) -> None:
        """One pass: the shared upkeep (IPFS peering, keyring, chain events, jobs, stake), then this role's work."""
        events: list[Event] = []
        failure: Exception | None = None
        try:
            events = self._read_chain()
        except self.recoverable as exc:
            failure = exc
        self.alert = bool(events) or failure is not None or not self.quiet_passes \
            or time.monotonic() >= self.alerted_at + RECHECK_S
        if self.alert:  # (after the events are handled, and even when that failed: work never skips it)
            self.alerted_at = time.monotonic()
            try:
                self.ensure_stake()
            except self.recoverable as exc:
                failure = failure or exc
        if failure is None:
            self.failed_passes = 0
            self._recovered(UPKEEP)
        else:
            self.failed_passes += 1
            self._failed(UPKEEP, failure)
        self.work()
        resting = not events and not self.failed_passes and self.guard("reading which jobs are over", self.at_rest)
        self.quiet_passes = self.quiet_passes + 1 if resting else 0
        self.presence.rest(self.quiet_passes > 0)

    def _read_chain(self) -> list[Event]:
        """Peer IPFS nodes, publish the keyring key, read and handle new events and jobs; the events read."""
        self.presence.share_content()
        self.keyrings.register()
        events = self.index.sync()
        if events and self.quiet_passes:  # waking: peer IPFS nodes at the working pace before fetching anything
            self.presence.rest(False)
            self.presence.share_content()
        self.over -= {e.args["jobId"] for e in events if e.name == "MergeDisputed"}  # a merge may roll back
        self.on_events(events)
        self.discover()
        return events

    def on_events(self, events: list[Event]) -> None:
        """React to the chain events the last sync read (already in `index`)."""

    def discover(self) -> None:
        """Start following the jobs the index now knows of (their specs, their gossip topics)."""

    def work(self) -> None:
        raise NotImplementedError

    def at_rest(self) -> bool:
        """Whether nothing is in flight: every job followed is over (roles add their own open work). Only then
        does the daemon poll less often (see `pause_s`)."""
        return all(self.finished(job.job_id) for job in self.index.jobs if job.job_id not in self.unfollowed)

    def finished(self, job_id: int) -> bool:
        """Whether the job is over: closed, every expert merged to its last round with no merge left that a
        dispute or an omission report could roll back, or past the time its escrow may be reclaimed. It stays so
        (unless a merge of it is disputed); until then the chain is asked about it at most once every IDLE_POLL_S."""
        if job_id not in self.over and time.monotonic() >= self.asked_at.get(job_id, 0.0) + IDLE_POLL_S:
            self.asked_at[job_id] = time.monotonic()  # an open job is asked again once a rest's pause at most
            job = self.chain.job(job_id)
            if job.closed or all(self.chain.version_of(job_id, e) >= job.rounds and self.chain.merge_settled(job_id, e)
                                 for e in range(job.experts)) or self.chain.timestamp() > job.reclaimable_at:
                self.over.add(job_id)
        return job_id in self.over

    def status(self) -> Status:
        """What the status API serves: role, address, jobs, the latest delta, peers."""
        raise NotImplementedError

    def job_spec(self, job_id: int) -> JobSpec | None:
        """The job's spec; None while the index refuses the job, said once per refusal (in the log and in
        `unfollowed`), not on every pass. A spec that could not be fetched while this node's own IPFS does not
        answer is not held against the job: it is tried again on the next pass."""
        try:
            spec = self.index.spec(job_id, self.cache.get)
        except JobRefused as exc:
            if exc.fresh:
                why = str(exc)
                if exc.retry_at is not None and not self.store_answers():
                    self.index.forget_refusal(job_id)
                    why = f"cannot read job {job_id}'s spec now: {exc.__cause__}"
                self.log.warning("%s", why)
                self.unfollowed[job_id] = why
            return None
        self.unfollowed.pop(job_id, None)
        return spec

    def store_answers(self) -> bool:
        """Whether this node's IPFS API answers at all."""
        try:
            self.store.version()
            return True
        except StoreError:
            return False

    def guard(self, what: str, fn: Callable[..., T], *args: object) -> T | None:
        """`fn(*args)`; a recoverable failure is logged as `what` failing, retried on the next pass, and None."""
        try:
            result = fn(*args)
        except self.recoverable as exc:
            self._failed(what, exc)
            return None
        self._recovered(what)
        return result

    def _failed(self, what: str, exc: Exception) -> None:
        """Say that `what` fails, once for as long as it fails the same way."""
        if self.failing.get(what) != str(exc):
            self.log.warning("%s: %s (will retry)", what, exc)
            self.failing[what] = str(exc)

    def _recovered(self, what: str) -> None:
        if self.failing.pop(what, None) is not None:
            self.log.info("%s: works again", what)

    def pause_s(self, poll_s: float) -> float:
        """Seconds to the next pass: `poll_s`, doubled for each pass in a row that could not reach the chain or
        IPFS, up to MAX_BACKOFF_S, or that found nothing new and nothing in flight, up to IDLE_POLL_S."""
        if self.failed_passes:
            return min(poll_s * 2 ** min(self.failed_passes, 16), max(poll_s, MAX_BACKOFF_S))
        return min(poll_s * 2 ** min(self.quiet_passes, 16), max(poll_s, IDLE_POLL_S))

    def ensure_stake(self) -> None:
        """Bond the market's minimum stake for this role when the account has none; stop work once slashed."""
        if not self.stake_role:
            return
        stake = self.chain.stake_of(self.address)
        if stake.slashed:
            if not self.slashed:
                self.log.error("this account was slashed: it can no longer stake, and a miner stops training")
            self.slashed = True
            self.presence.set_working(set())
            return
        if stake.roles & self.stake_role and stake.amount > 0:
            return
        amount = max(self.stake_wei, self.chain.call("MIN_STAKE"))
        self.chain.stake(stake.roles | self.stake_role, wei=amount)
        self.log.info("staked %d wei as a %s", amount, self.role)

    def run(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        self.presence.run(self.step, stop, lambda: self.pause_s(poll_s))
