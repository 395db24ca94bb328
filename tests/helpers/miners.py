"""A miner that follows the protocol, driven step by step from a test, and the one-expert job it works on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from multiformats import CID

from paris_node.content.store import IpfsStore
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.delta import DeltaHeader, pseudo_gradient
from paris_node.learning.jobspec import JobSpec
from paris_node.market.chain import ContractRevert
from paris_node.market.errors import Revert
from paris_node.roles.miner import RoundWork, kept_reveal, load_state, train_round
from paris_node.runtime.devnet import DevnetInfo

from helpers.chain import ETH, funded_chain
from helpers.jobs import open_job, tiny_spec

# Long enough for any machine to train and reveal: a test that needs the window closed warps the chain's
# clock past it (helpers.chain.warp) once the protocol got there, instead of racing this machine's speed.
REVEAL_WINDOW_S = 600


@dataclasses.dataclass
class Market:
    devnet: DevnetInfo
    store: IpfsStore
    spec: JobSpec
    job_id: int
    checkpoints: dict[int, Checkpoint]
    work_dir: Path


class Honest:
    """Trains H steps on its assigned clips, submits the encoded delta and reveals what is challenged."""

    def __init__(self, market: Market, name: str) -> None:
        self.market, self.name = market, name
        self.chain = funded_chain(market.devnet)
        self.address = self.chain.account.address
        self.chain.stake(1, wei=4 * ETH)  # the market's minimum per unsettled delta: room for a few at once
        self.error: dict[str, torch.Tensor] | None = None
        self.rounds: dict[int, tuple[int, RoundWork, Path]] = {}  # version -> (delta id, work, states dir)

    def states_dir(self, version: int) -> Path:
        return self.market.work_dir / self.name / f"v{version}"

    def train(self, base: Checkpoint) -> tuple[RoundWork, dict[str, torch.Tensor]]:
        m = self.market
        shard = synthetic_set(24, 4)
        return train_round(m.spec, shard, base, m.job_id, self.address, self.error, self.states_dir(base.version))

    def delta(self, work: RoundWork, base: Checkpoint) -> bytes:
        return work.delta

    def publish(self, data: bytes) -> CID:
        return self.market.store.add(data, name="delta.bin")

    def submit(self, version: int) -> int:
        base = self.market.checkpoints[version]
        work, carried = self.train(base)
        cid = self.publish(self.delta(work, base))
        self.chain.submit_delta(self.market.job_id, 0, version, cid, work.trace_root, work.segments)
        self.error = carried
        delta_id = self.chain.delta_id_of(self.market.job_id, 0, version, self.address)
        self.rounds[version] = (delta_id, work, self.states_dir(version))
        return delta_id

    def reveal(self, version: int) -> bool:
        """Reveal once the challenge exists; True when done (or when this miner never will)."""
        delta_id, work, states_dir = self.rounds[version]
        if self.chain.delta(delta_id).revealed:
            return True
        try:
            self.chain.fix_challenge(delta_id)
            challenged = self.chain.challenged_segments(delta_id)
        except ContractRevert as exc:
            assert exc.error == Revert.CHALLENGE_NOT_READY
            return False
        self.chain.reveal(delta_id, self.market.store.add(self.reveal_bytes(work, states_dir, challenged)))
        return True

    def reveal_bytes(self, work: RoundWork, states_dir: Path, challenged: list[int]) -> bytes:
        return kept_reveal(states_dir, work.digests, challenged).to_bytes()

    def header(self, base: Checkpoint) -> DeltaHeader:
        codec = self.market.spec.codec
        return DeltaHeader(self.market.job_id, 0, base.version, self.address, codec.chunk, codec.k)

    def final_update(self, work: RoundWork, base: Checkpoint) -> dict[str, torch.Tensor]:
        final = load_state(self.states_dir(base.version), work.segments)
        return pseudo_gradient(base.weights, final.weights)


def open_market(devnet: DevnetInfo, tmp_path: Path, rounds: int, reveal_window_s: int = REVEAL_WINDOW_S) -> Market:
    """A job on the `tiny` model: 1 expert, H=4 in 2 segments, 1 challenge, quorum 1."""
    store = IpfsStore(devnet.ipfs_api)
    spec, base = tiny_spec(store, "adversaries", 24, 11, max_delta_bytes=64 * 1024)
    job_id = open_job(devnet, store, spec, rounds, reveal_window_s=reveal_window_s)
    return Market(devnet, store, spec, job_id, {0: base}, tmp_path)
