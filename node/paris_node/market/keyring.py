"""A private job's keyring: one data key per epoch, each sealed to the nodes admitted in that epoch.

The job spec names the first keyring; the requester replaces it on chain (`setKeyring`) when it admits a
node (the node's key is sealed into every epoch, so it can read the job's history: shards, earlier
checkpoints and deltas) or removes one (a new epoch whose key only the remaining nodes get; everything
written afterwards uses it, so the removed node cannot read later checkpoints or deltas). Nodes read the
latest keyring, open the entries sealed to their own key, and read and write job content through
`Keyrings.content`, which is the plain store for public jobs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from eth_account.signers.local import LocalAccount
from multiformats import CID
from web3 import Web3

from paris_node.content.sealing import (OVERHEAD, NotAdmitted, SealingError, decrypt, encrypt, epoch_of, new_data_key,
                                        node_key, open_key, public_bytes, seal_key)
from paris_node.content.store import parse_cid
from paris_node.learning.jobspec import JobSpec
from paris_node.market.chain import Chain

FORMAT = "paris-keyring/v1"


class Content(Protocol):
    """Where job content is read and written: the IPFS store, a local cache of it, or a private job's view."""

    def get(self, cid: str | CID, max_bytes: int | None = None) -> bytes: ...

    def add(self, data: bytes, name: str = "blob") -> CID: ...


def _context(epoch: int, address: str) -> bytes:
    return f"{FORMAT} epoch {epoch} for {address}".encode()


@dataclass(frozen=True)
class JobKeys:
    """The data keys one node holds for a job, by epoch; None where it was not admitted."""

    job_id: int
    keys: tuple[bytes | None, ...]

    def of_epoch(self, epoch: int, source: str) -> bytes:
        if epoch >= len(self.keys):
            raise SealingError(f"{source}: encrypted under key epoch {epoch}, but job {self.job_id}'s keyring "
                               f"has epochs 0..{len(self.keys) - 1}")
        key = self.keys[epoch]
        if key is None:
            raise NotAdmitted(f"{source}: this node was not admitted to private job {self.job_id} "
                              f"(key epoch {epoch})")
        return key

    def current(self, source: str) -> tuple[int, bytes]:
        epoch = len(self.keys) - 1
        return epoch, self.of_epoch(epoch, source)


@dataclass(frozen=True)
class Keyring:
    epochs: tuple[dict[str, str], ...]  # per epoch: checksum address -> its sealed data key (hex)

    @classmethod
    def first(cls, members: dict[str, bytes]) -> tuple[Keyring, bytes]:
        """A keyring with one fresh data key sealed to `members` (address -> X25519 public key)."""
        return cls(()).rotated(members)

    def rotated(self, members: dict[str, bytes]) -> tuple[Keyring, bytes]:
        """This keyring plus a new epoch whose fresh key only `members` get; returns the key too."""
        key, epoch = new_data_key(), len(self.epochs)
        sealed: dict[str, str] = {}
        for address, public in members.items():
            checksummed = Web3.to_checksum_address(address)
            sealed[checksummed] = seal_key(key, public, _context(epoch, checksummed)).hex()
        return Keyring((*self.epochs, sealed)), key

    def admitted(self, keys: JobKeys, address: str, public: bytes) -> Keyring:
        """This keyring with every epoch's key (from `keys`, the requester's) also sealed to `address`."""
        address = Web3.to_checksum_address(address)
        return Keyring(tuple({**sealed, address: seal_key(keys.of_epoch(e, "admission"), public,
                                                           _context(e, address)).hex()}
                             for e, sealed in enumerate(self.epochs)))

    def members(self) -> set[str]:
        """Who holds the current epoch's key."""
        return set(self.epochs[-1])

    def open(self, job_id: int, account: LocalAccount) -> JobKeys:
        """The keys sealed to `account`, by epoch."""
        secret, address = node_key(account), account.address
        return JobKeys(job_id, tuple(None if address not in sealed
                                     else open_key(bytes.fromhex(sealed[address]), secret, _context(e, address))
                                     for e, sealed in enumerate(self.epochs)))

    def to_bytes(self) -> bytes:
        return json.dumps({"format": FORMAT, "epochs": list(self.epochs)}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "keyring") -> Keyring:
        try:
            raw = json.loads(data)
            if raw.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} document")
            epochs = tuple({str(Web3.to_checksum_address(a)): bytes.fromhex(s).hex() for a, s in sealed.items()}
                           for sealed in raw["epochs"])
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise SealingError(f"{source}: malformed keyring: {exc}") from exc
        if not epochs:
            raise SealingError(f"{source}: a keyring without any epoch")
        return cls(epochs)


