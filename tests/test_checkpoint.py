"""Network checkpoints: byte-deterministic (so a merge's CID is reproducible) and strict on read."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from paris_node.learning.checkpoint import Checkpoint, CheckpointFileError
from paris_node.learning.merge import OuterParams, ema_decay_at, ema_step
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


def test_a_checkpoint_carries_its_ema_and_one_without_reads_as_before() -> None:
    plain = _checkpoint()
    assert Checkpoint.from_bytes(plain.to_bytes()).ema == {} and plain.sampling_weights is plain.weights
    ema = {name: t + 1 for name, t in plain.weights.items()}
    with_ema = dataclasses.replace(plain, ema=ema)
    back = Checkpoint.from_bytes(with_ema.to_bytes())
    assert with_ema.to_bytes() != plain.to_bytes() and all(torch.equal(back.ema[n], t) for n, t in ema.items())
    assert back.sampling_weights is back.ema
    partial = dataclasses.replace(plain, ema={"out.weight": plain.weights["out.weight"].clone()})
    with pytest.raises(CheckpointFileError, match="EMA does not cover the same tensors"):
        Checkpoint.from_bytes(partial.to_bytes(), source="ckpt-9")


def test_the_ema_is_warmed_up_capped_and_reproducible() -> None:
    params = OuterParams(ema_decay=0.5)
    assert ema_decay_at(1, params) == pytest.approx(2 / 11) and ema_decay_at(100, params) == 0.5
    previous, weights = {"w": torch.tensor([1.0, 3.0])}, {"w": torch.tensor([3.0, 5.0])}
    ema = ema_step(previous, weights, 100, params)
    assert torch.equal(ema["w"], torch.tensor([2.0, 4.0])) and torch.equal(ema_step(previous, weights, 100,
                                                                                    params)["w"], ema["w"])
    assert ema_step({}, weights, 1, params)["w"].tolist() == [3.0, 5.0]  # starts from the first weights
    assert ema_step(previous, weights, 1, OuterParams()) == {}  # a job that keeps none
    with pytest.raises(ValueError, match=r"ema_decay 1\.0: must be below 1"):
        OuterParams(ema_decay=1.0)
