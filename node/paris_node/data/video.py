"""Reading and writing video files with imageio: GIF through Pillow, MP4 and WebM through the ffmpeg
binary that imageio-ffmpeg ships (nothing to install, nothing downloaded)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import imageio.v3 as iio
import numpy as np

VIDEO_SUFFIXES = (".mp4", ".gif", ".webm", ".mov", ".mkv", ".avi")


class VideoError(ValueError):
    """A video file that cannot be read or written; the message names it."""


def _plugin(path: Path) -> str:
    return "pillow" if path.suffix.lower() == ".gif" else "FFMPEG"


def _colour(path: Path, frames: np.ndarray) -> np.ndarray:
    """Frames (T, H, W[, C]) as uint8 RGB (T, H, W, 3), or a VideoError naming the file."""
    if frames.ndim == 3:  # grayscale (T, H, W)
        frames = np.repeat(frames[..., None], 3, axis=-1)
    if frames.ndim != 4 or frames.shape[-1] not in (3, 4) or len(frames) == 0:
        raise VideoError(f"{path}: decoded to shape {frames.shape}, not a colour video")
    return frames[..., :3].astype(np.uint8)


def read_video(path: Path) -> np.ndarray:
    """All frames of a video as uint8 (T, H, W, 3)."""
    try:
        frames = np.asarray(iio.imread(path, index=None, plugin=_plugin(path)))
    except Exception as exc:  # imageio and its plugins raise many types for undecodable input
        raise VideoError(f"{path}: not a decodable video: {exc}") from exc
    return _colour(path, frames)


def read_clips(path: Path, frames: int) -> Iterator[np.ndarray]:
    """Consecutive clips of `frames` frames as uint8 (frames, H, W, 3), decoded one clip at a time, so a long
    or high-resolution video never sits in memory whole; a remainder shorter than a clip is dropped."""
    pending: list[np.ndarray] = []
    try:
        for frame in iio.imiter(path, plugin=_plugin(path)):
            pending.append(np.asarray(frame))
            if len(pending) == frames:
                yield _colour(path, np.stack(pending))
                pending = []
    except VideoError:
        raise
    except Exception as exc:  # imageio and its plugins raise many types for undecodable input
        raise VideoError(f"{path}: not a decodable video: {exc}") from exc


def write_strip(rows: np.ndarray, path: Path, gap: int = 2) -> Path:
    """Write clips as one still image (PNG by suffix): one clip per row, its frames left to right, `gap` white
    pixels between them, so real and generated clips can be compared at a glance. `rows`: uint8 (N, T, H, W, 3)."""
    count, frames, height, width, _ = rows.shape
    canvas = np.full((count * (height + gap) - gap, frames * (width + gap) - gap, 3), 255, dtype=np.uint8)
    for r in range(count):
        for f in range(frames):
            top, left = r * (height + gap), f * (width + gap)
            canvas[top:top + height, left:left + width] = rows[r, f]
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, canvas)
    return path


def write_video(frames: np.ndarray, path: Path, fps: int = 8) -> Path:
    """Write uint8 (T, H, W, 3) frames as GIF or MP4 (by suffix); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        iio.imwrite(path, frames, duration=1000 / fps, loop=0)
    elif suffix in (".mp4", ".webm"):
        codec = "libx264" if suffix == ".mp4" else "libvpx"
        iio.imwrite(path, frames, plugin="FFMPEG", fps=fps, codec=codec, macro_block_size=1)
    else:
        raise VideoError(f"{path}: cannot write {suffix or 'suffix-less'} files; use .gif, .mp4 or .webm")
    return path