class SealedContent:
    """A private job's content: decrypted on read, encrypted on write under the current epoch's key, or under
    `write_epoch`'s when one is given."""

    def __init__(self, inner: Content, keys: Callable[[bool], JobKeys], write_epoch: int | None = None) -> None:
        self.inner, self.keys, self.write_epoch = inner, keys, write_epoch

    def get(self, cid: str | CID, max_bytes: int | None = None) -> bytes:
        blob = self.inner.get(cid, max_bytes=None if max_bytes is None else max_bytes + OVERHEAD)
        source = str(cid)
        epoch = epoch_of(blob, source)
        keys = self.keys(False)
        if epoch >= len(keys.keys) or keys.keys[epoch] is None:  # a rotation or admission not read yet
            keys = self.keys(True)
        return decrypt(keys.of_epoch(epoch, source), blob, source)

    def add(self, data: bytes, name: str = "blob") -> CID:
        keys = self.keys(True)
        epoch, key = keys.current(name) if self.write_epoch is None else (self.write_epoch,
                                                                          keys.of_epoch(self.write_epoch, name))
        return self.inner.add(encrypt(key, epoch, data), name=name)


class Keyrings:
    """What one account can read of the private jobs it follows: each job's latest keyring, opened."""

    def __init__(self, chain: Chain, fetch: Callable[[CID], bytes], account: LocalAccount) -> None:
        self.chain, self.fetch, self.account = chain, fetch, account
        self.public = public_bytes(node_key(account))
        self._registered = False
        self._opened: dict[int, tuple[CID, Keyring, JobKeys]] = {}

    def register(self) -> None:
        """Publish this account's X25519 key on chain unless it is already there."""
        if not self._registered and self.chain.x25519_key_of(self.account.address) != self.public:
            self.chain.register_key(self.public)
        self._registered = True

    def _cid_at(self, job_id: int, spec: JobSpec, block: int | str = "latest") -> CID:
        """Where the job's keyring as of `block` lies: the one set on chain, else the spec's first."""
        return self.chain.keyring_of(job_id, block=block) or parse_cid(spec.keyring)

    def _read(self, job_id: int, cid: CID) -> Keyring:
        return Keyring.from_bytes(self.fetch(cid), source=f"keyring {cid} of job {job_id}")

    def current(self, job_id: int, spec: JobSpec) -> tuple[Keyring, JobKeys]:
        """The job's latest keyring and the keys it holds for this account."""
        cid = self._cid_at(job_id, spec)
        opened = self._opened.get(job_id)
        if opened is None or opened[0] != cid:
            keyring = self._read(job_id, cid)
            opened = (cid, keyring, keyring.open(job_id, self.account))
            self._opened[job_id] = opened
        return opened[1], opened[2]

    def members_at(self, job_id: int, spec: JobSpec, block: int) -> set[str]:
        """Who held the job's current data key as of `block` (e.g. when a delta was submitted)."""
        return self._read(job_id, self._cid_at(job_id, spec, block)).members()

    def _keys(self, job_id: int, spec: JobSpec, refresh: bool) -> JobKeys:
        if refresh or job_id not in self._opened:
            return self.current(job_id, spec)[1]
        return self._opened[job_id][2]

    def content(self, job_id: int, spec: JobSpec, inner: Content, as_of_block: int | None = None) -> Content:
        """Job content as this account sees it: `inner` itself for a public job. With `as_of_block`, what it
        writes is sealed under the key that was current then: a miner removed after submitting a delta (and so
        without the newer key) can still publish its reveal, under the key every validator of the delta holds."""
        if not spec.private:
            return inner
        epoch = None if as_of_block is None else len(self._read(job_id, self._cid_at(job_id, spec, as_of_block))
                                                     .epochs) - 1
        return SealedContent(inner, lambda refresh: self._keys(job_id, spec, refresh), epoch)
