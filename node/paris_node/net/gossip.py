"""Signed gossip messages: a versioned envelope, what each kind carries, and the checks every receiver runs.

An envelope is canonical JSON: kind, job, body, the sender's on-chain address, its libp2p peer id, a
timestamp, a random nonce, and an Ethereum signature (EIP-191) over all of that by the sender's staked key.
Signing the peer id binds it to the address: a message whose libp2p origin is another peer, whose signer is
not the sender, whose sender is not staked, that is too old or too new, seen before, too large or not of
the schema is dropped and counted by reason. The chain stays the source of truth; gossip only lets nodes
react sooner.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, Field, ValidationError

FORMAT = "paris-gossip/v1"
MAX_MESSAGE_BYTES = 4096
MAX_SKEW_S = 30.0
HEARTBEAT_S = 2.0  # between heartbeats of a node at work
MAX_HEARTBEAT_S = 30.0  # the longest interval a heartbeat may announce: a dead peer is known within 3 of them
HEARTBEAT_TOPIC = "paris/heartbeat"  # one global topic: liveness and peer exchange before jobs are known
DROP_REASONS = ("malformed", "oversized", "bad-signature", "peer-mismatch", "unknown-sender", "stale", "replayed")


def job_topic(job_id: int) -> str:
    return f"paris/job/{job_id}"


Role = Literal["miner", "validator", "aggregator", "observer"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoundOpened(_Body):
    """An expert's checkpoint `version` is open for training (published by the aggregator)."""

    kind: Literal["round"] = "round"
    expert: int = Field(ge=0)
    version: int = Field(ge=0)


class CheckpointPublished(_Body):
    kind: Literal["checkpoint"] = "checkpoint"
    expert: int = Field(ge=0)
    version: int = Field(ge=0)
    cid: str = Field(max_length=128)


class DeltaSubmitted(_Body):
    kind: Literal["delta"] = "delta"
    expert: int = Field(ge=0)
    base_version: int = Field(ge=0)
    delta_id: str = Field(pattern=r"^0x[0-9a-f]{1,64}$")
    cid: str = Field(max_length=128)


class Heartbeat(_Body):
    """I am alive: my role, where to dial me (peer exchange), where to dial my IPFS node (`ipfs`, so that
    content moves between nodes that only met through gossip), the (job, expert, version) I am training, and
    `every_s`, the seconds to my next heartbeat (longer while I have nothing in flight): I am dead after
    missing a few of those."""

    kind: Literal["heartbeat"] = "heartbeat"
    role: Role
    addrs: list[str] = Field(max_length=8)
    ipfs: list[str] = Field(default_factory=list, max_length=4)
    working: list[tuple[int, int, int]] = Field(default_factory=list, max_length=32)
    every_s: float = Field(default=HEARTBEAT_S, gt=0, le=MAX_HEARTBEAT_S)


Body = RoundOpened | CheckpointPublished | DeltaSubmitted | Heartbeat
BODIES: dict[str, type[_Body]] = {"round": RoundOpened, "checkpoint": CheckpointPublished,
                                  "delta": DeltaSubmitted, "heartbeat": Heartbeat}


class Dropped(ValueError):
    """A message that failed a check; `reason` is one of DROP_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Envelope:
    job: int  # 0 for messages about no particular job (heartbeats)
    body: Body
    sender: str  # checksummed address of the staked key that signed
    peer: str  # base58 libp2p peer id of the publishing host
    ts: float
    nonce: str

    def _signed_part(self) -> bytes:
        return json.dumps({"format": FORMAT, "job": self.job, "body": self.body.model_dump(mode="json"),
                           "sender": self.sender, "peer": self.peer, "ts": self.ts, "nonce": self.nonce},
                          sort_keys=True, separators=(",", ":")).encode()

    def sign(self, account: LocalAccount) -> bytes:
        signature = account.sign_message(encode_defunct(self._signed_part())).signature.hex()
        return json.dumps({**json.loads(self._signed_part()), "sig": signature},
                          sort_keys=True, separators=(",", ":")).encode()


def envelope(account: LocalAccount, peer: str, job: int, body: Body) -> bytes:
    """A signed message from `account` published by host `peer`."""
    return Envelope(job, body, account.address, peer, round(time.time(), 3), os.urandom(8).hex()).sign(account)


def parse(data: bytes) -> tuple[Envelope, str]:
    """Envelope and signature of a message, or Dropped("malformed"/"oversized")."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise Dropped("oversized", f"{len(data)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        raw: dict[str, Any] = json.loads(data)
        if raw.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} message")
        body_raw = raw["body"]
        body = cast(Body, BODIES[body_raw["kind"]].model_validate(body_raw))
        env = Envelope(int(raw["job"]), body, str(raw["sender"]), str(raw["peer"]), float(raw["ts"]),
                       str(raw["nonce"]))
        if set(raw) != {"format", "job", "body", "sender", "peer", "ts", "nonce", "sig"} or env.job < 0:
            raise ValueError("unexpected or missing fields")
        return env, str(raw["sig"])
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise Dropped("malformed", str(exc).splitlines()[0]) from exc


@dataclass
class GossipChecks:
    """Every check a receiver runs, with counts of what passed and what was dropped, by reason."""

    is_member: Callable[[str], bool]  # is this address staked (a cached lookup: never blocks)
    max_skew_s: float = MAX_SKEW_S
    counts: dict[str, int] = field(default_factory=lambda: {"accepted": 0, **dict.fromkeys(DROP_REASONS, 0)})
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _arrivals: deque[tuple[float, tuple[str, str]]] = field(default_factory=deque)  # oldest first
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, data: bytes, origin_peer: str, now: float | None = None) -> Envelope:
        """The message's envelope if it passes; else counts the reason and raises Dropped."""
        try:
            env = self._check(data, origin_peer, time.time() if now is None else now)
        except Dropped as dropped:
            with self._lock:
                self.counts[dropped.reason] += 1
            raise
        with self._lock:
            self.counts["accepted"] += 1
        return env

    def _check(self, data: bytes, origin_peer: str, now: float) -> Envelope:
        env, signature = parse(data)
        if env.peer != origin_peer:
            raise Dropped("peer-mismatch", f"signed for peer {env.peer}, published by {origin_peer}")
        try:
            signer = Account.recover_message(encode_defunct(env._signed_part()), signature=signature)
        except Exception as exc:  # eth_account raises several types for a mangled signature
            raise Dropped("bad-signature", f"unreadable signature: {exc}") from exc
        if signer != env.sender:
            raise Dropped("bad-signature", f"signed by {signer}, claims {env.sender}")
        if abs(now - env.ts) > self.max_skew_s:
            raise Dropped("stale", f"timestamp {env.ts:.0f} is {now - env.ts:+.0f}s from now")
        if not self.is_member(env.sender):
            raise Dropped("unknown-sender", f"{env.sender} is not staked")
        key = (env.sender, env.nonce)
        with self._lock:  # a nonce is remembered for as long as its timestamp could still pass
            while self._arrivals and self._arrivals[0][0] < now - 2 * self.max_skew_s:
                self._seen.discard(self._arrivals.popleft()[1])
            if key in self._seen:
                raise Dropped("replayed", f"nonce {env.nonce} of {env.sender} seen before")
            self._seen.add(key)
            self._arrivals.append((now, key))
        return env
