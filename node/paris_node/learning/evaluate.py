"""Held-out flow-matching loss: how validators score useful work and how benchmarks compare models."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from paris_node.learning.train import deterministic
from paris_node.model.dit import DiTConfig, VideoDiT
from paris_node.model.flow import logit_normal_t, noised


def clip_losses(config: DiTConfig, weights: dict[str, torch.Tensor], videos: torch.Tensor, seeds: Sequence[int],
                draws: int = 4, threads: int = 2) -> torch.Tensor:
    """Each clip's velocity MSE over `draws` noise/time draws from its own seed (unconditional; eval mode, no
    grad), so a clip's loss does not depend on which clips share its batch's draws."""
    with deterministic(threads), torch.no_grad():
        model = VideoDiT(config)
        model.load_state_dict(weights)
        model.eval()
        generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        total = torch.zeros(len(videos), dtype=torch.float64)
        for _ in range(draws):
            t = torch.cat([logit_normal_t(1, g) for g in generators])
            noise = torch.stack([torch.randn(videos.shape[1:], generator=g) for g in generators])
            error = (model(noised(videos, t, noise), t) - (videos - noise)) ** 2
            total += error.flatten(1).mean(1).double()
    return total / draws


def held_out_loss(config: DiTConfig, weights: dict[str, torch.Tensor], videos: torch.Tensor, seed: int,
                  draws: int = 4, threads: int = 2) -> float:
    """Mean of `clip_losses` over `videos`, clip i drawing from seed + i."""
    return float(clip_losses(config, weights, videos, range(seed, seed + len(videos)), draws, threads).mean())
