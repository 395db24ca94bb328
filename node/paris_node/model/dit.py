"""A space-time diffusion transformer for short video clips, in one readable file.

A clip (B, T, C, H, W) is cut into p x p patches per frame, giving tokens on a (T, H/p, W/p) grid. Each
block runs spatial attention (tokens of one frame attend to each other), temporal attention (one patch
position attends across frames) and an MLP, each modulated by adaLN-Zero from the conditioning vector
(flow time, plus an optional label). The model predicts the rectified-flow velocity of the whole clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from paris_node.settings import SettingError, check, check_choice


@dataclass(frozen=True)
class DiTConfig:
    frames: int = 8  # clip length the model is trained on (sampling may ask for other lengths)
    size: int = 32  # frame height = width, in pixels
    channels: int = 3
    patch: int = 4
    dim: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    num_labels: int = 0  # 0: unconditional; else labels 0..n-1, and n is the null label for guidance
    causal_time: bool = False  # temporal attention sees only past frames

    def __post_init__(self) -> None:
        for name, low, high in (("frames", 1, 1024), ("size", 1, 4096), ("channels", 1, 16), ("patch", 1, self.size),
                                ("dim", 1, 65536), ("depth", 1, 1024), ("heads", 1, self.dim), ("num_labels", 0, None)):
            check(f"model.{name}", getattr(self, name), low, high)
        check("model.mlp_ratio", self.mlp_ratio, 0, 64, integer=False, above=True)
        if self.size % self.patch:
            raise SettingError("model.patch", self.patch, f"must divide model.size ({self.size})")
        if self.dim % self.heads:
            raise SettingError("model.heads", self.heads, f"must divide model.dim ({self.dim})")

    @property
    def tokens_per_frame(self) -> int:
        return (self.size // self.patch) ** 2


SIZES: dict[str, DiTConfig] = {
    "tiny": DiTConfig(dim=64, depth=2, heads=4),  # tests: ~0.2M parameters
    "small": DiTConfig(dim=128, depth=4, heads=4),  # the CPU demo: ~1.7M
    "base": DiTConfig(frames=16, size=64, patch=4, dim=768, depth=12, heads=12),  # GPU: ~170M
}


def named_config(name: str, **overrides: Any) -> DiTConfig:
    check_choice("model", name, SIZES)
    return replace(SIZES[name], **overrides)


def sincos(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Fixed sinusoidal embedding of (possibly fractional) positions: (N,) -> (N, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=positions.device) / half)
    angles = positions.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: x is (B, T, N, D); shift and scale are (B, D)."""
    return x * (1 + scale[:, None, None, :]) + shift[:, None, None, :]


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


class Block(nn.Module):
    """Spatial attention, temporal attention, MLP; each pre-normed, modulated and gated (adaLN-Zero)."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        dim = config.dim
        self.causal = config.causal_time
        self.norms = nn.ModuleList(nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6) for _ in range(3))
        self.spatial = Attention(dim, config.heads)
        self.temporal = Attention(dim, config.heads)
        hidden = int(dim * config.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 9 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        mods = self.ada(c).chunk(9, dim=-1)

        h = modulate(self.norms[0](x), mods[0], mods[1])
        h = self.spatial(rearrange(h, "b t n d -> (b t) n d"))
        x = x + mods[2][:, None, None, :] * rearrange(h, "(b t) n d -> b t n d", b=b)

        h = modulate(self.norms[1](x), mods[3], mods[4])
        h = self.temporal(rearrange(h, "b t n d -> (b n) t d"), causal=self.causal)
        x = x + mods[5][:, None, None, :] * rearrange(h, "(b n) t d -> b t n d", b=b)

        h = modulate(self.norms[2](x), mods[6], mods[7])
        return x + mods[8][:, None, None, :] * self.mlp(h)


class VideoDiT(nn.Module):
    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        if config.size % config.patch or config.dim % config.heads or config.dim % 4:
            raise ValueError(f"inconsistent config: size {config.size} must divide by patch {config.patch}, "
                             f"dim {config.dim} by heads {config.heads} and by 4")
        self.config = config
        patch_dim = config.channels * config.patch**2
        self.embed = nn.Linear(patch_dim, config.dim)
        self.time_mlp = nn.Sequential(nn.Linear(config.dim, config.dim), nn.SiLU(), nn.Linear(config.dim, config.dim))
        self.label_embed = nn.Embedding(config.num_labels + 1, config.dim) if config.num_labels else None
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.final_norm = nn.LayerNorm(config.dim, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(config.dim, 2 * config.dim))
        self.out = nn.Linear(config.dim, patch_dim)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        if self.label_embed is not None:
            nn.init.normal_(self.label_embed.weight, std=0.02)
        # adaLN-Zero: every block starts as the identity and the output as zero velocity.
        zeroed = [self.final_ada[-1], self.out, *(block.ada[-1] for block in self.blocks if isinstance(block, Block))]
        for layer in zeroed:
            assert isinstance(layer, nn.Linear)
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def positions(self, frames: int) -> torch.Tensor:
        """Fixed space-time position embedding (T, N, D): 2-D sin-cos over patches plus 1-D over frames."""
        side = self.config.size // self.config.patch
        dim = self.config.dim
        rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
        spatial = torch.cat([sincos(rows.flatten(), dim // 2), sincos(cols.flatten(), dim // 2)], dim=-1)
        temporal = sincos(torch.arange(frames), dim)
        return spatial[None, :, :] + temporal[:, None, :]

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity for clips x (B, T, C, H, W) at flow times t (B,) in [0, 1], optional labels (B,)."""
        b, frames, _, height, _ = x.shape
        p = self.config.patch
        tokens = rearrange(x, "b t c (h p1) (w p2) -> b t (h w) (p1 p2 c)", p1=p, p2=p)
        h = self.embed(tokens) + self.positions(frames).to(device=x.device, dtype=x.dtype)
        c = self.time_mlp(sincos(t * 1000.0, self.config.dim).to(x.dtype))
        if self.label_embed is not None:
            null = torch.full((b,), self.config.num_labels, dtype=torch.long, device=x.device)
            c = c + self.label_embed(null if labels is None else labels)
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.final_ada(c).chunk(2, dim=-1)
        h = self.out(modulate(self.final_norm(h), shift, scale))
        return rearrange(h, "b t (h w) (p1 p2 c) -> b t c (h p1) (w p2)", h=height // p, p1=p, p2=p)
