"""An expert's checkpoint as it travels through IPFS: one safetensors file with the weights, the outer
optimizer's momentum, the exponential moving average of the weights over versions (what samples are drawn
from, when the job keeps one; see `merge.ema_step`) and a header (model config, job, expert, version).
A checkpoint without an EMA (version 0, or a job that keeps none) reads as before.

Encoding is deterministic (`tensorfile`), so equal tensors always give equal bytes and
therefore the same CID, which is what makes a merge verifiable by anyone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from paris_node.content import tensorfile
from paris_node.model.dit import DiTConfig

FORMAT = "paris-checkpoint/v1"


class CheckpointFileError(ValueError):
    """Bytes that are not a usable Paris checkpoint; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    config: DiTConfig
    job_id: int
    expert: int
    version: int
    weights: dict[str, torch.Tensor]
    momentum: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def sampling_weights(self) -> dict[str, torch.Tensor]:
        """What to sample from: the EMA when the checkpoint carries one, else the weights."""
        return self.ema or self.weights

    def to_bytes(self) -> bytes:
        tensors = {f"weights/{n}": t.detach().float().contiguous() for n, t in self.weights.items()}
        tensors.update({f"momentum/{n}": t.detach().float().contiguous() for n, t in self.momentum.items()})
        tensors.update({f"ema/{n}": t.detach().float().contiguous() for n, t in self.ema.items()})
        header = {"format": FORMAT, "config": dataclasses.asdict(self.config), "job_id": self.job_id,
                  "expert": self.expert, "version": self.version}
        return tensorfile.dump(tensors, header)

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "checkpoint") -> Checkpoint:
        try:
            metadata, tensors = tensorfile.load(data, FORMAT)
            config = DiTConfig(**metadata["config"])
        except (tensorfile.TensorFileError, KeyError, TypeError) as exc:
            raise CheckpointFileError(f"{source}: not a Paris checkpoint: {exc}") from exc
        weights = {k.removeprefix("weights/"): v for k, v in tensors.items() if k.startswith("weights/")}
        momentum = {k.removeprefix("momentum/"): v for k, v in tensors.items() if k.startswith("momentum/")}
        ema = {k.removeprefix("ema/"): v for k, v in tensors.items() if k.startswith("ema/")}
        if ema and set(ema) != set(weights):
            raise CheckpointFileError(f"{source}: its EMA does not cover the same tensors as its weights")
        return cls(config, int(metadata["job_id"]), int(metadata["expert"]), int(metadata["version"]),
                   weights, momentum, ema)
