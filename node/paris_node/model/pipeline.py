"""Sampling from a Decentralized Diffusion Model: K experts and the router that blends them.

Layout on disk (diffusers style): `pipeline.json`, `expert-<k>/{config.json,model.safetensors}` and
`router/{config.json,model.safetensors}`. At every ODE step the router scores p(k | x_t, t); `top1`
follows each clip's most likely expert, `mixture` averages the experts' velocities with those weights.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from paris_node.data.ingest import to_uint8
from paris_node.model.dit import DiTConfig, VideoDiT
from paris_node.model.flow import SAMPLERS, Velocity, guided
from paris_node.model.folder import ModelFolderError, load_module, read_config, save_module
from paris_node.model.router import Router, RouterConfig

PIPELINE_FILE = "pipeline.json"
COMBINE_MODES = ("top1", "mixture")


@dataclass(frozen=True)
class PipelineConfig:
    experts: int
    combine: str = "top1"


class Pipeline:
    def __init__(self, experts: list[VideoDiT], router: Router | None = None, combine: str = "top1") -> None:
        if not experts:
            raise ValueError("a pipeline needs at least one expert")
        shapes = {(e.config.size, e.config.channels) for e in experts}
        if len(shapes) != 1:
            raise ValueError(f"experts disagree on frame size/channels: {sorted(shapes)}")
        if len(experts) > 1 and (router is None or router.config.experts != len(experts)):
            raise ValueError(f"{len(experts)} experts need a router over {len(experts)} experts")
        if combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {COMBINE_MODES}, not {combine!r}")
        self.experts = [e.eval() for e in experts]
        self.router = router.eval() if router is not None else None
        self.combine = combine

    @classmethod
    def from_pretrained(cls, directory: Path) -> Pipeline:
        config = read_config(directory / PIPELINE_FILE, PipelineConfig)
        experts = [load_module(directory / f"expert-{k}", VideoDiT, DiTConfig) for k in range(config.experts)]
        router = load_module(directory / "router", Router, RouterConfig) if config.experts > 1 else None
        try:
            return cls(experts, router, config.combine)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ModelFolderError(f"{directory}: {exc}") from exc

    def save_pretrained(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        config = PipelineConfig(len(self.experts), self.combine)
        (directory / PIPELINE_FILE).write_text(json.dumps(dataclasses.asdict(config), indent=2))
        for k, expert in enumerate(self.experts):
            save_module(expert, expert.config, directory / f"expert-{k}")
        if self.router is not None:
            save_module(self.router, self.router.config, directory / "router")

    def velocity(self, labels: torch.Tensor | None, guidance: float, combine: str) -> Velocity:
        fields = [guided(e, labels if e.config.num_labels else None, guidance) for e in self.experts]
        if len(fields) == 1:
            return fields[0]
        router = self.router
        assert router is not None

        def blended(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            probs = router.probs(x, t)  # (B, K)
            if combine == "mixture":
                return torch.stack([probs[:, k].view(-1, 1, 1, 1, 1) * field(x, t)
                                    for k, field in enumerate(fields)]).sum(dim=0)
            choice = probs.argmax(dim=-1)
            out = torch.empty_like(x)
            for k in choice.unique().tolist():  # run each chosen expert once, on its clips only
                rows = choice == k
                out[rows] = fields[k](x[rows], t[rows])
            return out

        return blended

    @torch.no_grad()
    def __call__(self, label: int | None = None, num_frames: int | None = None, steps: int = 20, seed: int = 0,
                 batch: int = 1, sampler: str = "heun", guidance: float = 1.0,
                 combine: str | None = None) -> np.ndarray:
        """Sample `batch` clips; returns uint8 frames (B, T, H, W, C)."""
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, not {sampler!r}")
        combine = combine or self.combine
        if combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {COMBINE_MODES}, not {combine!r}")
        config = self.experts[0].config
        frames = num_frames or config.frames
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn((batch, frames, config.channels, config.size, config.size), generator=generator)
        labels = None if label is None else torch.full((batch,), label, dtype=torch.long)
        clips = SAMPLERS[sampler](self.velocity(labels, guidance, combine), noise, steps)
        return to_uint8(clips)
