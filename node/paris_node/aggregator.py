"""The aggregator: merge an expert's passing deltas into its next checkpoint, and let anyone check a merge.

Everything a merge depends on is public: the previous checkpoint (the job spec's initial checkpoint for
version 0, else the CID in the previous `ExpertFinalized` event), the merged delta ids (in the event), each
delta's CID (its `DeltaSubmitted` event), score and base version (contract state). `verify_merge` rebuilds
the checkpoint from those and compares it byte for byte with the recorded one, which the store has already
checked against its CID: equal bytes, equal CID. For a private job "public" means readable by every node
the requester admitted: content is read and written through the job's `Content` (see `keyring`), and the
comparison is of the decrypted checkpoint, since encryption draws a fresh nonce.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from multiformats import CID

from paris_node.chain import Chain, DeltaState, Event, EventCursor, cid_from_chain
from paris_node.checkpoint import Checkpoint
from paris_node.delta import decode
from paris_node.jobspec import JobSpec, spec_of_job
from paris_node.keyring import Content
from paris_node.merge import MergeInput, outer_step
from paris_node.store import IpfsStore, parse_cid

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


def _finalized(chain: Chain, job_id: int, expert: int, version: int, from_block: int) -> Event:
    for event in chain.events(EventCursor(from_block), {"ExpertFinalized"}):
        if (event.args["jobId"], event.args["expert"], event.args["version"]) == (job_id, expert, version):
            return event
    raise AggregatorError(f"job {job_id} expert {expert}: no ExpertFinalized event for version {version}")


def job_spec(chain: Chain, store: IpfsStore, job_id: int, from_block: int) -> JobSpec:
    """The spec a job was created with, from its JobCreated event and IPFS."""
    for event in chain.events(EventCursor(from_block), {"JobCreated"}):
        if event.args["jobId"] == job_id:
            return spec_of_job(event, store.get)
    raise AggregatorError(f"no job {job_id} on this market")


def checkpoint_cid(chain: Chain, spec: JobSpec, job_id: int, expert: int, version: int, from_block: int) -> CID:
    if version == 0:
        return parse_cid(spec.initial[expert])
    event = _finalized(chain, job_id, expert, version, from_block)
    return cid_from_chain(event.args["checkpointDigest"], event.args["checkpointCodec"])


def delta_cids(chain: Chain, job_id: int, expert: int, from_block: int) -> dict[int, CID]:
    """CID of every delta submitted for (job, expert), by delta id."""
    return {e.args["deltaId"]: cid_from_chain(e.args["deltaDigest"], e.args["deltaCodec"])
            for e in chain.events(EventCursor(from_block), {"DeltaSubmitted"})
            if e.args["jobId"] == job_id and e.args["expert"] == expert}


def load_checkpoint(content: Content, cid: CID) -> Checkpoint:
    return Checkpoint.from_bytes(content.get(cid), source=str(cid))


def _inputs(chain: Chain, content: Content, spec: JobSpec, base: Checkpoint, ids: list[int],
            cids: dict[int, CID]) -> list[MergeInput]:
    shapes = {name: tuple(t.shape) for name, t in base.weights.items()}
    inputs = []
    for delta_id in ids:
        delta = chain.delta(delta_id)
        data = content.get(cids[delta_id], max_bytes=spec.max_delta_bytes)
        _, update = decode(data, shapes, spec.max_delta_bytes, spec.max_delta_norm)
        inputs.append(MergeInput(delta_id, update, delta.score_sum, base.version - delta.base_version))
    return inputs


def next_checkpoint(base: Checkpoint, inputs: list[MergeInput], spec: JobSpec) -> Checkpoint:
    weights, momentum = outer_step(base.weights, base.momentum, inputs, spec.outer)
    return Checkpoint(base.config, base.job_id, base.expert, base.version + 1, weights, momentum)


def passing_deltas(chain: Chain, spec: JobSpec, ids: list[int], current: int) -> list[int]:
    """Deltas that passed and are within the staleness bound of the current version, in id order."""
    keep = []
    for delta_id in sorted(ids):
        delta = chain.delta(delta_id)
        if delta.state == DeltaState.PASSED and current - delta.base_version <= spec.outer.staleness_bound:
            keep.append(delta_id)
    return keep


def merge_round(chain: Chain, content: Content, spec: JobSpec, job_id: int, expert: int, from_block: int) -> Event:
    """Merge what passed into version current + 1, post it to IPFS and finalize it on chain."""
    current = chain.version_of(job_id, expert)
    base = load_checkpoint(content, checkpoint_cid(chain, spec, job_id, expert, current, from_block))
    cids = delta_cids(chain, job_id, expert, from_block)
    merged = passing_deltas(chain, spec, list(cids), current)
    if not merged:
        raise AggregatorError(f"job {job_id} expert {expert} v{current}: no passing delta to merge yet")
    checkpoint = next_checkpoint(base, _inputs(chain, content, spec, base, merged, cids), spec)
    cid = content.add(checkpoint.to_bytes(), name=f"job{job_id}-expert{expert}-v{current + 1}.safetensors")
    log.info("job %d expert %d: merged %d deltas into v%d (%s)", job_id, expert, len(merged), current + 1, cid)
    return chain.finalize(job_id, expert, current + 1, cid, merged)


def verify_merge(chain: Chain, content: Content, spec: JobSpec, job_id: int, expert: int, version: int,
                 from_block: int) -> MergeCheck:
    """Rebuild checkpoint `version` from public data and compare it with the one recorded on chain."""
    if version < 1:
        raise AggregatorError(f"version {version} was not produced by a merge")
    event = _finalized(chain, job_id, expert, version, from_block)
    recorded = cid_from_chain(event.args["checkpointDigest"], event.args["checkpointCodec"])
    merged = list(event.args["mergedDeltaIds"])
    base = load_checkpoint(content, checkpoint_cid(chain, spec, job_id, expert, version - 1, from_block))
    rebuilt = next_checkpoint(base, _inputs(chain, content, spec, base, merged, delta_cids(chain, job_id, expert,
                                                                                              from_block)), spec)
    return MergeCheck(job_id, expert, version, recorded, rebuilt.to_bytes() == content.get(recorded), merged)
