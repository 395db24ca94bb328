"""Network checkpoints: byte-deterministic (so a merge's CID is reproducible) and strict on read."""

from __future__ import annotations

import pytest
import torch

from paris_node.learning.checkpoint import Checkpoint, CheckpointFileError
from paris_node.model.dit import VideoDiT, named_config


def _checkpoint(order: int = 1) -> Checkpoint:
    torch.manual_seed(0)
    model = VideoDiT(named_config("tiny"))
    weights = dict(list(model.state_dict().items())[::order])
    momentum = {name: torch.full_like(t, 0.5) for name, t in weights.items()}
    return Checkpoint(model.config, job_id=4, expert=1, version=2, weights=weights, momentum=momentum)


def test_bytes_do_not_depend_on_insertion_order_and_round_trip() -> None:
    data = _checkpoint().to_bytes()
    assert data == _checkpoint(order=-1).to_bytes()
    back = Checkpoint.from_bytes(data)
    assert (back.job_id, back.expert, back.version, back.config) == (4, 1, 2, named_config("tiny"))
    assert all(torch.equal(back.weights[n], t) for n, t in _checkpoint().weights.items())
    assert torch.equal(back.momentum["out.weight"], torch.full_like(back.weights["out.weight"], 0.5))


def test_garbage_is_named() -> None:
    with pytest.raises(CheckpointFileError, match="ckpt-7: not a Paris checkpoint"):
        Checkpoint.from_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}", source="ckpt-7")
