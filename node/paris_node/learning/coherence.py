"""Temporal coherence of a clip, one number in [0, 1], computed the same way on real clips and samples.

A coherent clip shows an object, keeps its colour and size across frames, moves it smoothly (its centroid
follows a near-constant-velocity law, as every synthetic family does between wall bounces), and changes
less between adjacent frames than between distant ones, and by little overall. Each property gives a
score in [0, 1]; the clip's coherence is their geometric mean, so a clip must have all of them (noise
has stable mean colour and a fixed centroid, but no small, smooth changes). Shuffling a clip's frames
keeps colour and size but breaks the motion law and the smooth changes.
"""

from __future__ import annotations

import numpy as np
import torch

FOREGROUND_THRESHOLD = 0.15  # colour distance (0..1 scale) from the border colour that counts as object
COLOUR_SCALE, SIZE_SCALE, JERK_SCALE, CHANGE_SCALE = 0.05, 0.1, 0.02, 0.1
MIN_OBJECT_AREA = 0.01  # share of the frame an object must cover to count as present
FLOOR = 1e-3  # keeps the geometric mean defined when one property fails completely


def _components(clip: np.ndarray) -> tuple[float, ...]:
    """clip: (T, H, W, 3) float in [0, 1]."""
    frames, height, width, _ = clip.shape
    border = np.concatenate([clip[:, 0], clip[:, -1], clip[:, :, 0], clip[:, :, -1]], axis=1)
    background = np.median(border, axis=1)  # (T, 3)
    mask = np.abs(clip - background[:, None, None, :]).mean(axis=-1) > FOREGROUND_THRESHOLD  # (T, H, W)
    area = mask.reshape(frames, -1).mean(axis=1) + 1e-6
    presence_score = float(np.minimum(area / MIN_OBJECT_AREA, 1.0).mean())  # a blank clip has nothing to keep

    weights = mask[..., None].astype(np.float64)
    colour = (clip * weights).sum(axis=(1, 2)) / (weights.sum(axis=(1, 2)) + 1e-6)
    colour_score = float(np.exp(-colour.std(axis=0).mean() / COLOUR_SCALE))
    size_score = float(np.exp(-(area.std() / area.mean()) / SIZE_SCALE))

    ys, xs = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    centroid = np.stack([(mask * ys).sum(axis=(1, 2)), (mask * xs).sum(axis=(1, 2))], axis=-1) / area[:, None] / (
        height * width)
    jerk = np.abs(np.diff(centroid, n=2, axis=0)).mean() if frames > 2 else 0.0
    motion_law_score = float(np.exp(-jerk / JERK_SCALE))

    flat = clip.reshape(frames, -1)
    adjacent = np.abs(np.diff(flat, axis=0)).mean()
    distant = [np.abs(flat[j] - flat[i]).mean() for i in range(frames) for j in range(i + 2, frames)]
    spread = float(np.mean(distant)) if distant else 0.0
    smoothness_score = 1.0 if spread < 1e-3 else float(np.clip(1 - adjacent / spread, 0, 1))
    change_score = float(np.exp(-adjacent / CHANGE_SCALE))
    return presence_score, colour_score, size_score, motion_law_score, smoothness_score, change_score


def coherence(videos: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per-clip coherence for (B, T, C, H, W) tensors in [-1, 1] or uint8 arrays (B, T, H, W, C)."""
    if isinstance(videos, torch.Tensor):
        clips = ((videos.detach().float().clamp(-1, 1) + 1) / 2).permute(0, 1, 3, 4, 2).numpy()
    else:
        clips = videos.astype(np.float64) / 255.0
    return np.array([np.exp(np.log(np.maximum(_components(clip), FLOOR)).mean()) for clip in clips])
