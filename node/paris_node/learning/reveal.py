"""What a miner reveals when challenged: the state at the start of each challenged segment (and, unless its
replays are bit-exact, at each one's end and the final one), with Merkle proofs tying each state and each
segment's end to the trace root on chain.

A state is the weights and both AdamW moments, three dense deltas' worth, so what a reveal leaves out is what
a validator waits for over the miner's uplink. Leaf 0 is never sent (it is the base checkpoint with fresh
moments, which the validator has). A miner whose replays are bit-exact (on CPU) sends only the starts: the
validator's replay must then hash to each committed end. One on other hardware sends the ends too, so that a
replay can be compared with them within the job's tolerance."""

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
    states: dict[int, TrainState]  # leaf index -> state (see `shown_leaves`)
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


def shown_leaves(challenged: list[int], segments: int, exact: bool = False) -> list[int]:
    """Leaves whose full states a reveal carries: each challenged segment's start but leaf 0; unless `exact`
    (the miner's replays are bit-exact), each one's end and the final too."""
    starts = {i for i in challenged if i > 0}
    return sorted(starts if exact else {*starts, *(i + 1 for i in challenged), segments} - {0})


def proved_leaves(challenged: list[int], segments: int) -> list[int]:
    """Leaves whose digests a reveal proves: leaf 0 (compared with the base), each challenged segment's start
    and end, and the final."""
    return sorted({0, *challenged, *(i + 1 for i in challenged), segments})


def build_reveal(states: dict[int, TrainState], digests: list[bytes], challenged: list[int],
                 exact: bool = False) -> Reveal:
    """The reveal for `challenged` segments, from a miner's kept boundary states and trace digests (see
    `shown_leaves` for which states go in)."""
    shown = shown_leaves(challenged, len(digests) - 1, exact)
    proved = proved_leaves(challenged, len(digests) - 1)
    return Reveal(len(digests), {i: states[i] for i in shown}, {i: digests[i] for i in proved},
                  {i: merkle_proof(digests, i) for i in proved})
