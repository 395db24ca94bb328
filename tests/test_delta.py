"""The pseudo-gradient codec: round trip, error feedback, size, and refusal of bad files."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from paris_node.learning.delta import CodecParams, DeltaError, DeltaHeader, decode, encode, pseudo_gradient, read_header
from paris_node.model.dit import VideoDiT, named_config

HEADER = DeltaHeader(job_id=3, expert=1, base_version=4, miner="0xabc", chunk=4096, k=16)
LIMIT = 10**8


def _shapes(size: str = "tiny") -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in VideoDiT(named_config(size)).state_dict().items()}


def _update(shapes: dict[str, tuple[int, ...]], seed: int, scale: float = 1e-3) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(shape, generator=generator) * scale for name, shape in shapes.items()}


def test_round_trip_keeps_header_and_the_largest_values() -> None:
    shapes = _shapes()
    update = _update(shapes, 0)
    data, residual = encode(update, HEADER, CodecParams())
    header, sent = decode(data, shapes, LIMIT, max_norm=10.0)
    assert header == HEADER == read_header(data)
    for name in shapes:  # what was sent plus what is carried is exactly the update
        assert torch.equal(sent[name] + residual[name], update[name])
    total = sum(int((t != 0).sum()) for t in sent.values())
    numel = sum(math.prod(s) for s in shapes.values())
    assert total <= math.ceil(numel / 4096) * 16


def test_error_feedback_eventually_sends_everything() -> None:
    shapes = _shapes()
    error = None
    sent_total = {name: torch.zeros(shape) for name, shape in shapes.items()}
    update_total = {name: torch.zeros(shape) for name, shape in shapes.items()}
    for round_index in range(5):
        update = _update(shapes, round_index)
        data, error = encode(update, HEADER, CodecParams(), error)
        _, sent = decode(data, shapes, LIMIT, max_norm=10.0)
        for name in shapes:
            sent_total[name] += sent[name]
            update_total[name] += update[name]
    for name in shapes:
        torch.testing.assert_close(sent_total[name] + error[name], update_total[name], atol=1e-6, rtol=0)
    assert max(float(e.abs().max()) for e in error.values()) > 0  # something is still being carried


def test_compressed_delta_is_hundreds_of_times_smaller_than_dense() -> None:
    shapes = _shapes("small")
    data, _ = encode(_update(shapes, 1), HEADER, CodecParams())
    dense = sum(math.prod(s) for s in shapes.values()) * 4
    assert dense / len(data) >= 250


def test_encoding_is_byte_deterministic() -> None:
    shapes = _shapes()
    update = _update(shapes, 5)
    first, _ = encode(update, HEADER, CodecParams())
    again, _ = encode(dict(reversed(list(update.items()))), HEADER, CodecParams())
    assert first == again


def test_pseudo_gradient_is_base_minus_local() -> None:
    base, local = {"w": torch.tensor([1.0, 2.0])}, {"w": torch.tensor([0.5, 2.5])}
    assert torch.equal(pseudo_gradient(base, local)["w"], torch.tensor([0.5, -0.5]))


def test_nan_and_inf_are_refused() -> None:
    shapes = _shapes()
    for bad in (float("nan"), float("inf")):
        update = _update(shapes, 2)
        next(iter(update.values())).view(-1)[0] = bad
        data, _ = encode(update, HEADER, CodecParams())
        with pytest.raises(DeltaError, match=r"not finite|norm"):
            decode(data, shapes, LIMIT, max_norm=10.0)


def test_wrong_model_oversize_and_norm_are_refused() -> None:
    shapes = _shapes()
    data, _ = encode(_update(shapes, 3), HEADER, CodecParams())
    with pytest.raises(DeltaError, match="other tensor names or shapes"):
        decode(data, _shapes("small"), LIMIT, max_norm=10.0)
    with pytest.raises(DeltaError, match=f"{len(data)} bytes, over the 100-byte limit"):
        decode(data, shapes, 100, max_norm=10.0)
    with pytest.raises(DeltaError, match="exceeds the bound"):
        decode(data, shapes, LIMIT, max_norm=1e-6)


def test_garbage_and_tampered_files_are_refused() -> None:
    shapes = _shapes()
    with pytest.raises(DeltaError, match="unreadable delta header"):
        decode(b"\x00" * 64, shapes, LIMIT, max_norm=10.0)
    data, _ = encode(_update(shapes, 4), HEADER, CodecParams())
    size = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8:8 + size])["__metadata__"]
    other_format = {"paris": json.dumps({**json.loads(metadata["paris"]), "format": "other/v9"})}
    tensors = load_safetensors(data)
    tensors["idx"] = torch.full_like(tensors["idx"].to(torch.int32), 5000).to(torch.uint16)
    with pytest.raises(DeltaError, match="outside its 4096-value chunk"):
        decode(save_safetensors(tensors, metadata=metadata), shapes, LIMIT, max_norm=10.0)
    with pytest.raises(DeltaError, match="compressed shapes"):
        decode(save_safetensors({**tensors, "val": tensors["val"][:, :3].contiguous()}, metadata=metadata),
               shapes, LIMIT, max_norm=10.0)
    with pytest.raises(DeltaError, match="format is 'other/v9'"):
        decode(save_safetensors(tensors, metadata=other_format), shapes, LIMIT, 10.0)
    with pytest.raises(DeltaError, match="corrupt delta body"):
        decode(data[:-100], shapes, LIMIT, max_norm=10.0)
