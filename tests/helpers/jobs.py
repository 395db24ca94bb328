"""Small real jobs on the devnet: a `tiny` one-expert model on synthetic clips, escrowed and open."""

from __future__ import annotations

import torch

from paris_node.content.store import IpfsStore
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.jobspec import JobSpec
from paris_node.market.chain import Chain, JobTerms
from paris_node.model.dit import VideoDiT, named_config
from paris_node.runtime.devnet import DevnetInfo, devnet_account

from helpers.chain import ETH


def tiny_spec(store: IpfsStore, name: str, clips: int, job_seed: int, **fields: object) -> tuple[JobSpec, Checkpoint]:
    """A one-expert job spec (H=4 in 2 segments, batch 4) with its shard and version-0 checkpoint on IPFS."""
    torch.manual_seed(0)
    model = VideoDiT(named_config("tiny"))
    base = Checkpoint(model.config, 0, 0, 0, dict(model.state_dict()), {})
    spec = JobSpec(name=name, model=model.config, shards=(str(store.add(synthetic_set(clips, 4).to_bytes())),),
                   initial=(str(store.add(base.to_bytes())),), job_seed=job_seed, local_steps=4, segment_steps=2,
                   batch=4, **fields)  # type: ignore[arg-type]
    return spec, base


def open_job(devnet: DevnetInfo, store: IpfsStore, spec: JobSpec, rounds: int = 1, **terms: object) -> int:
    """Escrow `rounds` x 1 ETH for `spec` as the devnet's requester, the devnet's aggregator merging."""
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    now = requester.timestamp()
    return requester.create_job(JobTerms(spec=store.add(spec.to_bytes()), experts=1, rounds=rounds,
                                         reward_per_round_wei=ETH, deadline=now + 3600,
                                         aggregator=devnet.address("aggregator"), quorum=1, challenges=1,
                                         **terms), escrow_wei=rounds * ETH)  # type: ignore[arg-type]
