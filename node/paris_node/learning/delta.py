"""A delta file: what a miner posts to IPFS instead of its weights.

pseudo-gradient = base weights - local weights after H steps (DiLoCo's outer gradient). The job's codec
(`codec`) keeps a few values of it per chunk; what it drops is not lost: the miner keeps it as error feedback,
multiplied by the codec's decay, and adds it to its next round's pseudo-gradient. The file is safetensors
with a JSON header naming the format (hence the codec version), job, expert, base version, miner and codec
parameters; decoding checks size, header, shapes against the model, every compressed field, finiteness
and the norm, and says which one failed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import torch

from paris_node.content import tensorfile
from paris_node.learning.codec import CodecError, CodecParams, compress, decompress

FORMATS = {1: "paris-delta/v1", 2: "paris-delta/v2"}


class DeltaError(ValueError):
    """A delta file that must not be merged; the message says which check failed."""


@dataclass(frozen=True)
class DeltaHeader:
    job_id: int
    expert: int
    base_version: int
    miner: str
    chunk: int
    k: int

    def __post_init__(self) -> None:
        fields = asdict(self)
        if any(type(fields[name]) is not int for name in ("job_id", "expert", "base_version", "chunk", "k")) \
                or type(self.miner) is not str:
            raise TypeError(f"delta header fields have the wrong types: {fields}")


def pseudo_gradient(base: dict[str, torch.Tensor], local: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: (base[name].float() - local[name].float()) for name in base}


def flatten(update: dict[str, torch.Tensor]) -> torch.Tensor:
    """All tensors as one float32 vector, in name order: the stream the codec chunks."""
    return torch.cat([update[name].detach().flatten().float() for name in sorted(update)])


def unflatten(flat: torch.Tensor, shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    out, offset = {}, 0
    for name in sorted(shapes):
        numel = math.prod(shapes[name])
        out[name] = flat[offset:offset + numel].view(shapes[name])
        offset += numel
    return out


def encode(update: dict[str, torch.Tensor], header: DeltaHeader, params: CodecParams,
           error: dict[str, torch.Tensor] | None = None) -> tuple[bytes, dict[str, torch.Tensor]]:
    """Compress `update` plus the carried `error`; return the file bytes and the new error to carry."""
    if (header.chunk, header.k) != (params.chunk, params.k):
        raise ValueError(f"header codec chunk {header.chunk}, k {header.k} differ from the parameters {params}")
    shapes = {n: tuple(t.shape) for n, t in update.items()}
    corrected = flatten(update) + (params.decay * flatten(error) if error else 0)
    try:
        tensors = compress(corrected, params)
        residual = corrected - decompress(tensors, corrected.numel(), params)
    except CodecError as exc:
        raise DeltaError(f"the update cannot be encoded: {exc}") from exc
    metadata = {"format": FORMATS[params.version], "header": asdict(header), "shapes": shapes_digest(shapes)}
    return tensorfile.dump(tensors, metadata), unflatten(residual, shapes)


def shapes_digest(shapes: dict[str, tuple[int, ...]]) -> str:
    """sha256 of the model's tensor names and shapes: the header names the model without listing it."""
    canonical = json.dumps({name: list(shapes[name]) for name in sorted(shapes)}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_header(data: bytes, version: int) -> DeltaHeader:
    """The header alone, without loading tensors, of a file that must be in codec `version`'s format."""
    try:
        return DeltaHeader(**tensorfile.read_header(data, FORMATS[version])["header"])
    except (tensorfile.TensorFileError, KeyError, TypeError) as exc:
        raise DeltaError(f"unreadable delta header (the job uses codec v{version}): {exc}") from exc


def decode(data: bytes, expected_shapes: dict[str, tuple[int, ...]], max_bytes: int, max_norm: float,
           version: int) -> tuple[DeltaHeader, dict[str, torch.Tensor]]:
    """Validate and expand a delta file in codec `version` (the job's) against the model it claims to update."""
    if len(data) > max_bytes:
        raise DeltaError(f"delta is {len(data)} bytes, over the {max_bytes}-byte limit")
    header = read_header(data, version)
    try:
        metadata, tensors = tensorfile.load(data, FORMATS[version])
        claimed = metadata["shapes"]
    except (tensorfile.TensorFileError, KeyError) as exc:
        raise DeltaError(f"corrupt delta body: {exc}") from exc
    shapes = {n: tuple(s) for n, s in expected_shapes.items()}
    if claimed != shapes_digest(shapes):
        raise DeltaError("the delta was made for a model with other tensor names or shapes")
    try:
        params = CodecParams(version, header.chunk, header.k)
    except ValueError as exc:
        raise DeltaError(f"codec parameters: {exc}") from exc
    numel = sum(math.prod(shape) for shape in shapes.values())
    try:
        dense = decompress(tensors, numel, params)
    except CodecError as exc:
        raise DeltaError(f"codec v{version} body: {exc}") from exc
    norm = float(dense.norm())
    if not math.isfinite(norm) or norm > max_norm:
        raise DeltaError(f"delta norm {norm:.4g} exceeds the bound {max_norm:.4g}")
    return header, unflatten(dense, shapes)
