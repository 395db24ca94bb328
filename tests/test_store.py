"""The IPFS store client: verified reads, timeouts and size limits on the real daemon."""

from __future__ import annotations

import hashlib
import os
import time

import httpx
import pytest
from multiformats import CID

from paris_node.content.store import (CHUNK_BYTES, ContentMismatch, InvalidCid, IpfsStore, ObjectTooLarge, StoreError,
                                      StoreTimeout, StoreUnreachable, parse_cid)
from paris_node.runtime.devnet import DevnetInfo

UNKNOWN = CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(b"never added").digest()))


def test_multi_block_file_round_trips(devnet: DevnetInfo) -> None:
    data = os.urandom(5 * CHUNK_BYTES + 123)
    with IpfsStore(devnet.ipfs_api) as store:
        cid = store.add(data)
        assert cid.codec.name == "dag-pb" and cid.version == 1
        assert store.get(cid) == data
        assert store.get(cid.encode("base32")) == data  # any multibase spelling names the same content


def test_unpinning_releases_content_and_a_cid_not_pinned_is_not_an_error(devnet: DevnetInfo) -> None:
    with IpfsStore(devnet.ipfs_api) as store:
        cid = store.add(os.urandom(100))

        def pinned() -> bool:
            answer = httpx.post(f"{devnet.ipfs_api}/api/v0/pin/ls", params={"type": "recursive"}, timeout=10).json()
            return any(CID.decode(k) == cid for k in answer["Keys"])

        assert pinned()
        store.unpin(cid)
        assert not pinned()
        store.unpin(cid)
        store.pin(cid)
        assert pinned()
        _, addrs = store.identity()
        assert addrs and all("/p2p/" in a for a in addrs)


def test_unknown_cid_times_out_with_a_clear_error(devnet: DevnetInfo) -> None:
    started = time.monotonic()
    with IpfsStore(devnet.ipfs_api, timeout_s=2) as store, pytest.raises(StoreTimeout) as caught:
        store.get(UNKNOWN)
    assert time.monotonic() - started < 10
    assert str(UNKNOWN) in str(caught.value)


def test_oversized_content_is_refused_from_its_declared_size(devnet: DevnetInfo) -> None:
    with IpfsStore(devnet.ipfs_api) as store:
        cid = store.add(os.urandom(3 * CHUNK_BYTES))
        with pytest.raises(ObjectTooLarge, match="declares 786432 bytes"):
            store.get(cid, max_bytes=CHUNK_BYTES)


def test_oversized_single_block_is_refused_while_streaming(devnet: DevnetInfo) -> None:
    with IpfsStore(devnet.ipfs_api) as store:
        cid = store.add(os.urandom(1000))
        with pytest.raises(ObjectTooLarge, match=r"1000-byte|999-byte"):
            store.get(cid, max_bytes=999)


def test_adding_more_than_the_limit_is_refused_before_upload() -> None:
    with IpfsStore("http://127.0.0.1:9", max_bytes=10) as store, pytest.raises(ObjectTooLarge, match="blob"):
        store.add(b"x" * 11)


def test_content_that_does_not_match_its_cid_is_rejected() -> None:
    """A lying daemon, faked at the transport: the only case a fake can show."""
    good = b"the real block"
    cid = CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(good).digest()))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"a forged block"))
    with IpfsStore("http://ipfs.invalid", transport=transport) as store, pytest.raises(ContentMismatch) as caught:
        store.get(cid)
    assert str(cid) in str(caught.value)


def test_a_forged_inner_block_is_rejected(devnet: DevnetInfo) -> None:
    """The root is genuine but the daemon swaps one leaf: caught on that leaf."""
    data = os.urandom(2 * CHUNK_BYTES)
    with IpfsStore(devnet.ipfs_api) as store:
        cid = store.add(data)
    real = httpx.HTTPTransport()
    root_arg = str(cid)

    def lying(request: httpx.Request) -> httpx.Response:
        upstream = real.handle_request(request)
        upstream.read()
        if request.url.params.get("arg") != root_arg:
            return httpx.Response(200, content=b"\x00" * len(upstream.content))
        return httpx.Response(upstream.status_code, content=upstream.content)

    with IpfsStore(devnet.ipfs_api, transport=httpx.MockTransport(lying)) as store, \
            pytest.raises(ContentMismatch):
        store.get(cid)


def test_unreachable_node_names_the_url() -> None:
    with IpfsStore("http://127.0.0.1:9", timeout_s=2) as store, pytest.raises(StoreUnreachable, match=r"127.0.0.1:9"):
        store.get(UNKNOWN)


def test_malformed_cid_is_named() -> None:
    with pytest.raises(InvalidCid, match="not-a-cid"):
        parse_cid("not-a-cid")


def test_a_block_hashed_with_anything_but_sha2_256_is_refused() -> None:
    """A weak hash in a child link would let a lying daemon substitute that block; the identity hash, its bytes."""
    data = b"a block"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=data))
    for cid in (CID("base32", 1, "raw", ("sha2-512", hashlib.sha512(data).digest())),
                CID("base32", 1, "raw", ("identity", data))):
        with IpfsStore("http://ipfs.invalid", transport=transport) as store, \
                pytest.raises(StoreError, match="only sha2-256 blocks are accepted"):
            store.get(cid)
