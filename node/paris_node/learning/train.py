"""One deterministic training segment: the unit a miner runs and a validator replays.

`run_segment` takes a state (weights + AdamW moments + step), runs k optimizer steps on the clips the
deterministic assignment gives this miner, and returns the new state. On CPU it is bit-for-bit
reproducible for the same inputs: a fixed thread count, deterministic algorithms, and every random draw
(batch indices, flow times, noise, label dropout) seeded from `step_seed`. `state_hash` is the one
canonical hash of a state, used for traces, Merkle leaves and comparisons everywhere.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from paris_node.data.assignment import assigned_indices, step_seed
from paris_node.data.clips import ClipSet
from paris_node.model.dit import DiTConfig, VideoDiT
from paris_node.model.flow import flow_matching_loss

HASH_DOMAIN = b"paris/state/v1"


@dataclass
class TrainState:
    weights: dict[str, torch.Tensor]
    moments: dict[str, torch.Tensor] = field(default_factory=dict)  # "exp_avg/<name>", "exp_avg_sq/<name>"
    step: int = 0  # optimizer steps taken since the moments were zero

    @classmethod
    def fresh(cls, model: VideoDiT) -> TrainState:
        return cls({k: v.detach().clone() for k, v in model.state_dict().items()})

    def tensors(self) -> dict[str, torch.Tensor]:
        """Flat name -> tensor view of the whole state (how it is hashed and stored)."""
        flat = {f"weights/{k}": v for k, v in self.weights.items()}
        flat.update({f"moments/{k}": v for k, v in self.moments.items()})
        flat["step"] = torch.tensor([self.step], dtype=torch.int64)
        return flat

    @classmethod
    def from_tensors(cls, flat: dict[str, torch.Tensor]) -> TrainState:
        weights = {k.removeprefix("weights/"): v for k, v in flat.items() if k.startswith("weights/")}
        moments = {k.removeprefix("moments/"): v for k, v in flat.items() if k.startswith("moments/")}
        return cls(weights, moments, int(flat["step"].item()))


def state_hash(state: TrainState) -> bytes:
    """sha256 over every tensor in name order: name, dtype, shape, then little-endian contiguous bytes."""
    digest = hashlib.sha256(HASH_DOMAIN)
    for name, tensor in sorted(state.tensors().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.digest()


def identical(a: TrainState, b: TrainState) -> bool:
    """Bit for bit the same state (what equal `state_hash`es mean, without hashing)."""
    flat_a, flat_b = a.tensors(), b.tensors()
    return flat_a.keys() == flat_b.keys() and all(
        t.dtype == flat_b[n].dtype and t.shape == flat_b[n].shape and torch.equal(t, flat_b[n])
        for n, t in flat_a.items())


def state_drift(start: TrainState, replayed: TrainState, claimed: TrainState) -> float:
    """How far `claimed` lies from `replayed`, relative to the replayed segment's own update from `start`.

    The larger of the weights' and the moments' relative L2 distances; infinite when the step counters or
    tensor names differ. 0.0 means bit-identical; floating-point summation order on other hardware gives
    small values, a skipped step or other data gives values near 1."""
    got_all, want_all = replayed.tensors(), claimed.tensors()
    if got_all.keys() != want_all.keys() or any(got_all[n].shape != t.shape for n, t in want_all.items()) \
            or replayed.step != claimed.step:
        return math.inf
    drifts = []
    for part in ("weights", "moments"):
        got, want, origin = getattr(replayed, part), getattr(claimed, part), getattr(start, part)
        apart = sum(float((got[n].double() - want[n].double()).square().sum()) for n in want)
        update = sum(float((got[n].double() - origin[n].double()).square().sum()) if n in origin
                     else float(got[n].double().square().sum()) for n in got)
        drifts.append(0.0 if apart == 0 else math.sqrt(apart / update) if update else math.inf)
    return max(drifts)


@dataclass(frozen=True)
class SegmentSpec:
    """Everything besides the state and the data that a segment's result depends on."""

    job_seed: int
    miner: str
    expert: int
    base_version: int
    start_step: int  # index of the first local step of this segment within the miner's H steps
    steps: int  # k
    batch: int = 8
    lr: float = 3e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    label_dropout: float = 0.1
    threads: int = 2  # part of the spec: a different thread count may change float summation order


@dataclass
class SegmentResult:
    state: TrainState
    losses: list[float]


@contextmanager
def deterministic(threads: int) -> Iterator[None]:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS refuses deterministic mode without it
    previous_threads = torch.get_num_threads()
    previous_mode = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(previous_threads)
        torch.use_deterministic_algorithms(previous_mode)


def _optimizer(model: VideoDiT, state: TrainState, spec: SegmentSpec, device: torch.device) -> torch.optim.AdamW:
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, betas=spec.betas,
                                  weight_decay=spec.weight_decay, foreach=False)
    if state.moments:
        for name, param in model.named_parameters():
            optimizer.state[param] = {"step": torch.tensor(float(state.step)),
                                      "exp_avg": state.moments[f"exp_avg/{name}"].to(device, copy=True),
                                      "exp_avg_sq": state.moments[f"exp_avg_sq/{name}"].to(device, copy=True)}
    return optimizer


def run_segment(config: DiTConfig, state: TrainState, shard: ClipSet, spec: SegmentSpec,
                device: str | torch.device = "cpu") -> SegmentResult:
    """k AdamW steps from `state` on this miner's assigned clips of `shard`; returns the new state (on CPU).

    Random draws stay on the CPU generator whatever the device, so a GPU run differs from a CPU replay only
    by floating-point summation order (see the validator's tolerance), never by its data or noise."""
    device = torch.device(device)
    with deterministic(spec.threads):
        model = VideoDiT(config)
        model.load_state_dict(state.weights)
        model.to(device).train()
        optimizer = _optimizer(model, state, spec, device)
        losses = []
        for step in range(spec.start_step, spec.start_step + spec.steps):
            seed = step_seed(spec.job_seed, spec.miner, spec.expert, spec.base_version, step)
            index = torch.from_numpy(assigned_indices(spec.job_seed, spec.miner, spec.expert, spec.base_version,
                                                      step, len(shard), spec.batch))
            labels = shard.labels[index] if config.num_labels and shard.labels is not None else None
            loss = flow_matching_loss(model, shard.videos[index].to(device), torch.Generator().manual_seed(seed),
                                      None if labels is None else labels.to(device), spec.label_dropout)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        moments = {}
        for name, param in model.named_parameters():
            moments[f"exp_avg/{name}"] = optimizer.state[param]["exp_avg"].detach().to("cpu", copy=True)
            moments[f"exp_avg_sq/{name}"] = optimizer.state[param]["exp_avg_sq"].detach().to("cpu", copy=True)
        weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return SegmentResult(TrainState(weights, moments, state.step + spec.steps), losses)
