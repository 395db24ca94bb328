"""A miner's restart-safe record of its rounds: one directory per (job, expert, base version, lane).

Each stage is written before the next one starts and every file is replaced atomically, so a miner killed
at any point (even with kill -9) resumes from the last completed stage: it never trains twice what it
already trained, never submits twice (it asks the chain before resubmitting), and never loses a delta the
chain accepted.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from paris_node.content.atomic import write_atomic

STAGES = ("trained", "uploaded", "submitted", "revealed", "done")


@dataclass
class RoundRecord:
    job_id: int
    expert: int
    base_version: int
    stage: str = "trained"
    digests: list[str] = field(default_factory=list)  # hex state hashes of the trace
    base_cid: str = ""  # the checkpoint it trained on: a rollback and re-merge may replace the version's
    delta_cid: str = ""
    delta_id: int = 0
    reveal_cid: str = ""
    outcome: str = ""  # how the round ended: paid, failed, slashed, ...
    lane: int = 0  # 0 for the first delta on this base, 1 for one trained while lane 0 was checked, ...

    def at_least(self, stage: str) -> bool:
        return STAGES.index(self.stage) >= STAGES.index(stage)


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def round_dir(self, job_id: int, expert: int, base_version: int, lane: int = 0) -> Path:
        return self.directory / (f"job{job_id}-expert{expert}-v{base_version}" + (f"-lane{lane}" if lane else ""))

    def get(self, job_id: int, expert: int, base_version: int, lane: int = 0) -> RoundRecord | None:
        path = self.round_dir(job_id, expert, base_version, lane) / "round.json"
        return RoundRecord(**json.loads(path.read_text())) if path.exists() else None

    def put(self, record: RoundRecord) -> None:
        directory = self.round_dir(record.job_id, record.expert, record.base_version, record.lane)
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / "round.json", json.dumps(dataclasses.asdict(record), indent=2).encode())

    def discard(self, record: RoundRecord) -> None:
        """Forget a round never submitted (its base checkpoint was rolled back), so that it is trained again."""
        shutil.rmtree(self.round_dir(record.job_id, record.expert, record.base_version, record.lane))

    def open_rounds(self) -> list[RoundRecord]:
        records = [RoundRecord(**json.loads(p.read_text())) for p in sorted(self.directory.glob("*/round.json"))]
        return [r for r in records if r.stage != "done"]
