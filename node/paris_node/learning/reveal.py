"""What a miner reveals when challenged: the states at the start and end of each challenged segment and the
final state, with Merkle proofs tying each state (and each segment's end) to the trace root on chain."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from paris_node.content import tensorfile
from paris_node.learning.trace import merkle_proof
from paris_node.learning.train import TrainState

FORMAT = "paris-reveal/v1"


class RevealError(ValueError):
    """A reveal file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Reveal:
    leaves: int  # segments + 1
    states: dict[int, TrainState]  # leaf index -> state (challenged starts and the final leaf)
    digests: dict[int, bytes]  # leaf index -> claimed state hash (starts, their ends, the final leaf)
    proofs: dict[int, list[bytes]]  # leaf index -> Merkle proof

    def to_bytes(self) -> bytes:
        tensors = {f"{leaf}/{name}": t.contiguous() for leaf, state in self.states.items()
                   for name, t in state.tensors().items()}
        header = {"format": FORMAT, "leaves": self.leaves,
                  "digests": {str(i): d.hex() for i, d in sorted(self.digests.items())},
                  "proofs": {str(i): [p.hex() for p in proof] for i, proof in sorted(self.proofs.items())}}
        return tensorfile.dump(tensors, header)

    @classmethod
    def from_bytes(cls, data: bytes) -> Reveal:
        try:
            header, flat = tensorfile.load(data, FORMAT)
            grouped: dict[int, dict[str, torch.Tensor]] = {}
            for key, tensor in flat.items():
                leaf, name = key.split("/", 1)
                grouped.setdefault(int(leaf), {})[name] = tensor
            return cls(int(header["leaves"]), {leaf: TrainState.from_tensors(t) for leaf, t in grouped.items()},
                       {int(i): bytes.fromhex(d) for i, d in header["digests"].items()},
                       {int(i): [bytes.fromhex(p) for p in proof] for i, proof in header["proofs"].items()})
        except (tensorfile.TensorFileError, ValueError, KeyError, TypeError) as exc:
            raise RevealError(f"not a Paris reveal: {exc}") from exc


def shown_leaves(challenged: list[int], segments: int) -> list[int]:
    """Leaves whose full states a reveal carries: each challenged segment's start and end, and the final."""
    return sorted({*challenged, *(i + 1 for i in challenged), segments})


def build_reveal(states: dict[int, TrainState], digests: list[bytes], challenged: list[int]) -> Reveal:
    """The reveal for `challenged` segments, from a miner's kept boundary states and trace digests.

    States: `shown_leaves` (a replay starts from a segment's start and is compared with its end, within the
    job's replay tolerance). Proved digests: those and leaf 0 (which a validator compares with the base)."""
    shown = shown_leaves(challenged, len(digests) - 1)
    proved = sorted({0, *shown})
    return Reveal(len(digests), {i: states[i] for i in shown}, {i: digests[i] for i in proved},
                  {i: merkle_proof(digests, i) for i in proved})
