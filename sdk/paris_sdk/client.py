"""The requester's side of the market: create a job from clips, follow it, download and sample the result.

`Client.create_job` checks everything it can before anything leaves the machine (clips decode, the account
can pay), then clusters the clips into one shard per expert, trains the router, uploads shards, initial
checkpoints, router and job spec to IPFS, and only then escrows the reward in `createJob`: no escrow
without a job, no job without its data. `follow` turns the job's chain events into typed progress events.

A private job's shards, checkpoints, router, deltas and reveals are AES-256-GCM ciphertext on IPFS; its data
key is sealed to the requester, the aggregator and the nodes named in `admit` (see `paris_node.market.keyring`).
`admit` and `remove` change who holds the key while the job runs.
"""

from __future__ import annotations

import itertools
import logging
from contextlib import contextmanager
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from web3 import Web3

from paris_node.content.sealing import SealingError
from paris_node.content.store import IpfsStore
from paris_node.data.clips import ClipSet, ClipSetError
from paris_node.data.ingest import ingest_folder, to_uint8
from paris_node.data.shards import fit_shards, hold_out, split_shards
from paris_node.data.synthetic import synthetic_set
from paris_node.data.video import VideoError, write_strip, write_video
from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.coherence import coherence
from paris_node.learning.evaluate import held_out_loss
from paris_node.learning.jobspec import JobSpec
from paris_node.learning.merge import OuterParams
from paris_node.market.chain import Chain, DeltaState, Event, EventCursor, Job, JobTerms, cid_from_chain
from paris_node.market.index import MarketIndex
from paris_node.market.keyring import Content, JobKeys, Keyring, Keyrings, SealedContent
from paris_node.model.dit import DiTConfig, VideoDiT, named_config
from paris_node.model.pipeline import Pipeline
from paris_node.model.router import router_from_bytes, router_to_bytes, train_router
from paris_node.runtime.cli import connect, endpoints, settings
from paris_node.runtime.config import load as load_config
from paris_node.runtime.deployment import check_deployment
from paris_node.runtime.keys import load_account
from paris_node.settings import UINT8, UINT16, UINT24, UINT96, check

log = logging.getLogger(__name__)
ETH = 10**18
GAS_RESERVE_WEI = 10**16  # what createJob and the uploads' transactions may cost on top of the escrow


class JobError(ValueError):
    """A job request that cannot be carried out; the message says what to change."""


READING, CLUSTERING, ROUTER, UPLOADING, ESCROW = STAGES = (
    "reading clips", "clustering clips", "training the router", "uploading", "escrow transaction")
StepProgress = Callable[[str, int, int], None]  # (one of STAGES, done, total); uploads count bytes


@contextmanager
def _step(progress: StepProgress, stage: str) -> Iterator[None]:
    """A step with no parts to count: told to `progress` as 0 of 1 when it starts and 1 of 1 when it is done."""
    progress(stage, 0, 1)
    yield
    progress(stage, 1, 1)


# ----------------------------------------------------------------------------- progress events


class DeltaId(int):
    """A delta id, shown in hex as the CLI and the daemons show it."""

    def __repr__(self) -> str:
        return f"{self:#x}"

    __str__ = __repr__


def _short(delta_id: int) -> str:
    return f"{delta_id:#x}"[:10] + "…"


@dataclass(frozen=True)
class Submitted:
    """A miner submitted a delta (the chain's DeltaSubmitted event, as progress)."""

    block: int
    delta_id: int
    miner: str
    expert: int
    base_version: int

    def __str__(self) -> str:
        return f"delta {_short(self.delta_id)} from {self.miner} for expert {self.expert} v{self.base_version}"


@dataclass(frozen=True)
class Scored:
    block: int
    delta_id: int
    validator: str
    passed: bool
    score: int

    def __str__(self) -> str:
        return f"  {self.validator} voted {_short(self.delta_id)}: {'pass' if self.passed else 'FAIL'} {self.score}"


