"""The `paris-miner` daemon: follow jobs on chain, train rounds, submit deltas, answer challenges, get paid.

Each pass of `MinerDaemon.step` moves every (job, expert) forward by at most one stage, journaling each
stage before starting the next (see `journal`). Failures of one job (an unreachable IPFS node, a revert, a
job that closed while training) are logged and retried on the next pass; other work continues. A job is
followed only if its terms suit this miner (`Terms`: a reward worth the work, a reveal window it can meet);
the others are skipped, saying why once.

A miner keeps busy while its deltas are checked. It trains its other experts first, where a second of its
compute earns most first (`routing.worth`: an expert round's reward, shared with the live miners training the
same checkpoint, over what a delta of that job takes here); with nothing else to do it trains the same checkpoint
again in the next lane (other data draws; lanes run up to the job's staleness bound, and the delta lands in a
later merge, weighted down as a stale one). With no lane left either, an assisting miner (`assist`) trains a
delta of an expert dealt to others, ranked the same way, rather than wait for its own experts' merges.
Between training segments it answers challenges and submits what is ready, so a reveal never waits for a whole
round of training, and it stops a delta that no merge can take any more (its expert finished, or moved past the
staleness bound). It has an expert's next checkpoint at hand when the merge lands: with a compact codec it
rebuilds it from the one it trained on and the merged deltas (kilobytes instead of the whole model; kept only if
adding it to its own IPFS node gives the CID on chain), else it downloads it in the background as soon as the
job's aggregator announces the merge. The shard of an expert newly dealt to it is fetched in the background too.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from multiformats import CID
from safetensors.torch import load_file, save_file

from paris_node.content.atomic import write_atomic
from paris_node.content.sealing import NotAdmitted
from paris_node.content.store import IpfsStore, parse_cid
from paris_node.data.clips import ClipSet
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.delta import DeltaError
from paris_node.learning.jobspec import JobSpec
from paris_node.learning.trace import merkle_root
from paris_node.market.chain import ROLE_MINER, Chain, ContractRevert, Delta, DeltaState, Job
from paris_node.market.errors import Revert
from paris_node.market.keyring import Content
from paris_node.net.gossip import CheckpointPublished, DeltaSubmitted, Envelope
from paris_node.net.presence import Presence
from paris_node.net.status_api import DeltaReport, Status
from paris_node.roles.daemon import RECOVERABLE, Daemon
from paris_node.roles.journal import Journal, RoundRecord
from paris_node.roles.miner import RoundWork, kept_reveal, train_round
from paris_node.roles.aggregator import AggregatorError, rebuild
from paris_node.roles.routing import dealt, worth

log = logging.getLogger(__name__)

Trainer = Callable[..., tuple[RoundWork, dict[str, torch.Tensor]]]  # the signature of miner.train_round
CLOSING_REVERTS = (Revert.TOO_STALE, Revert.DEADLINE_PASSED, Revert.JOB_CLOSED, Revert.ALL_ROUNDS_DONE,
                   Revert.IS_SLASHED)  # a submission refused for good: the round closes unsubmitted
REBUILD_ERRORS = (*RECOVERABLE, DeltaError, AggregatorError)  # a rebuild that fails: the checkpoint is fetched


class Superseded(Exception):
    """The delta in training can no longer be merged: training stops between two segments."""


def mergeable(base_version: int, current: int, rounds: int, staleness_bound: int) -> bool:
    """Whether a delta on `base_version` can still be merged when its expert is at `current`: the expert has
    rounds left and the delta is within the staleness bound of the next merge (as the contract admits it)."""
    return current < rounds and current - base_version <= staleness_bound


@dataclass(frozen=True)
class Terms:
    """What a job must offer before this miner works on it."""

    min_reward_wei: int = 0  # per expert and round: what one merge shares among its deltas
    min_reveal_window_s: int = 120  # time to answer a challenge: a shorter window risks a withheld-reveal slash

    def refusal(self, job: Job) -> str | None:
        """Why this miner will not work on `job`, or None when its terms are acceptable."""
        reward = job.reward_per_round // job.experts
        if reward < self.min_reward_wei:
            return f"it pays {reward} wei per expert round, below this miner's minimum of {self.min_reward_wei}"
        if job.reveal_window < self.min_reveal_window_s:
            return (f"its reveal window of {job.reveal_window}s is shorter than the {self.min_reveal_window_s}s "
                    f"this miner needs to answer a challenge")
        return None


class MinerDaemon(Daemon):
    role = "miner"
    stake_role = ROLE_MINER

    def __init__(self, chain: Chain, store: IpfsStore, work_dir: Path, from_block: int,
                 jobs: set[int] | None = None, experts: set[int] | None = None, stake_wei: int = 0,
                 device: str = "cpu", presence: Presence | None = None, trainer: Trainer = train_round,
                 terms: Terms = Terms(), lanes: int = 2, assist: bool = False) -> None:
        super().__init__(chain, store, work_dir, from_block, jobs, stake_wei, presence)
        if lanes < 1:
            raise ValueError(f"a miner trains at least one delta per checkpoint, not {lanes}")
        self.terms, self.lanes, self.assist = terms, lanes, assist
        self.skipped: dict[int, str] = {}  # jobs whose terms this miner refuses, and why
        self.journal = Journal(work_dir / "rounds")
        self.refused: set[int] = set()  # private jobs this miner was not admitted to
        self.experts = experts
        self.specs: dict[int, JobSpec] = {}
        self.device, self.trainer = device, trainer
        self.training: tuple[int, int, int] | None = None  # (job, expert, version) being trained now
        self.last: RoundRecord | None = None  # the latest round that has a delta on chain
        self.mine: dict[int, set[int]] = {}  # job -> the experts this miner trains now
        self.aggregators: dict[int, str] = {}  # job -> its aggregator when followed (read on the p2p thread)
        self.delta_s: dict[int, float] = {}  # job -> seconds its last delta took to train here (this miner's speed)
        if self.presence.network is not None:
            self.presence.network.listeners.append(self._on_gossip)

    def _on_gossip(self, env: Envelope) -> None:
        """A merge announced by the job's aggregator for an expert this miner trains: fetch the checkpoint
        now (on the p2p thread only queued; the chain still decides which checkpoint a round trains on)."""
        body = env.body
        spec = self.specs.get(env.job)
        if isinstance(body, CheckpointPublished) and body.expert in self.mine.get(env.job, ()) \
                and self.aggregators.get(env.job) == env.sender and spec is not None and not self._rebuilds(spec):
            self.cache.prefetch(body.cid)

    @staticmethod
    def _rebuilds(spec: JobSpec) -> bool:
        """Whether merged checkpoints of this job are rebuilt here rather than fetched (public, compact codec)."""
        return spec.codec.compact and not spec.private

    def _rebuildable(self, job_id: int, spec: JobSpec, expert: int, version: int) -> bool:
        """Whether checkpoint `version` can be rebuilt here: a merged one of such a job, whose previous
        checkpoint is in the cache."""
        return version > 0 and self._rebuilds(spec) \
            and self.cache.has(self.index.checkpoint_cid(spec, job_id, expert, version - 1))

    def _prefetch(self, job_id: int, spec: JobSpec, expert: int) -> None:
        """Start fetching the shard and current checkpoint of an expert dealt to this miner, unless the
        checkpoint can be rebuilt here."""
        self.cache.prefetch(spec.shards[expert])
        version = self.chain.version_of(job_id, expert)
        if version >= self.chain.job(job_id).rounds:
            return
        if not self._rebuildable(job_id, spec, expert, version):
            self.cache.prefetch(self.index.checkpoint_cid(spec, job_id, expert, version))

    def _rebuild(self, job_id: int, spec: JobSpec, expert: int, version: int, cid: CID) -> None:
        """Put checkpoint `version` (`cid` on chain) in the cache by redoing its merge, when the checkpoint it
        was merged from is here already; any failure or a CID that differs leaves it to be fetched."""
        if self.cache.has(cid) or not self._rebuildable(job_id, spec, expert, version):
            return
        try:
            checkpoint, _ = rebuild(self.index, self._content(job_id), spec, job_id, expert, version)
            data = checkpoint.to_bytes()
            rebuilt = self.store.add(data, name=f"job{job_id}-expert{expert}-v{version}.safetensors")
        except REBUILD_ERRORS as exc:
            log.info("job %d expert %d v%d: fetching the checkpoint, not rebuilding it: %s", job_id, expert,
                     version, exc)
            return
        if rebuilt != cid:
            log.warning("job %d expert %d v%d: the rebuilt checkpoint is %s, not %s as merged; fetching it",
                        job_id, expert, version, rebuilt.encode("base32"), cid.encode("base32"))
            self.store.unpin(rebuilt)
            return
        self.cache.put(cid, data)

    # --------------------------------------------------------------- discovery and data

    def discover(self) -> None:
        for entry in self.index.jobs:
            if entry.job_id in self.specs or entry.job_id in self.skipped:
                continue
            if (why := self.terms.refusal(self.chain.job(entry.job_id))) is not None:
                self.skipped[entry.job_id] = why
                log.warning("skipping job %d: %s", entry.job_id, why)
            elif (spec := self.job_spec(entry.job_id)) is not None:
                self.specs[entry.job_id] = spec
                self.aggregators[entry.job_id] = entry.aggregator
                self.presence.follow(entry.job_id, entry.aggregator)
                log.info("following job %d (%s, %d experts)", entry.job_id, spec.name, spec.experts)

    def _content(self, job_id: int) -> Content:
        return self.keyrings.content(job_id, self.specs[job_id], self.cache)

    def _error_path(self, job_id: int, expert: int) -> Path:
        return self.work_dir / "error-feedback" / f"job{job_id}-expert{expert}.safetensors"

    # --------------------------------------------------------------- one pass

    def work(self) -> None:
        live = {p.address for p in self.presence.peers() if p.role == "miner" and p.alive}
        jobs = [(job_id, spec) for job_id, spec in sorted(self.specs.items()) if job_id not in self.over]
        for job_id, spec in jobs:  # (a job over has nothing left to train: a resting miner reads no version)
            mine = self.experts if self.experts is not None else dealt(job_id, spec.experts, self.address, live)
            self.mine[job_id] = mine
            for expert in sorted(mine & set(range(spec.experts))):
                self.guard(f"prefetching job {job_id} expert {expert}", self._prefetch, job_id, spec, expert)
        due = self._due(jobs, lambda job_id, spec: self.mine[job_id])
        trained = False
        for job_id, spec, job, expert, version in due:  # a new checkpoint of any expert before another lane
            if not self.slashed and job_id in self.specs:  # (a version read before a training here is read again)
                trained |= bool(self.guard(f"job {job_id} expert {expert}", self._advance_training, job_id, spec, job,
                                           expert, None if trained else version))
        if not trained:  # then one more lane on an old checkpoint, on the versions just read
            trained = self._pipeline(due)
        if not trained and self.assist and self.experts is None:  # then a round of an expert dealt to others
            self._pipeline(self._due(jobs, lambda job_id, spec: set(range(spec.experts)) - self.mine[job_id]))
        self._advance_deltas()

    def _pipeline(self, states: list[tuple[int, JobSpec, Job, int, int]]) -> bool:
        """Train the first delta due on one of these (job, expert, version) states, any lane; whether it did."""
        return any(self.guard(f"job {job_id} expert {expert}", self._advance_training, job_id, spec, job, expert,
                              version, True)
                   for job_id, spec, job, expert, version in states if not self.slashed and job_id in self.specs)

    def _due(self, jobs: list[tuple[int, JobSpec]],
             experts: Callable[[int, JobSpec], set[int]]) -> list[tuple[int, JobSpec, Job, int, int]]:
        """The `experts(job_id, spec)` of each of these jobs (its own, or, assisting, those dealt to others) with
        their current versions, ranked by `_ranked`."""
        return self._ranked([state for job_id, spec in jobs
                             for state in self.guard(f"reading job {job_id}", self._training_states, job_id, spec,
                                                     experts(job_id, spec)) or ()])

    def _ranked(self, states: list[tuple[int, JobSpec, Job, int, int]]) -> list[tuple[int, JobSpec, Job, int, int]]:
        """These (job, expert, version) states, the one where a second of this miner's compute earns most first
        (`routing.worth`): the expert round's reward, shared with the live miners announcing they train that
        checkpoint, over what the job's last delta took here (a job not trained yet: the mean of the others)."""
        network, known = self.presence.network, list(self.delta_s.values())
        typical = sum(known) / len(known) if known else 1.0

        def earns(state: tuple[int, JobSpec, Job, int, int]) -> float:
            job_id, _, job, expert, version = state
            others = network.liveness.training(job_id, expert, version) - {self.address} if network else set()
            return worth(job.reward_per_round // job.experts, len(others), self.delta_s.get(job_id, typical))

        return sorted(states, key=earns, reverse=True)  # stable: ties keep job and expert order

    def at_rest(self) -> bool:
        return not self.journal.open_rounds() and super().at_rest()

    def _advance_deltas(self) -> None:
        for record in self.journal.open_rounds():
            self.guard(f"delta of job {record.job_id} expert {record.expert}", self._advance_delta, record)

    def _training_states(self, job_id: int, spec: JobSpec,
                         experts: set[int]) -> list[tuple[int, JobSpec, Job, int, int]]:
        """The job, and each of these experts with its current version, read once for a pass."""
        job = self.chain.job(job_id)
        return [(job_id, spec, job, expert, self.chain.version_of(job_id, expert))
                for expert in sorted(experts & set(range(spec.experts)))]

    def _lane(self, job_id: int, job: Job, expert: int, version: int) -> int | None:
        """The lane of this miner's next delta on `version`, or None when it has no useful one left: at most
        `lanes` of them, lanes run up to the staleness bound, and a lane n delta lands n merges late at best, so
        within the job's rounds."""
        lane = 0
        while self.journal.get(job_id, expert, version, lane) is not None:
            lane += 1
        return lane if lane < self.lanes and lane <= job.staleness_bound and version + lane < job.rounds else None

    def _advance_training(self, job_id: int, spec: JobSpec, job: Job, expert: int, version: int | None,
                          pipelined: bool = False) -> bool:
        """Train this miner's next delta on `version` of an expert (None: read it now) when it has one due (a lane
        above 0 only when `pipelined`); whether it trained (or started and stopped, see `_between`)."""
        if version is None:
            version = self.chain.version_of(job_id, expert)
        lane = self._lane(job_id, job, expert, version)
        if job.closed or lane is None or (lane > 0 and not pipelined):
            return False
        if pipelined and not mergeable(version, self.chain.version_of(job_id, expert), job.rounds,
                                       job.staleness_bound):
            return False  # the expert moved on since `version` was read (a training in this pass was stopped)
        if any(r.job_id == job_id and r.expert == expert and not r.at_least("submitted")
               for r in self.journal.open_rounds()):
            return False  # its error feedback is not settled yet: validators expect this expert's deltas in order
        content = self._content(job_id)
        base_cid = self.index.checkpoint_cid(spec, job_id, expert, version)
        self._rebuild(job_id, spec, expert, version, base_cid)
        try:
            base = Checkpoint.from_bytes(content.get(base_cid))
            shard = ClipSet.from_bytes(content.get(spec.shards[expert]), source=spec.shards[expert])
        except NotAdmitted as exc:
            if job_id not in self.refused:
                log.warning("job %d: %s; skipping it until the requester admits this node", job_id, exc)
            self.refused.add(job_id)
            return False
        self.refused.discard(job_id)
        if (base.expert, base.version) != (expert, version):  # a delta on it would fail its header check: slashed
            why = (f"checkpoint {base_cid} of expert {expert} v{version} says it is expert {base.expert} "
                   f"v{base.version}")
            self.skipped[job_id] = why
            self.specs.pop(job_id, None)
            log.warning("skipping job %d: %s", job_id, why)
            return False
        self._keep(job_id, expert, version, str(base_cid))
        error_path = self._error_path(job_id, expert)
        error = load_file(str(error_path)) if error_path.exists() else None
        round_dir = self.journal.round_dir(job_id, expert, version, lane)
        self.training = (job_id, expert, version)
        self.presence.set_working(self._unsubmitted())
        try:
            work, carried = self.trainer(spec, shard, base, job_id, self.address, error, round_dir / "states",
                                         self.device, lane, lambda: self._between(job_id, job, expert, version))
        except Superseded as exc:
            log.info("job %d expert %d v%d: stopped training lane %d, no merge can take it: %s", job_id, expert,
                     version, lane, exc)
            shutil.rmtree(round_dir, ignore_errors=True)
            self.training = None
            self.presence.set_working(self._unsubmitted())  # no longer training it
            return True  # time went by: what comes next in this pass reads its version again
        finally:
            self.training = None
        self.delta_s[job_id] = work.train_seconds
        metrics = self.presence.metrics
        metrics.rounds.inc()
        for _ in work.losses:
            metrics.step_seconds.observe(work.train_seconds / len(work.losses))
        write_atomic(round_dir / "delta.bin", work.delta)
        save_file(carried, str(round_dir / "carried-error.safetensors"))
        self.journal.put(RoundRecord(job_id, expert, version, "trained", [d.hex() for d in work.digests],
                                     base_cid=str(base_cid), lane=lane))
        log.info("job %d expert %d v%d: trained %d steps in %.1fs (lane %d), final loss %.4f", job_id, expert,
                 version, len(work.losses), work.train_seconds, lane, work.losses[-1])
        return True

    def _between(self, job_id: int, job: Job, expert: int, version: int) -> None:
        """Answer challenges and submit what is ready; raise Superseded when the delta in training on `version`
        can no longer be merged, by a merge that can no longer roll back (a chain that does not answer now lets
        training go on)."""
        self._advance_deltas()
        current = self.guard(f"reading job {job_id} expert {expert}", self.chain.version_of, job_id, expert)
        if current is not None and not mergeable(version, current, job.rounds, job.staleness_bound) \
                and self.guard(f"reading job {job_id} expert {expert}", self.chain.merge_settled, job_id, expert):
            raise Superseded(f"the expert is at v{current} of {job.rounds} rounds, staleness bound "
                             f"{job.staleness_bound}")

    def _keep(self, job_id: int, expert: int, version: int, base_cid: str) -> None:
        """Pin the checkpoint this round trains on, a replica beside the aggregator's, and unpin the one of the
        round before, which the merge of this version superseded."""
        self.store.pin(base_cid)
        before = self.journal.get(job_id, expert, version - 1) if version else None
        if before is not None and before.base_cid and before.base_cid != base_cid:
            self.store.unpin(before.base_cid)

    def _advance_delta(self, record: RoundRecord) -> None:
        round_dir = self.journal.round_dir(record.job_id, record.expert, record.base_version, record.lane)
        if record.stage == "trained":
            delta = (round_dir / "delta.bin").read_bytes()
            try:
                record.delta_cid = str(self._content(record.job_id).add(delta, name="delta.bin"))
            except NotAdmitted:  # removed from the private job while training
                return self._close(record, "not submitted: removed from the private job")
            record.stage = "uploaded"
            self.journal.put(record)
        if record.stage == "uploaded":
            self._submit(record, round_dir)
        if record.stage == "submitted":
            self._reveal(record, round_dir)
        if record.stage == "revealed":
            self._settle(record)

    def _submit(self, record: RoundRecord, round_dir: Path) -> None:
        delta_id = self.chain.delta_id_of(record.job_id, record.expert, record.base_version, self.address,
                                          record.lane)
        if self.chain.delta(delta_id).state == DeltaState.NONE:  # not sent before a crash
            spec = self.specs[record.job_id]
            if not self._base_stands(record, spec):
                return
            if spec.private and self.address not in self.keyrings.current(record.job_id, spec)[0].members():
                self._close(record, "not submitted: removed from the private job")
                return
            digests = [bytes.fromhex(d) for d in record.digests]
            self._back_one_more_delta()
            try:
                self.chain.submit_delta(record.job_id, record.expert, record.base_version,
                                        parse_cid(record.delta_cid), merkle_root(digests), len(digests) - 1,
                                        record.lane)
            except ContractRevert as exc:
                if exc.error in CLOSING_REVERTS:
                    self._close(record, f"not submitted: {exc.error}")
                    return
                raise
        record.delta_id, record.stage = delta_id, "submitted"
        self.journal.put(record)
        self.last = record
        self.presence.metrics.deltas.labels("submitted").inc()
        self.presence.set_working(self._unsubmitted())
        self.presence.publish(record.job_id, DeltaSubmitted(expert=record.expert, base_version=record.base_version,
                                                            delta_id=hex(delta_id), cid=record.delta_cid))
        # The error feedback of this round now belongs to the expert's stream.
        carried = round_dir / "carried-error.safetensors"
        error_path = self._error_path(record.job_id, record.expert)
        error_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(error_path, carried.read_bytes())
        log.info("job %d expert %d v%d: submitted delta %#x (%s)", record.job_id, record.expert,
                 record.base_version, delta_id, record.delta_cid)

    def _base_stands(self, record: RoundRecord, spec: JobSpec) -> bool:
        """Whether the checkpoint this round trained on is settled and still its version's: the market refuses
        deltas on a merge that may still be rolled back, and one that was is trained again on its replacement."""
        current = self.chain.version_of(record.job_id, record.expert)
        if record.base_version == current and not self.chain.merge_settled(record.job_id, record.expert):
            return False  # its merge may still be disputed: submit once it is settled
        if record.base_version > current or (
                record.base_cid and str(self.index.checkpoint_cid(spec, record.job_id, record.expert,
                                                                  record.base_version)) != record.base_cid):
            log.warning("job %d expert %d v%d: the merge it trained on was rolled back; training again",
                        record.job_id, record.expert, record.base_version)
            self.journal.discard(record)
            return False
        return True

    def _back_one_more_delta(self) -> None:
        """The market wants the minimum stake for every unsettled delta: bond more before one more."""
        stake = self.chain.stake_of(self.address)
        needed = self.chain.min_stake * (stake.open + 1)
        if stake.amount < needed and not stake.slashed and not stake.unbond_at:
            self.chain.stake(stake.roles | ROLE_MINER, wei=needed - stake.amount)
            log.info("bonded %d wei more: %d unsettled deltas need %d wei", needed - stake.amount, stake.open + 1,
                     needed)

    def _reveal(self, record: RoundRecord, round_dir: Path) -> None:
        delta = self.chain.delta(record.delta_id)
        if delta.revealed:
            record.stage = "revealed"
            self.journal.put(record)
            return
        try:
            self.chain.fix_challenge(record.delta_id)
            challenged = self.chain.challenged_segments(record.delta_id)
        except ContractRevert as exc:
            if exc.error == Revert.CHALLENGE_NOT_READY:
                return  # the seed block is not mined yet
            raise
        digests = [bytes.fromhex(d) for d in record.digests]
        reveal = kept_reveal(round_dir / "states", digests, challenged, exact=self.device == "cpu")
        content = self.keyrings.content(record.job_id, self.specs[record.job_id], self.cache,  # the key it held
                                        as_of_block=delta.submitted_block)
        reveal_cid = content.add(reveal.to_bytes(), name="reveal.bin")
        self.chain.reveal(record.delta_id, reveal_cid)
        record.reveal_cid, record.stage = str(reveal_cid), "revealed"
        self.journal.put(record)
        log.info("delta %#x: revealed segments %s", record.delta_id, challenged)

    def _settle(self, record: RoundRecord) -> None:
        delta = self.chain.delta(record.delta_id)
        state = delta.state
        if state == DeltaState.MERGED:
            if not self.chain.merge_settled(record.job_id, record.expert):
                return  # its merge may still be disputed: claims wait for the window and any dispute
            self.chain.claim([record.delta_id])
            state = DeltaState.PAID
        if state == DeltaState.PAID:
            if self.chain.owed(self.address) > 0:
                log.info("withdrew %d wei", self.chain.withdraw())
            self._close(record, "paid")
        elif state in (DeltaState.SLASHED, DeltaState.RELEASED):
            self._close(record, state.name.lower())
        elif state == DeltaState.PASSED and self._omitted(record, delta):
            self._report_omission(record)
        elif self._unsettleable(record, delta):
            self.chain.release(record.delta_id)
            self._close(record, f"{state.name.lower()}, never merged; released")

    def _omitted(self, record: RoundRecord, delta: Delta) -> bool:
        """Whether the expert's latest merge, still open to reports, left out this passed delta although it was
        decidable a whole vote window before the merge and within the staleness bound of it (`reportOmission`)."""
        settles_at = self.chain.merge_settles_at(record.job_id, record.expert)
        if not settles_at or self.chain.timestamp() > settles_at:
            return False
        merged_at, version = settles_at - self.chain.vote_window, self.chain.version_of(record.job_id, record.expert)
        return delta.revealed_at + 3 * self.chain.vote_window < merged_at and record.base_version < version \
            and version - 1 - record.base_version <= self.chain.job(record.job_id).staleness_bound

    def _report_omission(self, record: RoundRecord) -> None:
        """Prove on chain that the latest merge left this delta out: it is rolled back, the aggregator slashed."""
        version = self.chain.version_of(record.job_id, record.expert)
        merge = self.index.merge(record.job_id, record.expert, version)
        event = self.chain.report_omission(record.delta_id, parse_cid(merge.checkpoint), list(merge.merged))
        log.warning("delta %#x: passed but left out of merge v%d of job %d expert %d; reported, the merge rolled "
                    "back and its aggregator slashed (%d wei to us)", record.delta_id, version, record.job_id,
                    record.expert, event.args["reward"])

    def _unsettleable(self, record: RoundRecord, delta: Delta) -> bool:
        """Whether the market would release the delta (so that its stake backs new work): passed but never to be
        merged, or revealed and still undecided or failed-but-unslashed four reveal windows on."""
        job = self.chain.job(record.job_id)
        if delta.state == DeltaState.PASSED:
            current = self.chain.version_of(record.job_id, record.expert)
            return job.closed or current >= job.rounds or current - record.base_version > job.staleness_bound \
                or self.chain.timestamp() > job.reclaimable_at
        settled_at = delta.submitted_at + 4 * job.reveal_window
        return delta.revealed and delta.state in (DeltaState.SUBMITTED, DeltaState.FAILED) \
            and self.chain.timestamp() > settled_at

    def _close(self, record: RoundRecord, outcome: str) -> None:
        record.stage, record.outcome = "done", outcome
        self.journal.put(record)
        if record.delta_id:
            self.last = record
        log.info("job %d expert %d v%d: round closed (%s)", record.job_id, record.expert, record.base_version, outcome)

    def _unsubmitted(self) -> set[tuple[int, int, int]]:
        """(job, expert, version) this miner is training or has trained but not yet submitted."""
        work = {(r.job_id, r.expert, r.base_version) for r in self.journal.open_rounds() if not r.at_least("submitted")}
        return work | ({self.training} if self.training else set())

    def status(self) -> Status:
        last, doing = self.last, self.training
        report = None if last is None else DeltaReport(
            delta_id=hex(last.delta_id), job=last.job_id, expert=last.expert, base_version=last.base_version,
            cid=last.delta_cid, stage=last.outcome or last.stage,
            passed={"paid": True, "failed": False, "slashed": False}.get(last.outcome))
        return Status(role="miner", address=self.address, peer_id=self.presence.peer_id, jobs=sorted(self.specs),
                      expert=doing[1] if doing else None, round=doing[2] if doing else None, last_delta=report,
                      peers=self.presence.peers(), resting=self.quiet_passes > 0)
