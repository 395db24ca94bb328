"""The `paris-validator` daemon: check every delta of the jobs it follows, vote, and slash cheaters.

Each pass reads new chain events (jobs, submissions, reveals) through the market index, then moves every
open delta record one or more stages forward: pending -> decided (the verdict and score, written before
anything is sent; a revealed delta whose committee, drawn by stake, left this validator out is not checked at
all) -> committed (the vote sealed, within the market's vote window after the miner's reveal)
-> opened (the vote revealed in the next window) -> done (once the delta is decided by stake: the miner
slashed when it failed; once its trap window closed: the fee collected when our vote matched, and every
validator who voted against the verdict, or sealed a vote and never opened it, slashed). The seal's salt is
derived from the account's key and the delta, so nothing secret needs keeping across restarts. Records are
replaced atomically and the index keeps its journal in the work directory, so a validator killed at any
point resumes: a check in progress is rerun (checks are deterministic), a vote already on chain is not sent
again, and a pass is only ever sealed after every check ran. What could not be checked (IPFS or RPC down,
content not yet available) is noted on the record and retried on later passes.

Merges answer to it too (`disputes`): every merge of a followed job is rebuilt and a refuted one disputed on
chain; a dispute is a record like a delta's (no segments, the disputer as its miner) whose committee draw is
fixed once its seed block is mined, whose check is that rebuild, and which the daemon resolves once decided
(the merge rolled back and its aggregator slashed, or the bond paid out).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from paris_node.content.atomic import write_atomic
from paris_node.content.sealing import OVERHEAD, NotAdmitted, SealingError
from paris_node.content.store import ContentMismatch, InvalidCid, IpfsStore, ObjectTooLarge, StoreError, parse_cid
from paris_node.data.clips import ClipSet
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.jobspec import JobSpec
from paris_node.learning.reveal import Reveal, RevealError
from paris_node.learning.trace import challenged_segments
from paris_node.market.chain import (ROLE_VALIDATOR, Chain, ContractRevert, Delta, DeltaState, Event, SlashReason,
                                     Verdict, Vote)
from paris_node.market.errors import Revert
from paris_node.market.index import DeltaEntry, DisputeEntry
from paris_node.market.keyring import Content
from paris_node.net.presence import Presence
from paris_node.net.status_api import DeltaReport, Status
from paris_node.roles.daemon import Daemon
from paris_validator.checks import (CheckFailed, Submission, check_delta_file, check_delta_matches, check_reveal,
                                    check_step_envelope, replay)
from paris_validator.disputes import MergeAuditor, refutation
from paris_validator.evidence import Evidence
from paris_validator.scoring import BaseLosses, useful_work

log = logging.getLogger(__name__)

WITHHELD = "withheld-reveal"
FIX_SEED_AFTER_BLOCKS = 128  # an unrevealed delta's seed is recorded on chain once half its 256 blocks have passed
NOT_ADMITTED = "admission"  # a private job's delta from a miner the requester had not admitted: failed, not slashed
# What the market answers a validator that unbonds, was slashed or lost its stake: no vote or report of it counts.
UNABLE = (Revert.UNBONDING, Revert.IS_SLASHED, Revert.NOT_STAKED)
UNAVAILABLE_RETRY_S = (5.0, 300.0)  # first and longest wait before fetching a delta's missing content again


class Pending(Exception):
    """The delta cannot be decided yet (no reveal yet, content not retrievable yet); try again later."""


class Unavailable(Pending):
    """Content the delta names could not be fetched: tried again after a growing wait, not on every pass, and
    once more right after `deadline` (chain time), past which its absence fails the delta."""

    def __init__(self, message: str, deadline: int) -> None:
        super().__init__(message)
        self.deadline = deadline


@dataclass
class DeltaRecord:
    delta_id: int
    job_id: int
    expert: int
    base_version: int
    miner: str
    delta_cid: str
    trace_root: str
    segments: int
    order: tuple[int, int]  # (block, log index) of the submission
    lane: int = 0
    reveal_cid: str = ""
    seed: str = ""
    stage: str = "pending"  # pending -> decided -> committed -> opened -> done
    passed: bool = False
    score: int = 0
    check: str = ""  # the failed check, for a fail
    detail: str = ""
    evidence_cid: str = ""
    outcome: str = ""
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why

    @property
    def is_dispute(self) -> bool:
        """A merge dispute (no segments; its "miner" is the disputer), voted on like a delta."""
        return self.segments == 0

    @property
    def submission(self) -> Submission:
        return Submission(self.delta_id, self.job_id, self.expert, self.base_version, self.miner, self.delta_cid,
                          bytes.fromhex(self.trace_root), self.segments, self.lane)

    def note(self, text: str) -> None:
        if not self.notes or self.notes[-1] != text:
            self.notes = [*self.notes, text][-20:]


def load_records(work_dir: Path) -> list[DeltaRecord]:
    """A validator's delta records, in submission order."""
    records = []
    for path in sorted((work_dir / "deltas").glob("*.json")):
        raw = json.loads(path.read_text())
        records.append(DeltaRecord(**{**raw, "delta_id": int(raw["delta_id"], 16), "order": tuple(raw["order"])}))
    return sorted(records, key=lambda r: r.order)


