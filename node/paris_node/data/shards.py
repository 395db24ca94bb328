"""Clustering clips into K shards, one per expert.

Features need no downloaded weights and are computed identically on synthetic and real clips:
- colour: a coarse 3x3x3 RGB histogram, square-rooted (Hellinger) so that small colour masses such as
  an object's still count; it separates palettes that per-channel means blur together,
- motion: mean absolute frame-to-frame change (static vs moving content),
- texture: mean spatial gradient and the share of spectral energy in low/mid/high radial bands
  (gratings vs blobs vs fine detail).
They are z-scored and clustered by k-means (k-means++ seeding, several restarts, best inertia kept),
deterministic for a seed. A 30-line numpy k-means keeps the dependency list free of scikit-learn/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from paris_node.data.clips import ClipSet

RESTARTS = 4
ITERATIONS = 50
HISTOGRAM_BINS = 3
EVAL_EVERY = 8  # one clip in this many of each shard is held out for scoring, when every shard has that many


def colour_histogram(videos: torch.Tensor, bins: int = HISTOGRAM_BINS) -> torch.Tensor:
    """(N, T, C, H, W) in [-1, 1] -> (N, bins**3) square-rooted RGB histogram over all frames."""
    level = ((videos.float().clamp(-1, 1) + 1) / 2 * bins).long().clamp(max=bins - 1)
    cell = (level[:, :, 0] * bins + level[:, :, 1]) * bins + level[:, :, 2]
    counts = torch.stack([torch.bincount(c.flatten(), minlength=bins**3) for c in cell]).float()
    return (counts / counts.sum(dim=1, keepdim=True)).sqrt()


def clip_features(videos: torch.Tensor) -> np.ndarray:
    """(N, T, C, H, W) -> (N, 27 + 5) features."""
    x = videos.float()
    motion = (x[:, 1:] - x[:, :-1]).abs().mean(dim=(1, 2, 3, 4))[:, None]
    gray = x.mean(dim=2)  # (N, T, H, W)
    gradient = ((gray[..., 1:, :] - gray[..., :-1, :]).abs().mean(dim=(1, 2, 3))
                + (gray[..., :, 1:] - gray[..., :, :-1]).abs().mean(dim=(1, 2, 3)))[:, None]
    spectrum = torch.fft.fft2(gray - gray.mean(dim=(-2, -1), keepdim=True)).abs().pow(2).mean(dim=1)
    height, width = spectrum.shape[-2:]
    fy = torch.fft.fftfreq(height).abs()[:, None]
    fx = torch.fft.fftfreq(width).abs()[None, :]
    radius = torch.sqrt(fx**2 + fy**2)
    total = spectrum.sum(dim=(-2, -1)) + 1e-8
    bands = [((radius >= lo) & (radius < hi)).float() for lo, hi in ((0, 0.1), (0.1, 0.25), (0.25, 1.0))]
    band_share = torch.stack([(spectrum * band).sum(dim=(-2, -1)) / total for band in bands], dim=-1)
    features = [colour_histogram(videos), motion, gradient, band_share]
    return torch.cat(features, dim=-1).numpy().astype(np.float64)


def _kmeans(points: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    centroids = [points[rng.integers(len(points))]]
    for _ in range(1, k):  # k-means++: spread the seeds out
        distance = np.min([((points - c) ** 2).sum(axis=1) for c in centroids], axis=0)
        total = distance.sum()
        pick = rng.choice(len(points), p=distance / total) if total > 0 else rng.integers(len(points))
        centroids.append(points[pick])
    centres = np.array(centroids)
    for _ in range(ITERATIONS):
        labels = ((points[:, None, :] - centres[None]) ** 2).sum(axis=-1).argmin(axis=1)
        updated = np.array([points[labels == j].mean(axis=0) if (labels == j).any() else centres[j]
                            for j in range(k)])
        if np.allclose(updated, centres):
            break
        centres = updated
    labels = ((points[:, None, :] - centres[None]) ** 2).sum(axis=-1).argmin(axis=1)
    inertia = float(((points - centres[labels]) ** 2).sum())
    return labels, centres, inertia


@dataclass(frozen=True)
class Sharding:
    """A fitted clustering: assigns any clip to the shard whose centroid is nearest."""

    centroids: np.ndarray  # (K, F) in z-scored feature space
    mean: np.ndarray
    std: np.ndarray

    def assign(self, videos: torch.Tensor) -> torch.Tensor:
        z = (clip_features(videos) - self.mean) / self.std
        return torch.from_numpy(((z[:, None, :] - self.centroids[None]) ** 2).sum(axis=-1).argmin(axis=1))


def fit_shards(clips: ClipSet, k: int, seed: int = 0) -> tuple[Sharding, torch.Tensor]:
    """Cluster clips into k shards; returns the fitted sharding and each clip's shard index."""
    if not 1 <= k <= len(clips):
        raise ValueError(f"cannot cut {len(clips)} clips into {k} shards")
    features = clip_features(clips.videos)
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-8
    z = (features - mean) / std
    rng = np.random.default_rng(seed)
    labels, centres, _ = min((_kmeans(z, k, rng) for _ in range(RESTARTS)), key=lambda run: run[2])
    return Sharding(centres, mean, std), torch.from_numpy(labels)


def split_shards(clips: ClipSet, shard_of: torch.Tensor, k: int) -> list[ClipSet]:
    """One ClipSet per shard (clips keep their own labels)."""
    return [clips.subset(torch.nonzero(shard_of == j).flatten()) for j in range(k)]


def hold_out(shards: list[ClipSet], every: int = EVAL_EVERY) -> tuple[list[ClipSet], list[ClipSet]]:
    """(training shards, evaluation sets): every `every`-th clip of each shard goes to its evaluation set,
    which no miner is ever assigned, so a delta is scored on clips nobody trained on. No evaluation sets (an
    empty list) when some shard has fewer than `every` clips: too few to spare."""
    if any(len(shard) < every for shard in shards):
        return shards, []
    kept = [shard.subset(torch.tensor([i for i in range(len(shard)) if i % every])) for shard in shards]
    return kept, [shard.subset(torch.arange(0, len(shard), every)) for shard in shards]
