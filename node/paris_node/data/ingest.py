"""A folder of video files -> a ClipSet of equal-length, equal-size clips in [-1, 1].

Each video is cut into consecutive clips of `frames` frames (a remainder shorter than a clip is dropped),
decoded and resized a clip at a time, so an HD source costs the memory of one clip. Without `size`, every
video must already share one square-or-not resolution; with `size`, frames are centre-cropped to a square
and resized (antialiased) so mixed sources can be combined.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from paris_node.data.clips import ClipSet, ClipSetError
from paris_node.data.video import VIDEO_SUFFIXES, read_clips, read_video

log = logging.getLogger(__name__)


def _to_square(video: torch.Tensor, size: int) -> torch.Tensor:
    """(T, C, H, W) -> centre-cropped (T, C, size, size)."""
    _, _, height, width = video.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    cropped = video[:, :, top:top + side, left:left + side]
    return F.interpolate(cropped, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def ingest_folder(folder: Path, frames: int = 8, size: int | None = None,
                  on_file: Callable[[int, int], None] | None = None) -> ClipSet:
    """Every video file in `folder` (sorted by name), cut into clips; errors name the offending file.
    `on_file(done, total)` is told as each file is read."""
    if not folder.is_dir():
        raise ClipSetError(f"{folder}: not a folder of clips")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not files:
        raise ClipSetError(f"{folder}: no video files (looked for {', '.join(VIDEO_SUFFIXES)})")
    clips: list[torch.Tensor] = []
    names: list[str] = []
    shape: tuple[int, int] | None = None
    for done, path in enumerate(files):
        if on_file is not None:
            on_file(done, len(files))
        count = 0
        for video in read_clips(path, frames):  # raises VideoError naming the file
            clip = torch.from_numpy(video).permute(0, 3, 1, 2).float() / 127.5 - 1.0
            if size is not None:
                clip = _to_square(clip, size).clamp(-1, 1)
            elif shape is None:
                shape = (clip.shape[-2], clip.shape[-1])
            elif tuple(clip.shape[-2:]) != shape:
                raise ClipSetError(f"{path}: frames are {clip.shape[-2]}x{clip.shape[-1]} but {files[0].name} is "
                                   f"{shape[0]}x{shape[1]}; pass a size to resize every clip")
            clips.append(clip)
            names.append(f"{path.name}#{count}")
            count += 1
        if count == 0:
            raise ClipSetError(f"{path}: has {len(read_video(path))} frames, a clip needs {frames}")
        log.debug("%s: %d clips of %d frames", path.name, count, frames)
    if on_file is not None:
        on_file(len(files), len(files))
    return ClipSet(torch.stack(clips), None, names)


def to_uint8(videos: torch.Tensor) -> np.ndarray:
    """(B, T, C, H, W) in [-1, 1] -> uint8 (B, T, H, W, C), the layout video files and metrics use."""
    scaled = ((videos.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return scaled.permute(0, 1, 3, 4, 2).numpy()
