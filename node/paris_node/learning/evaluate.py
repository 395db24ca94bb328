"""Held-out flow-matching loss: how validators score useful work and how benchmarks compare models."""

from __future__ import annotations

import torch

from paris_node.learning.train import deterministic
from paris_node.model.dit import DiTConfig, VideoDiT
from paris_node.model.flow import logit_normal_t, noised


def held_out_loss(config: DiTConfig, weights: dict[str, torch.Tensor], videos: torch.Tensor, seed: int,
                  draws: int = 4, threads: int = 2) -> float:
    """Mean velocity MSE over `draws` noise/time draws from `seed` (unconditional; eval mode, no grad)."""
    with deterministic(threads), torch.no_grad():
        model = VideoDiT(config)
        model.load_state_dict(weights)
        model.eval()
        generator = torch.Generator().manual_seed(seed)
        total = 0.0
        for _ in range(draws):
            t = logit_normal_t(len(videos), generator)
            noise = torch.randn(videos.shape, generator=generator)
            total += torch.mean((model(noised(videos, t, noise), t) - (videos - noise)) ** 2).item()
    return total / draws
