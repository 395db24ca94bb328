"""Typed bindings over the deployed ParisMarket contract.

The ABI and bytecode are forge's own build output, copied into this package by `scripts/setup.sh`, so
Python and Solidity never disagree. Transactions are signed locally and waited for; a revert comes back as
`ContractRevert` naming the custom error and its arguments. Events are read in block ranges, filtered by the
node on topics; the market's shared state (jobs, deltas, merges) is read through `market.index`, whose
cursor daemons persist.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import event_abi_to_log_topic, function_abi_to_4byte_selector, get_abi_input_types
from multiformats import CID
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.types import RPCEndpoint

from paris_node.market.errors import ChainError, ChainUnreachable, ContractRevert, revert_hints
from paris_node.market.headers import header_rlp
from paris_node.settings import UINT8, UINT16, UINT24, UINT32, UINT40, UINT64, UINT96, check

log = logging.getLogger(__name__)

CONTRACT_NAME = "ParisMarket"
COURT_NAME = "ParisCourt"
LOG_RANGE = 2_000  # blocks per eth_getLogs request


@dataclass(frozen=True)
class Artifact:
    abi: list[dict[str, Any]]
    bytecode: str
    hints: dict[str, str]  # custom error name -> its @notice in IParisMarket.sol


def artifact_path(name: str = CONTRACT_NAME) -> Path:
    return Path(str(resources.files("paris_node") / "artifacts" / f"{name}.json"))


def _read_artifact(name: str) -> dict[str, Any]:
    path = artifact_path(name)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ChainError(f"contract artifact {name}.json is missing: run `make setup` (forge build)") from exc


def load_artifact() -> Artifact:
    """The market's forge artifact shipped in paris_node/artifacts (made by `make setup`), its ABI joined with the
    court's: the market answers the court's calls (run in the court's code on the market's storage)."""
    market, court = _read_artifact(CONTRACT_NAME), _read_artifact(COURT_NAME)
    known = {(item["type"], item.get("name")) for item in market["abi"]}
    abi = market["abi"] + [item for item in court["abi"]
                           if item["type"] != "constructor" and (item["type"], item.get("name")) not in known]
    return Artifact(abi=abi, bytecode=market["bytecode"]["object"], hints=revert_hints(market["rawMetadata"]))


def cid_to_chain(cid: CID) -> tuple[bytes, int]:
    """A CIDv1 with a sha2-256 multihash as the contract stores it: (32-byte digest, multicodec)."""
    if cid.hashfun.name != "sha2-256":
        raise ValueError(f"{cid}: only sha2-256 CIDs can be recorded on chain, not {cid.hashfun.name}")
    return bytes(cid.raw_digest), cid.codec.code


def cid_from_chain(digest: bytes, codec: int) -> CID:
    return CID("base32", 1, codec, ("sha2-256", digest))


class DeltaState(enum.IntEnum):
    NONE = 0
    SUBMITTED = 1
    PASSED = 2
    FAILED = 3
    MERGED = 4
    PAID = 5
    SLASHED = 6
    RELEASED = 7  # settled without a merge or a slash: its stake is free again


class Vote(enum.IntEnum):
    NONE = 0
    COMMITTED = 1  # sealed, not opened yet
    PASS = 2
    FAIL = 3
    COLLECTED = 4  # its fee paid, or its voter slashed


class Verdict(enum.IntEnum):
    NONE = 0
    PASS = 1
    FAIL = 2


class SlashReason(enum.IntEnum):
    FAILED_SPOT_CHECK = 0
    WITHHELD_REVEAL = 1


ROLE_MINER, ROLE_VALIDATOR, ROLE_AGGREGATOR = 1, 2, 4


@dataclass(frozen=True)
class MarketParams:
    """Constructor arguments of a market deployment."""

    min_stake_wei: int = 10**18
    unbonding_delay_s: int = 7 * 24 * 3600
    challenge_delay_blocks: int = 2
    vote_window_s: int = 600  # each of the commit, open and trap phases after a reveal


@dataclass(frozen=True)
class JobTerms:
    """What a requester fixes when opening a job (the contract's JobTerms, field for field)."""

    spec: CID
    experts: int
    rounds: int
    reward_per_round_wei: int
    deadline: int  # unix seconds
    aggregator: str
    validator_fee_wei: int = 0
    reveal_window_s: int = 3600
    staleness_bound: int = 1
    quorum: int = 1
    challenges: int = 1  # random segments besides the last one, which is always challenged

    def __post_init__(self) -> None:
        """The contract's field types bound every term (its own rules, such as MAX_QUORUM, come on top)."""
        for name, low, high in (("experts", 1, UINT16), ("rounds", 1, UINT32), ("reward_per_round_wei", 0, UINT96),
                                ("validator_fee_wei", 0, UINT64), ("deadline", 1, UINT40),
                                ("reveal_window_s", 1, UINT24), ("staleness_bound", 0, UINT16), ("quorum", 1, UINT8),
                                ("challenges", 1, UINT8)):
            check(name, getattr(self, name), low, high)

    def as_tuple(self) -> tuple[Any, ...]:
        digest, codec = cid_to_chain(self.spec)
        return (digest, codec, self.experts, self.rounds, self.reward_per_round_wei, self.validator_fee_wei,
                self.deadline, self.reveal_window_s, self.staleness_bound, self.quorum, self.challenges,
                Web3.to_checksum_address(self.aggregator))


@dataclass(frozen=True)
class Job:
    requester: str
    experts: int
    rounds: int
    staleness_bound: int
    quorum: int
    challenges: int
    closed: bool
    aggregator: str
    deadline: int
    reveal_window: int
    spec_codec: int
    escrow: int
    reward_per_round: int
    validator_fee: int
    fee_pool: int
    spec_digest: bytes

    @property
    def reclaimable_at(self) -> int:
        """The contract's reclaim time: the deadline plus the finalize grace of two reveal windows. Past it the
        requester may reclaim, and a passed delta nobody merged may be released."""
        return self.deadline + 2 * self.reveal_window


@dataclass(frozen=True)
class Delta:
    miner: str
    base_version: int
    expert: int
    state: DeltaState
    submitted_at: int
    job_id: int
    submitted_block: int
    segments: int
    pass_votes: int
    fail_votes: int
    revealed: bool
    score_sum: int
    payout: int
    revealed_at: int
    pass_weight: int
    fail_weight: int
    verdict: Verdict
    trapped: bool
    lane: int  # which of its miner's deltas on this base version it is


@dataclass(frozen=True)
class Stake:
    amount: int
    roles: int
    slashed: bool
    unbond_at: int
    open: int  # deltas submitted and not yet settled; each needs the market's minimum stake


@dataclass(frozen=True)
class Event:
    name: str
    args: dict[str, Any]
    block: int
    log_index: int
    tx_hash: str


@dataclass
class EventCursor:
    """Where event reading resumes: the next block not yet read. Persist `to_json()` to survive restarts."""

    next_block: int = 0

    def to_json(self) -> dict[str, int]:
        return {"next_block": self.next_block}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> EventCursor:
        return cls(next_block=int(data["next_block"]))


class _Provider(HTTPProvider):
    """HTTP JSON-RPC without retries (a wrong URL fails now, with a message, rather than backing off for a
    minute) whose connection failures, at any call, surface as ChainUnreachable naming the endpoint."""

    def make_request(self, method: Any, params: Any) -> Any:
        try:
            return super().make_request(method, params)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ChainUnreachable(f"no Ethereum node answers at {self.endpoint_uri} ({method}): "
                                   f"{exc.__class__.__name__}") from exc


@dataclass
class Chain:
    """A connection to the market contract, optionally with an account that signs transactions."""

    rpc_url: str
    address: str
    account: LocalAccount | None = None
    timeout_s: float = 10.0
    w3: Web3 = field(init=False)

    def __post_init__(self) -> None:
        self.w3 = Web3(_Provider(self.rpc_url, request_kwargs={"timeout": self.timeout_s},
                                 exception_retry_configuration=None,
                                 # web3 asks the chain id before every eth_call: once a thread is enough
                                 cache_allowed_requests=True, cacheable_requests={RPCEndpoint("eth_chainId")},
                                 request_cache_validation_threshold=None))
        self.chain_id = self.w3.eth.chain_id
        if not self.w3.eth.get_code(Web3.to_checksum_address(self.address)):
            raise ChainError(f"no contract at {self.address} on {self.rpc_url} (chain {self.chain_id})")
        artifact = load_artifact()
        self.hints = artifact.hints
        self.contract: Contract = self.w3.eth.contract(address=Web3.to_checksum_address(self.address),
                                                       abi=artifact.abi)

    def decode_revert(self, call: str, data: str | bytes | object) -> ContractRevert:
        return decode_revert(self.contract.abi, self.hints, call, data)

    def call(self, fn: str, *args: Any, block: int | str = "latest") -> Any:
        try:
            return getattr(self.contract.functions, fn)(*args).call(block_identifier=block)
        except ContractCustomError as exc:
            raise self.decode_revert(fn, exc.data) from exc

    @property
    def signer(self) -> LocalAccount:
        """The account this client signs with; a ChainError for a read-only client."""
        if self.account is None:
            raise ChainError("this client has no signing account")
        return self.account

    def transact(self, fn: str, *args: Any, value: int = 0) -> dict[str, Any]:
        """Sign, send and wait for `fn(*args)`; return the receipt or raise the decoded revert."""
        if self.account is None:
            raise ChainError(f"{fn}: this client has no signing account")
        bound = getattr(self.contract.functions, fn)(*args)
        try:
            tx = bound.build_transaction({
                "from": self.account.address, "value": value, "chainId": self.chain_id,
                "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
            })
        except ContractCustomError as exc:
            raise self.decode_revert(fn, exc.data) from exc
        except (ContractLogicError, Web3RPCError) as exc:
            raise ChainError(f"{fn} would fail: {exc}") from exc
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout_s * 6)
        if receipt["status"] != 1:
            raise ChainError(f"{fn} reverted on chain in tx {tx_hash.hex()} (block {receipt['blockNumber']})")
        log.info("tx %s from %s mined in block %d", fn, self.account.address, receipt["blockNumber"])
        return dict(receipt)

    def _log_events(self, receipt: dict[str, Any], name: str) -> list[Event]:
        decoded = (self._decode_log(raw) for raw in receipt["logs"] if raw["address"] == self.contract.address)
        return [event for event in decoded if event is not None and event.name == name]

    def _log_event(self, receipt: dict[str, Any], name: str) -> Event:
        events = self._log_events(receipt, name)
        if not events:
            raise ChainError(f"transaction {receipt['transactionHash'].hex()} emitted no {name}")
        return events[0]

    @cached_property
    def _events_by_topic(self) -> dict[bytes, str]:
        return {event_abi_to_log_topic(item): item["name"] for item in self.contract.abi if item["type"] == "event"}

    def _decode_log(self, raw: Any) -> Event | None:
        name = self._events_by_topic.get(bytes(raw["topics"][0])) if raw["topics"] else None
        if name is None:
            return None
        decoded = getattr(self.contract.events, name)().process_log(raw)
        return Event(name, dict(decoded["args"]), decoded["blockNumber"], decoded["logIndex"],
                     decoded["transactionHash"].hex())

    @cached_property
    def _topics_by_event(self) -> dict[str, str]:
        return {name: "0x" + topic.hex() for topic, name in self._events_by_topic.items()}

    def logs(self, from_block: int, to_block: int, names: Iterable[str] | None = None,
             first_indexed: Iterable[int] | None = None) -> list[Event]:
        """Decoded events in [from_block, to_block], filtered by the node: by event name (topic 0) and, when
        given, by the value of the events' first indexed argument (topic 1, e.g. a job id)."""
        topics: list[Any] = []
        if names is not None:
            unknown = set(names) - set(self._topics_by_event)
            if unknown:
                raise ChainError(f"{CONTRACT_NAME} emits no event named {sorted(unknown)}")
            topics.append(sorted(self._topics_by_event[n] for n in names))
        if first_indexed is not None:
            topics = (topics or [None]) + [["0x" + int(v).to_bytes(32, "big").hex() for v in sorted(first_indexed)]]
        query: dict[str, Any] = {"address": self.contract.address, "fromBlock": from_block, "toBlock": to_block}
        if topics:
            query["topics"] = topics
        return [e for raw in self.w3.eth.get_logs(query)  # type: ignore[arg-type]
                if (e := self._decode_log(raw)) is not None]

    def events(self, cursor: EventCursor, names: set[str] | None = None, to_block: int | None = None
               ) -> Iterator[Event]:
        """Events from `cursor.next_block` up to `to_block` (the latest block), advancing the cursor as ranges are
        read."""
        latest = self.w3.eth.block_number if to_block is None else to_block
        while cursor.next_block <= latest:
            end = min(cursor.next_block + LOG_RANGE - 1, latest)
            yield from self.logs(cursor.next_block, end, names)
            cursor.next_block = end + 1

    # Typed calls, one per contract function.

    def _receipt_event(self, fn: str, *args: Any, event: str, value: int = 0) -> Event:
        return self._log_event(self.transact(fn, *args, value=value), event)

    def create_job(self, terms: JobTerms, escrow_wei: int) -> int:
        return self._receipt_event("createJob", terms.as_tuple(), value=escrow_wei, event="JobCreated").args["jobId"]

    def top_up(self, job_id: int, wei: int) -> None:
        self.transact("topUp", job_id, value=wei)

    def reclaim(self, job_id: int) -> int:
        return self._receipt_event("reclaim", job_id, event="JobReclaimed").args["amount"]

    def stake(self, roles: int, wei: int) -> None:
        self.transact("stake", roles, value=wei)

    def register_key(self, x25519_key: bytes) -> None:
        self.transact("registerKey", x25519_key)

    def set_keyring(self, job_id: int, keyring: CID) -> None:
        digest, codec = cid_to_chain(keyring)
        self.transact("setKeyring", job_id, digest, codec)

    def request_unbond(self) -> int:
        return self._receipt_event("requestUnbond", event="UnbondRequested").args["unbondAt"]

    def withdraw_stake(self) -> int:
        return self._receipt_event("withdrawStake", event="StakeWithdrawn").args["amount"]

    def submit_delta(self, job_id: int, expert: int, base_version: int, delta: CID, trace_root: bytes,
                     segments: int, lane: int = 0) -> int:
        digest, codec = cid_to_chain(delta)
        return self._receipt_event("submitDelta", job_id, expert, base_version, lane, digest, codec, trace_root,
                                   segments, event="DeltaSubmitted").args["deltaId"]

    def fix_challenge(self, delta_id: int) -> bytes:
        """Fix the challenge of a delta (or a dispute's committee) from its challenge block's prevrandao, proven
        by the block's header, unless already fixed; return the seed. Raises ChallengeNotReady before that block
        is mined, ChallengeExpired once its hash is more than 256 blocks old."""
        if not self.challenge_fixed(delta_id):
            self.transact("fixChallenge", delta_id, self.challenge_header(delta_id))
        return self.challenge_seed(delta_id)

    def challenge_header(self, delta_id: int) -> bytes:
        """The RLP header of the delta's challenge block, which `fixChallenge` takes; empty (and so reverting as
        ChallengeNotReady) while that block is not mined."""
        target = self.delta(delta_id).submitted_block + self.challenge_delay
        return header_rlp(self.w3.eth.get_block(target)) if self.w3.eth.block_number >= target else b""

    def challenge_fixed(self, delta_id: int) -> bool:
        return self.call("fixedSeeds", delta_id) != bytes(32)

    def reveal(self, delta_id: int, reveal: CID) -> bytes:
        """Post the challenged states' CID (fixing the challenge first if nobody has); return the seed."""
        self.fix_challenge(delta_id)
        digest, codec = cid_to_chain(reveal)
        return self._receipt_event("reveal", delta_id, digest, codec, event="Revealed").args["seed"]

    def commit_vote(self, delta_id: int, passed: bool, score: int, salt: bytes) -> None:
        """Seal a verdict; `reveal_vote` opens it with the same arguments once the commit phase is over."""
        self.transact("commitVote", delta_id, vote_commitment(delta_id, self.signer.address, passed, score, salt))

    def reveal_vote(self, delta_id: int, passed: bool, score: int, salt: bytes) -> None:
        self.transact("revealVote", delta_id, passed, score, salt)

    def decide(self, delta_id: int) -> Event:
        return self._receipt_event("decide", delta_id, event="DeltaDecided")

    def commit_traps(self, job_id: int, trap_ids: list[int], salt: bytes) -> None:
        self.transact("commitTraps", job_id, trap_commitment(job_id, trap_ids, salt))

    def expose_trap(self, delta_id: int, trap_ids: list[int], salt: bytes) -> None:
        self.transact("exposeTrap", delta_id, trap_ids, salt)

    def slash_voter(self, delta_id: int, validator: str) -> Event:
        return self._receipt_event("slashVoter", delta_id, Web3.to_checksum_address(validator), event="VoterSlashed")

    def finalize(self, job_id: int, expert: int, new_version: int, checkpoint: CID, delta_ids: list[int],
                 unavailable: int = 0) -> Event:
        """Record a merge of `delta_ids`, the last `unavailable` of which could not be read (paid, not merged)."""
        digest, codec = cid_to_chain(checkpoint)
        return self._receipt_event("finalize", job_id, expert, new_version, digest, codec, delta_ids, unavailable,
                                   event="ExpertFinalized")

    def claim(self, delta_ids: list[int]) -> None:
        self.transact("claim", delta_ids)

    def set_aggregator(self, job_id: int, aggregator: str) -> None:
        self.transact("setAggregator", job_id, Web3.to_checksum_address(aggregator))

    def dispute_merge(self, job_id: int, expert: int, bond_wei: int) -> int:
        """Dispute the expert's latest merge (within its window), bonding `bond_wei`; returns the dispute's id."""
        return self._receipt_event("disputeMerge", job_id, expert, value=bond_wei,
                                   event="MergeDisputed").args["disputeId"]

    def resolve_dispute(self, dispute_id: int, checkpoint: CID, merged: list[int]) -> Event:
        digest, codec = cid_to_chain(checkpoint)
        return self._receipt_event("resolveDispute", dispute_id, digest, codec, merged, event="DisputeResolved")

    def report_omission(self, delta_id: int, checkpoint: CID, merged: list[int]) -> Event:
        digest, codec = cid_to_chain(checkpoint)
        return self._receipt_event("reportOmission", delta_id, digest, codec, merged, event="OmissionReported")

    def merge_settled(self, job_id: int, expert: int) -> bool:
        """Whether the expert's latest merge can no longer be disputed or rolled back: its window is over and no
        dispute of it is unresolved. The next merge, claims of its payouts and deltas trained on its checkpoint
        wait until then (`MergeNotSettled`)."""
        return bool(self.call("mergeSettled", job_id, expert))

    def merge_settles_at(self, job_id: int, expert: int) -> int:
        """When the expert's latest merge stops being open to disputes and omission reports (0: none is open);
        the next merge and claims of its payouts wait for it (and for any open dispute of it)."""
        at = self.call("mergedAt", job_id, expert)
        return at + self.vote_window if at else 0

    def collect(self, delta_ids: list[int]) -> int:
        """A validator's fees (and slashing shares) for votes that matched the verdict; returns the wei credited."""
        receipt = self.transact("collect", delta_ids)
        return sum(e.args["fee"] + e.args["slashShare"] for e in self._log_events(receipt, "Collected"))

    def release(self, delta_id: int) -> None:
        self.transact("release", delta_id)

    def withdraw(self) -> int:
        return self._receipt_event("withdraw", event="Withdrawn").args["amount"]

    def slash(self, delta_id: int, reason: SlashReason, evidence: CID) -> Event:
        digest, codec = cid_to_chain(evidence)
        return self._receipt_event("slash", delta_id, int(reason), digest, codec, event="Slashed")

    # Views.

    def timestamp(self) -> int:
        """The latest block's unix time: the clock the contract's windows and deadlines use."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def on_committee(self, delta_id: int, validator: str) -> bool:
        """Whether `validator` was drawn (by stake, from the delta's seed) for the revealed delta's committee."""
        return bool(self.call("onCommittee", delta_id, Web3.to_checksum_address(validator)))

    def vote_of(self, delta_id: int, validator: str) -> Vote:
        return Vote(self.call("votes", delta_id, Web3.to_checksum_address(validator)))

    def job(self, job_id: int) -> Job:
        return Job(**self._struct("getJob", job_id))

    def delta(self, delta_id: int) -> Delta:
        fields = self._struct("getDelta", delta_id)
        return Delta(**{**fields, "state": DeltaState(fields["state"]), "verdict": Verdict(fields["verdict"])})

    def stake_of(self, address: str) -> Stake:
        return Stake(**self._struct("getStake", address))

    def x25519_key_of(self, address: str) -> bytes:
        """The account's registered X25519 public key; 32 zero bytes when it has none."""
        return bytes(self.call("x25519KeyOf", Web3.to_checksum_address(address)))

    def keyring_of(self, job_id: int, block: int | str = "latest") -> CID | None:
        """The keyring a requester last set for a job (as of `block`); None while the spec's first one stands."""
        digest, codec = self.call("keyringOf", job_id, block=block)
        return None if digest == bytes(32) else cid_from_chain(digest, codec)

    def owed(self, address: str) -> int:
        return self.call("owed", address)

    def version_of(self, job_id: int, expert: int) -> int:
        return self.call("versionOf", job_id, expert)

    def merge_record(self, job_id: int, expert: int, version: int) -> bytes:
        return self.call("mergeRecord", job_id, expert, version)

    def delta_id_of(self, job_id: int, expert: int, base_version: int, miner: str, lane: int = 0) -> int:
        return self.call("deltaIdOf", job_id, expert, base_version, lane, miner)

    @cached_property
    def min_stake(self) -> int:
        """The bond a role needs, and that much again per unsettled delta (immutable in the contract)."""
        return self.call("MIN_STAKE")

    @cached_property
    def vote_window(self) -> int:
        """Seconds of each vote phase after a reveal: commit, open, trap exposure (immutable in the contract)."""
        return self.call("VOTE_WINDOW")

    @cached_property
    def challenge_delay(self) -> int:
        """Blocks after a submission whose prevrandao fixes its challenge (immutable in the contract)."""
        return self.call("CHALLENGE_DELAY")

    def challenge_seed(self, delta_id: int, block: int | str = "latest") -> bytes:
        """The delta's challenge seed as of `block` (ChallengeNotFixed until `fix_challenge`)."""
        return self.call("challengeSeed", delta_id, block=block)

    def challenged_segments(self, delta_id: int) -> list[int]:
        return list(self.call("challengedSegments", delta_id))

    def _struct(self, fn: str, *args: Any) -> dict[str, Any]:
        """A struct-returning view as a dict keyed by the ABI's field names."""
        entry: Any = next(i for i in self.contract.abi if i.get("name") == fn)
        outputs = entry["outputs"][0]["components"]
        return {_snake(c["name"]): v for c, v in zip(outputs, self.call(fn, *args), strict=True)}


def deploy(rpc_url: str, account: LocalAccount, params: MarketParams, timeout_s: float = 10.0) -> tuple[str, int]:
    """Deploy ParisMarket from the shipped artifact; return its address and deployment block."""
    artifact = load_artifact()
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None))
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    constructor = factory.constructor(params.min_stake_wei, params.unbonding_delay_s, params.challenge_delay_blocks,
                                      params.vote_window_s)
    try:
        tx = constructor.build_transaction({
            "from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": w3.eth.chain_id,
        })
    except ContractCustomError as exc:  # e.g. InvalidTerms: a chain without RANDAO
        raise decode_revert(artifact.abi, artifact.hints, f"deploying {CONTRACT_NAME}", exc.data) from exc
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout_s * 6)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise ChainError(f"deploying {CONTRACT_NAME} failed in tx {tx_hash.hex()}")
    return receipt["contractAddress"], receipt["blockNumber"]


