"""The built-in synthetic video set: four visually distinct families, each with its own motion law.

Clip `i` of a set is a pure function of (seed, i), so any subset can be regenerated anywhere without
shipping data. Families differ in palette, shape, size and motion, so shards found by clustering are real
clusters and temporal coherence (colour, size and motion law held across frames) can be measured.

- bouncing balls: warm discs moving at constant velocity, reflecting off the walls
- rotating bars: green bars spinning at constant angular velocity about the centre
- expanding rings: blue rings growing at a constant rate from a random centre
- drifting stripes: violet/yellow sinusoidal gratings translating at constant phase speed
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from paris_node.data.clips import ClipSet

FAMILIES = ("bouncing_balls", "rotating_bars", "expanding_rings", "drifting_stripes")
EDGE = 0.08  # soft edge width, in units of the frame, so shapes are antialiased


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    coords = (np.arange(size) + 0.5) / size
    return np.meshgrid(coords, coords, indexing="xy")


def _soft(distance: np.ndarray, size: int) -> np.ndarray:
    """Coverage in [0, 1] of a shape given signed distance (negative inside), one pixel of antialiasing."""
    return np.clip(0.5 - distance * size, 0.0, 1.0)


def _composite(background: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return background[:, None, None] * (1 - alpha) + colour[:, None, None] * alpha


def _bouncing_balls(rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    xs, ys = _grid(size)
    radius = rng.uniform(0.12, 0.2)
    colour = np.array([rng.uniform(0.8, 1.0), rng.uniform(0.2, 0.6), rng.uniform(0.0, 0.2)])
    background = np.array([0.1, 0.05, 0.05])
    pos = rng.uniform(radius, 1 - radius, size=2)
    vel = rng.uniform(0.04, 0.09, size=2) * rng.choice([-1, 1], size=2)
    out = []
    for _ in range(frames):
        distance = np.hypot(xs - pos[0], ys - pos[1]) - radius
        out.append(_composite(background, colour, _soft(distance, size)))
        pos = pos + vel
        for axis in range(2):  # reflect off the walls
            if not radius <= pos[axis] <= 1 - radius:
                vel[axis] = -vel[axis]
                pos[axis] = np.clip(pos[axis], radius, 1 - radius)
    return np.stack(out)


def _rotating_bars(rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    xs, ys = _grid(size)
    length, width = rng.uniform(0.3, 0.45), rng.uniform(0.05, 0.09)
    angle, omega = rng.uniform(0, np.pi), rng.uniform(0.15, 0.3) * rng.choice([-1, 1])
    colour = np.array([rng.uniform(0.1, 0.3), rng.uniform(0.7, 1.0), rng.uniform(0.2, 0.4)])
    background = np.array([0.05, 0.1, 0.05])
    out = []
    for step in range(frames):
        theta = angle + omega * step
        along = (xs - 0.5) * np.cos(theta) + (ys - 0.5) * np.sin(theta)
        across = -(xs - 0.5) * np.sin(theta) + (ys - 0.5) * np.cos(theta)
        distance = np.maximum(np.abs(along) - length, np.abs(across) - width / 2)
        out.append(_composite(background, colour, _soft(distance, size)))
    return np.stack(out)


def _expanding_rings(rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    xs, ys = _grid(size)
    centre = rng.uniform(0.35, 0.65, size=2)
    radius, growth, thickness = rng.uniform(0.05, 0.12), rng.uniform(0.025, 0.045), rng.uniform(0.05, 0.08)
    colour = np.array([rng.uniform(0.1, 0.3), rng.uniform(0.4, 0.7), rng.uniform(0.8, 1.0)])
    background = np.array([0.02, 0.02, 0.12])
    out = []
    for step in range(frames):
        r = radius + growth * step
        distance = np.abs(np.hypot(xs - centre[0], ys - centre[1]) - r) - thickness / 2
        out.append(_composite(background, colour, _soft(distance, size)))
    return np.stack(out)


def _drifting_stripes(rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    xs, ys = _grid(size)
    frequency, orientation = rng.uniform(2.0, 4.0), rng.uniform(0, np.pi)
    phase, speed = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 0.6) * rng.choice([-1, 1])
    dark = np.array([0.35, 0.1, 0.45])
    light = np.array([0.95, 0.85, 0.2])
    coordinate = xs * np.cos(orientation) + ys * np.sin(orientation)
    out = []
    for step in range(frames):
        mix = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * coordinate + phase + speed * step)
        out.append(_composite(dark, light, mix))
    return np.stack(out)


_RENDER: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "bouncing_balls": _bouncing_balls, "rotating_bars": _rotating_bars,
    "expanding_rings": _expanding_rings, "drifting_stripes": _drifting_stripes,
}


def synthetic_clip(seed: int, index: int, frames: int = 8, size: int = 32) -> tuple[np.ndarray, int]:
    """Clip `index` of the set with `seed`: (frames, 3, size, size) in [-1, 1], and its family index."""
    rng = np.random.default_rng([seed, index])
    family = int(rng.integers(len(FAMILIES)))
    video = _RENDER[FAMILIES[family]](rng, frames, size)  # (frames, 3, H, W) in [0, 1]
    return (video * 2 - 1).astype(np.float32), family


def synthetic_set(count: int, seed: int = 0, frames: int = 8, size: int = 32, start: int = 0) -> ClipSet:
    """Clips start..start+count-1 of the set with `seed`, labelled by family."""
    clips = [synthetic_clip(seed, i, frames, size) for i in range(start, start + count)]
    videos = torch.from_numpy(np.stack([c for c, _ in clips]))
    families = torch.tensor([f for _, f in clips], dtype=torch.long)
    return ClipSet(videos, families, [f"synthetic-{seed}-{i}" for i in range(start, start + count)])
