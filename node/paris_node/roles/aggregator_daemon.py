"""`paris-miner aggregate`: merge each expert's round as soon as it is decided, never waiting on the dead.

A round of (job, expert, version) is merged when at least one delta passed and, after `min_wait_s`, no
delta based on this version is undecided and no live miner (heartbeats, see `liveness`) still announces it
is training this version; or once `round_timeout_s` passed since the first passing delta was seen,
regardless. A dead or far-behind miner's delta stays out; if it passes later it is merged next round with its
staleness weight (or dropped beyond the bound). Each merge is announced on the job's gossip topic.

The aggregator keeps a job's content alive: it pins the spec and every input the requester published
(shards, initial checkpoints, evaluation sets, router, keyring) on its own node as soon as it follows the
job, so the job goes on when the requester's machine goes away, and its merged checkpoints are pinned
where it writes them. Miners pin the checkpoint they train on (README, "Who keeps what").
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from paris_node.content.store import IpfsStore
from paris_node.learning.jobspec import JobSpec
from paris_node.market.chain import Chain, DeltaState, cid_from_chain
from paris_node.net.gossip import CheckpointPublished, RoundOpened
from paris_node.net.presence import Presence
from paris_node.net.status_api import Status
from paris_node.roles.aggregator import AggregatorError, decide_ready, merge_round, passing_deltas
from paris_node.roles.daemon import RECOVERABLE, Daemon

log = logging.getLogger(__name__)


class AggregatorDaemon(Daemon):
    role = "aggregator"
    recoverable = (*RECOVERABLE, AggregatorError)

    def __init__(self, chain: Chain, store: IpfsStore, work_dir: Path, from_block: int, jobs: set[int] | None = None,
                 round_timeout_s: float = 30.0, min_wait_s: float = 0.0, presence: Presence | None = None) -> None:
        super().__init__(chain, store, work_dir, from_block, jobs, presence=presence)
        self.round_timeout_s, self.min_wait_s = round_timeout_s, min_wait_s
        self.specs: dict[int, JobSpec] = {}
        self.first_pass_seen: dict[tuple[int, int, int], float] = {}
        self.last_merge: tuple[int, int, int] | None = None  # (job, expert, new version)
        self.pinned: set[int] = set()  # jobs whose spec and inputs are pinned on this node

    def discover(self) -> None:
        for entry in self.index.jobs:
            if entry.job_id in self.specs and entry.aggregator != self.address:  # the requester named another
                log.info("job %d: %s aggregates it now; stopped", entry.job_id, entry.aggregator)
                del self.specs[entry.job_id]
            if entry.job_id in self.specs or entry.aggregator != self.address \
                    or (spec := self.job_spec(entry.job_id)) is None:
                continue
            self.specs[entry.job_id] = spec
            self.presence.follow(entry.job_id, self.address)
            for expert in range(spec.experts):
                self.presence.publish(entry.job_id, RoundOpened(expert=expert,
                                                                version=self.chain.version_of(entry.job_id, expert)))
            log.info("aggregating job %d (%d experts)", entry.job_id, spec.experts)

    def work(self) -> None:
        for job_id, spec in sorted(self.specs.items()):
            if job_id not in self.pinned:
                self.guard(f"pinning job {job_id}'s inputs", self._pin_inputs, job_id, spec)
            if job_id not in self.over:  # a job over has nothing left to merge: a resting aggregator reads nothing
                self.guard(f"aggregating job {job_id}", self._advance_job, job_id, spec)

    def _pin_inputs(self, job_id: int, spec: JobSpec) -> None:
        """Pin the job's spec and inputs here (fetching what this node lacks); retried until all are pinned."""
        for cid in (self.index.job(job_id).spec, *spec.inputs):
            self.store.pin(cid)
        self.pinned.add(job_id)
        log.info("job %d: spec and %d inputs pinned on this node", job_id, len(spec.inputs))

    def _advance_job(self, job_id: int, spec: JobSpec) -> None:
        job = self.chain.job(job_id)
        for expert in range(spec.experts):
            if not job.closed and self.chain.version_of(job_id, expert) < job.rounds:
                self._consider(job_id, spec, expert)

    def _consider(self, job_id: int, spec: JobSpec, expert: int) -> None:
        current = self.chain.version_of(job_id, expert)
        if not self.chain.merge_settled(job_id, expert):
            return  # the last merge may still be disputed: the next one waits for its window and its dispute
        ids = [d.delta_id for d in self.index.deltas(job_id, expert)]
        decide_ready(self.chain, ids)
        if not passing_deltas(self.chain, spec, ids, current):
            return
        key = (job_id, expert, current)
        waited = time.monotonic() - self.first_pass_seen.setdefault(key, time.monotonic())
        undecided = [i for i in ids if (d := self.chain.delta(i)).state == DeltaState.SUBMITTED
                     and d.base_version == current]
        training = self._live_miners_training(job_id, expert, current)
        if waited < self.min_wait_s or ((undecided or training) and waited < self.round_timeout_s):
            return
        if undecided or training:
            log.info("job %d expert %d v%d: merging without %d undecided deltas and %d live miners still training "
                     "after %.0fs", job_id, expert, current, len(undecided), len(training), waited)
        content = self.keyrings.content(job_id, spec, self.store)
        event = merge_round(self.index, content, spec, job_id, expert)
        merged = len(event.args["mergedDeltaIds"])
        log.info("job %d expert %d: v%d finalized with %d deltas", job_id, expert, current + 1, merged)
        self.last_merge = (job_id, expert, current + 1)
        self.presence.metrics.rounds.inc()
        self.presence.metrics.deltas.labels("merged").inc(merged)
        cid = str(cid_from_chain(event.args["checkpointDigest"], event.args["checkpointCodec"]))
        self.presence.publish(job_id, CheckpointPublished(expert=expert, version=current + 1, cid=cid))
        self.presence.publish(job_id, RoundOpened(expert=expert, version=current + 1))

    def _live_miners_training(self, job_id: int, expert: int, version: int) -> set[str]:
        """Live miners that announce they are training this version and have not submitted for it yet."""
        network = self.presence.network
        if network is None:
            return set()
        return {m for m in network.liveness.training(job_id, expert, version)
                if self.chain.delta(self.chain.delta_id_of(job_id, expert, version, m)).state == DeltaState.NONE
                and not self.chain.stake_of(m).slashed}

    def status(self) -> Status:
        last = self.last_merge
        return Status(role="aggregator", address=self.address, peer_id=self.presence.peer_id, jobs=sorted(self.specs),
                      expert=last[1] if last else None, round=last[2] if last else None, last_delta=None,
                      peers=self.presence.peers(), resting=self.quiet_passes > 0)
