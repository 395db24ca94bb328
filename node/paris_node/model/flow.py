"""Rectified flow: the training loss and the ODE samplers.

Convention: x_t = (1 - t) * noise + t * data, so t = 0 is pure noise, t = 1 is data, and the target
velocity is data - noise. Training times are logit-normal (more weight mid-trajectory, as in SD3).
Samplers integrate from t = 0 to 1 with a velocity function v(x, t), which may be one expert, a
guided expert, or the router-weighted mix of several.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import torch
import torch.nn.functional as F

from paris_node.model.dit import VideoDiT

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def logit_normal_t(batch: int, generator: torch.Generator, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    return torch.sigmoid(mean + std * torch.randn(batch, generator=generator))


def noised(clips: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    shape = (-1,) + (1,) * (clips.ndim - 1)
    return (1 - t.view(shape)) * noise + t.view(shape) * clips


def flow_matching_loss(model: VideoDiT, clips: torch.Tensor, generator: torch.Generator,
                       labels: torch.Tensor | None = None, label_dropout: float = 0.1) -> torch.Tensor:
    """MSE between predicted and true velocity at random times. All randomness comes from `generator`,
    so a step is reproducible from its seed. Labels are dropped to the null label with probability
    `label_dropout`, which is what classifier-free guidance needs at sampling time."""
    batch, device = clips.shape[0], clips.device
    t = logit_normal_t(batch, generator).to(device)  # drawn on the CPU generator: the same on every device
    noise = torch.randn(clips.shape, generator=generator).to(device)
    if labels is not None:
        drop = (torch.rand(batch, generator=generator) < label_dropout).to(device)
        labels = torch.where(drop, torch.full_like(labels, model.config.num_labels), labels)
    target = clips - noise
    return F.mse_loss(model(noised(clips, t, noise), t, labels), target)


def guided(model: VideoDiT, labels: torch.Tensor | None, scale: float = 1.0) -> Velocity:
    """v(x, t) of one expert; with a label and scale != 1, classifier-free guidance against the null label."""
    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        conditional = model(x, t, labels)
        if labels is None or scale == 1.0:
            return conditional
        unconditional = model(x, t, None)
        return unconditional + scale * (conditional - unconditional)
    return velocity


def euler(velocity: Velocity, noise: torch.Tensor, steps: int) -> torch.Tensor:
    x = noise
    times = torch.linspace(0.0, 1.0, steps + 1)
    for t0, t1 in pairwise(times):
        x = x + (t1 - t0) * velocity(x, t0.expand(x.shape[0]))
    return x


def heun(velocity: Velocity, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """Second order: an Euler predictor, then the average of the slopes at both ends."""
    x = noise
    times = torch.linspace(0.0, 1.0, steps + 1)
    for t0, t1 in pairwise(times):
        v0 = velocity(x, t0.expand(x.shape[0]))
        predicted = x + (t1 - t0) * v0
        v1 = velocity(predicted, t1.expand(x.shape[0]))
        x = x + (t1 - t0) * 0.5 * (v0 + v1)
    return x


SAMPLERS = {"euler": euler, "heun": heun}