@dataclass(frozen=True)
class Collected:
    """A validator whose vote matched the delta's verdict collected its fee (and slashing share)."""

    block: int
    delta_id: int
    validator: str
    fee: int
    slash_share: int

    def __str__(self) -> str:
        share = f" + {self.slash_share / ETH:.4f} ETH of the slashed stake" if self.slash_share else ""
        return f"  {self.validator} collected {self.fee / ETH:.4f} ETH in fees{share} for {_short(self.delta_id)}"


@dataclass(frozen=True)
class Decided:
    block: int
    delta_id: int
    passed: bool
    score: int

    def __str__(self) -> str:
        return f"  {_short(self.delta_id)} {'passed' if self.passed else 'FAILED'} (score {self.score})"


@dataclass(frozen=True)
class Merged:
    block: int
    expert: int
    version: int
    deltas: tuple[int, ...]
    checkpoint: str

    def __str__(self) -> str:
        return f"expert {self.expert} v{self.version}: merged {len(self.deltas)} deltas into {self.checkpoint}"


@dataclass(frozen=True)
class Paid:
    block: int
    delta_id: int
    miner: str
    wei: int

    def __str__(self) -> str:
        return f"  paid {self.wei / ETH:.4f} ETH to {self.miner}"


@dataclass(frozen=True)
class Slashed:
    block: int
    delta_id: int
    miner: str
    wei: int
    reason: int
    reporter: str  # the validator who reported it: credited half for a withheld reveal; fail voters collect theirs

    def __str__(self) -> str:
        return f"  SLASHED {self.miner}: {self.wei / ETH:.4f} ETH (delta {_short(self.delta_id)})"


@dataclass(frozen=True)
class ValidatorSlashed:
    """A validator lost its stake for a vote against a delta's verdict (or a sealed vote it never opened)."""

    block: int
    delta_id: int
    validator: str
    wei: int
    reporter: str
    to_reporter: int  # half; nothing when the delta was a trap (then all of it is burned)

    def __str__(self) -> str:
        return f"  SLASHED validator {self.validator}: {self.wei / ETH:.4f} ETH (its vote on {_short(self.delta_id)})"


@dataclass(frozen=True)
class Finished:
    """Every expert reached its last round (or the job closed)."""

    block: int
    versions: tuple[int, ...]

    def __str__(self) -> str:
        return f"done: experts at versions {list(self.versions)}"


Progress = Submitted | Scored | Collected | Decided | Merged | Paid | Slashed | ValidatorSlashed | Finished


class JobFeed:
    """One job's chain events as Progress, read incrementally: each `poll` returns what is new since the last."""

    def __init__(self, chain: Chain, job_id: int, from_block: int) -> None:
        self.chain, self.job_id = chain, job_id
        self.cursor = EventCursor(from_block)
        self.ours: set[int] = set()  # delta ids of this job

    def poll(self) -> list[Progress]:
        return [p for event in self.chain.events(self.cursor) if (p := self._progress(event)) is not None]

    def _progress(self, event: Event) -> Progress | None:
        name = event.name
        a: dict[str, Any] = {k: DeltaId(v) if k == "deltaId" else v for k, v in event.args.items()}
        if name == "DeltaSubmitted" and a["jobId"] == self.job_id:
            self.ours.add(a["deltaId"])
            return Submitted(event.block, a["deltaId"], a["miner"], a["expert"], a["baseVersion"])
        if name == "ExpertFinalized" and a["jobId"] == self.job_id:
            return Merged(event.block, a["expert"], a["version"], tuple(map(DeltaId, a["mergedDeltaIds"])),
                          str(cid_from_chain(a["checkpointDigest"], a["checkpointCodec"])))
        if a.get("deltaId") not in self.ours:
            return None
        if name == "VoteRevealed":
            return Scored(event.block, a["deltaId"], a["validator"], a["pass"], a["score"])
        if name == "VoterSlashed":
            return ValidatorSlashed(event.block, a["deltaId"], a["validator"], a["amount"], a["reporter"],
                                    a["toReporter"])
        if name == "Collected":
            return Collected(event.block, a["deltaId"], a["validator"], a["fee"], a["slashShare"])
        if name == "DeltaDecided":
            return Decided(event.block, a["deltaId"], a["passed"], a["meanScore"])
        if name == "DeltaPaid":
            return Paid(event.block, a["deltaId"], a["miner"], a["amount"])
        if name == "Slashed":
            return Slashed(event.block, a["deltaId"], a["miner"], a["amount"], a["reason"], a["reporter"])
        return None


