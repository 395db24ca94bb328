"""The CID cache: each CID fetched once, and at most its byte budget kept on disk, least recently used first out."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import httpx
import pytest
from multiformats import CID

from paris_node.content.cache import CidCache
from paris_node.content.store import IpfsStore, ObjectTooLarge, StoreError


def test_the_cache_keeps_its_byte_budget_and_evicts_the_least_recently_used(tmp_path: Path) -> None:
    blocks = {}
    for label in ("a", "b", "c"):
        data = label.encode() * 40
        blocks[str(CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(data).digest())))] = data
    fetched: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:  # the IPFS node, at the transport
        fetched.append(request.url.params["arg"])
        return httpx.Response(200, content=blocks[request.url.params["arg"]])

    a, b, c = blocks
    with IpfsStore("http://ipfs.invalid", transport=httpx.MockTransport(serve)) as store:
        cache = CidCache(store, tmp_path / "cache", max_bytes=100)
        assert cache.get(a) == blocks[a] and cache.get(b) == blocks[b]
        time.sleep(0.01)
        assert cache.get(a) == blocks[a]  # from disk, and now the most recently used
        time.sleep(0.01)
        cache.get(c)  # 120 bytes would not fit: b, the least recently used, goes
        assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted([a, c])
        assert fetched == [a, b, c]
        cache.get(b)
        assert fetched == [a, b, c, b]  # fetched again once evicted
        assert sum(p.stat().st_size for p in (tmp_path / "cache").iterdir()) <= 100
        assert CidCache(store, tmp_path / "cache", max_bytes=100)._held == 80  # a restart counts what is there


def test_a_prefetch_is_fetched_once_in_the_background_and_a_failed_one_is_retried_by_get(tmp_path: Path) -> None:
    data = b"next checkpoint" * 10
    cid = str(CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(data).digest())))
    release, fetched, failing = threading.Event(), [], [True]

    def serve(request: httpx.Request) -> httpx.Response:  # a slow node, failing while `failing`
        fetched.append(request.url.params["arg"])
        release.wait(10)
        return httpx.Response(500, json={"Message": "no route"}) if failing[0] else httpx.Response(200, content=data)

    with IpfsStore("http://ipfs.invalid", transport=httpx.MockTransport(serve)) as store:
        cache = CidCache(store, tmp_path / "cache")
        cache.prefetch(cid)
        cache.prefetch(cid)  # on its way already
        release.set()
        with pytest.raises(StoreError, match="no route"):
            cache.get(cid)  # waited for the failed prefetch, then fetched again, failing again
        assert fetched == [cid, cid]
        failing[0] = False
        cache.prefetch(cid)
        assert cache.get(cid) == data and cache.get(cid) == data
        assert fetched == [cid, cid, cid]


def test_a_limit_holds_for_a_prefetch_and_for_bytes_already_on_disk(tmp_path: Path) -> None:
    data = b"an oversized delta" * 10
    cid = str(CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(data).digest())))
    with IpfsStore("http://ipfs.invalid", transport=httpx.MockTransport(lambda _: httpx.Response(200, content=data))
                   ) as store:
        cache = CidCache(store, tmp_path / "cache")
        cache.prefetch(cid, max_bytes=100)  # over its limit: not kept
        with pytest.raises(ObjectTooLarge, match="exceeds the 100-byte limit"):
            cache.get(cid, max_bytes=100)
        assert not cache.has(cid)
        cache.prefetch(cid)  # fetched under the store's own limit
        assert cache.get(cid) == data
        with pytest.raises(ObjectTooLarge, match=f"{len(data)} bytes, over the 100-byte limit"):
            cache.get(cid, max_bytes=100)
        assert cache.get(cid, max_bytes=len(data)) == data
