"""Merges answer to validators: every merge of a followed job is rebuilt from public data (`verify_merge`), and
one whose checkpoint the rebuild refutes is disputed on chain within its window, bonding MIN_STAKE. A dispute
is then voted on like a delta (see the daemon): each committee member's verdict is that same rebuild.

An audit is kept per merge (job, expert, version and the block it was recorded in, since a rolled-back
version is merged again) in the work directory, so a restarted validator neither audits a merge twice nor
forgets one whose content it could not read yet.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from paris_node.content.atomic import write_atomic
from paris_node.learning.delta import DeltaError
from paris_node.learning.jobspec import JobSpec
from paris_node.market.chain import Chain, ContractRevert
from paris_node.market.errors import Revert
from paris_node.market.index import MarketIndex, MergeEntry
from paris_node.market.keyring import Content
from paris_node.roles.aggregator import verify_merge

log = logging.getLogger(__name__)

# What the market answers a dispute that comes too late or second: nothing left to do for this audit.
NOT_DISPUTABLE = (Revert.ALREADY_DISPUTED, Revert.DISPUTE_WINDOW_CLOSED, Revert.NOTHING_TO_DISPUTE)


@dataclass
class MergeAudit:
    job_id: int
    expert: int
    version: int
    checkpoint: str  # the CID the merge recorded
    block: int
    outcome: str = ""  # "" until audited: then what the rebuild found and what was done about it

    @property
    def name(self) -> str:
        return f"job {self.job_id} expert {self.expert} v{self.version}"


def refutation(index: MarketIndex, content: Content, spec: JobSpec, job_id: int, expert: int, version: int) -> str:
    """"" when rebuilding the expert's merge `version` gives the checkpoint it recorded, else what differs."""
    try:
        check = verify_merge(index, content, spec, job_id, expert, version)
    except DeltaError as exc:  # every merged delta passed its checks, so decoded: a merge of one that does not
        return f"a merged delta does not decode: {exc}"
    if check.matches:
        return ""
    return (f"rebuilding v{version} from v{version - 1} and its {len(check.merged)} merged deltas does not give the "
            f"recorded checkpoint {check.recorded}")


class MergeAuditor:
    """The merges this validator has audited or has still to, persisted one file each."""

    def __init__(self, work_dir: Path) -> None:
        self.directory = work_dir / "merges"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.audits = {self._key(a): a for a in (MergeAudit(**json.loads(p.read_text()))
                                                 for p in sorted(self.directory.glob("*.json")))}

    @staticmethod
    def _key(audit: MergeAudit) -> str:
        return f"{audit.job_id}-{audit.expert}-{audit.version}-{audit.block}"

    def track(self, merge: MergeEntry) -> None:
        audit = MergeAudit(merge.job_id, merge.expert, merge.version, merge.checkpoint, merge.block)
        if self._key(audit) not in self.audits:
            self.audits[self._key(audit)] = audit
            self._save(audit)

    def open(self) -> list[MergeAudit]:
        return sorted((a for a in self.audits.values() if not a.outcome), key=lambda a: a.block)

    def _save(self, audit: MergeAudit) -> None:
        write_atomic(self.directory / f"{self._key(audit)}.json", json.dumps(dataclasses.asdict(audit)).encode())

    def audit(self, chain: Chain, index: MarketIndex, content: Content, spec: JobSpec, audit: MergeAudit) -> None:
        """Rebuild the merge; dispute it when refuted while it is the expert's latest and its window is open."""
        latest = index.merge(audit.job_id, audit.expert, audit.version)
        if latest.block != audit.block:
            return self._conclude(audit, "rolled back and merged again before it was audited")
        started = time.monotonic()
        why = refutation(index, content, spec, audit.job_id, audit.expert, audit.version)
        log.info("%s: merge rebuilt in %.1fs", audit.name, time.monotonic() - started)
        if not why:
            return self._conclude(audit, "verified")
        log.error("%s: merge REFUTED: %s", audit.name, why)
        if chain.version_of(audit.job_id, audit.expert) != audit.version:
            return self._conclude(audit, f"refuted ({why}); no longer the expert's latest merge: not disputed")
        try:
            dispute_id = chain.dispute_merge(audit.job_id, audit.expert, bond_wei=chain.min_stake)
        except ContractRevert as exc:
            if exc.error not in NOT_DISPUTABLE:
                raise
            return self._conclude(audit, f"refuted ({why}); not disputed by us: {exc.error}")
        log.warning("%s: disputed the merge (dispute %#x, bond %d wei)", audit.name, dispute_id, chain.min_stake)
        self._conclude(audit, f"refuted ({why}); disputed as {dispute_id:#x}")

    def _conclude(self, audit: MergeAudit, outcome: str) -> None:
        audit.outcome = outcome
        self._save(audit)
