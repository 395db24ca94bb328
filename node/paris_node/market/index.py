"""The market's shared state as every role reads it: jobs, submitted deltas, reveals, merges and disputes.

Miners, validators, the aggregator, the SDK and the dashboard all ask the same questions of the chain (which
jobs exist and what their spec is, which checkpoint an expert is at, which deltas were submitted for it, what
a merge contained). One `MarketIndex` per process answers them from memory; a lookup that misses syncs once
before it says no. Each `sync` asks the node only for the blocks since the last one, filtered by the node
itself (the indexed events' signatures as topic 0, the followed job ids as topic 1 where an event indexes
them), so a pass costs what its new events cost, not what the chain's history costs. Given a `path`, each
sync appends what it learnt and its cursor to a journal (JSON lines, also O(new events)) that is read back on
start, so a restarted daemon resumes where it stopped.

Nothing anyone can put on chain stops it: an event naming a CID that cannot be built (an unknown multicodec)
is kept with an empty CID, which whoever uses it refuses with a message, and a job whose spec cannot be read
is refused by `spec` without being fetched again on every pass: never again when the spec is malformed, after
a growing wait (`SPEC_RETRY_S`) when it could not be fetched.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multiformats import CID

from paris_node.content.store import InvalidCid, StoreError, parse_cid
from paris_node.learning.jobspec import JobSpec, JobSpecError
from paris_node.market.chain import LOG_RANGE, Chain, Event, cid_from_chain

log = logging.getLogger(__name__)

FORMAT = "paris-market-index/v1"
# The job id is their first indexed argument.
JOB_EVENTS = ("JobCreated", "AggregatorSet", "DeltaSubmitted", "ExpertFinalized", "MergeDisputed")
DELTA_EVENTS = ("Revealed",)  # indexed by delta id
CURSOR_EVERY_BLOCKS = 1_000  # with no new events, the cursor is persisted this often: a restart re-reads less
SPEC_RETRY_S = (10.0, 600.0)  # first and longest wait before fetching an unreadable job spec again


class MarketIndexError(LookupError):
    """Something the index was asked for is not on this market (yet); the message names it."""


class JobRefused(MarketIndexError):
    """A job not followed: its spec is malformed (for good) or could not be fetched (until `retry_at`).
    `fresh` is True when this call found it out, False when it repeats an earlier refusal unfetched."""

    def __init__(self, message: str, retry_at: float | None, wait_s: float, fresh: bool) -> None:
        super().__init__(message)
        self.retry_at, self.wait_s, self.fresh = retry_at, wait_s, fresh


def _cid_text(digest: bytes, codec: int) -> str:
    """The CID an event names, as text; "" when it names none that can be built (an unknown multicodec)."""
    try:
        return str(cid_from_chain(digest, codec))
    except (KeyError, ValueError) as exc:
        log.warning("an event names no valid CID (digest %s, codec %#x): %s", digest.hex(), codec, exc)
        return ""


@dataclass(frozen=True)
class JobEntry:
    job_id: int
    requester: str
    aggregator: str
    spec: str  # CID of the job spec
    block: int


@dataclass(frozen=True)
class DeltaEntry:
    delta_id: int
    job_id: int
    expert: int
    base_version: int
    miner: str
    cid: str
    trace_root: str  # hex
    segments: int
    block: int
    log_index: int
    lane: int = 0

    @property
    def order(self) -> tuple[int, int]:
        """Where the submission sits in the chain's history."""
        return (self.block, self.log_index)


@dataclass(frozen=True)
class MergeEntry:
    job_id: int
    expert: int
    version: int
    checkpoint: str  # CID of the merged checkpoint
    merged: tuple[int, ...]  # delta ids, in merge order, then those the aggregator could not read
    block: int
    unavailable: int = 0  # how many of the last `merged` are paid but not in the checkpoint

    @property
    def read(self) -> tuple[int, ...]:
        """The delta ids the checkpoint merged."""
        return self.merged[:len(self.merged) - self.unavailable]


@dataclass(frozen=True)
class DisputeEntry:
    delta_id: int  # the dispute's id: it is voted on like a delta
    job_id: int
    expert: int
    version: int  # the disputed merge's
    disputer: str
    block: int
    log_index: int


@dataclass(frozen=True)
class RevealEntry:
    delta_id: int
    cid: str
    seed: str  # hex


Entry = JobEntry | DeltaEntry | MergeEntry | DisputeEntry | RevealEntry


