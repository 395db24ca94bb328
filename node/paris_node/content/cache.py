"""A local, content-addressed cache in front of the store: each CID is fetched (and verified) once.

It holds at most `max_bytes` on disk: past that, the least recently used files go (a later read fetches them
again), so a node that follows many jobs, or is sent much junk, does not fill its disk. `prefetch` fetches
in the background (one CID at a time), so a miner downloads its next checkpoint while it trains.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from multiformats import CID

from paris_node.content.atomic import write_atomic
from paris_node.content.store import IpfsStore, ObjectTooLarge, StoreError, parse_cid

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 8 << 30


class CidCache:
    def __init__(self, store: IpfsStore, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.store, self.directory, self.max_bytes = store, directory, max_bytes
        self._held = sum(p.stat().st_size for p in self._files())  # bytes on disk
        self._lock = threading.Lock()  # `_held` and the files, shared with the prefetch thread
        self._pending: dict[CID, Future[None]] = {}
        self._fetcher: ThreadPoolExecutor | None = None

    def add(self, data: bytes, name: str = "blob") -> CID:
        """Store `data` and keep a copy, so reading back what this node wrote needs no fetch."""
        cid = self.store.add(data, name=name)
        self._keep(cid, data)
        return cid

    def has(self, cid: str | CID) -> bool:
        return (self.directory / str(parse_cid(cid))).exists()

    def put(self, cid: CID, data: bytes) -> None:
        """Keep `data`, which the caller has checked is `cid`'s (the store gave that CID when adding it)."""
        self._keep(cid, data)

    def _keep(self, cid: CID, data: bytes) -> None:
        path = self.directory / str(cid)
        path.parent.mkdir(parents=True, exist_ok=True)
        if len(data) > self.max_bytes:
            return  # larger than the whole cache: not kept
        with self._lock:
            self._evict(self.max_bytes - len(data))
            write_atomic(path, data)
            self._held += len(data)

    def _evict(self, room: int) -> None:
        """Delete the least recently used files until at most `room` bytes are held."""
        if self._held <= room:
            return
        for path in sorted(self._files(), key=lambda p: p.stat().st_mtime):
            if self._held <= room:
                break
            self._held -= path.stat().st_size
            path.unlink(missing_ok=True)

    def _files(self) -> list[Path]:
        return [p for p in self.directory.iterdir() if p.is_file()] if self.directory.is_dir() else []

    def get(self, cid: str | CID, max_bytes: int | None = None) -> bytes:
        """Bytes of `cid`: from disk when fetched before, else from the store (verified), then kept. A
        prefetch of it under way is waited for; one that failed is retried here, raising what went wrong. Over
        `max_bytes` is ObjectTooLarge whether the bytes come from the store or from disk (a prefetch's limit may
        be another caller's)."""
        cid = parse_cid(cid)
        with self._lock:
            pending = self._pending.get(cid)
        if pending is not None:
            pending.result()
        return self._read(cid, max_bytes)

    def prefetch(self, cid: str | CID, max_bytes: int | None = None) -> None:
        """Start fetching `cid` in the background (up to `max_bytes`: a junk file is not pulled in whole) unless it
        is here or on its way already."""
        cid = parse_cid(cid)
        with self._lock:
            if cid in self._pending or self.has(cid):
                return
            if self._fetcher is None:
                self._fetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paris-prefetch")
            self._pending[cid] = self._fetcher.submit(self._fetch, cid, max_bytes)

    def _fetch(self, cid: CID, max_bytes: int | None) -> None:
        try:
            self._read(cid, max_bytes)
        except (StoreError, OSError) as exc:
            log.debug("prefetch of %s failed (fetched again when needed): %s", cid, exc)
        finally:
            with self._lock:
                self._pending.pop(cid, None)

    def _read(self, cid: CID, max_bytes: int | None) -> bytes:
        path = self.directory / str(cid)
        with contextlib.suppress(FileNotFoundError):  # evicted between the check and the read: fetched again
            if path.exists():
                size = path.stat().st_size
                if max_bytes is not None and size > max_bytes:
                    raise ObjectTooLarge(f"{cid}: {size} bytes, over the {max_bytes}-byte limit")
                os.utime(path)  # recently used: evicted last
                return path.read_bytes()
        data = self.store.get(cid, max_bytes=max_bytes)
        self._keep(cid, data)
        return data
