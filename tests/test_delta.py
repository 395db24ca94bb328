"""Delta files in both codec versions: round trip, error feedback, size, and refusal of bad files."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from paris_node.learning.codec import CodecParams
from paris_node.learning.delta import DeltaError, DeltaHeader, encode, pseudo_gradient, read_header
from paris_node.learning.delta import decode as decode_file
from paris_node.learning.jobspec import JobSpec, JobSpecError
from paris_node.model.dit import VideoDiT, named_config

HEADER = DeltaHeader(job_id=3, expert=1, base_version=4, miner="0xabc", chunk=4096, k=46)
V1 = CodecParams(version=1, chunk=4096, k=16, decay=1.0)
V1_HEADER = DeltaHeader(job_id=3, expert=1, base_version=4, miner="0xabc", chunk=4096, k=16)
LIMIT = 10**8


def decode(data: bytes, shapes: dict[str, tuple[int, ...]], max_bytes: int, max_norm: float,
           version: int = 2) -> tuple[DeltaHeader, dict[str, torch.Tensor]]:
    return decode_file(data, shapes, max_bytes, max_norm, version)


def _shapes(size: str = "tiny") -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in VideoDiT(named_config(size)).state_dict().items()}


def _update(shapes: dict[str, tuple[int, ...]], seed: int, scale: float = 1e-3) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(shape, generator=generator) * scale for name, shape in shapes.items()}


@pytest.mark.parametrize(("params", "header"), [(CodecParams(), HEADER), (V1, V1_HEADER)])
def test_round_trip_keeps_header_and_the_largest_values(params: CodecParams, header: DeltaHeader) -> None:
    shapes = _shapes()
    update = _update(shapes, 0)
    data, residual = encode(update, header, params)
    decoded, sent = decode(data, shapes, LIMIT, 10.0, params.version)
    assert decoded == header == read_header(data, params.version)
    for name in shapes:  # what was sent plus what is carried is the update
        torch.testing.assert_close(sent[name] + residual[name], update[name], atol=1e-9, rtol=0)
    flat_update, flat_sent = (torch.cat([t[n].flatten() for n in sorted(shapes)]) for t in (update, sent))
    kept = flat_sent != 0
    numel = sum(math.prod(s) for s in shapes.values())
    assert int(kept.sum()) == math.ceil(numel / 4096) * params.k
    assert torch.equal(torch.sign(flat_sent[kept]), torch.sign(flat_update[kept]))
    first_chunk = flat_update[:4096].abs()  # the kept positions are the chunk's largest magnitudes
    assert first_chunk[kept[:4096]].min() >= first_chunk[~kept[:4096]].max()


def test_version_2_sends_one_magnitude_per_chunk_the_mean_of_the_kept_ones() -> None:
    update = {"w": torch.tensor([0.5, -0.1, 0.0, -2.0, 0.3, 0.01, 0.0, 0.7])}
    data, residual = encode(update, dataclasses.replace(HEADER, chunk=4, k=2), CodecParams(chunk=4, k=2))
    _, sent = decode(data, {"w": (8,)}, LIMIT, 10.0)
    assert torch.allclose(sent["w"], torch.tensor([1.25, 0, 0, -1.25, 0.5, 0, 0, 0.5]), atol=1e-3)
    assert torch.equal(sent["w"] + residual["w"], update["w"])


def test_error_feedback_decays_by_the_codec_decay() -> None:
    update = {"w": torch.tensor([1.0, 0.0, 0.0, 0.0])}
    error = {"w": torch.tensor([0.0, 0.5, -0.2, 0.1])}
    _, carried = encode(update, dataclasses.replace(HEADER, chunk=4, k=1), CodecParams(chunk=4, k=1, decay=0.5), error)
    assert torch.allclose(carried["w"], torch.tensor([0.0, 0.25, -0.1, 0.05]))


def test_a_job_refuses_a_file_of_the_other_codec_version_and_names_both() -> None:
    shapes = _shapes()
    v1_file, _ = encode(_update(shapes, 0), V1_HEADER, V1)
    assert decode(v1_file, shapes, LIMIT, 10.0, version=1)[0] == V1_HEADER  # v1 deltas stay readable
    with pytest.raises(DeltaError, match=r"the job uses codec v2.*'paris-delta/v1', expected 'paris-delta/v2'"):
        decode(v1_file, shapes, LIMIT, 10.0, version=2)
    v2_file, _ = encode(_update(shapes, 0), HEADER, CodecParams())
    with pytest.raises(DeltaError, match=r"the job uses codec v1.*'paris-delta/v2', expected 'paris-delta/v1'"):
        decode(v2_file, shapes, LIMIT, 10.0, version=1)


@pytest.mark.parametrize(("numel", "chunk", "k"), [(5, 4096, 3), (4106, 4096, 46), (8, 4, 4), (12, 4, 3)])
def test_short_streams_partial_chunks_and_every_value_kept_round_trip(numel: int, chunk: int, k: int) -> None:
    params = CodecParams(chunk=chunk, k=k)
    header = dataclasses.replace(HEADER, chunk=chunk, k=k)
    for update in (torch.randn(numel, generator=torch.Generator().manual_seed(numel)) / 100, torch.zeros(numel)):
        data, residual = encode({"w": update}, header, params)
        _, sent = decode(data, {"w": (numel,)}, LIMIT, 10.0)
        torch.testing.assert_close(sent["w"] + residual["w"], update, atol=1e-6, rtol=0)


def test_equal_magnitudes_are_kept_lowest_position_first() -> None:
    update = {"w": torch.tensor([0.0, 1.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0])}
    data, _ = encode(update, dataclasses.replace(HEADER, chunk=8, k=4), CodecParams(chunk=8, k=4))
    _, sent = decode(data, {"w": (8,)}, LIMIT, 10.0)
    assert torch.equal(sent["w"] != 0, torch.tensor([True, True, True, False, True, False, False, False]))


def test_a_magnitude_beyond_float16_is_refused_when_encoded() -> None:
    with pytest.raises(DeltaError, match="overflows float16"):
        encode({"w": torch.full((8,), 1e5)}, dataclasses.replace(HEADER, chunk=8, k=4), CodecParams(chunk=8, k=4))
    with pytest.raises(ValueError, match="header codec chunk 4096, k 46 differ"):
        encode({"w": torch.ones(8)}, HEADER, CodecParams(chunk=8, k=4))


def test_header_fields_of_the_wrong_type_are_refused() -> None:
    data, _ = encode(_update(_shapes(), 0), HEADER, CodecParams())
    size = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8:8 + size])["__metadata__"]
    paris = json.loads(metadata["paris"])
    for field, value in (("chunk", 4096.0), ("k", "46"), ("miner", 7)):
        forged = {"paris": json.dumps({**paris, "header": {**paris["header"], field: value}})}
        with pytest.raises(DeltaError, match="wrong types"):
            decode(save_safetensors(load_safetensors(data), metadata=forged), _shapes(), LIMIT, 10.0)


def test_job_specs_written_before_version_2_keep_their_meaning() -> None:
    assert CodecParams.from_json({"chunk": 4096, "k": 16}) == V1 == CodecParams.from_json({})
    spec = json.loads(JobSpec(name="old", model=named_config("tiny"), shards=("-",), initial=("-",), job_seed=0)
                      .to_bytes())
    spec["codec"] = {"chunk": 4096, "k": 16}
    assert JobSpec.from_bytes(json.dumps(spec).encode()).codec == V1
    spec["codec"] = {"version": 3}
    with pytest.raises(JobSpecError, match="codec version 3"):
        JobSpec.from_bytes(json.dumps(spec).encode())
    assert CodecParams.from_json({"version": 2, "chunk": 1024, "k": 8, "decay": 0.9}) == CodecParams(2, 1024, 8, 0.9)
    with pytest.raises(ValueError, match="codec version 3"):
        CodecParams.from_json({"version": 3, "chunk": 4096, "k": 16, "decay": 1.0})
    with pytest.raises(ValueError, match="decay 0"):
        CodecParams(decay=0)


def test_error_feedback_eventually_sends_everything() -> None:
    shapes = _shapes()
    error = None
    sent_total = {name: torch.zeros(shape) for name, shape in shapes.items()}
    update_total = {name: torch.zeros(shape) for name, shape in shapes.items()}
    for round_index in range(5):
        update = _update(shapes, round_index)
        data, error = encode(update, HEADER, CodecParams(decay=1.0), error)
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


def test_an_update_that_is_not_finite_is_refused_when_encoded() -> None:
    shapes = _shapes()
    for bad in (float("nan"), float("inf")):
        update = _update(shapes, 2)
        next(iter(update.values())).view(-1)[0] = bad
        for params, header in ((CodecParams(), HEADER), (V1, V1_HEADER)):
            with pytest.raises(DeltaError, match=r"cannot be encoded: .*not finite"):
                encode(update, header, params)


def test_wrong_model_oversize_and_norm_are_refused() -> None:
    shapes = _shapes()
    data, _ = encode(_update(shapes, 3), HEADER, CodecParams())
    with pytest.raises(DeltaError, match="other tensor names or shapes"):
        decode(data, _shapes("small"), LIMIT, max_norm=10.0)
    with pytest.raises(DeltaError, match=f"{len(data)} bytes, over the 100-byte limit"):
        decode(data, shapes, 100, max_norm=10.0)
    with pytest.raises(DeltaError, match="exceeds the bound"):
        decode(data, shapes, LIMIT, max_norm=1e-6)


def _tampered(data: bytes, **changes: torch.Tensor) -> bytes:
    size = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8:8 + size])["__metadata__"]
    return save_safetensors({**load_safetensors(data), **changes}, metadata=metadata)


def test_tampered_version_2_bodies_are_refused() -> None:
    shapes = _shapes()
    data, _ = encode(_update(shapes, 4), HEADER, CodecParams())
    bits, scale = load_safetensors(data)["bits"], load_safetensors(data)["scale"]
    rows = scale.numel()
    flipped = bits.clone()
    flipped[-2] ^= 0b1000  # a bit of the last chunk's position vector: one position too many or too few
    cases = {"exactly 46 positions": {"bits": flipped},
             "bits is torch.uint8 \\(\\d+,\\), expected": {"bits": bits[:-1].clone()},
             "not finite": {"scale": torch.full((rows,), float("inf"), dtype=torch.float16)},
             "scale is torch.float32": {"scale": scale.float()}}
    for message, change in cases.items():
        with pytest.raises(DeltaError, match=f"codec v2 body: .*{message}"):
            decode(_tampered(data, **change), shapes, LIMIT, 10.0)


def test_positions_that_do_not_increase_are_refused() -> None:
    header, params = dataclasses.replace(HEADER, chunk=4, k=2), CodecParams(chunk=4, k=2)
    data, _ = encode({"w": torch.tensor([1.0, 0.0, 2.0, 0.0])}, header, params)  # positions 0 and 2
    decode(data, {"w": (4,)}, LIMIT, 10.0)
    # signs 0 0 | low bits 1 0 | unary high parts 1 1 0: both in bucket 0, so positions 1 then 0
    swapped = torch.tensor([0b0110100], dtype=torch.uint8)
    with pytest.raises(DeltaError, match="positions are not increasing within their 4-value chunk"):
        decode(_tampered(data, bits=swapped), {"w": (4,)}, LIMIT, 10.0)
    stray = torch.tensor([load_safetensors(data)["bits"][0] | 0b10000000], dtype=torch.uint8)  # the 8th of 7 bits
    with pytest.raises(DeltaError, match="bits past the end"):
        decode(_tampered(data, bits=stray), {"w": (4,)}, LIMIT, 10.0)
    negative_zero = torch.tensor([-0.0], dtype=torch.float16)
    with pytest.raises(DeltaError, match="not finite and non-negative"):
        decode(_tampered(data, scale=negative_zero), {"w": (4,)}, LIMIT, 10.0)


def test_garbage_and_tampered_files_are_refused() -> None:
    shapes = _shapes()
    with pytest.raises(DeltaError, match="unreadable delta header"):
        decode(b"\x00" * 64, shapes, LIMIT, max_norm=10.0)
    data, _ = encode(_update(shapes, 4), V1_HEADER, V1)
    size = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8:8 + size])["__metadata__"]
    other_format = {"paris": json.dumps({**json.loads(metadata["paris"]), "format": "other/v9"})}
    tensors = load_safetensors(data)
    tensors["idx"] = torch.full_like(tensors["idx"].to(torch.int32), 5000).to(torch.uint16)
    with pytest.raises(DeltaError, match="outside its 4096-value chunk"):
        decode(save_safetensors(tensors, metadata=metadata), shapes, LIMIT, 10.0, version=1)
    with pytest.raises(DeltaError, match=r"val is torch.int8 \(57, 3\), expected"):
        decode(save_safetensors({**tensors, "val": tensors["val"][:, :3].contiguous()}, metadata=metadata),
               shapes, LIMIT, 10.0, version=1)
    with pytest.raises(DeltaError, match="format is 'other/v9'"):
        decode(save_safetensors(tensors, metadata=other_format), shapes, LIMIT, 10.0, version=1)
    with pytest.raises(DeltaError, match="corrupt delta body"):
        decode(data[:-100], shapes, LIMIT, 10.0, version=1)
