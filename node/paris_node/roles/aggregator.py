"""The aggregator: merge an expert's passing deltas into its next checkpoint, and let anyone check a merge.

Everything a merge depends on is public: the previous checkpoint (the job spec's initial checkpoint for
version 0, else the CID in the previous `ExpertFinalized` event), the merged delta ids (in the event), each
delta's CID (its `DeltaSubmitted` event), all three read through the market index, and each delta's score
and base version (contract state). `verify_merge` rebuilds the checkpoint from those and compares it byte
for byte with the recorded one, which the store has already checked against its CID: equal bytes, equal
CID. For a private job "public" means readable by every node the requester admitted: content is read and
written through the job's `Content` (see `keyring`), and the comparison is of the decrypted checkpoint,
since encryption draws a fresh nonce.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from multiformats import CID

from paris_node.content.store import StoreError, parse_cid
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.delta import DeltaError, decode
from paris_node.learning.jobspec import JobSpec
from paris_node.learning.merge import MergeInput, ema_step, outer_step
from paris_node.market.chain import ROLE_AGGREGATOR, Chain, ContractRevert, DeltaState, Event
from paris_node.market.errors import Revert
from paris_node.market.index import MarketIndex, MergeEntry
from paris_node.market.keyring import Content

log = logging.getLogger(__name__)


class AggregatorError(RuntimeError):
    """A merge that cannot be made or checked; the message names the job, expert and version."""


@dataclass(frozen=True)
class MergeCheck:
    job_id: int
    expert: int
    version: int
    recorded: CID
    matches: bool
    merged: list[int]


def load_checkpoint(content: Content, cid: CID) -> Checkpoint:
    return Checkpoint.from_bytes(content.get(cid), source=str(cid))


def _input(chain: Chain, content: Content, spec: JobSpec, base: Checkpoint, delta_id: int, cid: CID) -> MergeInput:
    shapes = {name: tuple(t.shape) for name, t in base.weights.items()}
    data = content.get(cid, max_bytes=spec.max_delta_bytes)
    _, update = decode(data, shapes, spec.max_delta_bytes, spec.max_delta_norm, spec.codec.version)
    delta = chain.delta(delta_id)
    return MergeInput(delta_id, update, delta.score_sum, base.version - delta.base_version)


def _available_inputs(chain: Chain, content: Content, spec: JobSpec, base: Checkpoint, ids: list[int],
                      cids: dict[int, CID]) -> list[MergeInput]:
    """The passing deltas that can be read now; one that cannot is left out of the checkpoint and said so (and
    listed on chain as unavailable: paid, not merged), rather than stalling every merge after it."""
    inputs = []
    for delta_id in ids:
        try:
            inputs.append(_input(chain, content, spec, base, delta_id, cids[delta_id]))
        except (StoreError, DeltaError) as exc:
            log.warning("job %d expert %d v%d: leaving out passed delta %#x, which cannot be read now: %s",
                        base.job_id, base.expert, base.version, delta_id, exc)
    return inputs


def next_checkpoint(base: Checkpoint, inputs: list[MergeInput], spec: JobSpec) -> Checkpoint:
    weights, momentum = outer_step(base.weights, base.momentum, inputs, spec.outer)
    ema = ema_step(base.ema or base.weights, weights, base.version + 1, spec.outer)
    return Checkpoint(base.config, base.job_id, base.expert, base.version + 1, weights, momentum, ema)


def passing_deltas(chain: Chain, spec: JobSpec, ids: list[int], current: int) -> list[int]:
    """Deltas that passed and are within the staleness bound of the current version, in id order: the tighter
    of the spec's (what the merge weighs) and the job's on chain (what `finalize` takes and an omission report
    holds against the merge). The two are equal for every followed job: `MarketIndex.spec` refuses the others."""
    keep = []
    bounds: dict[int, int] = {}
    for delta_id in sorted(ids):
        delta = chain.delta(delta_id)
        if delta.job_id not in bounds:
            bounds[delta.job_id] = min(spec.outer.staleness_bound, chain.job(delta.job_id).staleness_bound)
        if delta.state == DeltaState.PASSED and current - delta.base_version <= bounds[delta.job_id]:
            keep.append(delta_id)
    return keep


def decide_ready(chain: Chain, ids: list[int]) -> None:
    """Decide the deltas whose votes are all open (a validator normally has by now), so that one that passed is
    in this merge rather than the next."""
    now, window = chain.timestamp(), chain.vote_window
    for delta_id in ids:
        delta = chain.delta(delta_id)
        if delta.state != DeltaState.SUBMITTED or not delta.revealed or now <= delta.revealed_at + 2 * window:
            continue
        try:
            chain.decide(delta_id)
        except ContractRevert as exc:
            if exc.error not in (Revert.NO_VERDICT, Revert.ALREADY_DECIDED):
                raise


def bond_as_aggregator(chain: Chain) -> None:
    """Stake the account as an aggregator (MIN_STAKE at least), which `finalize` requires: the bond a refuted
    merge, or one that leaves out a passed delta, costs."""
    stake = chain.stake_of(chain.signer.address)
    if stake.roles & ROLE_AGGREGATOR and stake.amount >= chain.min_stake:
        return
    chain.stake(stake.roles | ROLE_AGGREGATOR, wei=max(0, chain.min_stake - stake.amount))
    log.info("bonded as the aggregator: %d wei at stake", max(stake.amount, chain.min_stake))


def merge_round(index: MarketIndex, content: Content, spec: JobSpec, job_id: int, expert: int) -> Event:
    """Merge what passed into version current + 1, post it to IPFS and finalize it on chain."""
    chain = index.chain
    current = chain.version_of(job_id, expert)
    index.sync()
    base = load_checkpoint(content, index.checkpoint_cid(spec, job_id, expert, current))
    cids = index.delta_cids(job_id, expert)
    passing = passing_deltas(chain, spec, list(cids), current)
    if not passing:
        raise AggregatorError(f"job {job_id} expert {expert} v{current}: no passing delta to merge yet")
    inputs = _available_inputs(chain, content, spec, base, passing, cids)
    if not inputs:
        raise AggregatorError(f"job {job_id} expert {expert} v{current}: none of the {len(passing)} passing deltas "
                              f"can be read now")
    merged = [i.delta_id for i in inputs]
    unavailable = [i for i in passing if i not in merged]
    checkpoint = next_checkpoint(base, inputs, spec)
    cid = content.add(checkpoint.to_bytes(), name=f"job{job_id}-expert{expert}-v{current + 1}.safetensors")
    log.info("job %d expert %d: merged %d deltas into v%d (%s)%s", job_id, expert, len(merged), current + 1, cid,
             f"; {len(unavailable)} unreadable listed as unavailable" if unavailable else "")
    bond_as_aggregator(chain)
    return chain.finalize(job_id, expert, current + 1, cid, merged + unavailable, len(unavailable))


def rebuild(index: MarketIndex, content: Content, spec: JobSpec, job_id: int, expert: int,
            version: int) -> tuple[Checkpoint, MergeEntry]:
    """Checkpoint `version` as its merge (returned beside it) made it, from the previous checkpoint and the
    deltas the merge read, without fetching the recorded checkpoint."""
    if version < 1:
        raise AggregatorError(f"version {version} was not produced by a merge")
    merge = index.merge(job_id, expert, version)
    base = load_checkpoint(content, index.checkpoint_cid(spec, job_id, expert, version - 1))
    cids = index.delta_cids(job_id, expert)
    inputs = [_input(index.chain, content, spec, base, delta_id, cids[delta_id]) for delta_id in merge.read]
    return next_checkpoint(base, inputs, spec), merge


def verify_merge(index: MarketIndex, content: Content, spec: JobSpec, job_id: int, expert: int,
                 version: int) -> MergeCheck:
    """Rebuild checkpoint `version` from public data and compare it with the one recorded on chain."""
    rebuilt, merge = rebuild(index, content, spec, job_id, expert, version)
    recorded = parse_cid(merge.checkpoint)
    return MergeCheck(job_id, expert, version, recorded, rebuilt.to_bytes() == content.get(recorded),
                      list(merge.read))
