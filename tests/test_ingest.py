"""Video folders and checkpoints that cannot be used get errors naming the file and the problem."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from paris_node.data.clips import ClipSet, ClipSetError
from paris_node.data.ingest import ingest_folder
from paris_node.data.video import VideoError, write_video
from paris_node.model.dit import DiTConfig, VideoDiT, named_config
from paris_node.model.folder import ModelFolderError, load_module, save_module


def _video(path: Path, frames: int = 10, height: int = 32, width: int = 32) -> Path:
    rng = np.random.default_rng(0)
    return write_video(rng.integers(0, 255, (frames, height, width, 3), dtype=np.uint8), path)


def test_folder_of_videos_becomes_clips(tmp_path: Path) -> None:
    _video(tmp_path / "a.mp4", frames=17)
    _video(tmp_path / "b.gif", frames=8)
    (tmp_path / "notes.txt").write_text("not a video")
    clips = ingest_folder(tmp_path, frames=8)
    assert clips.videos.shape == (3, 8, 3, 32, 32)
    assert clips.names == ["a.mp4#0", "a.mp4#1", "b.gif#0"]
    assert clips.videos.min() >= -1 and clips.videos.max() <= 1


def test_mixed_sizes_name_the_odd_file_unless_resized(tmp_path: Path) -> None:
    _video(tmp_path / "a.mp4")
    _video(tmp_path / "b.mp4", height=48, width=64)
    with pytest.raises(ClipSetError, match=r"b.mp4: frames are 48x64 but a.mp4 is 32x32"):
        ingest_folder(tmp_path, frames=8)
    assert ingest_folder(tmp_path, frames=8, size=16).videos.shape == (2, 8, 3, 16, 16)


def test_undecodable_video_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.mp4").write_bytes(b"\x00not really an mp4" * 50)
    with pytest.raises(VideoError, match=r"broken.mp4: not a decodable video"):
        ingest_folder(tmp_path)


def test_folder_without_videos_is_named(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(ClipSetError, match="no video files"):
        ingest_folder(tmp_path)


def test_too_short_video_is_named(tmp_path: Path) -> None:
    _video(tmp_path / "short.gif", frames=3)
    with pytest.raises(ClipSetError, match=r"short.gif: has 3 frames, a clip needs 8"):
        ingest_folder(tmp_path, frames=8)


def test_clip_set_bytes_round_trip_and_corruption() -> None:
    clips = ClipSet(torch.rand(2, 8, 3, 8, 8), torch.tensor([0, 1]), ["x", "y"])
    back = ClipSet.from_bytes(clips.to_bytes())
    assert torch.equal(back.videos, clips.videos) and back.names == ["x", "y"]
    with pytest.raises(ClipSetError, match="shard-7: not a Paris clip set"):
        ClipSet.from_bytes(b"garbage" * 10, source="shard-7")


def test_checkpoint_whose_weights_do_not_fit_its_config_is_named(tmp_path: Path) -> None:
    save_module(VideoDiT(named_config("tiny")), named_config("tiny"), tmp_path / "m")
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    config["dim"] = 96
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match=r"model.safetensors: tensor \S+ has shape"):
        load_module(tmp_path / "m", VideoDiT, DiTConfig)
    config["depth"], config["dim"] = 3, 64
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match="missing"):
        load_module(tmp_path / "m", VideoDiT, DiTConfig)
    config_path.write_text(json.dumps({**config, "depth": 2, "widht": 3}))
    with pytest.raises(ModelFolderError, match=r"config.json: unknown config keys \['widht'\]"):
        load_module(tmp_path / "m", VideoDiT, DiTConfig)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = VideoDiT(named_config("tiny"))
    torch.nn.init.normal_(model.out.weight)
    save_module(model, model.config, tmp_path / "m")
    loaded = load_module(tmp_path / "m", VideoDiT, DiTConfig)
    pairs = zip(model.state_dict().values(), loaded.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
