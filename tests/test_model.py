"""The video diffusion core: model sizes, deterministic segments, learning, routing, sampling, files, metric."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from paris_node.data.assignment import assigned_indices
from paris_node.data.shards import fit_shards, split_shards
from paris_node.data.synthetic import FAMILIES, synthetic_set
from paris_node.data.video import read_video, write_strip, write_video
from paris_node.learning.coherence import coherence
from paris_node.learning.train import SegmentSpec, TrainState, run_segment, state_hash
from paris_node.model.dit import VideoDiT, named_config
from paris_node.model.flow import SAMPLERS, flow_matching_loss, guided, noised
from paris_node.model.pipeline import Pipeline
from paris_node.model.router import train_router

TINY = named_config("tiny")
MINER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def clips():
    return synthetic_set(192, seed=11)


def _spec(**overrides) -> SegmentSpec:
    base = dict(job_seed=5, miner=MINER, expert=0, base_version=0, start_step=0, steps=4, batch=4, lr=1e-3)
    return SegmentSpec(**{**base, **overrides})


@pytest.mark.parametrize("name, low, high", [("tiny", 1e5, 1e6), ("small", 1e6, 1e7), ("base", 1e8, 1e9)])
def test_parameter_counts_per_size(name: str, low: float, high: float) -> None:
    with torch.device("meta"):  # count without allocating base's 700 MB
        model = VideoDiT(named_config(name))
    assert low <= sum(p.numel() for p in model.parameters()) < high


def test_forward_shape_and_zero_init() -> None:
    model = VideoDiT(named_config("tiny", num_labels=3))
    x = torch.randn(2, 5, 3, 32, 32)  # fewer frames than trained on: temporal positions are computed
    out = model(x, torch.rand(2), torch.tensor([0, 2]))
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # adaLN-Zero: the untrained model predicts zero velocity


def test_segment_is_deterministic_and_bound_to_its_inputs(clips) -> None:
    state = TrainState.fresh(VideoDiT(TINY))
    first = state_hash(run_segment(TINY, state, clips, _spec()).state)
    assert first == state_hash(run_segment(TINY, state, clips, _spec()).state)
    assert first != state_hash(run_segment(TINY, state, clips, _spec(job_seed=6)).state)
    assert first != state_hash(run_segment(TINY, state, clips, _spec(miner=MINER.replace("7", "8"))).state)
    assert first == state_hash(run_segment(TINY, state, clips, _spec(miner=MINER.lower())).state)


def test_segments_compose_bit_exactly(clips) -> None:
    state = TrainState.fresh(VideoDiT(TINY))
    whole = run_segment(TINY, state, clips, _spec(steps=6))
    half = run_segment(TINY, state, clips, _spec(steps=3))
    rest = run_segment(TINY, half.state, clips, _spec(steps=3, start_step=3))
    assert state_hash(rest.state) == state_hash(whole.state)
    assert rest.state.step == 6


def test_state_hash_is_order_stable_and_dtype_sensitive() -> None:
    weights = {"a": torch.ones(2), "b": torch.zeros(3)}
    assert state_hash(TrainState(weights)) == state_hash(TrainState(dict(reversed(weights.items()))))
    assert state_hash(TrainState(weights)) != state_hash(TrainState({**weights, "a": torch.ones(2).double()}))
    assert state_hash(TrainState(weights)) != state_hash(TrainState(weights, step=1))


def test_assignment_is_pure_and_depends_on_every_input() -> None:
    args = (1, MINER, 0, 3, 7, 100, 8)
    assert np.array_equal(assigned_indices(*args), assigned_indices(*args))
    assert len(set(assigned_indices(*args).tolist())) == 8
    for position, other in enumerate((2, MINER.replace("7", "8"), 1, 4, 8)):
        changed = list(args)
        changed[position] = other
        assert not np.array_equal(assigned_indices(*args), assigned_indices(*changed))


def test_loss_falls_over_a_hundred_tiny_steps(clips) -> None:
    state = TrainState.fresh(VideoDiT(TINY))
    losses = run_segment(TINY, state, clips, _spec(steps=120, batch=8, lr=2e-3)).losses  # to about 0.3 here
    assert np.mean(losses[-30:]) < 0.6 * np.mean(losses[:30])


def test_shards_recover_the_families(clips) -> None:
    _, shard_of = fit_shards(clips, 4, seed=0)
    pairs = Counter(zip(shard_of.tolist(), clips.labels.tolist(), strict=True))
    purity = sum(max(n for (s, _), n in pairs.items() if s == shard) for shard in range(4)) / len(clips)
    assert purity >= 0.9
    shards = split_shards(clips, shard_of, 4)
    assert sum(len(s) for s in shards) == len(clips)


def test_router_beats_chance_on_held_out_clips(clips) -> None:
    sharding, shard_of = fit_shards(clips, 4, seed=0)
    router = train_router(clips, shard_of, experts=4, steps=150, seed=0)
    held_out = synthetic_set(96, seed=12)
    truth = sharding.assign(held_out.videos)
    generator = torch.Generator().manual_seed(1)
    t = 0.5 + 0.5 * torch.rand(len(held_out), generator=generator)
    x_t = noised(held_out.videos, t, torch.randn(held_out.videos.shape, generator=generator))
    with torch.no_grad():
        accuracy = (router(x_t, t).argmax(dim=-1) == truth).float().mean().item()
    assert accuracy > 0.6  # chance is 0.25


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_samplers_return_the_requested_shape(sampler: str) -> None:
    model = VideoDiT(TINY)
    noise = torch.randn(2, 6, 3, 32, 32)
    assert SAMPLERS[sampler](guided(model, None), noise, steps=3).shape == noise.shape


def test_pipeline_round_trips_through_files_and_samples(tmp_path: Path, clips) -> None:
    _, shard_of = fit_shards(clips, 2, seed=0)
    experts = [VideoDiT(TINY) for _ in range(2)]
    for expert in experts:  # nonzero output layers so the samples depend on the weights
        torch.nn.init.normal_(expert.out.weight, std=0.02)
    pipe = Pipeline(experts, train_router(clips, shard_of, experts=2, steps=5), combine="top1")
    pipe.save_pretrained(tmp_path / "pipe")
    loaded = Pipeline.from_pretrained(tmp_path / "pipe")
    frames = loaded(num_frames=6, steps=3, seed=4, batch=2)
    assert frames.shape == (2, 6, 32, 32, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames, pipe(num_frames=6, steps=3, seed=4, batch=2))
    mixed = loaded(num_frames=6, steps=3, seed=4, batch=2, combine="mixture", sampler="euler")
    assert mixed.shape == frames.shape


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_written_video_decodes_to_the_same_frame_count(tmp_path: Path, suffix: str) -> None:
    frames = ((synthetic_set(1, seed=2).videos[0].permute(0, 2, 3, 1) + 1) * 127.5).to(torch.uint8).numpy()
    path = write_video(frames, tmp_path / f"clip{suffix}")
    decoded = read_video(path)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 20  # lossy, but the same picture


def test_a_strip_shows_each_clip_on_a_row_of_its_frames(tmp_path: Path) -> None:
    clips = np.zeros((3, 4, 8, 8, 3), dtype=np.uint8)
    clips[1, 2] = 200  # the third frame of the second clip
    strip = iio.imread(write_strip(clips, tmp_path / "strip.png"))
    assert strip.shape == (3 * 10 - 2, 4 * 10 - 2, 3)
    assert (strip[10:18, 20:28] == 200).all() and (strip[0:8, 0:8] == 0).all() and (strip[8:10] == 255).all()


def test_coherence_ranks_real_clips_above_shuffled_frames(clips) -> None:
    generator = torch.Generator().manual_seed(0)
    shuffled = torch.stack([clip[torch.randperm(clip.shape[0], generator=generator)] for clip in clips.videos])
    real, broken = coherence(clips.videos), coherence(shuffled)
    assert real.mean() > broken.mean() + 0.2
    assert (real > broken).mean() > 0.9
    assert coherence(torch.rand(8, 8, 3, 32, 32) * 2 - 1).mean() < real.mean() - 0.2  # noise is not coherent


def test_synthetic_set_is_deterministic_and_covers_every_family() -> None:
    a, b = synthetic_set(40, seed=3), synthetic_set(40, seed=3)
    assert torch.equal(a.videos, b.videos) and a.videos.shape == (40, 8, 3, 32, 32)
    assert set(a.labels.tolist()) == set(range(len(FAMILIES)))
    assert torch.equal(synthetic_set(5, seed=3, start=10).videos, a.videos[10:15])
    assert a.videos.min() >= -1 and a.videos.max() <= 1


def test_label_dropout_uses_the_null_label() -> None:
    model = VideoDiT(named_config("tiny", num_labels=4))
    torch.nn.init.normal_(model.out.weight, std=0.1)
    torch.nn.init.normal_(model.final_ada[-1].weight, std=0.1)
    clips, labels = torch.zeros(2, 8, 3, 32, 32), torch.tensor([1, 3])

    def loss(labels_or_none, dropout):
        return flow_matching_loss(model, clips, torch.Generator().manual_seed(0), labels_or_none, dropout)

    assert torch.equal(loss(labels, 1.0), loss(None, 0.1))  # everything dropped: the null label
    assert not torch.equal(loss(labels, 0.0), loss(None, 0.1))
