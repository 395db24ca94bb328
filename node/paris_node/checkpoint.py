"""An expert's checkpoint as it travels through IPFS: one safetensors file with the weights, the outer
optimizer's momentum and a header (model config, job, expert, version).

Encoding is deterministic (sorted names, fixed metadata), so equal tensors always give equal bytes and
therefore the same CID, which is what makes a merge verifiable by anyone.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

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

    def to_bytes(self) -> bytes:
        tensors = {f"weights/{n}": t.detach().float().contiguous() for n, t in self.weights.items()}
        tensors.update({f"momentum/{n}": t.detach().float().contiguous() for n, t in self.momentum.items()})
        header = {"format": FORMAT, "config": dataclasses.asdict(self.config), "job_id": self.job_id,
                  "expert": self.expert, "version": self.version}
        # One metadata key: safetensors keeps metadata in a hash map, so several keys come out in any order.
        return save_safetensors(dict(sorted(tensors.items())), metadata={"paris": json.dumps(header, sort_keys=True)})

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "checkpoint") -> Checkpoint:
        try:
            size = int.from_bytes(data[:8], "little")
            metadata = json.loads(json.loads(data[8:8 + size])["__metadata__"]["paris"])
            if metadata.get("format") != FORMAT:
                raise CheckpointFileError(f"{source}: format {metadata.get('format')!r}, expected {FORMAT!r}")
            config = DiTConfig(**metadata["config"])
            tensors = load_safetensors(data)
        except CheckpointFileError:
            raise
        except (SafetensorError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointFileError(f"{source}: not a Paris checkpoint: {exc}") from exc
        weights = {k.removeprefix("weights/"): v for k, v in tensors.items() if k.startswith("weights/")}
        momentum = {k.removeprefix("momentum/"): v for k, v in tensors.items() if k.startswith("momentum/")}
        return cls(config, int(metadata["job_id"]), int(metadata["expert"]), int(metadata["version"]),
                   weights, momentum)
