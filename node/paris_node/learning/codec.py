"""The sparse codecs of a pseudo-gradient: which values of the stream are sent, and in how many bits.

The stream (every tensor flattened, in name order) is cut into chunks of `chunk` values; per chunk the `k`
largest magnitudes are kept. Version 1 sends each kept value as int8 against the chunk's absmax and its
position as uint16 (24 bits a value). Version 2, after SparseLoCo (arXiv 2508.15706) and 1-bit error-feedback
SGD, sends a sign bit per kept value, one float16 magnitude per chunk (the mean of the kept magnitudes) and
the positions Elias-Fano coded (about log2(chunk / k) + 2 bits each), so at equal bytes it keeps about 2.5 times
as many values. Both are plain functions of the stream: a validator re-encoding the same stream gets
the same tensors. `decompress` checks every field of a received body and says which one is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

QUANT_MAX = 127
VERSIONS = (1, 2)
LEGACY = {"version": 1, "chunk": 4096, "k": 16, "decay": 1.0}  # what a job spec before version 2 meant


class CodecError(ValueError):
    """A compressed body that does not decode; the message names the field."""


@dataclass(frozen=True)
class CodecParams:
    version: int = 2
    chunk: int = 4096  # values per chunk (<= 65536)
    k: int = 46  # values kept per chunk: 1.1%, about 260x smaller than dense fp32 with version 2
    decay: float = 0.95  # error feedback carried to the next round is multiplied by this

    def __post_init__(self) -> None:
        if any(type(value) is not int for value in (self.version, self.chunk, self.k)):
            raise ValueError(f"version, chunk and k must be integers, not {self.version!r}, {self.chunk!r}, {self.k!r}")
        if self.version not in VERSIONS:
            raise ValueError(f"codec version {self.version} is not one of {VERSIONS}")
        if not 1 <= self.k <= self.chunk <= 65536:
            raise ValueError(f"need 1 <= k ({self.k}) <= chunk ({self.chunk}) <= 65536")
        if not 0 < self.decay <= 1:
            raise ValueError(f"error-feedback decay {self.decay} is outside (0, 1]")

    @property
    def compact(self) -> bool:
        """Whether a delta is far smaller than its checkpoint (at most 1 value in 8 kept): a few deltas then
        cost less to fetch than the checkpoint they merge into."""
        return self.k * 8 <= self.chunk

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CodecParams:
        """From a job spec's `codec` object; fields it lacks take the meaning they had before they existed."""
        return cls(**{**LEGACY, **raw})


def layout(numel: int, params: CodecParams) -> tuple[int, int, int]:
    """(rows, chunk, k) for a stream of `numel` values."""
    chunk = min(params.chunk, numel)
    return math.ceil(numel / chunk), chunk, min(params.k, chunk)


def top_k(flat: torch.Tensor, params: CodecParams) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted positions (rows, k) of each chunk's largest magnitudes, and the values there; equal magnitudes are
    taken lowest position first, so every machine keeps the same ones."""
    rows, chunk, k = layout(flat.numel(), params)
    padded = torch.zeros(rows * chunk, dtype=torch.float32)
    padded[:flat.numel()] = flat
    grid = padded.view(rows, chunk)
    order = torch.sort(grid.abs(), dim=1, descending=True, stable=True).indices
    idx = order[:, :k].sort(dim=1).values
    return idx, grid.gather(1, idx)


def scatter(idx: torch.Tensor, values: torch.Tensor, numel: int, params: CodecParams) -> torch.Tensor:
    """The dense stream of `numel` values with `values` at the chunk positions `idx`, zero elsewhere."""
    rows, chunk, _ = layout(numel, params)
    grid = torch.zeros(rows, chunk, dtype=torch.float32).scatter_(1, idx, values)
    return grid.flatten()[:numel]


def _low_bits(chunk: int, k: int) -> int:
    """Elias-Fano's split: positions keep this many low bits verbatim, the rest go to a unary bit vector."""
    return max(0, math.floor(math.log2(chunk / k)))


def _bit_counts(chunk: int, k: int) -> tuple[int, int, int]:
    """Bits per row of the signs, the low parts and the high (unary) vector."""
    low = _low_bits(chunk, k)
    return k, k * low, ((chunk - 1) >> low) + k


def compress(flat: torch.Tensor, params: CodecParams) -> dict[str, torch.Tensor]:
    """The tensors a delta file carries for this stream."""
    idx, kept = top_k(flat, params)
    _, chunk, _ = layout(flat.numel(), params)
    return (_pack_v1 if params.version == 1 else _pack_v2)(idx, kept, chunk)


def _pack_v1(idx: torch.Tensor, kept: torch.Tensor, _: int) -> dict[str, torch.Tensor]:
    scale = kept.abs().amax(dim=1) / QUANT_MAX
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return {"idx": idx.to(torch.int32).to(torch.uint16),
            "val": (kept / safe[:, None]).round().clamp(-QUANT_MAX, QUANT_MAX).to(torch.int8),
            "scale": scale}


