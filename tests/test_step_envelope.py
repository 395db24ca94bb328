"""The AdamW step envelope: what no honest training exceeds, and the forged final state it refuses."""

from __future__ import annotations

import pytest
import torch

from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.jobspec import JobSpec
from paris_node.learning.train import TrainState
from paris_node.model.dit import VideoDiT, named_config
from paris_validator.checks import CheckFailed, check_step_envelope, step_envelope


def _adamw_travel(gradients: torch.Tensor, lr: float) -> torch.Tensor:
    """How far torch's AdamW (the miners' optimizer) moves each weight under these per-step gradients."""
    weight = torch.zeros(gradients.shape[1], requires_grad=True)
    optimizer = torch.optim.AdamW([weight], lr=lr, weight_decay=0.0, foreach=False)
    for gradient in gradients:
        weight.grad = gradient.clone()
        optimizer.step()
    return weight.detach().abs()


def test_the_envelope_is_lr_for_the_first_step_and_at_most_7_3_lr_for_any_later_one() -> None:
    assert step_envelope(1e-3, 1) == pytest.approx(1e-3)
    late_step = step_envelope(1.0, 20_000) - step_envelope(1.0, 19_999)
    # the limit (1 - b1) / sqrt(1 - b2) / sqrt(1 - b1^2 / b2)
    assert late_step == pytest.approx(0.1 / 0.001**0.5 / (1 - 0.81 / 0.999) ** 0.5, rel=1e-3)
    assert 7.2 < late_step < 7.3


@pytest.mark.parametrize("pattern", ["constant", "random", "spike-after-quiet", "alternating"])
def test_no_gradient_sequence_moves_a_weight_beyond_the_envelope(pattern: str) -> None:
    steps, lr = 40, 1e-3
    g = torch.Generator().manual_seed(0)
    if pattern == "constant":
        gradients = torch.ones(steps, 8)
    elif pattern == "random":
        gradients = torch.randn(steps, 8, generator=g)
    elif pattern == "spike-after-quiet":  # the worst case for Adam: tiny gradients, then large ones of one sign
        gradients = torch.cat([torch.full((steps // 2, 8), 1e-6), torch.ones(steps - steps // 2, 8)])
    else:
        gradients = torch.tensor([(-1.0) ** t for t in range(steps)])[:, None].repeat(1, 8)
    travel = _adamw_travel(gradients, lr)
    assert float(travel.max()) <= step_envelope(lr, steps)
    if pattern == "constant":
        assert float(travel.max()) == pytest.approx(lr * steps, rel=1e-3)  # the envelope is not vacuous


def test_a_final_state_beyond_the_envelope_fails_and_an_honest_one_passes() -> None:
    config = named_config("tiny")
    spec = JobSpec(name="envelope", model=config, shards=("-",), initial=("-",), job_seed=0, local_steps=20)
    torch.manual_seed(0)
    base = Checkpoint(config, 1, 0, 0, dict(VideoDiT(config).state_dict()), {})
    bound = step_envelope(spec.lr, spec.local_steps)
    honest = {n: t + (0.9 * bound if n.endswith("weight") else 0.0) for n, t in base.weights.items()}
    check_step_envelope(spec, base, TrainState(honest))
    poisoned = dict(honest)
    name = next(n for n in poisoned if n.endswith("weight"))
    poisoned[name] = poisoned[name].clone()
    poisoned[name].view(-1)[:144] += 20 * bound  # a few weights pushed far, as a backdoor would
    with pytest.raises(CheckFailed) as caught:
        check_step_envelope(spec, base, TrainState(poisoned))
    assert caught.value.check == "step-envelope" and name in caught.value.detail
    nan = dict(honest, **{name: torch.full_like(honest[name], float("nan"))})
    with pytest.raises(CheckFailed, match="step-envelope"):
        check_step_envelope(spec, base, TrainState(nan))
