"""A miner that follows the protocol, driven step by step from a test, and the one-expert job it works on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from eth_account import Account
from multiformats import CID

from paris_node.chain import Chain, ContractRevert, JobTerms
from paris_node.checkpoint import Checkpoint
from paris_node.data.synthetic import synthetic_set
from paris_node.delta import DeltaHeader, pseudo_gradient
from paris_node.devnet import DevnetInfo, devnet_account
from paris_node.jobspec import JobSpec
from paris_node.miner import RoundWork, kept_reveal, load_state, train_round
from paris_node.model.dit import VideoDiT, named_config
from paris_node.store import IpfsStore

ETH = 10**18
REVEAL_WINDOW_S = 8


@dataclasses.dataclass
class Market:
    devnet: DevnetInfo
    store: IpfsStore
    spec: JobSpec
    job_id: int
    checkpoints: dict[int, Checkpoint]
    work_dir: Path


def funded_chain(devnet: DevnetInfo) -> Chain:
    """A fresh account with 10 ETH (anvil_setBalance), so each cheat loses its own stake."""
    account = Account.create()
    chain = Chain(devnet.rpc_url, devnet.contract, account)
    chain.w3.provider.make_request("anvil_setBalance", [account.address, hex(10 * ETH)])
    return chain


class Honest:
    """Trains H steps on its assigned clips, submits the encoded delta and reveals what is challenged."""

    def __init__(self, market: Market, name: str) -> None:
        self.market, self.name = market, name
        self.chain = funded_chain(market.devnet)
        self.address = self.chain.account.address
        self.chain.stake(1, wei=ETH)
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
            challenged = self.chain.challenged_segments(delta_id)
        except ContractRevert as exc:
            assert exc.error == "ChallengeNotReady"
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
    """A job on the `tiny` model: 1 expert, H=4 in 2 segments, 1 challenge, quorum 1, an 8 s reveal window."""
    store = IpfsStore(devnet.ipfs_api)
    torch.manual_seed(0)
    model = VideoDiT(named_config("tiny"))
    base = Checkpoint(model.config, 0, 0, 0, dict(model.state_dict()), {})
    spec = JobSpec(name="adversaries", model=model.config, shards=(str(store.add(synthetic_set(24, 4).to_bytes())),),
                   initial=(str(store.add(base.to_bytes())),), job_seed=11, local_steps=4, segment_steps=2, batch=4,
                   max_delta_bytes=64 * 1024)
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    now = requester.timestamp()
    job_id = requester.create_job(JobTerms(spec=store.add(spec.to_bytes()), experts=1, rounds=rounds,
                                           reward_per_round_wei=ETH, deadline=now + 3600,
                                           aggregator=devnet.address("aggregator"), quorum=1, challenges=1,
                                           reveal_window_s=reveal_window_s), escrow_wei=rounds * ETH)
    return Market(devnet, store, spec, job_id, {0: base}, tmp_path)
