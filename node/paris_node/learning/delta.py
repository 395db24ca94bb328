"""The pseudo-gradient codec: what a miner posts to IPFS instead of its weights.

pseudo-gradient = base weights - local weights after H steps (DiLoCo's outer gradient). The update is cut
into chunks of `chunk` values (all tensors as one stream, in name order, so small tensors cost no
per-tensor overhead); per chunk the `k` largest magnitudes are kept, their positions as uint16 and
their values as int8 against one float32 scale (absmax / 127). What the codec drops is not lost: the miner
keeps it as error feedback and adds it to its next round's pseudo-gradient, so over rounds every update
is eventually sent. The file is safetensors with a JSON header naming the job, expert, base version, miner
and codec parameters; decoding checks size, header, shapes against the model, index ranges, finiteness
and the norm, and says which one failed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import torch

from paris_node.content import tensorfile

FORMAT = "paris-delta/v1"
QUANT_MAX = 127


class DeltaError(ValueError):
    """A delta file that must not be merged; the message says which check failed."""


@dataclass(frozen=True)
class CodecParams:
    chunk: int = 4096  # values per chunk (<= 65536: positions are uint16)
    k: int = 16  # values kept per chunk (0.39%: about 300x smaller than dense fp32)

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.chunk <= 65536:
            raise ValueError(f"need 1 <= k ({self.k}) <= chunk ({self.chunk}) <= 65536")


@dataclass(frozen=True)
class DeltaHeader:
    job_id: int
    expert: int
    base_version: int
    miner: str
    chunk: int
    k: int


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


def _layout(numel: int, params: CodecParams) -> tuple[int, int, int]:
    """(rows, chunk, k) for a stream of `numel` values."""
    chunk = min(params.chunk, numel)
    return math.ceil(numel / chunk), chunk, min(params.k, chunk)


def compress(flat: torch.Tensor, params: CodecParams) -> dict[str, torch.Tensor]:
    """Top-k per chunk of the stream, int8 values against a per-chunk absmax scale."""
    rows, chunk, k = _layout(flat.numel(), params)
    padded = torch.zeros(rows * chunk, dtype=torch.float32)
    padded[:flat.numel()] = flat
    grid = padded.view(rows, chunk)
    idx = grid.abs().topk(k, dim=1, sorted=False).indices.sort(dim=1).values
    kept = grid.gather(1, idx)
    scale = kept.abs().amax(dim=1) / QUANT_MAX
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return {"idx": idx.to(torch.int32).to(torch.uint16),
            "val": (kept / safe[:, None]).round().clamp(-QUANT_MAX, QUANT_MAX).to(torch.int8),
            "scale": scale}


def decompress(tensors: dict[str, torch.Tensor], numel: int, params: CodecParams) -> torch.Tensor:
    """The dense stream back from its compressed form (no validation; see `decode`)."""
    rows, chunk, _ = _layout(numel, params)
    values = tensors["val"].to(torch.float32) * tensors["scale"][:, None]
    grid = torch.zeros(rows, chunk, dtype=torch.float32).scatter_(1, tensors["idx"].to(torch.int64), values)
    return grid.flatten()[:numel]


def encode(update: dict[str, torch.Tensor], header: DeltaHeader, params: CodecParams,
           error: dict[str, torch.Tensor] | None = None) -> tuple[bytes, dict[str, torch.Tensor]]:
    """Compress `update` plus the carried `error`; return the file bytes and the new error to carry."""
    shapes = {n: tuple(t.shape) for n, t in update.items()}
    corrected = flatten(update) + (flatten(error) if error else 0)
    tensors = compress(corrected, params)
    residual = corrected - decompress(tensors, corrected.numel(), params)
    metadata = {"format": FORMAT, "header": asdict(header), "shapes": shapes_digest(shapes)}
    return tensorfile.dump(tensors, metadata), unflatten(residual, shapes)


def shapes_digest(shapes: dict[str, tuple[int, ...]]) -> str:
    """sha256 of the model's tensor names and shapes: the header names the model without listing it."""
    canonical = json.dumps({name: list(shapes[name]) for name in sorted(shapes)}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_header(data: bytes) -> DeltaHeader:
    """The header alone, without loading tensors."""
    try:
        return DeltaHeader(**tensorfile.read_header(data, FORMAT)["header"])
    except tensorfile.TensorFileError as exc:
        raise DeltaError(f"unreadable delta header: {exc}") from exc
    except (KeyError, TypeError) as exc:
        raise DeltaError(f"unreadable delta header: {exc}") from exc


def decode(data: bytes, expected_shapes: dict[str, tuple[int, ...]], max_bytes: int,
           max_norm: float) -> tuple[DeltaHeader, dict[str, torch.Tensor]]:
    """Validate and expand a delta file against the model it claims to update."""
    if len(data) > max_bytes:
        raise DeltaError(f"delta is {len(data)} bytes, over the {max_bytes}-byte limit")
    header = read_header(data)
    try:
        metadata, tensors = tensorfile.load(data, FORMAT)
        claimed = metadata["shapes"]
    except (tensorfile.TensorFileError, KeyError) as exc:
        raise DeltaError(f"corrupt delta body: {exc}") from exc
    shapes = {n: tuple(s) for n, s in expected_shapes.items()}
    if claimed != shapes_digest(shapes):
        raise DeltaError("the delta was made for a model with other tensor names or shapes")
    try:
        params = CodecParams(header.chunk, header.k)
    except ValueError as exc:
        raise DeltaError(f"codec parameters: {exc}") from exc
    numel = sum(math.prod(shape) for shape in shapes.values())
    rows, chunk, k = _layout(numel, params)
    idx, val, scale = (tensors.get(part) for part in ("idx", "val", "scale"))
    if idx is None or val is None or scale is None or len(tensors) != 3:
        raise DeltaError(f"expected exactly the idx, val and scale tensors, found {sorted(tensors)}")
    if (idx.dtype, val.dtype, scale.dtype) != (torch.uint16, torch.int8, torch.float32):
        raise DeltaError(f"wrong dtypes idx {idx.dtype}, val {val.dtype}, scale {scale.dtype}")
    if tuple(idx.shape) != (rows, k) or tuple(val.shape) != (rows, k) or tuple(scale.shape) != (rows,):
        raise DeltaError(f"compressed shapes {tuple(idx.shape)}/{tuple(val.shape)}/{tuple(scale.shape)} do not fit"
                         f" {numel} values with chunk {chunk}, k {k}")
    if int(idx.to(torch.int32).max()) >= chunk:
        raise DeltaError(f"a position is outside its {chunk}-value chunk")
    if not torch.isfinite(scale).all() or (scale < 0).any():
        raise DeltaError("scales are not finite and non-negative")
    dense = decompress(tensors, numel, params)
    norm = float(dense.norm())
    if not math.isfinite(norm) or norm > max_norm:
        raise DeltaError(f"delta norm {norm:.4g} exceeds the bound {max_norm:.4g}")
    return header, unflatten(dense, shapes)