@dataclass(frozen=True)
class JobRequest:
    """What a requester chooses for a new job. Making one checks every setting (a `SettingError` names the one
    out of bounds); `Client.create_job` then checks the market's own bounds, the clips and the balance before
    anything is uploaded or escrowed.

    `reward_eth` is paid per round (split between the experts' merges); the escrow is rounds x reward. A
    `private` job is readable only by the requester, the aggregator and the accounts in `admit`, each of which
    must have registered its X25519 key on chain (every paris daemon does when it starts)."""

    clips: Path | None = None  # a folder of video files; None: the built-in synthetic set
    experts: int = 2
    rounds: int = 3
    reward_eth: float = 1.0
    model: str = "tiny"  # a named size of paris_node.model.dit
    name: str = ""
    aggregator: str | None = None  # default: the requester itself
    synthetic_clips: int = 64
    local_steps: int = 20  # H
    segment_steps: int = 5  # k
    batch: int = 8
    deadline_s: int = 24 * 3600  # from now, in chain time; the escrow is locked until then
    reveal_window_s: int = 3600
    quorum: int = 1
    challenges: int = 1  # random segments replayed besides the last one, which always is
    seed: int = 0
    private: bool = False
    admit: Sequence[str] = ()
    ema_decay: float = 0.99  # the EMA of each expert's checkpoints that samples come from (0: none)

    def __post_init__(self) -> None:
        """Refuse a setting out of bounds, naming it (`SettingError`); the spec's own settings through `shape`."""
        for name, low, high in (("experts", 1, UINT16), ("rounds", 1, 100_000), ("synthetic_clips", 2, 100_000),
                                ("deadline_s", 60, 10 * 365 * 86400), ("reveal_window_s", 1, UINT24),
                                ("quorum", 1, UINT8), ("challenges", 1, UINT8), ("seed", 0, 2**63 - 1)):
            check(name, getattr(self, name), low, high)
        check("reward_eth", self.reward_eth, 0, UINT96 / ETH / self.rounds, integer=False, above=True)
        self.shape()

    def shape(self) -> JobSpec:
        """The job's spec before anything is uploaded: its model and training settings, placeholder CIDs."""
        return JobSpec(name=self.name, model=replace(named_config(self.model), num_labels=0),
                       shards=("-",) * self.experts, initial=("-",) * self.experts, job_seed=self.seed,
                       local_steps=self.local_steps, segment_steps=self.segment_steps, batch=self.batch,
                       outer=OuterParams(ema_decay=self.ema_decay))


PASSED_STATES = (DeltaState.PASSED, DeltaState.MERGED, DeltaState.PAID)
FAILED_STATES = (DeltaState.FAILED, DeltaState.SLASHED)


@dataclass(frozen=True)
class JobSummary:
    """Where a job stands (`Client.summary`): chain times are unix seconds, `now` the chain's."""

    job_id: int
    job: Job
    versions: tuple[int, ...]  # each expert's checkpoint version
    deltas: int  # submitted
    passed: int
    failed: int
    miners: dict[str, int]  # miner -> chain time of its latest delta
    now: int

    @property
    def finished(self) -> bool:
        return self.job.closed or all(v >= self.job.rounds for v in self.versions)


@dataclass(frozen=True)
class SampleQuality:
    """How coherent a job's samples are next to its own clips (`paris_node.learning.coherence`)."""

    generated: float
    real: float
    strip: Path  # real clips above, generated below, frames left to right

    def __str__(self) -> str:
        return (f"sample coherence {self.generated:.3f} vs real clips {self.real:.3f} "
                f"({self.generated / self.real:.2f}x); side by side: {self.strip}")


