"""The outer step: weighting by score and staleness, Nesterov momentum, and bit-exact reproducibility."""

from __future__ import annotations

import hashlib

import pytest
import torch
from safetensors.torch import save as save_safetensors

from paris_node.learning.merge import MergeError, MergeInput, OuterParams, capped_scores, merge_weights, outer_step
from paris_node.model.dit import VideoDiT, named_config


def _inputs(weights: dict[str, torch.Tensor], count: int) -> list[MergeInput]:
    generator = torch.Generator().manual_seed(7)
    return [MergeInput(delta_id=1000 - i, score=1000 * (i + 1), staleness=i % 2,
                       update={n: torch.randn(t.shape, generator=generator) * 1e-3 for n, t in weights.items()})
            for i in range(count)]


def test_weights_follow_score_and_staleness() -> None:
    update = {"w": torch.zeros(1)}
    params = OuterParams(staleness_decay=0.5, staleness_bound=2)
    inputs = [MergeInput(1, update, score=300, staleness=0), MergeInput(2, update, score=200, staleness=1)]
    assert merge_weights(inputs, params) == pytest.approx([0.75, 0.25])
    zero = [MergeInput(1, update, 0, 0), MergeInput(2, update, 0, 1)]
    assert merge_weights(zero, params) == pytest.approx([2 / 3, 1 / 3])
    with pytest.raises(MergeError, match=r"staleness 3 outside 0..2"):
        merge_weights([MergeInput(5, update, 1, 3)], params)


def test_a_score_weighs_at_most_twice_the_merges_lower_median() -> None:
    assert capped_scores([10_000, 100, 100]) == [200, 100, 100]  # an inflated score, capped
    assert capped_scores([3000, 1000]) == [2000, 1000]  # of two, the lower one is the median
    assert capped_scores([150, 100, 120]) == [150, 100, 120]  # within twice: unchanged
    assert capped_scores([7]) == [7] and capped_scores([]) == []
    update = {"w": torch.zeros(1)}
    gamed = [MergeInput(1, update, 10_000, 0), MergeInput(2, update, 100, 0), MergeInput(3, update, 100, 0)]
    assert merge_weights(gamed, OuterParams()) == pytest.approx([0.5, 0.25, 0.25])  # as the contract prices them


def test_nesterov_step_matches_the_formula() -> None:
    weights, momentum = {"w": torch.tensor([1.0, -1.0])}, {"w": torch.tensor([0.5, 0.0])}
    inputs = [MergeInput(1, {"w": torch.tensor([0.2, 0.4])}, 1, 0),
              MergeInput(2, {"w": torch.tensor([0.6, 0.0])}, 1, 0)]
    new_weights, new_momentum = outer_step(weights, momentum, inputs, OuterParams(lr=0.5, momentum=0.9))
    gradient = torch.tensor([0.4, 0.2])
    m = 0.9 * momentum["w"] + gradient
    torch.testing.assert_close(new_momentum["w"], m)
    torch.testing.assert_close(new_weights["w"], weights["w"] - 0.5 * (gradient + 0.9 * m))


def test_the_default_step_is_lr_times_the_gradient_and_keeps_no_momentum() -> None:
    weights = {"w": torch.tensor([1.0, -1.0])}
    new_weights, new_momentum = outer_step(weights, {}, [MergeInput(1, {"w": torch.tensor([0.2, 0.4])}, 1, 0)],
                                           OuterParams())
    torch.testing.assert_close(new_weights["w"], torch.tensor([1.0 - 3.0 * 0.2, -1.0 - 3.0 * 0.4]))
    assert new_momentum == {}


def test_merge_is_bit_exact_whatever_the_input_order() -> None:
    weights = {n: t.clone() for n, t in VideoDiT(named_config("tiny")).state_dict().items()}
    inputs = _inputs(weights, 3)
    digests = set()
    for order in (inputs, list(reversed(inputs)), [inputs[1], inputs[0], inputs[2]]):
        new_weights, new_momentum = outer_step(weights, {}, order, OuterParams(momentum=0.9))
        tensors = {**{f"w/{n}": t for n, t in new_weights.items()}, **{f"m/{n}": t for n, t in new_momentum.items()}}
        digests.add(hashlib.sha256(save_safetensors(tensors)).hexdigest())
    assert len(digests) == 1


def test_bad_merges_are_refused() -> None:
    weights = {"w": torch.zeros(2)}
    with pytest.raises(MergeError, match="nothing to merge"):
        outer_step(weights, {}, [], OuterParams())
    same = MergeInput(9, {"w": torch.zeros(2)}, 1, 0)
    with pytest.raises(MergeError, match="twice"):
        outer_step(weights, {}, [same, same], OuterParams())
    with pytest.raises(MergeError, match="tensor w is missing or misshapen"):
        outer_step(weights, {}, [MergeInput(9, {"w": torch.zeros(3)}, 1, 0)], OuterParams())
