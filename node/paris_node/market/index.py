"""The market's shared state as every role reads it: jobs, submitted deltas, reveals and merges.

Miners, validators, the aggregator, the SDK and the dashboard all ask the same questions of the chain (which
jobs exist and what their spec is, which checkpoint an expert is at, which deltas were submitted for it, what
a merge contained). One `MarketIndex` per process answers them from memory; a lookup that misses syncs once
before it says no. Each `sync` asks the node only for the blocks since the last one, filtered by the node
itself (the indexed events' signatures as topic 0, the followed job ids as topic 1 where an event indexes
them), so a pass costs what its new events cost, not what the chain's history costs. Given a `path`, each
sync appends what it learnt and its cursor to a journal (JSON lines, also O(new events)) that is read back on
start, so a restarted daemon resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multiformats import CID

from paris_node.content.store import parse_cid
from paris_node.learning.jobspec import JobSpec
from paris_node.market.chain import LOG_RANGE, Chain, Event, cid_from_chain

log = logging.getLogger(__name__)

FORMAT = "paris-market-index/v1"
JOB_EVENTS = ("JobCreated", "DeltaSubmitted", "ExpertFinalized")  # the job id is their first indexed argument
DELTA_EVENTS = ("Revealed",)  # indexed by delta id
CURSOR_EVERY_BLOCKS = 1_000  # with no new events, the cursor is persisted this often: a restart re-reads less


class MarketIndexError(LookupError):
    """Something the index was asked for is not on this market (yet); the message names it."""


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
    merged: tuple[int, ...]  # delta ids, in merge order
    block: int


@dataclass(frozen=True)
class RevealEntry:
    delta_id: int
    cid: str
    seed: str  # hex


class MarketIndex:
    """Jobs, deltas, reveals and merges of one market, from `from_block` on (only `jobs`, when given)."""

    def __init__(self, chain: Chain, from_block: int, path: Path | None = None,
                 jobs: set[int] | None = None) -> None:
        self.chain, self.from_block, self.path = chain, from_block, path
        self.followed = None if jobs is None else frozenset(jobs)
        self.next_block = from_block
        self._jobs: dict[int, JobEntry] = {}
        self._deltas: dict[int, DeltaEntry] = {}
        self._merges: dict[tuple[int, int, int], MergeEntry] = {}
        self._reveals: dict[int, RevealEntry] = {}
        self._specs: dict[int, JobSpec] = {}
        self._saved_block = from_block
        if path is not None and path.exists():
            self._load(path)

    # ------------------------------------------------------------------ reading the chain

    def sync(self) -> list[Event]:
        """Read the events mined since the last sync into the index; returns them in chain order."""
        latest = self.chain.w3.eth.block_number
        new: list[Event] = []
        while self.next_block <= latest:
            end = min(self.next_block + LOG_RANGE - 1, latest)
            found = self.chain.logs(self.next_block, end, JOB_EVENTS, self.followed)
            found += self.chain.logs(self.next_block, end, DELTA_EVENTS)
            found.sort(key=lambda e: (e.block, e.log_index))
            for event in found:
                if self._apply(event):
                    new.append(event)
            self.next_block = end + 1
        if self.path is not None and (new or self.next_block - self._saved_block >= CURSOR_EVERY_BLOCKS):
            self._append(self.path, new)
        return new

    def _apply(self, event: Event) -> bool:
        a = event.args
        if event.name == "JobCreated":
            self._jobs[a["jobId"]] = JobEntry(a["jobId"], a["requester"], a["aggregator"],
                                              str(cid_from_chain(a["specDigest"], a["specCodec"])), event.block)
        elif event.name == "DeltaSubmitted":
            self._deltas[a["deltaId"]] = DeltaEntry(
                a["deltaId"], a["jobId"], a["expert"], a["baseVersion"], a["miner"],
                str(cid_from_chain(a["deltaDigest"], a["deltaCodec"])), a["traceRoot"].hex(), a["segments"],
                event.block, event.log_index)
        elif event.name == "ExpertFinalized":
            key = (a["jobId"], a["expert"], a["version"])
            self._merges[key] = MergeEntry(*key, str(cid_from_chain(a["checkpointDigest"], a["checkpointCodec"])),
                                           tuple(a["mergedDeltaIds"]), event.block)
        elif event.name == "Revealed" and a["deltaId"] in self._deltas:
            self._reveals[a["deltaId"]] = RevealEntry(a["deltaId"], str(cid_from_chain(a["revealDigest"],
                                                                                       a["revealCodec"])),
                                                      a["seed"].hex())
        else:
            return False  # a reveal of a delta of a job this index does not follow
        return True

    # ------------------------------------------------------------------ answers

    @property
    def jobs(self) -> list[JobEntry]:
        """Every job seen so far, by id."""
        return [self._jobs[k] for k in sorted(self._jobs)]

    def job(self, job_id: int) -> JobEntry:
        if job_id not in self._jobs:
            self.sync()  # a lookup that misses reads what is new before it says no
        try:
            return self._jobs[job_id]
        except KeyError:
            followed = "" if self.followed is None else f" (this index follows jobs {sorted(self.followed)})"
            raise MarketIndexError(f"no job {job_id} on market {self.chain.address} as of block "
                                   f"{self.next_block - 1}{followed}") from None

    def spec(self, job_id: int, fetch: Callable[[CID], bytes]) -> JobSpec:
        """The spec job `job_id` was created with, read once through `fetch` (a verified store read or cache)."""
        if job_id not in self._specs:
            cid = parse_cid(self.job(job_id).spec)
            self._specs[job_id] = JobSpec.from_bytes(fetch(cid), source=str(cid))
        return self._specs[job_id]

    def merge(self, job_id: int, expert: int, version: int) -> MergeEntry:
        """The merge that produced checkpoint `version` of the expert."""
        if (job_id, expert, version) not in self._merges:
            self.sync()
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
        found = [d for d in self._deltas.values() if d.job_id == job_id and expert in (None, d.expert)]
        return sorted(found, key=lambda d: d.order)

    def delta(self, delta_id: int) -> DeltaEntry:
        if delta_id not in self._deltas:
            self.sync()
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

    # ------------------------------------------------------------------ persistence

    def _identity(self) -> dict[str, Any]:
        return {"format": FORMAT, "contract": self.chain.address.lower(), "from_block": self.from_block,
                "jobs": None if self.followed is None else sorted(self.followed)}

    def _append(self, path: Path, events: list[Event]) -> None:
        """Append the new entries, then the cursor, in one write: a torn last line only means re-reading blocks."""
        lines = [] if path.exists() else [self._identity()]
        for event in events:
            entry = self._entry_of(event)
            lines.append({"kind": type(entry).__name__, **_jsonable(entry)})
        lines.append({"kind": "cursor", "next_block": self.next_block})
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write("".join(json.dumps(line) + "\n" for line in lines))
            out.flush()
            os.fsync(out.fileno())
        self._saved_block = self.next_block

    def _entry_of(self, event: Event) -> JobEntry | DeltaEntry | MergeEntry | RevealEntry:
        a = event.args
        if event.name == "JobCreated":
            return self._jobs[a["jobId"]]
        if event.name == "DeltaSubmitted":
            return self._deltas[a["deltaId"]]
        if event.name == "ExpertFinalized":
            return self._merges[(a["jobId"], a["expert"], a["version"])]
        return self._reveals[a["deltaId"]]

    def _load(self, path: Path) -> None:
        lines = path.read_text().splitlines()
        try:
            header = json.loads(lines[0]) if lines else None
        except ValueError:
            header = None
        if header != self._identity():
            log.info("%s describes another market, start block or job set; reading the chain again from block %d",
                     path, self.from_block)
            path.unlink()
            return
        for number, line in enumerate(lines[1:], start=2):
            try:
                raw = json.loads(line)
                kind = raw.pop("kind")
                if kind == "cursor":
                    self.next_block = self._saved_block = int(raw["next_block"])
                else:
                    self._restore(_ENTRIES[kind](**_from_jsonable(raw)))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s:%d: unreadable entry (%s); reading the chain again from block %d", path, number,
                            exc, self.next_block)
                break

    def _restore(self, entry: JobEntry | DeltaEntry | MergeEntry | RevealEntry) -> None:
        if isinstance(entry, JobEntry):
            self._jobs[entry.job_id] = entry
        elif isinstance(entry, DeltaEntry):
            self._deltas[entry.delta_id] = entry
        elif isinstance(entry, MergeEntry):
            self._merges[(entry.job_id, entry.expert, entry.version)] = entry
        else:
            self._reveals[entry.delta_id] = entry


_ENTRIES: dict[str, type[Any]] = {cls.__name__: cls for cls in (JobEntry, DeltaEntry, MergeEntry, RevealEntry)}


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