class MarketIndex:
    """Jobs, deltas, reveals and merges of one market, from `from_block` on (only `jobs`, when given)."""

    def __init__(self, chain: Chain, from_block: int, path: Path | None = None,
                 jobs: set[int] | None = None) -> None:
        self.chain, self.from_block, self.path = chain, from_block, path
        self.followed = None if jobs is None else frozenset(jobs)
        self._specs: dict[int, JobSpec] = {}
        self._refused: dict[int, JobRefused] = {}
        self._unreported: list[Event] = []  # read into the index, not yet returned by `sync`
        self._identity_cache: dict[str, Any] | None = None
        self._clear()
        if path is not None and path.exists():
            self._load(path)

    def _clear(self) -> None:
        self.next_block = self._saved_block = self.from_block
        self._jobs: dict[int, JobEntry] = {}
        self._deltas: dict[int, DeltaEntry] = {}
        self._deltas_of: dict[int, dict[int, DeltaEntry]] = {}  # job -> its deltas by id, in submission order
        self._merges: dict[tuple[int, int, int], MergeEntry] = {}
        self._disputes: dict[int, DisputeEntry] = {}
        self._reveals: dict[int, RevealEntry] = {}

    # ------------------------------------------------------------------ reading the chain

    def sync(self) -> list[Event]:
        """Read the events mined since the last sync into the index; returns, in chain order, every event read
        since the last call returned (a sync that failed half way, or a lookup's own sync, loses none)."""
        self._read_new()
        new, self._unreported = self._unreported, []
        return new

    def _read_new(self) -> None:
        """Read and journal the new blocks range by range, so a failure keeps what earlier ranges brought."""
        latest = self.chain.w3.eth.block_number
        while self.next_block <= latest:
            end = min(self.next_block + LOG_RANGE - 1, latest)
            if self.followed is None:  # every job: one query
                found = self.chain.logs(self.next_block, end, JOB_EVENTS + DELTA_EVENTS)
            else:  # a delta's reveal indexes the delta, not its job: its own query, kept only for followed deltas
                found = self.chain.logs(self.next_block, end, JOB_EVENTS, self.followed)
                found += self.chain.logs(self.next_block, end, DELTA_EVENTS)
            found.sort(key=lambda e: (e.block, e.log_index))
            read = []
            for event in found:  # one by one: a reveal is kept when its delta came first, even in this range
                if (entry := self._entry(event)) is not None:
                    self._store(entry)
                    read.append((event, entry))
            self.next_block = end + 1
            if self.path is not None and (read or self.next_block - self._saved_block >= CURSOR_EVERY_BLOCKS):
                self._append(self.path, [entry for _, entry in read])
            self._unreported += [event for event, _ in read]

    def _entry(self, event: Event) -> Entry | None:
        """What the index keeps of `event`; None for a reveal of a delta of a job this index does not follow."""
        a = event.args
        if event.name == "JobCreated":
            return JobEntry(a["jobId"], a["requester"], a["aggregator"], _cid_text(a["specDigest"], a["specCodec"]),
                            event.block)
        if event.name == "AggregatorSet" and a["jobId"] in self._jobs:  # the job's entry, with its new aggregator
            return dataclasses.replace(self._jobs[a["jobId"]], aggregator=a["aggregator"])
        if event.name == "DeltaSubmitted":
            return DeltaEntry(a["deltaId"], a["jobId"], a["expert"], a["baseVersion"], a["miner"],
                              _cid_text(a["deltaDigest"], a["deltaCodec"]), a["traceRoot"].hex(),
                              a["segments"], event.block, event.log_index, a["lane"])
        if event.name == "ExpertFinalized":
            return MergeEntry(a["jobId"], a["expert"], a["version"],
                              _cid_text(a["checkpointDigest"], a["checkpointCodec"]), tuple(a["mergedDeltaIds"]),
                              event.block, a["unavailable"])
        if event.name == "MergeDisputed":
            return DisputeEntry(a["disputeId"], a["jobId"], a["expert"], a["version"], a["disputer"], event.block,
                                event.log_index)
        if event.name == "Revealed" and a["deltaId"] in self._deltas:
            return RevealEntry(a["deltaId"], _cid_text(a["revealDigest"], a["revealCodec"]), a["seed"].hex())
        return None

    # ------------------------------------------------------------------ answers

    @property
    def jobs(self) -> list[JobEntry]:
        """Every job seen so far, by id."""
        return [self._jobs[k] for k in sorted(self._jobs)]

    def job(self, job_id: int) -> JobEntry:
        if job_id not in self._jobs:
            self._read_new()  # a lookup that misses reads what is new before it says no
        try:
            return self._jobs[job_id]
        except KeyError:
            followed = "" if self.followed is None else f" (this index follows jobs {sorted(self.followed)})"
            raise MarketIndexError(f"no job {job_id} on market {self.chain.address} as of block "
                                   f"{self.next_block - 1}{followed}") from None

    def spec(self, job_id: int, fetch: Callable[[CID], bytes]) -> JobSpec:
        """The spec job `job_id` was created with, read once through `fetch` (a verified store read or cache).
        Raises JobRefused for a spec that is malformed or cannot be fetched, without fetching again before the
        refusal's `retry_at` (never, for a malformed one)."""
        if job_id in self._specs:
            return self._specs[job_id]
        refused = self._refused.get(job_id)
        now = time.monotonic()
        if refused is not None and (refused.retry_at is None or now < refused.retry_at):
            raise JobRefused(str(refused), refused.retry_at, refused.wait_s, fresh=False)
        text = self.job(job_id).spec
        try:
            cid = parse_cid(text)
        except InvalidCid as exc:
            raise self._refuse(job_id, f"its spec {text!r} is not a CID ({exc}); not following it") from exc
        try:
            data = fetch(cid)
        except StoreError as exc:
            wait = SPEC_RETRY_S[0] if refused is None else min(SPEC_RETRY_S[1], 2 * refused.wait_s)
            raise self._refuse(job_id, f"its spec {text} could not be fetched ({exc}); trying again in {wait:.0f}s",
                               wait) from exc
        try:
            spec = JobSpec.from_bytes(data, source=text)
        except JobSpecError as exc:
            raise self._refuse(job_id, f"its spec is malformed ({exc}); not following it") from exc
        bound = self.chain.job(job_id).staleness_bound
        if spec.outer.staleness_bound != bound:  # a merge weighing fewer stale deltas than the market takes would
            raise self._refuse(job_id, f"its spec's staleness bound ({spec.outer.staleness_bound}) is not the one "
                                       f"its terms set on chain ({bound}); not following it")  # be refuted
        self._specs[job_id] = spec
        return spec

    def forget_refusal(self, job_id: int) -> None:
        """Fetch the job's spec again on the next ask (the failure was this node's, not the job's)."""
        self._refused.pop(job_id, None)

    def _refuse(self, job_id: int, why: str, wait_s: float | None = None) -> JobRefused:
        """Remember why the job is not followed: for good, or (`wait_s`) until its spec is worth fetching again."""
        retry_at = None if wait_s is None else time.monotonic() + wait_s
        self._refused[job_id] = refusal = JobRefused(f"job {job_id}: {why}", retry_at, wait_s or 0.0, fresh=True)
        return refusal

    def merge(self, job_id: int, expert: int, version: int) -> MergeEntry:
        """The merge that produced checkpoint `version` of the expert."""
        if (job_id, expert, version) not in self._merges:
            self._read_new()
        try:
            return self._merges[(job_id, expert, version)]
        except KeyError:
            raise MarketIndexError(f"job {job_id} expert {expert}: no ExpertFinalized event for version {version} "
                                   f"as of block {self.next_block - 1}") from None

    def checkpoint_cid(self, spec: JobSpec, job_id: int, expert: int, version: int) -> CID:
        """The expert's checkpoint `version`: the spec's initial one, then what each merge recorded."""
        if version == 0:
            return parse_cid(spec.initial[expert])
        return parse_cid(self.merge(job_id, expert, version).checkpoint)

    def deltas(self, job_id: int, expert: int | None = None) -> list[DeltaEntry]:
        """The job's submitted deltas (of one expert, when given), in submission order."""
        return [d for d in self._deltas_of.get(job_id, {}).values() if expert in (None, d.expert)]

    def delta(self, delta_id: int) -> DeltaEntry:
        if delta_id not in self._deltas:
            self._read_new()
        try:
            return self._deltas[delta_id]
        except KeyError:
            raise MarketIndexError(f"no delta {delta_id:#x} submitted to the followed jobs as of block "
                                   f"{self.next_block - 1}") from None

    def delta_cids(self, job_id: int, expert: int) -> dict[int, CID]:
        """CID of every delta submitted for (job, expert), by delta id."""
        return {d.delta_id: parse_cid(d.cid) for d in self.deltas(job_id, expert)}

    def reveal(self, delta_id: int) -> RevealEntry | None:
        return self._reveals.get(delta_id)

    @property
    def merges(self) -> list[MergeEntry]:
        """The latest merge of each (job, expert, version), in chain order."""
        return sorted(self._merges.values(), key=lambda m: m.block)

    @property
    def disputes(self) -> list[DisputeEntry]:
        """Every merge dispute of the followed jobs, in chain order."""
        return sorted(self._disputes.values(), key=lambda d: (d.block, d.log_index))

    # ------------------------------------------------------------------ persistence

    def _identity(self) -> dict[str, Any]:
        """What a journal must have been written for: this chain (its id and the hash of the start block, which
        tell a fresh devnet from an old one at the same address), contract, start block and followed jobs."""
        if self._identity_cache is None:
            block = self.chain.w3.eth.get_block(self.from_block)
            self._identity_cache = {
                "format": FORMAT, "chain_id": self.chain.chain_id, "start_hash": bytes(block["hash"]).hex(),
                "contract": self.chain.address.lower(), "from_block": self.from_block,
                "jobs": None if self.followed is None else sorted(self.followed)}
        return self._identity_cache

    def _append(self, path: Path, entries: list[Entry]) -> None:
        """Append the new entries, then the cursor, in one write: a torn last line only means re-reading blocks."""
        lines = [] if path.exists() else [self._identity()]
        lines += [{"kind": type(entry).__name__, **_jsonable(entry)} for entry in entries]
        lines.append({"kind": "cursor", "next_block": self.next_block})
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write("".join(json.dumps(line) + "\n" for line in lines))
            out.flush()
            os.fsync(out.fileno())
        self._saved_block = self.next_block

    def _load(self, path: Path) -> None:
        data = path.read_bytes()
        whole = data[:data.rfind(b"\n") + 1]  # a last line without its newline was torn by kill -9
        if len(whole) < len(data):
            log.warning("%s: a torn last entry (%d bytes) cut off; its blocks are read again", path,
                        len(data) - len(whole))
            os.truncate(path, len(whole))
        lines = whole.split(b"\n")[:-1]
        try:
            header = json.loads(lines[0]) if lines else None
        except ValueError:
            header = None
        if header != self._identity():
            log.info("%s describes another chain, market, start block or job set; reading the chain again from "
                     "block %d", path, self.from_block)
            path.unlink()
            return
        good = len(lines[0]) + 1  # bytes of the journal read so far, up to the last whole entry
        for number, line in enumerate(lines[1:], start=2):
            try:
                raw = json.loads(line)
                kind = raw.pop("kind")
                if kind == "cursor":
                    self.next_block = self._saved_block = int(raw["next_block"])
                else:
                    self._store(_ENTRIES[kind](**_from_jsonable(raw)))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s:%d: unreadable entry (%s); cut off, reading the chain again from block %d", path,
                            number, exc, self.next_block)
                os.truncate(path, good)  # what follows is appended after whole entries only
                break
            good += len(line) + 1
        if self.next_block > self.chain.w3.eth.block_number + 1:
            log.info("%s reads on from block %d, past this chain's head: reading it again", path, self.next_block)
            self._clear()
            path.unlink()

    def _store(self, entry: Entry) -> None:
        if isinstance(entry, JobEntry):
            self._jobs[entry.job_id] = entry
        elif isinstance(entry, DeltaEntry):
            self._deltas[entry.delta_id] = entry
            self._deltas_of.setdefault(entry.job_id, {})[entry.delta_id] = entry
        elif isinstance(entry, MergeEntry):
            self._merges[(entry.job_id, entry.expert, entry.version)] = entry
        elif isinstance(entry, DisputeEntry):
            self._disputes[entry.delta_id] = entry
        else:
            self._reveals[entry.delta_id] = entry


_ENTRIES: dict[str, type[Any]] = {cls.__name__: cls for cls in (JobEntry, DeltaEntry, MergeEntry, DisputeEntry,
                                                                  RevealEntry)}


def _jsonable(entry: Any) -> dict[str, Any]:
    raw = dataclasses.asdict(entry)
    if "delta_id" in raw:
        raw["delta_id"] = hex(raw["delta_id"])
    if "merged" in raw:
        raw["merged"] = [hex(i) for i in raw["merged"]]
    return raw


def _from_jsonable(raw: dict[str, Any]) -> dict[str, Any]:
    if "delta_id" in raw:
        raw["delta_id"] = int(raw["delta_id"], 16)
    if "merged" in raw:
        raw["merged"] = tuple(int(i, 16) for i in raw["merged"])
    return raw
