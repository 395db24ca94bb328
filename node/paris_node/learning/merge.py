"""The aggregator's outer step (DiLoCo): merge passing pseudo-gradients into the next checkpoint.

The outer gradient is the mean of the merged deltas weighted by score x staleness weight
(`decay ** staleness`, so a straggler's late delta still counts, less), each score capped at twice the
merge's lower median (`capped_scores`, as the contract prices them); deltas staler than the bound are
refused. Nesterov momentum then moves the weights: m <- mu * m + g; theta <- theta - lr * (g + mu * m).
The defaults suit codec v2's sparse 1-bit deltas: lr 3 and no momentum (the miners' error feedback does
momentum's work, as in SparseLoCo); dense DiLoCo's lr 0.7 with Nesterov 0.9 overshoots on them.
A job may also keep an exponential moving average of each expert's weights over versions (`ema_step`),
which is what samples are drawn from. Everything runs in float32, single-threaded, in delta-id order, so
anyone holding the previous checkpoint and the on-chain list of delta CIDs rebuilds the same bytes, hence
the same checkpoint CID.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from paris_node.learning.train import deterministic
from paris_node.settings import UINT16, check


class MergeError(ValueError):
    """A merge that must not happen; the message names the delta or parameter."""


@dataclass(frozen=True)
class OuterParams:
    lr: float = 3.0
    momentum: float = 0.0
    staleness_decay: float = 0.5
    staleness_bound: int = 1
    ema_decay: float = 0.0  # 0: the job keeps no EMA of its checkpoints; else the EMA's decay, warmed up

    def __post_init__(self) -> None:
        check("outer.lr", self.lr, 0, None, integer=False, above=True)
        check("outer.momentum", self.momentum, 0, 1, integer=False, below=True)
        check("outer.staleness_decay", self.staleness_decay, 0, 1, integer=False)
        check("outer.staleness_bound", self.staleness_bound, 0, UINT16)
        check("ema_decay", self.ema_decay, 0, 1, integer=False, below=True)


@dataclass(frozen=True)
class MergeInput:
    delta_id: int
    update: dict[str, torch.Tensor]  # decoded pseudo-gradient (base - local)
    score: int  # validators' summed score
    staleness: int  # current version - the delta's base version


SCORE_CAP_X_MEDIAN = 2  # the contract's constant of the same name


def capped_scores(scores: list[int]) -> list[int]:
    """Each score capped at SCORE_CAP_X_MEDIAN x the lower median of them all: however a delta reached its
    score, it weighs at most that much more than the round's typical delta (the contract's `_capScores`)."""
    cap = SCORE_CAP_X_MEDIAN * sorted(scores)[(len(scores) - 1) // 2] if scores else 0
    return [min(score, cap) for score in scores]


def merge_weights(inputs: list[MergeInput], params: OuterParams) -> list[float]:
    """Normalized weight of each input (same order); equal weights when every score is zero."""
    for item in inputs:
        if not 0 <= item.staleness <= params.staleness_bound:
            raise MergeError(f"delta {item.delta_id:#x}: staleness {item.staleness} outside "
                             f"0..{params.staleness_bound}")
    scores = capped_scores([item.score for item in inputs])
    raw = [score * params.staleness_decay**item.staleness for score, item in zip(scores, inputs, strict=True)]
    if sum(raw) == 0:
        raw = [params.staleness_decay**item.staleness for item in inputs]
    total = sum(raw)
    return [w / total for w in raw]


def ema_decay_at(version: int, params: OuterParams) -> float:
    """The EMA's decay when producing `version`: warmed up as (1 + v) / (10 + v) so that a short job's EMA is
    not dominated by the untrained initial weights, and capped by the job's `ema_decay`."""
    return min(params.ema_decay, (1 + version) / (10 + version))


def ema_step(ema: dict[str, torch.Tensor], weights: dict[str, torch.Tensor], version: int,
             params: OuterParams) -> dict[str, torch.Tensor]:
    """The EMA after checkpoint `version` (`weights`): decay * previous + (1 - decay) * weights, in float32 and
    name order, so it is as reproducible as the merge. An empty `ema` starts from these weights."""
    if params.ema_decay == 0:
        return {}
    decay = ema_decay_at(version, params)
    with deterministic(threads=1):
        return {name: (decay * ema[name].float() + (1 - decay) * weights[name].float()) if name in ema
                else weights[name].float().clone() for name in sorted(weights)}


def outer_step(weights: dict[str, torch.Tensor], momentum: dict[str, torch.Tensor], inputs: list[MergeInput],
               params: OuterParams) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """New (weights, momentum) after merging `inputs`; bit-for-bit reproducible on CPU."""
    if not inputs:
        raise MergeError("nothing to merge")
    ordered = sorted(inputs, key=lambda item: item.delta_id)
    if len({item.delta_id for item in ordered}) != len(ordered):
        raise MergeError("the same delta appears twice in one merge")
    mix = merge_weights(ordered, params)
    new_weights, new_momentum = {}, {}
    with deterministic(threads=1):
        for name in sorted(weights):
            gradient = torch.zeros_like(weights[name], dtype=torch.float32)
            for item, share in zip(ordered, mix, strict=True):
                if name not in item.update or item.update[name].shape != weights[name].shape:
                    raise MergeError(f"delta {item.delta_id:#x}: tensor {name} is missing or misshapen")
                gradient += share * item.update[name].float()
            m = params.momentum * momentum.get(name, torch.zeros_like(gradient)) + gradient
            if params.momentum:  # without momentum the checkpoint carries none
                new_momentum[name] = m
            new_weights[name] = weights[name].float() - params.lr * (gradient + params.momentum * m)
    return new_weights, new_momentum