class Client:
    def __init__(self, chain: Chain, store: IpfsStore, from_block: int = 0) -> None:
        self.chain, self.store, self.from_block = chain, store, from_block
        self.index = MarketIndex(chain, from_block)
        self.keyrings = Keyrings(chain, store.get, chain.account) if chain.account is not None else None
        self._clips_of: dict[str, ClipSet] = {}  # evaluation clips by CID

    @classmethod
    def from_devnet(cls, directory: Path, role: str = "requester") -> Client:
        """Join the local devnet in `directory` as one of its accounts (the keystore password the devnet was
        made with: PARIS_KEYSTORE_PASSWORD, else the devnet default)."""
        config = settings(None, directory)
        chain, store = connect(config, directory, role)
        return cls(chain, store, config.deploy_block)

    @classmethod
    def from_config(cls, path: Path | None = None) -> Client:
        """Join any deployment: URLs, contract, deploy block and keystore from a TOML file and PARIS_* variables
        (see `paris_node.runtime.config`); the key from that keystore (password in PARIS_KEYSTORE_PASSWORD) or from
        PARIS_PRIVATE_KEY."""
        if path is not None:
            check_deployment(path)
        config = load_config(path)
        chain, store = endpoints(config, load_account(config.keystore))
        return cls(chain, store, config.deploy_block)

    # ------------------------------------------------------------------------- jobs

    def _check_terms(self, r: JobRequest) -> None:
        """The bounds this market's contract sets on top of the terms' own, checked before anything is uploaded."""
        check("quorum", r.quorum, 1, self.chain.call("MAX_QUORUM"))
        check("challenges", r.challenges, 1, self.chain.call("MAX_CHALLENGES"))
        check("reveal_window_s", r.reveal_window_s, self.chain.call("MIN_REVEAL_WINDOW"))

    def create_job(self, request: JobRequest, progress: StepProgress = lambda stage, done, total: None) -> int:
        """Open the job `request` describes; returns its id. Nothing is uploaded or escrowed unless every check
        passes (see `JobRequest`). `progress(stage, done, total)` follows each long step (`STAGES`; the uploads
        count bytes)."""
        r = request
        if self.chain.account is None or self.keyrings is None:
            raise JobError("creating a job needs a signing account")
        aggregator = r.aggregator or self.chain.account.address
        self._check_terms(r)
        reward_wei = int(r.reward_eth * ETH)
        balance = self.chain.w3.eth.get_balance(self.chain.account.address)
        if balance < r.rounds * reward_wei + GAS_RESERVE_WEI:
            raise JobError(f"{self.chain.account.address} holds {balance / ETH:.4f} ETH; {r.rounds} rounds x "
                           f"{r.reward_eth} ETH plus gas needs {(r.rounds * reward_wei + GAS_RESERVE_WEI) / ETH:.4f}")
        shape = r.shape()
        config = shape.model
        keyring: Keyring | None = None
        if r.private:
            readers = {self.chain.account.address, self._address(aggregator), *map(self._address, r.admit)}
            keyring, data_key = Keyring.first({a: self._public_key(a) for a in readers})
        clip_set = self._clips(r.clips, config.frames, config.size, r.synthetic_clips, r.seed, progress)
        if len(clip_set) < 2 * r.experts:
            raise JobError(f"{len(clip_set)} clips are too few for {r.experts} experts (at least 2 per expert)")
        with _step(progress, CLUSTERING):
            _, shard_of = fit_shards(clip_set, r.experts, r.seed)
            shards, evals = hold_out(split_shards(clip_set, shard_of, r.experts))
        log.info("%d clips clustered into shards of %s clips", len(clip_set), [len(s) for s in shards])
        with _step(progress, ROUTER):
            router = train_router(clip_set, shard_of, r.experts, seed=r.seed) if r.experts > 1 else None
        upload: Content = self.store if keyring is None else SealedContent(self.store,
                                                                            lambda _: JobKeys(0, (data_key,)))
        data = {f"shard-{k}.clips": s.to_bytes() for k, s in enumerate(shards)}
        data |= {f"eval-{k}.clips": e.to_bytes() for k, e in enumerate(evals)}
        data |= {"router": router_to_bytes(router)} if router is not None else {}
        checkpoints = (self._initial(config, r.seed, expert) for expert in range(r.experts))
        first = next(checkpoints)  # every expert's is the same size
        sent, total = 0, sum(map(len, data.values())) + r.experts * len(first)

        def put(name: str, content: bytes) -> str:
            nonlocal sent
            cid = str(upload.add(content, name=name))
            sent += len(content)
            progress(UPLOADING, sent, total)
            return cid

        progress(UPLOADING, 0, total)
        initial = tuple(put(f"expert-{e}-v0.ckpt", c) for e, c in enumerate(itertools.chain([first], checkpoints)))
        cids = {name: put(name, content) for name, content in data.items()}
        spec = replace(shape, name=r.name or f"job of {len(clip_set)} clips",
                       shards=tuple(cids[f"shard-{k}.clips"] for k in range(r.experts)),
                       evals=tuple(cids[f"eval-{k}.clips"] for k in range(len(evals))), initial=initial,
                       router=cids.get("router", ""),
                       keyring=str(self.store.add(keyring.to_bytes(), name="keyring.json")) if keyring else "")
        spec_cid = self.store.add(spec.to_bytes(), name="job.json")
        terms = JobTerms(spec=spec_cid, experts=r.experts, rounds=r.rounds, reward_per_round_wei=reward_wei,
                         deadline=self.chain.timestamp() + r.deadline_s, aggregator=aggregator,
                         reveal_window_s=r.reveal_window_s, quorum=r.quorum,
                         challenges=r.challenges)
        with _step(progress, ESCROW):
            job_id = self.chain.create_job(terms, escrow_wei=r.rounds * reward_wei)
        log.info("job %d created: spec %s, %d experts x %d rounds, escrow %.3f ETH", job_id, spec_cid, r.experts,
                 r.rounds, r.rounds * reward_wei / ETH)
        return job_id

    def _public_key(self, address: str) -> bytes:
        """The X25519 key data keys are sealed to for `address` (this account's own, or the one on chain)."""
        assert self.keyrings is not None and self.chain.account is not None
        if address == self.chain.account.address:
            return self.keyrings.public
        key = self.chain.x25519_key_of(address)
        if key == bytes(32):
            raise JobError(f"{address} has no X25519 key on chain to seal the job's data key to: it registers one "
                           f"when its paris daemon starts (registerKey)")
        return key

    # ------------------------------------------------------------------------- private jobs

    def admit(self, job_id: int, address: str) -> None:
        """Let `address` read a private job: every epoch's data key is sealed to it too."""
        address = self._address(address)
        keyring, keys = self._keyring(job_id)
        if address in keyring.members():
            raise JobError(f"{address} is already admitted to job {job_id}")
        self._publish_keyring(job_id, keyring.admitted(keys, address, self._public_key(address)))

    def remove(self, job_id: int, address: str) -> None:
        """Stop `address` reading what a private job writes from now on: a new data key for the others."""
        address = self._address(address)
        keyring, _ = self._keyring(job_id)
        job = self.chain.job(job_id)
        if address in (job.requester, job.aggregator):
            raise JobError(f"{address} is job {job_id}'s requester or aggregator; it cannot be removed")
        if address not in keyring.members():
            raise JobError(f"{address} is not admitted to job {job_id}")
        rotated, _ = keyring.rotated({a: self._public_key(a) for a in keyring.members() - {address}})
        self._publish_keyring(job_id, rotated)

    def register_key(self) -> None:
        """Publish this account's X25519 key so private jobs can admit it (paris daemons do it at start)."""
        if self.keyrings is None:
            raise JobError("registering a key needs a signing account")
        self.keyrings.register()

    def members(self, job_id: int) -> set[str]:
        """Who can read what a private job writes now."""
        return self._keyring(job_id)[0].members()

    def _keyring(self, job_id: int) -> tuple[Keyring, JobKeys]:
        spec = self.spec(job_id)
        if not spec.private:
            raise JobError(f"job {job_id} is public: there is nobody to admit or remove")
        if self.keyrings is None or self.chain.job(job_id).requester != self.chain.account.address:  # type: ignore[union-attr]
            raise JobError(f"only job {job_id}'s requester {self.chain.job(job_id).requester} manages its keyring")
        return self.keyrings.current(job_id, spec)

    @staticmethod
    def _address(address: str) -> str:
        try:
            return Web3.to_checksum_address(address)
        except ValueError as exc:
            raise JobError(f"{address!r} is not an account address") from exc

    def _publish_keyring(self, job_id: int, keyring: Keyring) -> None:
        cid = self.store.add(keyring.to_bytes(), name="keyring.json")
        self.chain.set_keyring(job_id, cid)
        log.info("job %d: keyring %s (epoch %d) readable by %s", job_id, cid, len(keyring.epochs) - 1,
                 ", ".join(sorted(keyring.members())))

    def content(self, job_id: int, spec: JobSpec) -> Content:
        """The job's content as this account reads it (decrypted for a private job it was admitted to)."""
        if self.keyrings is None:
            if spec.private:
                raise JobError(f"job {job_id} is private: reading it needs the account of an admitted node")
            return self.store
        return self.keyrings.content(job_id, spec, self.store)

    @staticmethod
    def _initial(config: DiTConfig, seed: int, expert: int) -> bytes:
        """An expert's version-0 checkpoint file: fresh weights seeded by the job's seed and the expert."""
        torch.manual_seed(seed * 1000 + expert)
        return Checkpoint(config, 0, expert, 0, dict(VideoDiT(config).state_dict()), {}).to_bytes()

    @staticmethod
    def _clips(folder: Path | None, frames: int, size: int, count: int, seed: int,
               progress: StepProgress) -> ClipSet:
        if folder is None:
            with _step(progress, READING):
                return synthetic_set(count, seed, frames, size)
        try:
            return ingest_folder(folder, frames, size, lambda done, total: progress(READING, done, total))
        except (ClipSetError, VideoError) as exc:
            raise JobError(str(exc)) from exc

    def spec(self, job_id: int) -> JobSpec:
        self._require_job(job_id)
        return self.index.spec(job_id, self.store.get)

    def _require_job(self, job_id: int) -> None:
        if job_id < 1 or self.chain.job(job_id).requester == "0x" + "00" * 20:
            raise JobError(f"there is no job {job_id} on market {self.chain.contract.address}")

    # ------------------------------------------------------------------------- progress

    def follow(self, job_id: int, poll_s: float = 1.0, timeout_s: float | None = None) -> Iterator[Progress]:
        """Typed events of the job as the chain records them, until every expert is done (`Finished`)."""
        self._require_job(job_id)
        job = self.chain.job(job_id)
        feed = JobFeed(self.chain, job_id, self.from_block)
        started = time.monotonic()
        while True:
            yield from feed.poll()
            versions = tuple(self.chain.version_of(job_id, e) for e in range(job.experts))
            if self.chain.job(job_id).closed or all(v >= job.rounds for v in versions):
                yield Finished(feed.cursor.next_block - 1, versions)
                return
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                raise TimeoutError(f"job {job_id} not finished after {timeout_s:.0f}s (versions {versions})")
            time.sleep(poll_s)

    # ------------------------------------------------------------------------- results

    def download(self, job_id: int) -> Pipeline:
        """The latest checkpoint of every expert, with the job's router, as a sampling pipeline."""
        spec = self.spec(job_id)
        content = self.content(job_id, spec)
        experts = []
        versions = [self.chain.version_of(job_id, expert) for expert in range(spec.experts)]
        try:
            for expert, version in enumerate(versions):
                cid = self.index.checkpoint_cid(spec, job_id, expert, version)
                checkpoint = Checkpoint.from_bytes(content.get(cid), source=str(cid))
                model = VideoDiT(checkpoint.config)
                model.load_state_dict(checkpoint.sampling_weights)
                experts.append(model)
            router = router_from_bytes(content.get(spec.router), spec.router) if spec.router else None
        except SealingError as exc:
            raise JobError(f"job {job_id}: {exc}") from exc
        return Pipeline(experts, router)

    def held_out_loss(self, job_id: int, expert: int, version: int, clips: int = 8) -> float:
        """Flow-matching loss of one checkpoint version on clips it never trained on (the job's evaluation set;
        the first clips of its shard for a job that has none)."""
        spec = self.spec(job_id)
        content = self.content(job_id, spec)
        source = (spec.evals or spec.shards)[expert]
        if source not in self._clips_of:
            self._clips_of[source] = ClipSet.from_bytes(content.get(source), source=source)
        cid = self.index.checkpoint_cid(spec, job_id, expert, version)
        checkpoint = Checkpoint.from_bytes(content.get(cid), source=str(cid))
        return held_out_loss(spec.model, checkpoint.weights, self._clips_of[source].videos[:clips], seed=0)

    def summary(self, job_id: int) -> JobSummary:
        """Where a job stands: its terms, each expert's version, its deltas and the miners who sent them."""
        self._require_job(job_id)
        self.index.sync()
        deltas = self.index.deltas(job_id)
        states = {d.delta_id: self.chain.delta(d.delta_id).state for d in deltas}
        job = self.chain.job(job_id)
        return JobSummary(job_id, job, tuple(self.chain.version_of(job_id, e) for e in range(job.experts)),
                          len(deltas), sum(s in PASSED_STATES for s in states.values()),
                          sum(s in FAILED_STATES for s in states.values()),
                          {miner: self.chain.w3.eth.get_block(block)["timestamp"]
                           for miner, block in {d.miner: d.block for d in deltas}.items()}, self.chain.timestamp())

    def sample(self, job_id: int, out: Path, seed: int = 0, steps: int = 20, frames: int | None = None) -> Path:
        """Sample one clip from the job's current experts and write it (GIF or MP4 by suffix)."""
        if out.suffix.lower() not in (".gif", ".mp4", ".webm"):
            raise JobError(f"{out}: write .gif, .mp4 or .webm")
        clip = self.download(job_id)(num_frames=frames, steps=steps, seed=seed)[0]
        return write_video(clip, out)

    def sample_quality(self, job_id: int, strip: Path, count: int = 8, seed: int = 0, steps: int = 20) -> SampleQuality:
        """Sample `count` clips and compare their temporal coherence with as many of the job's own clips (from
        its shards); writes both, one clip per row (real above, generated below), to the image `strip`."""
        spec = self.spec(job_id)
        content = self.content(job_id, spec)
        shards = [ClipSet.from_bytes(content.get(cid), source=cid) for cid in spec.shards]
        real = torch.cat([s.videos for s in shards])[:count]
        generated = self.download(job_id)(steps=steps, seed=seed, batch=len(real))
        real_frames = to_uint8(real)
        write_strip(np.concatenate([real_frames, generated]), strip)
        return SampleQuality(float(coherence(generated).mean()), float(coherence(real_frames).mean()), strip)

    def cancel(self, job_id: int) -> int:
        """After the deadline and its finalize grace, close the job and withdraw its unspent escrow; returns the
        wei withdrawn."""
        self._require_job(job_id)
        job = self.chain.job(job_id)
        if job.closed:
            raise JobError(f"job {job_id} is already closed")
        now = self.chain.timestamp()
        if now <= job.reclaimable_at:  # the contract's own test: a check at the deadline alone let reclaim revert
            raise JobError(f"job {job_id} runs until its deadline {job.deadline}, and merges may land for two reveal "
                           f"windows after it; its escrow can be reclaimed after {job.reclaimable_at} "
                           f"({job.reclaimable_at - now}s from now)")
        self.chain.reclaim(job_id)
        return self.chain.withdraw()

