"""The DDM router: p(expert | x_t, t), a small classifier over noised clips labelled by shard.

At sampling time it decides, at every ODE step, which expert's velocity to follow (top-1) or how to blend
them (probability-weighted). Tokens are embedded per patch, pooled by mean and standard deviation over
space and time (colour, texture and motion statistics survive pooling), joined with the flow time and
classified by an MLP.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from paris_node.content import tensorfile
from paris_node.data.clips import ClipSet
from paris_node.model.dit import sincos
from paris_node.model.flow import noised


CONVERGED_WINDOW = 20  # steps whose mean loss tells that the router has converged


@dataclass(frozen=True)
class RouterConfig:
    experts: int
    channels: int = 3
    patch: int = 4
    dim: int = 64


class Router(nn.Module):
    def __init__(self, config: RouterConfig) -> None:
        super().__init__()
        self.config = config
        patch_dim = config.channels * config.patch**2
        # Each patch is seen with its change from the previous frame, so motion is visible after pooling.
        self.embed = nn.Sequential(nn.Linear(2 * patch_dim, config.dim), nn.GELU(), nn.Linear(config.dim, config.dim))
        self.head = nn.Sequential(nn.Linear(3 * config.dim, config.dim), nn.GELU(),
                                  nn.Linear(config.dim, config.experts))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) for clips x (B, T, C, H, W) at flow times t (B,)."""
        p = self.config.patch
        motion = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)
        patches = rearrange(torch.cat([x, motion], dim=2), "b t c (h p1) (w p2) -> b (t h w) (p1 p2 c)", p1=p, p2=p)
        tokens = self.embed(patches)
        pooled = torch.cat([tokens.mean(dim=1), tokens.std(dim=1), sincos(t * 1000.0, self.config.dim)], dim=-1)
        return self.head(pooled)

    def probs(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.forward(x, t).softmax(dim=-1)


def train_router(clips: ClipSet, shard_of: torch.Tensor, experts: int, steps: int = 300, batch: int = 32,
                 lr: float = 2e-3, seed: int = 0, stop_loss: float = 0.03) -> Router:
    """Fit the router to predict each clip's shard (`shard_of`) from its noised version at random times, for at
    most `steps` steps.

    It stops early once the loss averaged over the last `CONVERGED_WINDOW` steps is under `stop_loss`: the shards
    are told apart at every noise level, and more steps would only overfit. Denormal floats are flushed on this
    thread while it trains, then flushing is off again (torch's default; a loss that small makes denormal
    gradients, and each op on them is many times slower on a CPU)."""
    generator = torch.Generator().manual_seed(seed)
    router = Router(RouterConfig(experts=experts, channels=clips.videos.shape[2]))
    optimizer = torch.optim.AdamW(router.parameters(), lr=lr)
    recent: deque[float] = deque(maxlen=CONVERGED_WINDOW)
    router.train()
    torch.set_flush_denormal(True)
    try:
        for _ in range(steps):
            index = torch.randint(len(clips), (batch,), generator=generator)
            x, labels = clips.videos[index], shard_of[index]
            t = torch.rand(batch, generator=generator)
            noise = torch.randn(x.shape, generator=generator)
            loss = F.cross_entropy(router(noised(x, t, noise), t), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            recent.append(loss.item())
            if len(recent) == CONVERGED_WINDOW and sum(recent) / CONVERGED_WINDOW < stop_loss:
                break
    finally:
        torch.set_flush_denormal(False)
    return router.eval()


ROUTER_FORMAT = "paris-router/v1"


def router_to_bytes(router: Router) -> bytes:
    """The router as one deterministic tensor file (how a job spec points to it on IPFS)."""
    return tensorfile.dump(dict(router.state_dict()), {"format": ROUTER_FORMAT, "config": asdict(router.config)})


def router_from_bytes(data: bytes, source: str = "router") -> Router:
    try:
        header, tensors = tensorfile.load(data, ROUTER_FORMAT)
        router = Router(RouterConfig(**header["config"]))
        router.load_state_dict(tensors)
    except (tensorfile.TensorFileError, KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"{source}: not a Paris router: {exc}") from exc
    return router.eval()
