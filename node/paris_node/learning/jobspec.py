"""The job spec: everything a miner, validator or aggregator needs to work on a job, as JSON on IPFS.

Its CID is recorded on chain by `createJob`, so every participant reads the same model config, data
shards, initial checkpoints, training hyper-parameters, codec and outer-optimizer settings.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from paris_node.learning.codec import CodecParams
from paris_node.learning.merge import OuterParams
from paris_node.settings import SettingError, check
from paris_node.learning.train import SegmentSpec
from paris_node.model.dit import DiTConfig

FORMAT = "paris-job/v1"
MAX_REPLAY_TOLERANCE = 1e-2  # a skipped step drifts by about 1/k (docs/economics.md)


class JobSpecError(ValueError):
    """A job spec that cannot be used; the message names the field."""


@dataclass(frozen=True)
class JobSpec:
    name: str
    model: DiTConfig
    shards: tuple[str, ...]  # CID of each expert's training clips (a ClipSet)
    initial: tuple[str, ...]  # CID of each expert's version-0 checkpoint
    job_seed: int
    local_steps: int = 20  # H: inner steps per round
    segment_steps: int = 5  # k: steps per trace segment
    batch: int = 8
    lr: float = 1e-3
    codec: CodecParams = field(default_factory=CodecParams)
    outer: OuterParams = field(default_factory=OuterParams)
    max_delta_bytes: int = 64 * 1024 * 1024
    max_delta_norm: float = 100.0
    router: str = ""  # CID of the router over the experts (for sampling); "" for one expert
    replay_tolerance: float = 1e-4  # state_drift a replay may show on other hardware; 0 demands bit-exact
    keyring: str = ""  # CID of a private job's first keyring (see `keyring`); "" for a public job
    evals: tuple[str, ...] = ()  # CID of each expert's evaluation clips (never trained on); () for none

    def __post_init__(self) -> None:
        if len(self.shards) != len(self.initial) or not self.shards:
            raise JobSpecError(f"{len(self.shards)} shards but {len(self.initial)} initial checkpoints")
        if self.evals and len(self.evals) != len(self.shards):
            raise JobSpecError(f"{len(self.shards)} shards but {len(self.evals)} evaluation sets")
        check("local_steps", self.local_steps, 1, 1_000_000)
        check("segment_steps", self.segment_steps, 1, self.local_steps)
        if self.local_steps % self.segment_steps:
            raise SettingError("segment_steps", self.segment_steps, f"must divide local_steps ({self.local_steps})")
        check("batch", self.batch, 1, 4096)
        check("lr", self.lr, 0, 1, integer=False, above=True)
        check("max_delta_bytes", self.max_delta_bytes, 1, 2**40)
        check("max_delta_norm", self.max_delta_norm, 0, None, integer=False, above=True)
        check("replay_tolerance", self.replay_tolerance, 0, MAX_REPLAY_TOLERANCE, integer=False)

    @property
    def experts(self) -> int:
        return len(self.shards)

    @property
    def private(self) -> bool:
        """Whether shards, checkpoints, the router, deltas and reveals are encrypted (see `keyring`)."""
        return bool(self.keyring)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The CID of everything the requester published for the job besides the spec itself."""
        return tuple(c for c in (*self.shards, *self.initial, *self.evals, self.router, self.keyring) if c)

    @property
    def segments(self) -> int:
        return self.local_steps // self.segment_steps

    def to_bytes(self) -> bytes:
        return json.dumps({"format": FORMAT, **dataclasses.asdict(self)}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "job spec") -> JobSpec:
        try:
            raw: dict[str, Any] = json.loads(data)
        except ValueError as exc:
            raise JobSpecError(f"{source}: not JSON: {exc}") from exc
        if not isinstance(raw, dict) or raw.pop("format", None) != FORMAT:
            raise JobSpecError(f"{source}: not a {FORMAT} document")
        try:
            raw["model"] = DiTConfig(**raw["model"])
            raw["codec"] = CodecParams.from_json(raw["codec"])
            raw["outer"] = OuterParams(**raw["outer"])
            raw["shards"], raw["initial"] = tuple(raw["shards"]), tuple(raw["initial"])
            raw["evals"] = tuple(raw.get("evals", ()))
            return cls(**raw)
        except KeyError as exc:
            raise JobSpecError(f"{source}: missing field {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise JobSpecError(f"{source}: {exc}") from exc


def lane_steps(spec: JobSpec, lane: int) -> range:
    """The step numbers of a miner's delta in `lane` on one base: lane 0 draws its data and noise for steps
    0..H-1, lane 1 for H..2H-1, and so on, so two deltas from the same checkpoint never train on the same draws."""
    return range(lane * spec.local_steps, (lane + 1) * spec.local_steps)


def segment_spec(spec: JobSpec, miner: str, expert: int, base_version: int, segment: int,
                 lane: int = 0) -> SegmentSpec:
    """The SegmentSpec of one trace segment: shared by the miner that runs it and the validator that replays it."""
    return SegmentSpec(job_seed=spec.job_seed, miner=miner, expert=expert, base_version=base_version,
                       start_step=lane_steps(spec, lane).start + segment * spec.segment_steps,
                       steps=spec.segment_steps, batch=spec.batch, lr=spec.lr)
