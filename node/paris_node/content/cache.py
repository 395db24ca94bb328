"""A local, content-addressed cache in front of the store: each CID is fetched (and verified) once.

It holds at most `max_bytes` on disk: past that, the least recently used files go (a later read fetches them
again), so a node that follows many jobs, or is sent much junk, does not fill its disk.
"""

from __future__ import annotations

import os
from pathlib import Path

from multiformats import CID

from paris_node.content.atomic import write_atomic
from paris_node.content.store import IpfsStore, parse_cid


DEFAULT_MAX_BYTES = 8 << 30


class CidCache:
    def __init__(self, store: IpfsStore, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.store, self.directory, self.max_bytes = store, directory, max_bytes
        self._held = sum(p.stat().st_size for p in self._files())  # bytes on disk

    def add(self, data: bytes, name: str = "blob") -> CID:
        """Store `data` and keep a copy, so reading back what this node wrote needs no fetch."""
        cid = self.store.add(data, name=name)
        self._keep(cid, data)
        return cid

    def _keep(self, cid: CID, data: bytes) -> None:
        path = self.directory / str(cid)
        path.parent.mkdir(parents=True, exist_ok=True)
        if len(data) > self.max_bytes:
            return  # larger than the whole cache: not kept
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
        """Bytes of `cid`: from disk when fetched before, else from the store (verified), then kept."""
        cid = parse_cid(cid)
        path = self.directory / str(cid)
        if path.exists():
            os.utime(path)  # recently used: evicted last
            return path.read_bytes()
        data = self.store.get(cid, max_bytes=max_bytes)
        self._keep(cid, data)
        return data
