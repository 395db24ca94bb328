"""Typed bindings over the deployed ParisMarket contract.

The ABI and bytecode are forge's own build output, copied into this package by `scripts/setup.sh`, so
Python and Solidity never disagree. Transactions are signed locally and waited for; a revert comes back as
`ContractRevert` naming the custom error and its arguments. Events are read in block ranges behind a
resumable cursor that a daemon can persist and pick up after a restart.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from multiformats import CID
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

log = logging.getLogger(__name__)

CONTRACT_NAME = "ParisMarket"
LOG_RANGE = 2_000  # blocks per eth_getLogs request


class ChainError(Exception):
    """A chain operation failed; the message says which call and why."""


class ChainUnreachable(ChainError):
    pass


class ContractRevert(ChainError):
    """The contract reverted with a custom error, decoded into its name and arguments."""

    def __init__(self, call: str, error: str, args: dict[str, Any]) -> None:
        self.call, self.error, self.arguments = call, error, args
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        super().__init__(f"{call} reverted: {error}({shown})")


@dataclass(frozen=True)
class Artifact:
    abi: list[dict[str, Any]]
    bytecode: str


def artifact_path(name: str = CONTRACT_NAME) -> Path:
    return Path(str(resources.files("paris_node") / "artifacts" / f"{name}.json"))


def load_artifact(name: str = CONTRACT_NAME) -> Artifact:
    """The forge artifact shipped in paris_node/artifacts (made by `make setup`)."""
    path = artifact_path(name)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ChainError(f"contract artifact {name}.json is missing: run `make setup` (forge build)") from exc
    return Artifact(abi=data["abi"], bytecode=data["bytecode"]["object"])


def cid_to_chain(cid: CID) -> tuple[bytes, int]:
    """A CIDv1 with a sha2-256 multihash as the contract stores it: (32-byte digest, multicodec)."""
    if cid.hashfun.name != "sha2-256":
        raise ValueError(f"{cid}: only sha2-256 CIDs can be recorded on chain, not {cid.hashfun.name}")
    return bytes(cid.raw_digest), cid.codec.code


def cid_from_chain(digest: bytes, codec: int) -> CID:
    return CID("base32", 1, codec, ("sha2-256", digest))


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


@dataclass
class Chain:
    """A connection to the market contract, optionally with an account that signs transactions."""

    rpc_url: str
    address: str
    account: LocalAccount | None = None
    timeout_s: float = 10.0
    w3: Web3 = field(init=False)

    def __post_init__(self) -> None:
        # No retries: a wrong URL must fail now, with a message, rather than back off for a minute.
        provider = Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": self.timeout_s},
                                     exception_retry_configuration=None)
        self.w3 = Web3(provider)
        try:
            self.chain_id = self.w3.eth.chain_id
        except (requests.ConnectionError, requests.Timeout, OSError) as exc:
            raise ChainUnreachable(f"no Ethereum node answers at {self.rpc_url}: {exc.__class__.__name__}") from exc
        if not self.w3.eth.get_code(Web3.to_checksum_address(self.address)):
            raise ChainError(f"no contract at {self.address} on {self.rpc_url} (chain {self.chain_id})")
        self.contract: Contract = self.w3.eth.contract(address=Web3.to_checksum_address(self.address),
                                                       abi=load_artifact().abi)

    @cached_property
    def _errors(self) -> dict[bytes, dict[str, Any]]:
        """Custom errors of the ABI by 4-byte selector."""
        table = {}
        for item in self.contract.abi:
            if item["type"] == "error":
                signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                table[keccak(text=signature)[:4]] = item
        return table

    def decode_revert(self, call: str, data: str | bytes) -> ContractRevert:
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else data
        item = self._errors.get(raw[:4])
        if item is None:
            return ContractRevert(call, f"unknown error 0x{raw[:4].hex()}", {"data": "0x" + raw.hex()})
        values = abi_decode([i["type"] for i in item["inputs"]], raw[4:])
        return ContractRevert(call, item["name"], {i["name"]: v for i, v in zip(item["inputs"], values)})

    def call(self, fn: str, *args: Any) -> Any:
        try:
            return getattr(self.contract.functions, fn)(*args).call()
        except ContractCustomError as exc:
            raise self.decode_revert(fn, exc.data) from exc

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

    def _log_event(self, receipt: dict[str, Any], name: str) -> Event:
        for raw in receipt["logs"]:
            if raw["address"] == self.contract.address:
                event = self._decode_log(raw)
                if event is not None and event.name == name:
                    return event
        raise ChainError(f"transaction {receipt['transactionHash'].hex()} emitted no {name}")

    @cached_property
    def _events_by_topic(self) -> dict[bytes, str]:
        table = {}
        for item in self.contract.abi:
            if item["type"] == "event":
                signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                table[keccak(text=signature)] = item["name"]
        return table

    def _decode_log(self, raw: Any) -> Event | None:
        name = self._events_by_topic.get(bytes(raw["topics"][0])) if raw["topics"] else None
        if name is None:
            return None
        decoded = getattr(self.contract.events, name)().process_log(raw)
        return Event(name, dict(decoded["args"]), decoded["blockNumber"], decoded["logIndex"],
                     decoded["transactionHash"].hex())

    def events(self, cursor: EventCursor, names: set[str] | None = None) -> Iterator[Event]:
        """Events from `cursor.next_block` up to the latest block, advancing the cursor as ranges are read."""
        latest = self.w3.eth.block_number
        while cursor.next_block <= latest:
            end = min(cursor.next_block + LOG_RANGE - 1, latest)
            logs = self.w3.eth.get_logs({"address": self.contract.address,
                                         "fromBlock": cursor.next_block, "toBlock": end})
            for raw in logs:
                event = self._decode_log(raw)
                if event is not None and (names is None or event.name in names):
                    yield event
            cursor.next_block = end + 1

    # Typed calls of the walking skeleton.

    def create_job(self, spec: CID, experts: int, escrow_wei: int) -> int:
        digest, codec = cid_to_chain(spec)
        receipt = self.transact("createJob", digest, codec, experts, value=escrow_wei)
        return self._log_event(receipt, "JobCreated").args["jobId"]

    def submit_delta(self, job_id: int, expert: int, base_version: int, delta: CID, trace_root: bytes) -> int:
        digest, codec = cid_to_chain(delta)
        receipt = self.transact("submitDelta", job_id, expert, base_version, digest, codec, trace_root)
        return self._log_event(receipt, "DeltaSubmitted").args["deltaId"]


def deploy(rpc_url: str, account: LocalAccount, timeout_s: float = 10.0) -> tuple[str, int]:
    """Deploy ParisMarket from the shipped artifact; return its address and deployment block."""
    artifact = load_artifact()
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None))
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor().build_transaction({
        "from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": w3.eth.chain_id,
    })
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout_s * 6)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise ChainError(f"deploying {CONTRACT_NAME} failed in tx {tx_hash.hex()}")
    return receipt["contractAddress"], receipt["blockNumber"]


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)
