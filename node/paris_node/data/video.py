"""Reading and writing video files with imageio: GIF through Pillow, MP4 and WebM through the ffmpeg
binary that imageio-ffmpeg ships (nothing to install, nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

VIDEO_SUFFIXES = (".mp4", ".gif", ".webm", ".mov", ".mkv", ".avi")


class VideoError(ValueError):
    """A video file that cannot be read or written; the message names it."""


def read_video(path: Path) -> np.ndarray:
    """All frames of a video as uint8 (T, H, W, 3)."""
    try:
        plugin = "pillow" if path.suffix.lower() == ".gif" else "FFMPEG"
        frames = np.asarray(iio.imread(path, index=None, plugin=plugin))
    except Exception as exc:  # imageio and its plugins raise many types for undecodable input
        raise VideoError(f"{path}: not a decodable video: {exc}") from exc
    if frames.ndim == 3:  # grayscale (T, H, W)
        frames = np.repeat(frames[..., None], 3, axis=-1)
    if frames.ndim != 4 or frames.shape[-1] not in (3, 4) or len(frames) == 0:
        raise VideoError(f"{path}: decoded to shape {frames.shape}, not a colour video")
    return frames[..., :3].astype(np.uint8)


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