def decode_revert(abi: Sequence[Any], hints: dict[str, str], call: str, data: str | bytes | object) -> ContractRevert:
    """A custom error of `abi`, decoded into its name and arguments."""
    if not isinstance(data, str | bytes):
        return ContractRevert(call, "unknown error", {"data": repr(data)})
    raw = bytes.fromhex(data[2:]) if isinstance(data, str) else data
    item = next((i for i in abi if i["type"] == "error" and function_abi_to_4byte_selector(i) == raw[:4]), None)
    if item is None:
        return ContractRevert(call, f"unknown error 0x{raw[:4].hex()}", {"data": "0x" + raw.hex()})
    values = abi_decode(get_abi_input_types(item), raw[4:])
    return ContractRevert(call, item["name"], {i["name"]: v for i, v in zip(item["inputs"], values, strict=True)},
                          hints.get(item["name"], ""))


def vote_commitment(delta_id: int, validator: str, passed: bool, score: int, salt: bytes) -> bytes:
    """The market's `voteCommitment`: keccak256(abi.encode(deltaId, validator, pass, score, salt))."""
    return Web3.keccak(abi_encode(["uint256", "address", "bool", "uint32", "bytes32"],
                                  [delta_id, Web3.to_checksum_address(validator), passed, score, salt]))


def trap_commitment(job_id: int, trap_ids: list[int], salt: bytes) -> bytes:
    """What `commitTraps` seals: keccak256(abi.encode(jobId, trapDeltaIds, salt))."""
    return Web3.keccak(abi_encode(["uint256", "uint256[]", "bytes32"], [job_id, trap_ids, salt]))


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()