def _pack_v2(idx: torch.Tensor, kept: torch.Tensor, chunk: int) -> dict[str, torch.Tensor]:
    rows, k = idx.shape
    low = _low_bits(chunk, k)
    _, _, high_bits = _bit_counts(chunk, k)
    positions = idx.numpy().astype(np.int64)
    low_part = (positions[:, :, None] >> np.arange(low)) & 1
    high = np.zeros((rows, high_bits), dtype=np.uint8)
    np.put_along_axis(high, (positions >> low) + np.arange(k), 1, axis=1)
    bits = np.concatenate([(kept < 0).numpy().astype(np.uint8).ravel(), low_part.astype(np.uint8).ravel(),
                           high.ravel()])
    return {"bits": torch.from_numpy(np.packbits(bits, bitorder="little")), "scale": _mean_magnitude(kept)}


def _mean_magnitude(kept: torch.Tensor) -> torch.Tensor:
    """Each row's mean |value| as float16, summed in float64 (exact for these few float32 values, so no CPU's
    summation order changes a bit); a mean beyond float16's range is refused rather than sent as inf."""
    mean = kept.abs().double().sum(dim=1) / kept.shape[1]
    beyond = ~(mean <= torch.finfo(torch.float16).max)  # NaN too
    if beyond.any():
        raise CodecError(f"a chunk's mean magnitude {float(mean[beyond][0]):.4g} is not finite or overflows float16")
    return mean.to(torch.float16)


def decompress(tensors: dict[str, torch.Tensor], numel: int, params: CodecParams) -> torch.Tensor:
    """The dense stream a body stands for; raises `CodecError` on any malformed field."""
    idx, values = (_unpack_v1 if params.version == 1 else _unpack_v2)(tensors, numel, params)
    _, chunk, _ = layout(numel, params)
    if int(idx.max()) >= chunk:
        raise CodecError(f"a position is outside its {chunk}-value chunk")
    if (idx.diff(dim=1) <= 0).any():
        raise CodecError(f"positions are not increasing within their {chunk}-value chunk")
    return scatter(idx, values, numel, params)


def _expect(tensors: dict[str, torch.Tensor], parts: dict[str, tuple[torch.dtype, tuple[int, ...]]]) -> None:
    if sorted(tensors) != sorted(parts):
        raise CodecError(f"expected exactly the {', '.join(sorted(parts))} tensors, found {sorted(tensors)}")
    for name, (dtype, shape) in parts.items():
        if tensors[name].dtype != dtype or tuple(tensors[name].shape) != shape:
            raise CodecError(f"{name} is {tensors[name].dtype} {tuple(tensors[name].shape)}, expected {dtype} {shape}")


def _check_scale(scale: torch.Tensor) -> None:
    if not torch.isfinite(scale).all() or torch.signbit(scale).any():
        raise CodecError("scales are not finite and non-negative")


def _unpack_v1(tensors: dict[str, torch.Tensor], numel: int,
               params: CodecParams) -> tuple[torch.Tensor, torch.Tensor]:
    rows, _, k = layout(numel, params)
    _expect(tensors, {"idx": (torch.uint16, (rows, k)), "val": (torch.int8, (rows, k)),
                      "scale": (torch.float32, (rows,))})
    _check_scale(tensors["scale"])
    return tensors["idx"].to(torch.int64), tensors["val"].to(torch.float32) * tensors["scale"][:, None]


def _unpack_v2(tensors: dict[str, torch.Tensor], numel: int,
               params: CodecParams) -> tuple[torch.Tensor, torch.Tensor]:
    rows, chunk, k = layout(numel, params)
    sign_bits, low_bits, high_bits = _bit_counts(chunk, k)
    total = rows * (sign_bits + low_bits + high_bits)
    _expect(tensors, {"bits": (torch.uint8, (math.ceil(total / 8),)), "scale": (torch.float16, (rows,))})
    _check_scale(tensors["scale"])
    bits = np.unpackbits(tensors["bits"].numpy(), bitorder="little")
    if bits[total:].any():
        raise CodecError("bits past the end of the coded positions are set")
    signs, low_part, high = np.split(bits[:total], [rows * sign_bits, rows * (sign_bits + low_bits)])
    high = high.reshape(rows, high_bits)
    if (high.sum(axis=1) != k).any():
        raise CodecError(f"a chunk's position vector does not code exactly {k} positions")
    ones = np.nonzero(high)[1].reshape(rows, k) - np.arange(k)
    low = _low_bits(chunk, k)
    positions = (ones << low) | (low_part.reshape(rows, k, low).astype(np.int64) << np.arange(low)).sum(axis=2)
    magnitude = tensors["scale"].to(torch.float32)[:, None]
    sign = 1 - 2 * torch.from_numpy(signs.reshape(rows, k).astype(np.float32))
    return torch.from_numpy(positions), magnitude * sign
