"""A set of equally sized clips: the unit that is sharded, uploaded, assigned and trained on."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from paris_node.content import tensorfile

FORMAT = "paris-clips/v1"


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
        tensors = {"videos": self.videos}
        if self.labels is not None:
            tensors["labels"] = self.labels
        return tensorfile.dump(tensors, {"format": FORMAT, "names": self.names})

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "clip set") -> ClipSet:
        try:
            header, tensors = tensorfile.load(data, FORMAT)
            return cls(tensors["videos"], tensors.get("labels"), header["names"])
        except (KeyError, ValueError, RuntimeError) as exc:  # TensorFileError and ClipSetError are ValueErrors
            raise ClipSetError(f"{source}: not a Paris clip set: {exc}") from exc