def check_first(record: DeltaRecord) -> tuple[bool, int, tuple[int, int]]:
    """The order pending checks run in: disputes, then deltas on the lowest base version (the experts furthest
    behind, whose merges miners wait on longest), oldest first."""
    return not record.is_dispute, record.base_version, record.order


class ValidatorDaemon(Daemon):
    role = "validator"
    stake_role = ROLE_VALIDATOR

    def __init__(self, chain: Chain, store: IpfsStore, work_dir: Path, from_block: int,
                 jobs: set[int] | None = None, stake_wei: int = 0, presence: Presence | None = None) -> None:
        super().__init__(chain, store, work_dir, from_block, jobs, stake_wei, presence)
        (work_dir / "deltas").mkdir(parents=True, exist_ok=True)
        self.records = {r.delta_id: r for r in load_records(work_dir)}
        self.retry_at: dict[int, tuple[float, float]] = {}  # delta id -> (when to fetch again, the wait before it)
        self.auditor = MergeAuditor(work_dir)
        self.base_losses = BaseLosses()  # each base checkpoint's held-out losses, shared by the deltas on it
        for job in self.index.jobs:  # what the index read before a restart, and records not written then
            self.presence.follow(job.job_id, job.aggregator)
            for entry in self.index.deltas(job.job_id):
                self._track(entry)
        for merge in self.index.merges:
            self.auditor.track(merge)
        for dispute in self.index.disputes:
            self._track_dispute(dispute)

    # --------------------------------------------------------------- persistence

    def _save(self, record: DeltaRecord) -> None:
        raw = {**dataclasses.asdict(record), "delta_id": hex(record.delta_id)}
        write_atomic(self.work_dir / "deltas" / f"{record.delta_id:064x}.json", json.dumps(raw, indent=2).encode())

    def _feedback_path(self, delta_id: int) -> Path:
        return self.work_dir / "feedback" / f"{delta_id:064x}.safetensors"

    # --------------------------------------------------------------- one pass

    def work(self) -> None:
        if self.slashed:  # the market refuses a slashed validator's votes and reports: only its balance is left
            for record in self.records.values():
                if record.stage != "done":
                    self._done(record, "not finished: this validator was slashed")
        else:
            self._check_and_audit()
        if self.alert:  # (fees fall due with new events: a resting validator asks once every RECHECK_S)
            self.guard("withdrawing fees and slashing rewards", self._withdraw)

    def _check_and_audit(self) -> None:
        """Advance every delta record due now (votes first, then at most one check) and every open audit."""
        due = [r for r in sorted(self.records.values(), key=lambda r: r.order) if self._due(r)]
        for record in due:  # votes to seal, open or settle first: cheap, and each due by a deadline
            if record.stage != "pending":
                self._attempt(record)
        for record in sorted(due, key=check_first):  # then checks, one a pass: what comes due is not missed
            if record.stage == "pending":
                self._attempt(record)
                if record.stage != "pending":
                    self._attempt(record)  # seal its vote now
                    break
        for audit in self.auditor.open():
            if (spec := self.job_spec(audit.job_id)) is not None:
                self.guard(f"auditing the merge of {audit.name}", self.auditor.audit, self.chain, self.index,
                           self._content(audit.job_id, spec), spec, audit)

    def at_rest(self) -> bool:
        return all(r.stage == "done" for r in self.records.values()) and not self.auditor.open() \
            and super().at_rest()

    def _due(self, record: DeltaRecord) -> bool:
        """Whether a record has work now: not done, not waiting to retry, and its job's spec readable."""
        if record.stage == "done" or self.retry_at.get(record.delta_id, (0.0,))[0] > time.monotonic():
            return False
        if self.job_spec(record.job_id) is None:  # its job's spec is refused or cannot be read now
            why = self.unfollowed.get(record.job_id, f"job {record.job_id} is not followed now")
            if record.notes[-1:] != [why]:
                record.note(why)
                self._save(record)
            return False
        return True

    def _attempt(self, record: DeltaRecord) -> None:
        """Advance a record as far as it goes now; a failure is noted on it and retried on a later pass."""
        try:
            self._advance(record)
        except self.recoverable as exc:
            if isinstance(exc, ContractRevert) and exc.error in UNABLE:  # retrying would never help
                log.error("delta %#x: %s", record.delta_id, exc)
                self._done(record, f"not finished: this validator may not act any more ({exc.error})")
                return
            record.note(f"{type(exc).__name__}: {exc}")
            self._save(record)
            log.warning("delta %#x: %s (will retry)", record.delta_id, exc)

    def _withdraw(self) -> None:
        if self.chain.owed(self.address) > 0:
            log.info("withdrew %d wei of fees and slashing rewards", self.chain.withdraw())

    def status(self) -> Status:
        decided = [r for r in self.records.values() if r.stage != "pending"]
        pending = sorted((r for r in self.records.values() if r.stage == "pending"), key=lambda r: r.order)
        last = max(decided, key=lambda r: r.order, default=None)
        report = None if last is None else DeltaReport(
            delta_id=hex(last.delta_id), job=last.job_id, expert=last.expert, base_version=last.base_version,
            cid=last.delta_cid, stage=last.outcome or last.stage, passed=last.passed,
            score=last.score if last.passed else None)
        return Status(role="validator", address=self.address, peer_id=self.presence.peer_id,
                      jobs=[j.job_id for j in self.index.jobs], expert=pending[0].expert if pending else None,
                      round=pending[0].base_version if pending else None, last_delta=report,
                      peers=self.presence.peers(), resting=self.quiet_passes > 0)

    def on_events(self, events: list[Event]) -> None:
        for event in events:
            if event.name == "JobCreated":
                self.presence.follow(event.args["jobId"], event.args["aggregator"])
            elif event.name in ("DeltaSubmitted", "Revealed"):
                self._track(self.index.delta(event.args["deltaId"]))
                if event.name == "Revealed":  # its vote must be sealed soon: fetch again now, whatever the backoff
                    self.retry_at.pop(event.args["deltaId"], None)
            elif event.name == "ExpertFinalized":
                self.auditor.track(self.index.merge(event.args["jobId"], event.args["expert"], event.args["version"]))
            elif event.name == "MergeDisputed":
                self._track_dispute(next(d for d in self.index.disputes if d.delta_id == event.args["disputeId"]))

    def _track(self, entry: DeltaEntry) -> None:
        """Open a record for a submitted delta, and note its reveal once the index has one."""
        record = self.records.get(entry.delta_id)
        if record is None:
            record = DeltaRecord(entry.delta_id, entry.job_id, entry.expert, entry.base_version, entry.miner,
                                 entry.cid, entry.trace_root, entry.segments, entry.order, entry.lane)
            self.records[record.delta_id] = record
            self._save(record)
            spec = self.job_spec(record.job_id)  # a private job's delta is sealed: OVERHEAD more bytes
            self._prefetch(record.delta_cid, None if spec is None else spec.max_delta_bytes + OVERHEAD * spec.private)
        reveal = self.index.reveal(entry.delta_id)
        if reveal is not None and not record.reveal_cid:
            record.reveal_cid, record.seed = reveal.cid, reveal.seed
            self._save(record)
            if record.stage == "pending" and self.guard(f"reading delta {record.delta_id:#x}'s committee",
                                                        self.chain.on_committee, record.delta_id, self.address):
                self._prefetch(record.reveal_cid)

    def _prefetch(self, cid: str, max_bytes: int | None = None) -> None:
        """Start moving content here in the background as soon as it is named: a reveal then crosses the miner's
        uplink while other deltas are replayed, not after them (its commit phase is short)."""
        with contextlib.suppress(InvalidCid):  # failed by its check, which names the bad CID
            self.cache.prefetch(cid, max_bytes)

    def _track_dispute(self, entry: DisputeEntry) -> None:
        """Open a record for a merge dispute: voted on like a delta, its verdict the merge's rebuild."""
        if entry.delta_id not in self.records:
            record = DeltaRecord(entry.delta_id, entry.job_id, entry.expert, entry.version, entry.disputer,
                                 delta_cid="", trace_root="", segments=0, order=(entry.block, entry.log_index))
            self.records[record.delta_id] = record
            self._save(record)

    # --------------------------------------------------------------- stages

    def _advance(self, record: DeltaRecord) -> None:
        if record.stage == "pending" and record.is_dispute:
            if record.miner == self.address:  # ours: not voted on by us, but seen decided and resolved
                record.stage = "opened"
            elif not self._dispute_drawn(record):
                return
        if record.stage == "pending" and (record.reveal_cid or record.is_dispute) and record.miner != self.address \
                and not self.chain.on_committee(record.delta_id, self.address):
            return self._done(record, "not drawn for its committee: not checked")
        if record.stage == "pending":
            self._decide(record)
        if record.stage == "decided":
            self._commit(record)
        if record.stage == "committed":
            self._open(record)
        if record.stage == "opened":
            self._settle(record)

    def _dispute_drawn(self, record: DeltaRecord) -> bool:
        """Whether a dispute's committee can be known: its seed comes from a block after the dispute, fixed on chain
        here once that block is mined."""
        try:
            self.chain.fix_challenge(record.delta_id)
        except ContractRevert as exc:
            if exc.error != Revert.CHALLENGE_NOT_READY:
                raise
            return False
        return True

    def _decide(self, record: DeltaRecord) -> None:
        try:
            score = self._verify(record)
        except Unavailable as exc:
            _, waited = self.retry_at.get(record.delta_id, (0.0, UNAVAILABLE_RETRY_S[0] / 2))
            longest = UNAVAILABLE_RETRY_S[1] if not record.reveal_cid else self.chain.vote_window / 4
            wait = min(longest, 2 * waited)
            until_deadline = exc.deadline - self.chain.timestamp()
            if 0 <= until_deadline < wait:  # the fail it may prove then must still be sealed in the commit phase
                wait = until_deadline + 0.5
            self.retry_at[record.delta_id] = (time.monotonic() + wait, wait)
            record.note(f"{exc} (trying again in {wait:.0f}s)")
            self._save(record)
            return
        except (Pending, NotAdmitted) as exc:  # not admitted to a private job: it never votes on it
            record.note(str(exc))
            self._save(record)
            return
        except CheckFailed as exc:
            record.passed, record.check, record.detail = False, exc.check, exc.detail
            log.warning("delta %#x of %s FAILED %s: %s", record.delta_id, record.miner, exc.check, exc.detail)
            self.presence.metrics.deltas.labels("rejected").inc()
        else:
            record.passed, record.score = True, score
            log.info("delta %#x of %s passed, score %d", record.delta_id, record.miner, score)
            self.presence.metrics.deltas.labels("verified").inc()
        record.stage = "decided"
        self._save(record)

    def _salt(self, delta_id: int) -> bytes:
        """The seal's secret: unguessable before the vote is opened, and the same after a restart."""
        return hashlib.sha256(bytes(self.chain.signer.key) + delta_id.to_bytes(32, "big")).digest()

    def _commit(self, record: DeltaRecord) -> None:
        if record.miner == self.address:
            return self._done(record, "our own delta: not voted")
        delta = self.chain.delta(record.delta_id)
        if record.check != WITHHELD and delta.state == DeltaState.SUBMITTED \
                and self.chain.vote_of(record.delta_id, self.address) == Vote.NONE:
            if not delta.revealed:  # a delta failed on its file alone: the vote waits for the reveal
                closes = delta.submitted_at + self.chain.job(record.job_id).reveal_window
                if self.chain.timestamp() <= closes:
                    return
                if record.check == NOT_ADMITTED:
                    return self._done(record, "failed; not admitted (never revealed)")
                record.check, record.detail = WITHHELD, f"no reveal by {closes} (chain time); also {record.detail}"
            else:
                try:
                    self.chain.commit_vote(record.delta_id, record.passed, record.score, self._salt(record.delta_id))
                except ContractRevert as exc:
                    if exc.error == Revert.NOT_ON_COMMITTEE:  # checked on its file alone, before the draw
                        return self._done(record, "not drawn for its committee: not voted")
                    if exc.error != Revert.VOTING_CLOSED:
                        raise
                    return self._done(record, "checked after the commit phase: not voted")
        record.stage = "committed"
        self._save(record)

    def _open(self, record: DeltaRecord) -> None:
        if record.check != WITHHELD and self.chain.vote_of(record.delta_id, self.address) == Vote.COMMITTED:
            opens = self.chain.delta(record.delta_id).revealed_at + self.chain.vote_window
            if self.chain.timestamp() <= opens:
                return
            try:
                self.chain.reveal_vote(record.delta_id, record.passed, record.score, self._salt(record.delta_id))
            except ContractRevert as exc:
                if exc.error != Revert.NOT_REVEAL_PHASE:
                    raise
                log.error("delta %#x: our sealed vote was not opened in time; it can be slashed", record.delta_id)
                return self._done(record, "sealed but not opened in time")
        record.stage = "opened"
        self._save(record)

    def _settle(self, record: DeltaRecord) -> None:
        if record.check == WITHHELD:
            return self._slash_miner(record)
        delta = self.chain.delta(record.delta_id)
        window = self.chain.vote_window
        now = self.chain.timestamp()
        if delta.state == DeltaState.SUBMITTED:
            if now <= delta.revealed_at + 2 * window:
                return  # the other validators' votes are still being opened
            try:
                self.chain.decide(record.delta_id)
            except ContractRevert as exc:
                if exc.error == Revert.NO_VERDICT:
                    if record.is_dispute:  # the merge stands; the disputer's bond goes back
                        self._resolve(record)
                    return self._done(record, "no verdict: too few votes opened, or equal stake on both sides")
                if exc.error != Revert.ALREADY_DECIDED:
                    raise
            delta = self.chain.delta(record.delta_id)
        if record.is_dispute and delta.state in (DeltaState.PASSED, DeltaState.FAILED):
            self._resolve(record)
            delta = self.chain.delta(record.delta_id)
        if delta.state == DeltaState.FAILED and self.chain.vote_of(record.delta_id, self.address) == Vote.FAIL \
                and record.check != NOT_ADMITTED and not record.outcome:
            return self._slash_miner(record)
        if now <= delta.revealed_at + 3 * window:
            return  # votes settle once no trap can turn the verdict any more
        self._collect(record)
        self._slash_wrong_voters(record, delta)
        self._done(record, _outcome(record, delta))

    def _resolve(self, record: DeltaRecord) -> None:
        """Settle a dispute: a refuted merge is rolled back and its aggregator slashed, else the bond is paid out."""
        merge = self.index.merge(record.job_id, record.expert, record.base_version)
        try:
            event = self.chain.resolve_dispute(record.delta_id, parse_cid(merge.checkpoint), list(merge.merged))
        except ContractRevert as exc:
            if exc.error != Revert.ALREADY_RESOLVED:
                raise
            return
        log.warning("dispute %#x of job %d expert %d v%d resolved: %d wei to %s", record.delta_id, record.job_id,
                    record.expert, record.base_version, event.args["amount"], event.args["paidTo"])
        record.note(f"resolved: {event.args['amount']} wei to {event.args['paidTo']}")

    def _slash_miner(self, record: DeltaRecord) -> None:
        if not record.evidence_cid:
            record.evidence_cid = str(self.store.add(self._evidence(record).to_bytes(), name="evidence.json"))
            self._save(record)
        reason = SlashReason.WITHHELD_REVEAL if record.check == WITHHELD else SlashReason.FAILED_SPOT_CHECK
        try:
            self.chain.slash(record.delta_id, reason, parse_cid(record.evidence_cid))
        except ContractRevert as exc:
            if exc.error != Revert.NOT_SLASHABLE:
                raise
            if record.check == WITHHELD:
                return self._done(record, f"failed; not slashable now ({exc.error})")
            record.outcome = f"failed; not slashable by us ({exc.error})"  # slashed by another fail voter, say
            return self._save(record)
        log.warning("slashed %s for delta %#x (%s)", record.miner, record.delta_id, record.check)
        if record.check == WITHHELD:  # its reporter was credited at once; no vote was taken
            return self._done(record, "failed; slashed")
        record.outcome = "failed; slashed"  # the fee and the fail voters' share are collected once votes settle
        self._save(record)

    def _slash_wrong_voters(self, record: DeltaRecord, delta: Delta) -> None:
        """Slash every other validator whose vote on the delta went against its verdict, or stayed sealed."""
        commits = self.chain.logs(delta.submitted_block, self.chain.w3.eth.block_number, names=["VoteCommitted"],
                                  first_indexed=[record.delta_id])
        voters = {e.args["validator"] for e in commits} - {self.address}
        wrong = {Verdict.PASS: Vote.FAIL, Verdict.FAIL: Vote.PASS}.get(delta.verdict)
        for voter in sorted(voters):
            if self.chain.vote_of(record.delta_id, voter) not in (Vote.COMMITTED, wrong):
                continue
            try:
                event = self.chain.slash_voter(record.delta_id, voter)
            except ContractRevert as exc:
                if exc.error not in (Revert.RIGHT_VOTE, Revert.IS_SLASHED):
                    raise
                continue
            log.warning("delta %#x: slashed validator %s (%d wei) for a vote against the verdict", record.delta_id,
                        voter, event.args["amount"])
            record.note(f"slashed validator {voter} for a vote against the verdict")

    def _collect(self, record: DeltaRecord) -> None:
        """Collect the fee (and slashing share) our vote on a decided delta earned, if it matched the verdict."""
        try:
            wei = self.chain.collect([record.delta_id])
        except ContractRevert as exc:
            if exc.error != Revert.NOTHING_TO_COLLECT:
                raise
            return
        log.info("delta %#x: collected %d wei for a vote that matched the verdict", record.delta_id, wei)

    def _done(self, record: DeltaRecord, outcome: str) -> None:
        record.stage, record.outcome = "done", outcome
        self._save(record)

    def _evidence(self, record: DeltaRecord) -> Evidence:
        challenged: tuple[int, ...] = ()
        if record.seed:
            job = self.chain.job(record.job_id)
            challenged = tuple(challenged_segments(bytes.fromhex(record.seed), record.segments, job.challenges))
        return Evidence(record.delta_id, record.job_id, record.expert, record.base_version, record.miner,
                        self.address, record.check, record.detail, record.delta_cid, record.reveal_cid, challenged,
                        record.lane)

    # --------------------------------------------------------------- the checks

    def _spec(self, job_id: int) -> JobSpec:
        return self.index.spec(job_id, self.cache.get)

    def _content(self, job_id: int, spec: JobSpec) -> Content:
        return self.keyrings.content(job_id, spec, self.cache)

    def _base(self, spec: JobSpec, job_id: int, expert: int, version: int) -> Checkpoint:
        cid = self.index.checkpoint_cid(spec, job_id, expert, version)
        return Checkpoint.from_bytes(self._content(job_id, spec).get(cid), source=str(cid))

    def _fetch(self, record: DeltaRecord, spec: JobSpec, cid: str, what: str, max_bytes: int, deadline: int) -> bytes:
        """Content a miner published; unavailable past `deadline` (chain time) while IPFS works is a fail, and so
        is, in a private job, content that is not encrypted or does not open with the job's keys."""
        try:
            return self._content(record.job_id, spec).get(cid, max_bytes=max_bytes)
        except NotAdmitted:
            raise
        except InvalidCid as exc:  # an event naming no valid CID: nothing will ever be there
            raise CheckFailed("cid", f"{what}: {exc}") from exc
        except SealingError as exc:
            raise CheckFailed("sealing", f"{what}: {exc}") from exc
        except ObjectTooLarge as exc:
            raise CheckFailed("size", f"{what}: {exc}") from exc
        except ContentMismatch as exc:  # our node served wrong bytes: not the miner's doing
            raise Pending(f"{what}: {exc}") from exc
        except StoreError as exc:
            if self.chain.timestamp() > deadline and self.store_answers():
                raise CheckFailed("availability", f"{what} {cid} not retrievable by the deadline: {exc}") from exc
            raise Unavailable(f"{what} not retrievable yet: {exc}", deadline) from exc

    def _verify(self, record: DeltaRecord) -> int:
        """The score of a delta that passes every check; raises CheckFailed or Pending otherwise."""
        if record.is_dispute:
            return self._verify_dispute(record)
        sub = record.submission
        spec = self._spec(record.job_id)
        job = self.chain.job(record.job_id)
        delta = self.chain.delta(record.delta_id)
        if spec.private and record.miner not in self.keyrings.members_at(record.job_id, spec, delta.submitted_block):
            raise CheckFailed(NOT_ADMITTED, f"{record.miner} was not admitted to private job {record.job_id} when it "
                                            f"submitted (block {delta.submitted_block})")
        base = self._base(spec, record.job_id, record.expert, record.base_version)
        # What a miner published must be retrievable by half-way through the commit phase after its reveal (so
        # that a vote can still be sealed), and by two reveal windows after its submission at the latest.
        content_deadline = delta.submitted_at + 2 * job.reveal_window
        if delta.revealed:
            content_deadline = min(content_deadline, delta.revealed_at + self.chain.vote_window // 2)
        data = self._fetch(record, spec, record.delta_cid, "delta", spec.max_delta_bytes, content_deadline)
        update = check_delta_file(data, sub, spec, base)
        if not delta.revealed:
            if self.chain.timestamp() > delta.submitted_at + job.reveal_window:
                raise CheckFailed(WITHHELD, f"no reveal by {delta.submitted_at + job.reveal_window} (chain time)")
            self._keep_challenge(record, delta.submitted_block)
            raise Pending("waiting for the reveal")
        if not record.reveal_cid:
            raise Pending("reveal event not read yet")
        state_bytes = 12 * sum(t.numel() for t in base.weights.values()) + (1 << 20)  # weights + 2 moments
        try:  # the file's bytes are dropped once parsed: a reveal is held in memory once
            reveal = Reveal.from_bytes(self._fetch(record, spec, record.reveal_cid, "reveal",
                                                   (2 * job.challenges + 3) * state_bytes, content_deadline))
        except RevealError as exc:
            raise CheckFailed("reveal-format", str(exc)) from exc
        seed = bytes.fromhex(record.seed)
        challenged = challenged_segments(seed, sub.segments, job.challenges)
        check_reveal(reveal, sub, challenged, base)
        shard = self._clips(record.job_id, spec, spec.shards[record.expert])
        drift, final = replay(spec, shard, reveal, sub, challenged, base)
        if drift:
            record.note(f"replay not bit-exact (other hardware?): drift {drift:.2e} within {spec.replay_tolerance:.0e}")
        check_step_envelope(spec, base, final)
        carried = check_delta_matches(data, sub, spec, base, final, self._error_before(record))
        self._feedback_path(record.delta_id).parent.mkdir(parents=True, exist_ok=True)
        save_file(carried, str(self._feedback_path(record.delta_id)))
        evals = self._clips(record.job_id, spec, spec.evals[record.expert]) if spec.evals else None
        return useful_work(spec, shard, base, update, sub, seed, evals=evals, base_losses=self.base_losses).score

    def _verify_dispute(self, record: DeltaRecord) -> int:
        """A dispute passes (the merge stands) when rebuilding the merge gives the checkpoint it recorded."""
        spec = self._spec(record.job_id)
        if why := refutation(self.index, self._content(record.job_id, spec), spec, record.job_id, record.expert,
                             record.base_version):
            raise CheckFailed("merge", why)
        return 1

    def _clips(self, job_id: int, spec: JobSpec, cid: str) -> ClipSet:
        return ClipSet.from_bytes(self._content(job_id, spec).get(cid), source=cid)

    def _keep_challenge(self, record: DeltaRecord, submitted_block: int) -> None:
        """Record the seed on chain before its block hash ages out (256 blocks), which a reveal window in seconds
        can outlast: a slow but honest miner can then still reveal."""
        seed_block = submitted_block + self.chain.challenge_delay
        if self.chain.w3.eth.block_number <= seed_block + FIX_SEED_AFTER_BLOCKS \
                or self.chain.challenge_fixed(record.delta_id):
            return
        try:
            self.chain.fix_challenge(record.delta_id)
            record.note(f"recorded the challenge seed on chain (still unrevealed {FIX_SEED_AFTER_BLOCKS} blocks on)")
        except ContractRevert as exc:
            if exc.error != Revert.CHALLENGE_EXPIRED:
                raise
            record.note("the challenge seed aged out unrecorded: the miner can no longer reveal")

    def _error_before(self, record: DeltaRecord) -> dict[str, torch.Tensor] | None:
        """The miner's error feedback going into this delta: what its previous delta on the expert left over."""
        earlier = [r for r in self.records.values() if (r.job_id, r.expert, r.miner) == (record.job_id, record.expert,
                                                                                          record.miner)
                   and r.order < record.order]
        if not earlier:
            return None
        previous = max(earlier, key=lambda r: r.order)
        path = self._feedback_path(previous.delta_id)
        if path.exists():
            return load_file(str(path))
        if previous.stage == "pending":
            raise Pending(f"waiting for the check of this miner's previous delta {previous.delta_id:#x}")
        raise CheckFailed("error-feedback", f"the miner's previous delta {previous.delta_id:#x} did not pass here, "
                                            "so its error feedback is unknown")


def _outcome(record: DeltaRecord, delta: Delta) -> str:
    """How a delta (or dispute) we voted on ended, in a few words."""
    if record.is_dispute:
        if delta.state == DeltaState.SLASHED:
            return "dispute upheld: the merge rolled back, its aggregator slashed"
        return "dispute rejected: the merge stands" if delta.verdict == Verdict.PASS else "dispute undecided"
    passed = record.passed
    if passed and delta.verdict == Verdict.PASS:
        return "passed"
    if not passed and delta.state == DeltaState.SLASHED:
        return "failed; slashed"
    if record.check == NOT_ADMITTED and delta.verdict == Verdict.FAIL:  # removed just before submitting: no cheat
        return "failed; not admitted"
    verdict = {Verdict.PASS: "passed", Verdict.FAIL: "failed", Verdict.NONE: "undecided"}[delta.verdict]
    trap = " (a trap)" if delta.trapped else ""
    return f"{'passed' if passed else 'failed'} here; {verdict} by the vote{trap}"
