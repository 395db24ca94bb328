"""Small real jobs on the devnet: a `tiny` one-expert model on synthetic clips, escrowed and open; a round of
any job trained, checked and merged by daemons stepped in-process."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from paris_node.content.store import IpfsStore
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.jobspec import JobSpec
from paris_node.market.chain import Chain, JobTerms
from paris_node.model.dit import VideoDiT, named_config
from paris_node.roles.aggregator_daemon import AggregatorDaemon
from paris_node.roles.miner_daemon import MinerDaemon
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_validator.daemon import ValidatorDaemon

from helpers.chain import ETH, funded_chain
from helpers.pacer import Pacer
from helpers.wait import step_until


def tiny_spec(store: IpfsStore, name: str, clips: int, job_seed: int, experts: int = 1,
              **fields: object) -> tuple[JobSpec, Checkpoint]:
    """A job spec of `experts` experts (H=4 in 2 segments, batch 4) with their shards and version-0
    checkpoints (the same weights for every expert) on IPFS; returns expert 0's checkpoint."""
    torch.manual_seed(0)
    model = VideoDiT(named_config("tiny"))
    base = Checkpoint(model.config, 0, 0, 0, dict(model.state_dict()), {})
    shards = tuple(str(store.add(synthetic_set(clips, 4 + e, start=e * clips).to_bytes())) for e in range(experts))
    initial = tuple(str(store.add(dataclasses.replace(base, expert=e).to_bytes())) for e in range(experts))
    spec = JobSpec(name=name, model=model.config, shards=shards, initial=initial, job_seed=job_seed, local_steps=4,
                   segment_steps=2, batch=4, **fields)  # type: ignore[arg-type]
    return spec, base


def open_job(devnet: DevnetInfo, store: IpfsStore, spec: JobSpec, rounds: int = 1, reward_wei: int = ETH,
             **terms: object) -> int:
    """Escrow `rounds` x `reward_wei` for `spec` (all its experts) as the devnet's requester, the devnet's
    aggregator merging."""
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    now = requester.timestamp()
    return requester.create_job(JobTerms(spec=store.add(spec.to_bytes()), experts=spec.experts, rounds=rounds,
                                         reward_per_round_wei=reward_wei, deadline=now + 3600,
                                         aggregator=devnet.address("aggregator"), quorum=1, challenges=1,
                                         **terms), escrow_wei=rounds * reward_wei)  # type: ignore[arg-type]


def merge_one_round(devnet: DevnetInfo, chain: Chain, job_id: int, work_dir: Path,
                    timeout_s: float = 240, version: int = 1) -> MinerDaemon:
    """Run a miner, a validator and the aggregator in this process, pass after pass, until every expert of the
    job reached `version` (trained, checked, merged), the chain's clock paced by what they did; the miner."""
    store = IpfsStore(devnet.ipfs_api)
    daemons = [MinerDaemon(funded_chain(devnet), store, work_dir / "miner", devnet.deploy_block, {job_id}),
               ValidatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(4)), store,
                               work_dir / "validator", devnet.deploy_block, {job_id}),
               AggregatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(2)), store,
                                work_dir / "aggregator", devnet.deploy_block, {job_id})]
    experts = chain.job(job_id).experts
    step_until(lambda: all(chain.version_of(job_id, e) == version for e in range(experts)),
               [*daemons, Pacer(devnet, {daemons[1].address}, {job_id})], f"the job to reach version {version}",
               timeout_s)
    miner = daemons[0]
    assert isinstance(miner, MinerDaemon)
    return miner
