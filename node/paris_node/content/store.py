"""Content-addressed storage through an IPFS node's Kubo RPC API, trusting nothing the node returns.

Files are added as CIDv1 with raw leaves and fixed 256 KiB chunks. Reads walk the file's DAG with
`block/get` and hash every block against the CID that named it, so a lying or corrupted daemon is caught
on the first wrong block. Every request has a timeout (a read of an unknown CID otherwise hangs forever)
and reads stop as soon as they pass the size limit. Speaks the RPC API over httpx because
`ipfshttpclient` refuses every daemon newer than 0.8.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from multiformats import CID, multihash

from paris_node.content.unixfs import UnixFSError, decode_file_node

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
MAX_BLOCK_BYTES = 2 * 1024 * 1024
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class StoreError(Exception):
    """An IPFS operation failed; the message names the CID or endpoint and what went wrong."""


class StoreUnreachable(StoreError):
    pass


class StoreTimeout(StoreError):
    pass


class ContentMismatch(StoreError):
    """Bytes returned for a CID do not hash to it."""


class ObjectTooLarge(StoreError):
    pass


class InvalidCid(StoreError, ValueError):
    pass


def parse_cid(value: str | bytes | CID) -> CID:
    """Decode a CID from text (any multibase) or bytes; CIDs are compared decoded, never as strings. A CIDv1 is
    written in base32 from here on, as the chain's CIDs are (`cid_from_chain`), so logs, the CLI and cache files
    all spell one CID the same way."""
    try:
        cid = value if isinstance(value, CID) else CID.decode(value)
    except Exception as exc:  # multiformats raises several error types for malformed input
        raise InvalidCid(f"{value!r} is not a valid CID: {exc}") from exc
    return cid.set(base="base32") if cid.version == 1 else cid


def verify_block(cid: CID, block: bytes) -> None:
    """Raise ContentMismatch unless `block` hashes to `cid`'s multihash, which must be sha2-256: a weaker
    function (or the identity "hash") in a child link would let a lying daemon substitute that block."""
    if cid.hashfun.name != "sha2-256":
        raise StoreError(f"{cid}: hashed with {cid.hashfun.name}; only sha2-256 blocks are accepted")
    try:
        actual = multihash.digest(block, cid.hashfun.name)
    except Exception as exc:
        raise StoreError(f"{cid}: cannot verify hash function {cid.hashfun.name}: {exc}") from exc
    if actual != cid.digest:
        raise ContentMismatch(f"{cid}: the IPFS node returned {len(block)} bytes that do not match this CID")


class IpfsStore:
    """Add, pin and verified get over the Kubo RPC API."""

    def __init__(self, api_url: str, timeout_s: float = 30.0, max_bytes: int = DEFAULT_MAX_BYTES,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.bytes_up = self.bytes_down = 0  # content added / blocks fetched (for metrics)
        self._http = httpx.Client(base_url=f"{self.api_url}/api/v0", transport=transport,
                                  timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> IpfsStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _stalled(self, endpoint: str, subject: str) -> str:
        cause = "no provider for the CID or a stalled node" if endpoint == "/block/get" else "a stalled node"
        return f"{subject}: no answer from IPFS {endpoint} within {self.timeout_s}s ({cause} at {self.api_url})"

    @contextmanager
    def _reaching(self, endpoint: str, subject: str) -> Iterator[None]:
        """Map transport failures inside the block to errors that name `subject` and the node."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise StoreTimeout(self._stalled(endpoint, subject)) from exc
        except httpx.TransportError as exc:
            raise StoreUnreachable(f"{subject}: IPFS API at {self.api_url} is unreachable: {exc}") from exc

    def _post(self, endpoint: str, subject: str, **kwargs: Any) -> httpx.Response:
        """POST to the RPC API; failures raise errors that name `subject`."""
        params = dict(kwargs.pop("params", {}) or {})
        params["timeout"] = f"{self.timeout_s}s"  # the daemon gives up too, instead of working on forever
        with self._reaching(endpoint, subject):
            response = self._http.post(endpoint, params=params, **kwargs)
        self._check(response, endpoint, subject)
        return response

    def _check(self, response: httpx.Response, endpoint: str, subject: str) -> None:
        """Raise for a non-200 answer; the daemon's own timeout becomes StoreTimeout."""
        if response.status_code == 200:
            return
        message = _message(response)
        if "timed out" in message or "timeout" in message.lower():
            raise StoreTimeout(f"{self._stalled(endpoint, subject)}: {message}")
        raise StoreError(f"{subject}: IPFS {endpoint} answered {response.status_code}: {message}")

    def version(self) -> str:
        return self._post("/version", "version").json()["Version"]

    def add(self, data: bytes | BinaryIO, name: str = "blob") -> CID:
        """Store bytes (or a binary stream) as a pinned UnixFS file and return its CID."""
        if isinstance(data, bytes) and len(data) > self.max_bytes:
            raise ObjectTooLarge(f"{name}: {len(data)} bytes exceeds the {self.max_bytes}-byte limit")
        params = {"cid-version": 1, "raw-leaves": "true", "chunker": f"size-{CHUNK_BYTES}",
                  "hash": "sha2-256", "pin": "true"}
        response = self._post("/add", name, params=params, files={"file": (name, data)})
        lines = [line for line in response.text.splitlines() if line.strip()]
        added = json.loads(lines[-1])
        cid = parse_cid(added["Hash"])
        self.bytes_up += len(data) if isinstance(data, bytes) else int(added.get("Size", 0))
        log.debug("added %s as %s", name, cid)
        return cid

    def add_file(self, path: Path) -> CID:
        with path.open("rb") as stream:
            return self.add(stream, name=path.name)

    def connect(self, multiaddr: str) -> None:
        """Dial a peer's node (`/ip4/.../tcp/.../p2p/<peer id>`), so blocks can move between the two."""
        self._post("/swarm/connect", f"connecting to {multiaddr}", params={"arg": multiaddr})

    def identity(self) -> tuple[str, list[str]]:
        """This node's peer id and the multiaddrs it listens on, each ending in `/p2p/<peer id>`."""
        answer = self._post("/id", "identity").json()
        peer = answer["ID"]
        return peer, [a if "/p2p/" in a else f"{a}/p2p/{peer}" for a in answer.get("Addresses") or []]

    def peers(self) -> list[str]:
        """The peer ids this node is connected to."""
        answer = self._post("/swarm/peers", "listing peers").json()
        return [peer["Peer"] for peer in answer.get("Peers") or []]

    def pin(self, cid: str | CID) -> None:
        cid = parse_cid(cid)
        self._post("/pin/add", str(cid), params={"arg": str(cid)})

    def unpin(self, cid: str | CID) -> None:
        """Let the node drop `cid` (a CID that is not pinned is not an error)."""
        cid = parse_cid(cid)
        try:
            self._post("/pin/rm", str(cid), params={"arg": str(cid)})
        except StoreError as exc:
            if "not pinned" not in str(exc):
                raise

    def get(self, cid: str | CID, max_bytes: int | None = None) -> bytes:
        """Fetch a file by CID, checking every block against its CID and stopping past `max_bytes`."""
        root = parse_cid(cid)
        limit = self.max_bytes if max_bytes is None else max_bytes
        out = bytearray()
        fetched = 0
        pending = [root]
        while pending:
            current = pending.pop()
            block = self._block(current)
            fetched += len(block)
            if current.codec.name == "raw":
                out += block
            elif current.codec.name == "dag-pb":
                try:
                    node = decode_file_node(block)
                except UnixFSError as exc:
                    raise StoreError(f"{root}: block {current} {exc}") from exc
                if current is root and node.filesize is not None and node.filesize > limit:
                    raise ObjectTooLarge(f"{root}: declares {node.filesize} bytes, over the {limit}-byte limit")
                out += node.data
                pending.extend(parse_cid(link) for link in reversed(node.links))
            else:
                raise StoreError(f"{root}: block {current} has codec {current.codec.name}, not a UnixFS file")
            if len(out) > limit or fetched > 2 * limit + MAX_BLOCK_BYTES:
                raise ObjectTooLarge(f"{root}: content exceeds the {limit}-byte limit")
        return bytes(out)

    def _block(self, cid: CID) -> bytes:
        """One block, streamed with a size cap and verified against its CID."""
        chunks: list[bytes] = []
        size = 0
        params = {"arg": str(cid), "timeout": f"{self.timeout_s}s"}
        with self._reaching("/block/get", str(cid)), self._http.stream("POST", "/block/get", params=params) as response:
            if response.status_code != 200:
                response.read()
                self._check(response, "/block/get", str(cid))
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BLOCK_BYTES:
                    raise ObjectTooLarge(f"{cid}: block larger than {MAX_BLOCK_BYTES} bytes")
                chunks.append(chunk)
        block = b"".join(chunks)
        verify_block(cid, block)
        self.bytes_down += len(block)
        return block


def _message(response: httpx.Response) -> str:
    """The daemon's own error text (Kubo and js-ipfs answer JSON with a Message field)."""
    try:
        return str(response.json().get("Message", response.text))
    except ValueError:
        return response.text[:200]
