"""Paris's tensor files: safetensors with one JSON header under a single metadata key.

safetensors keeps metadata in a hash map, so with several keys the header comes out in any order; with
one key and sorted tensor names, equal content always gives equal bytes, hence an equal CID. Deltas,
checkpoints and reveals are all written this way.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

KEY = "paris"


class TensorFileError(ValueError):
    """Bytes that are not a Paris tensor file of the expected format."""


def dump(tensors: dict[str, torch.Tensor], header: dict[str, Any]) -> bytes:
    ordered = {name: tensors[name].contiguous() for name in sorted(tensors)}
    return save_safetensors(ordered, metadata={KEY: json.dumps(header, sort_keys=True)})


def read_header(data: bytes, expected_format: str) -> dict[str, Any]:
    """The JSON header alone (no tensors are loaded); checks its `format`."""
    try:
        size = int.from_bytes(data[:8], "little")
        header = json.loads(json.loads(data[8:8 + size])["__metadata__"][KEY])
    except (ValueError, KeyError, TypeError) as exc:
        raise TensorFileError(f"unreadable header: {exc}") from exc
    if header.get("format") != expected_format:
        raise TensorFileError(f"format is {header.get('format')!r}, expected {expected_format!r}")
    return header


def load(data: bytes, expected_format: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    header = read_header(data, expected_format)
    try:
        return header, load_safetensors(data)
    except SafetensorError as exc:
        raise TensorFileError(f"corrupt body: {exc}") from exc
