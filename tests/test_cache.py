"""The CID cache: each CID fetched once, and at most its byte budget kept on disk, least recently used first out."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
from multiformats import CID

from paris_node.content.cache import CidCache
from paris_node.content.store import IpfsStore


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
