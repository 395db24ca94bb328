"""A set of equally sized clips: the unit that is sharded, uploaded, assigned and trained on."""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors


class ClipSetError(ValueError):
    """Clip data that cannot be used; the message names the clip or file."""


@dataclass
class ClipSet:
    videos: torch.Tensor  # (N, T, C, H, W) float32 in [-1, 1]
    labels: torch.Tensor | None  # (N,) int64: family, shard or class label; None when unlabelled
    names: list[str]

    def __post_init__(self) -> None:
        if self.videos.ndim != 5:
            raise ClipSetError(f"clips must be (N, T, C, H, W), got shape {tuple(self.videos.shape)}")
        if len(self.names) != len(self.videos) or (self.labels is not None and len(self.labels) != len(self.videos)):
            raise ClipSetError(f"{len(self.videos)} clips but {len(self.names)} names"
                               f" and {None if self.labels is None else len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.videos)

    def subset(self, index: torch.Tensor) -> ClipSet:
        labels = None if self.labels is None else self.labels[index]
        return ClipSet(self.videos[index], labels, [self.names[i] for i in index.tolist()])

    def to_bytes(self) -> bytes:
        """safetensors bytes (clip names in the metadata): how a shard travels through IPFS."""
        tensors = {"videos": self.videos.contiguous()}
        if self.labels is not None:
            tensors["labels"] = self.labels.contiguous()
        return save_safetensors(tensors, metadata={"names": json.dumps(self.names)})

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "clip set") -> ClipSet:
        try:
            tensors = load_safetensors(data)
            header_len = int.from_bytes(data[:8], "little")  # safetensors: u64 header length, JSON header
            names = json.loads(json.loads(data[8:8 + header_len])["__metadata__"]["names"])
            return cls(tensors["videos"], tensors.get("labels"), names)
        except (KeyError, ValueError, RuntimeError, SafetensorError) as exc:
            raise ClipSetError(f"{source}: not a Paris clip set: {exc}") from exc
