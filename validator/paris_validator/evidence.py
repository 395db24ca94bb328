"""Slashing evidence: a JSON document on IPFS whose CID goes into `slash`, so anyone can read why a miner was
slashed and rerun the failed check from the public data it names."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

FORMAT = "paris-evidence/v1"


@dataclass(frozen=True)
class Evidence:
    delta_id: int
    job_id: int
    expert: int
    base_version: int
    miner: str
    validator: str
    check: str  # the failed check's name (see paris_validator.checks) or "withheld-reveal"
    detail: str
    delta_cid: str
    reveal_cid: str = ""
    challenged: tuple[int, ...] = ()
    lane: int = 0

    def to_bytes(self) -> bytes:
        return json.dumps({"format": FORMAT, **asdict(self), "delta_id": hex(self.delta_id)}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Evidence:
        raw = json.loads(data)
        if raw.pop("format", None) != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        return cls(**{**raw, "delta_id": int(raw["delta_id"], 16), "challenged": tuple(raw["challenged"])})
